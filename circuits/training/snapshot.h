// Snapshots: a training run's model at fixed steps, for verifying claims along
// the run (trajectories: when a circuit forms).
//
// `train --snapshot-every N` writes the model every N steps, and at the step
// the run stops, into a folder as DIR/step_00001000.safetensors (eight digits,
// so that the file names sort in step order). Each is an ordinary checkpoint
// (save_checkpoint: the config in the metadata) whose metadata also holds
//   "system"      the task's name
//   "seed"        the recipe's seed
//   "step"        the step after which the weights were taken (decimal)
//   "train_loss"  the training batch's loss at that step (nats, %.17g)
//   "test_loss"   the held-out loss at that step (tasks with a split: S1); absent otherwise
//   "training"    {"recipe": TrainRecipe::to_json(), "amendments": [...] when resumed with changes}
#pragma once

#include "circuits/formats/tensor_map.h"
#include "circuits/training/trainer.h"

#include <cstdint>
#include <optional>
#include <string>

namespace circuitcheck {

// What a snapshot's metadata says about its place in training.
struct SnapshotInfo {
  int64_t step = 0;
  std::optional<double> train_loss;  // nats
  std::optional<double> test_loss;   // nats; tasks with a held-out split only
};

// DIR/step_<step, eight digits>.safetensors.
std::string snapshot_path(const std::string& dir, int64_t step);

// The default snapshot folder of a run writing OUT: OUT without its
// ".safetensors", then "_snapshots" ("m.safetensors" -> "m_snapshots").
std::string snapshot_dir_for(const std::string& out);

// The metadata above (without the config, which save_checkpoint adds).
Metadata snapshot_metadata(const TrainState& state, const TrainProgress& progress);

// The snapshot fields of a checkpoint's metadata; nullopt when it has no
// "step". InputError naming `where` and the key when "step" is not a
// non-negative integer or a loss is not a number.
std::optional<SnapshotInfo> snapshot_info(const Metadata& metadata, const std::string& where);

}  // namespace circuitcheck
