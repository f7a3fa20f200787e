// The "path_patching" claim kind (claims/README.md; Wang et al. 2022): how
// much of a counterfactual's effect travels from one sender to named
// receivers directly, every other path seeing the counterfactual run.
//
//   { "kind": "path_patching", "counterfactual": "idx",
//     "sender": {"hook": "blocks.0.attn.hook_z", "heads": [0], "positions": [6]},
//     "receivers": [{"hook": "blocks.1.hook_k_input", "heads": [0]}, "logits"],
//     "domain": {"sample": 2000, "seed": 3},
//     "pass": {"value_at_least": 0.9} }
//
// Denoising, as the patching kind: the base is the counterfactual run. The
// sender's clean-minus-counterfactual output, written into the residual
// stream (a head's z times its W_O; an MLP's hook_mlp_out), at the sender's
// positions (all when none are given), is added to each receiver's input
// only: a head's query, key or value input (blocks.L.hook_q_input,
// hook_k_input, hook_v_input, at the receiver's heads and optional
// positions; the model runs with use_split_qkv_input) or "logits" (the
// residual stream after the last layer, which only the unembedding reads).
// No other component sees it, so the effect of paths through other
// components is excluded. The check is the recovery of the clean targets'
// log-probability (patching.h): (m(path patched) - m(counterfactual)) /
// (m(clean) - m(counterfactual)), bootstrapped over examples, undefined
// without a gap; a figure shows the three log-probabilities. Receivers must
// sit in a layer after the sender's, each hook (and "logits") once.
//
// With "sweep": true it also reports every edge of the model (edges.h) the
// same way: for each sender -> receiver edge, the recovery when that edge
// alone carries the sender's clean output into the counterfactual run
// (run_edges with the clean senders as the ablated values and every other
// edge kept), as a sender x receiver heatmap (reported, not thresholded, so
// not on controls). Per slice, one edge run keeps every edge (the
// counterfactual run) and each edge's run starts from its state at the
// edge's receiver (EdgeRunReuse, edges.h).
#pragma once

#include "circuits/claims/ablate.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/patching.h"

#include <cstdint>
#include <vector>

namespace circuitcheck {

// One receiver: a head input hook (kQInput, kKInput, kVInput) with optional
// heads and positions, or the logits (hook kResidPost of the last layer).
struct PathReceiver {
  HookPoint hook;
  std::vector<int64_t> heads;      // empty: every head
  std::vector<int64_t> positions;  // empty: every position
};

struct PathPatchingSpec {
  Counterfactual counterfactual;
  AblationSite sender;  // blocks.L.attn.hook_z (heads optional) or blocks.L.hook_mlp_out; positions optional
  std::vector<PathReceiver> receivers;
  bool sweep = false;  // the heatmap of every edge's recovery
};

void parse_path_patching(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
void run_path_patching(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
