// Control models: variants of a checkpoint on which a claim must fail, so that
// a pass shows the claim could have failed (otherwise it is "not falsifiable").
//
//   "random_init"       the same config, init_params(config, kRandomInitSeed): no training
//   "shuffled_embed"    W_E's rows permuted (seed kRandomInitSeed): each token reads another
//                       token's embedding; every weight's distribution is kept
//   "zero:<param>"      one parameter zeroed, e.g. "zero:blocks.1.attn.W_Q" (TL names)
//   "zero:<param>/<h>"  only head h of a per-head parameter (W_Q, W_K, W_V, W_O, b_Q, b_K, b_V:
//                       [n_heads, ...]), e.g. "zero:blocks.0.attn.W_K/2"
//   "checkpoint:<path>" another model of the same config, e.g. a seed whose
//                       mechanism sits elsewhere ("checkpoint:checkpoints/runs/tree_path_seed1.safetensors");
//                       the path resolves as the claim file's checkpoint does (claim.h
//                       resolve_path) and must be a file; its config must equal the model's
// A claim may also name "placebo" or "control_task" (placebo.h): not another
// model but the checkpoint with the claim's intervention moved to other
// components, or a probe's labels permuted.
#pragma once

#include "circuits/model/model.h"

#include <cstdint>
#include <string>

namespace circuitcheck {

// The prefix of a control that names another checkpoint.
constexpr const char* kCheckpointControl = "checkpoint:";

// The seed of the "random_init" control's init_params and of "shuffled_embed".
constexpr uint64_t kRandomInitSeed = 0;

// Whether control `name` is made from the checkpoint's weights: false for
// "random_init" (the config alone) and "checkpoint:<path>" (another file),
// whose outcome on a claim is the same for every checkpoint of one config.
bool depends_on_checkpoint(const std::string& name);

// Throws InputError "<where>: unknown control '...' (valid: ...)" or naming the
// unknown parameter or out-of-range head, unless `name` is a control of a model
// with `config`.
void check_control(const std::string& name, const Config& config, const std::string& where);

// The control `name` of `model`, on the model's device. Checks it as check_control does.
HookedTransformer control_model(const HookedTransformer& model, const std::string& name);

}  // namespace circuitcheck
