// Component decomposition of the residual stream and direct logit attribution.
//
// The final residual stream (blocks.{n_layers-1}.hook_resid_post) is the sum of:
//   "embed"            hook_embed
//   "pos_embed"        hook_pos_embed (standard positional embedding only)
//   "L{l}H{h}"         head h's hook_result of layer l (without b_O)
//   "L{l}.b_O"         layer l's attention output bias
//   "L{l}.mlp"         layer l's hook_mlp_out (with b_out)
// run_decomposition checks that the sum reproduces the residual stream.
#pragma once

#include "circuits/model/model.h"

#include <string>
#include <vector>

namespace circuitcheck {

struct Decomposition {
  std::vector<std::string> labels;  // one per component, in the order above
  at::Tensor components;            // [n_components, batch, pos, d_model]
  at::Tensor resid_final;           // [batch, pos, d_model]
  at::Tensor ln_final_scale;        // [batch, pos, 1] (undefined without normalization)
  at::Tensor logits;                // [batch, pos, d_vocab_out]
  double max_abs_error = 0.0;       // max |sum(components) - resid_final|
};

// Runs the model on tokens [batch, pos] and decomposes its final residual
// stream. Throws std::logic_error if the components do not sum to it within
// 1e-4 * (1 + max |resid_final|) (an implementation bug, not bad input).
Decomposition run_decomposition(const HookedTransformer& model, const at::Tensor& tokens);

// Direct logit attribution: each component through ln_final (its scale frozen
// from the run, as TL's apply_ln_to_stack) and W_U, plus a last entry
// "unembed_bias" (the ln_final and unembed biases), so that the entries sum to
// the logits. Returns [n_components + 1, batch, pos, d_vocab_out]; labels are
// decomposition.labels followed by "unembed_bias".
at::Tensor direct_logit_attribution(const HookedTransformer& model, const Decomposition& decomposition);

}  // namespace circuitcheck
