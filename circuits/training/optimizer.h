// AdamW (decoupled weight decay, Loshchilov & Hutter), as torch.optim.AdamW.
//
// Its state (step count, first and second moments) is plain tensors so that a
// training run can be saved and resumed bit for bit.
#pragma once

#include "circuits/formats/tensor_map.h"

#include <cstdint>

namespace circuitcheck {

struct AdamWSettings {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.98;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

struct AdamWState {
  int64_t step = 0;
  TensorMap exp_avg;     // per parameter name, same shape
  TensorMap exp_avg_sq;  // per parameter name, same shape
};

// One update of every parameter in `params` that has a gradient, at learning
// rate `lr` (the schedule's current value): p <- p (1 - lr wd), then the Adam
// step with bias correction. Parameters are updated in place without
// recording autograd history; their gradients are left for the caller to zero.
void adamw_step(TensorMap& params, AdamWState& state, const AdamWSettings& settings, double lr);

}  // namespace circuitcheck
