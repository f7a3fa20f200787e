// Training a seed system's model from scratch: recipes, the loop, resumable state.
//
// A recipe fixes everything a run depends on (system, scale, seed, optimizer,
// schedule, batch, stopping rule, model config overrides), so that a run is
// reproducible: on the CPU with a fixed thread count the same recipe gives
// bit-identical weights, and a run resumed from its state file continues
// exactly as if it had not stopped (batches are drawn per step from
// hash(seed, step), not from a running RNG).
#pragma once

#include "circuits/tasks/evaluate.h"
#include "circuits/model/model.h"
#include "circuits/training/optimizer.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace circuitcheck {

struct TrainRecipe {
  std::string system;        // task name
  Scale scale = Scale::kCpu;
  uint64_t seed = 1;         // initialisation, data and split
  int64_t steps = 1000;      // step cap
  int64_t batch_size = 0;    // 0: full batch of the training split (S1)
  AdamWSettings adamw;
  int64_t warmup_steps = 0;  // linear warmup from lr / warmup_steps
  std::string schedule = "constant";  // or "cosine" (to min_lr_ratio * lr at `steps`)
  double min_lr_ratio = 1.0;
  double grad_clip = 0.0;       // max global gradient norm; 0 = none
  bool freeze_biases = false;   // train only weights (S1, as Nanda et al.)
  double stop_test_loss = 0.0;  // S1: stop when the held-out loss falls below this
  int64_t eval_every = 100;     // steps between held-out evaluations (S1)
  // The share of each batch drawn from the task's hard cases (task.sample_hard:
  // S4's deep chains, S5's cascades), in [0, 1]; round(batch_size *
  // hard_fraction) examples, after the plain ones. 0: plain batches only.
  double hard_fraction = 0.0;
  // A focus on rare examples of the plain distribution: "CLASS>=N" for a
  // [batch] class of the task (S4: "max_depth>=5", programs whose deepest
  // chain has depth 5 or more); "" none. round(batch_size * focus_fraction)
  // examples of each batch, between the plain and the hard ones, are plain
  // examples that pass it (drawn by rejection, so their distribution is the
  // plain one conditioned on the class). focus_fraction in [0, 1];
  // hard_fraction + focus_fraction <= 1.
  std::string focus;
  double focus_fraction = 0.0;
  nlohmann::json config_overrides = nlohmann::json::object();  // TL fields over the task's config

  nlohmann::json to_json() const;
};

// SYSTEMS.md's recipe for a system (S1: full batch, wd 1.0, stop at test loss
// 1e-6; S2: batch 256, warmup 200, cosine; S3: batch 64, constant lr 1e-3;
// S4 and S5 likewise from their seeds).
TrainRecipe default_recipe(const Task& task, Scale scale);

// Applies "key=value": a recipe field (seed, steps, batch_size, lr,
// weight_decay, beta1, beta2, warmup_steps, schedule, min_lr_ratio,
// grad_clip, freeze_biases, stop_test_loss, eval_every, hard_fraction,
// focus, focus_fraction) or a config field
// (n_layers, d_model, ...; stored in config_overrides). Throws InputError
// naming the key for an unknown key or a malformed value, leaving `recipe`
// unchanged.
void apply_setting(TrainRecipe& recipe, const std::string& key_value);

// The model config a recipe trains: the task's config at the recipe's scale
// with the overrides; checked to fit the task.
Config recipe_config(const TrainRecipe& recipe);

struct TrainProgress {
  int64_t step = 0;
  int64_t steps = 0;
  double loss = 0.0;           // training batch loss
  double token_accuracy = 0.0; // on the training batch
  double test_loss = -1.0;     // last held-out loss (S1), -1 when none
  double lr = 0.0;
  double elapsed_s = 0.0;      // this run's training time, resumed runs included
  double steps_per_s = 0.0;
};

struct TrainState {
  TrainRecipe recipe;
  HookedTransformer model;
  AdamWState optimizer;
  int64_t step = 0;
  double elapsed_s = 0.0;
  std::string stop_reason;               // "" while running; "max_steps", "test_loss<1e-06"
  std::vector<nlohmann::json> history;   // logged points
  // Schedule changes made when resuming (amend_recipe): [{"step", "set"}].
  std::vector<nlohmann::json> amendments;
};

// The training batch of step `step` (>= 1) of a recipe: drawn from
// hash(seed, step): plain examples, then round(batch_size * focus_fraction)
// that pass the focus, then round(batch_size * hard_fraction) from
// task.sample_hard; S1 (batch_size 0): the whole training split. Throws
// InputError when the two fractions exceed the batch, when focus_fraction > 0
// has no focus, or when 64 draws of 256 plain examples hold too few that pass
// the focus.
Batch training_batch(const Task& task, const TrainRecipe& recipe, int64_t step);

// A fresh run: seeded initialisation (TL's gpt2 init).
TrainState start_training(const TrainRecipe& recipe);

// Changes a resumed run's schedule from its current step on: `settings` are
// "key=value" for steps, lr, schedule, min_lr_ratio, warmup_steps,
// weight_decay, grad_clip, hard_fraction, focus or focus_fraction (e.g. a constant-lr run annealed
// by cosine over its last steps: warmup_steps=<current step>,
// schedule=cosine, steps=<end>; or a curriculum that adds hard cases).
// Each change is recorded in state.amendments with the step it took effect,
// so the run's recipe stays honest about its first stretch. Throws InputError
// naming the setting for any other key (seed, batch, model config: they would
// change the model or redraw its data) or a malformed value, leaving `state` unchanged.
void amend_recipe(TrainState& state, const std::vector<std::string>& settings);

// What train() reports along the way. Every callback may be empty.
struct TrainHooks {
  int64_t log_every = 100;  // steps between on_progress calls (and history points); >= 1
  std::function<void(const TrainProgress&)> on_progress;
  int64_t checkpoint_every = 0;  // steps between on_checkpoint calls (resumable state); 0: never
  std::function<void(const TrainState&)> on_checkpoint;
  // Steps between snapshots (0: never): on_snapshot gets the model at every
  // multiple of snapshot_every, and at the step the run stops on its cap or
  // stopping rule, with that step's progress; its test_loss is the held-out
  // loss at that very step (tasks with a split: S1), -1 without a split.
  int64_t snapshot_every = 0;
  std::function<void(const TrainState&, const TrainProgress&)> on_snapshot;
  std::function<bool()> stop;  // checked between steps; true ends the run without a stop_reason
};

// Trains until the step cap, the stopping rule or hooks.stop() returning true.
void train(TrainState& state, const TrainHooks& hooks = {});

// Saves the state (weights, optimizer moments, step, recipe, history) as one
// safetensors file, atomically ("param/<name>", "exp_avg/<name>",
// "exp_avg_sq/<name>"; recipe and progress in metadata "train_state").
// load_training reads it back and throws InputError naming the file when it
// is not a training state. (The shipped weights are written separately with
// save_checkpoint.)
void save_training(const std::string& path, const TrainState& state);
TrainState load_training(const std::string& path);

}  // namespace circuitcheck
