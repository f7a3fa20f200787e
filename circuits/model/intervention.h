// Interventions: edits of one hook's activation during a forward pass
// (ablation, steering, activation patching), and their liveness records.
//
// An intervention may be restricted to heads, positions and neuron indices
// (the last dimension) and by an element mask (e.g. per-example padding);
// outside that region the activation is left as it is.
// For attention scores and patterns, `positions` are query positions.
#pragma once

#include "circuits/model/hooks.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace circuitcheck {

enum class InterventionKind {
  kReplace,   // value, broadcast to the activation's shape
  kAdd,       // activation + value (broadcast)
  kScale,     // activation * factor
  kZero,      // 0
  kMean,      // value [n_ref, ...] (activations of a reference batch at this hook): their mean over n_ref
  kResample,  // value [n_src, ...]: each example gets a row of value drawn with `seed` (and first_row)
  kPatch,     // value of exactly the activation's shape (e.g. from another run's cache)
};

struct Intervention {
  HookPoint hook;
  InterventionKind kind = InterventionKind::kZero;
  at::Tensor value;  // see InterventionKind; unused by kScale and kZero
  double factor = 1.0;
  std::vector<int64_t> heads;      // empty: all heads
  std::vector<int64_t> positions;  // empty: all positions
  std::vector<int64_t> neurons;    // empty: the whole last dimension
  at::Tensor mask;                 // optional bool, broadcastable to the activation: restricts further
  uint64_t seed = 0;               // kResample
  // kResample: the first row's index in its run (Batch::first_row). Row i
  // takes the donor drawn for (seed, first_row + i), so a run's donors do not
  // depend on how it is cut into forward passes.
  int64_t first_row = 0;
};

// What an intervention did in one run: that it fired, and how much it changed
// its target (absolute change over the restricted region, all firings).
struct Liveness {
  std::string hook;  // TL name
  std::string kind;  // "zero", "mean", ...
  int fired = 0;
  int64_t elements = 0;  // activation elements inside the region, summed over firings
  double max_abs_change = 0.0;
  double mean_abs_change = 0.0;  // over `elements`

  // Fired and changed at least one element.
  bool live() const { return fired > 0 && max_abs_change > 0.0; }
  // "blocks.0.attn.hook_z zero: fired 1x, 128 elements, max |change| 0.41, mean 0.12".
  std::string describe() const;
};

std::string to_string(InterventionKind kind);

// Returns the edited activation and accumulates into `record`.
// Throws InputError (naming the hook) when a restriction is out of range or
// the hook has no head dimension, or when `value` does not fit the activation.
at::Tensor apply_intervention(const Intervention& intervention, const at::Tensor& activation,
                              Liveness& record);

}  // namespace circuitcheck
