// The "patching" claim kind: activation patching from a counterfactual that
// changes one role (patching.h), or from a counterfactual input the task
// pairs with each example (a dataset's counterfactual.<name>). The claimed sites, patched together from the
// clean run into the counterfactual run, must restore at least x of the
// effect of the change on the clean targets' log-probability (recovery).
//
//   { "kind": "patching", "counterfactual": "idx",     // or {"role": "x", "item": 0}: one item of a [batch, k] role,
//                                                      // or {"input": "swap"}: the task's paired input "swap"
//     "sites": [ {"hook": "blocks.0.hook_resid_post", "role": "idx"},
//                {"hook": "blocks.1.attn.hook_z", "heads": [0], "positions": [7, 8, 9]} ],
//     "sweep": "resid_pre",                      // optional: a layer x position map, reported
//     "domain": {"sample": 1024, "seed": 1},
//     "pass": {"value_at_least": 0.9} }          // and/or value_at_most (a site that does not matter)
//
// A site is a hook with optional heads and either fixed `positions` or a
// `role` (each example's own positions; hooks with a position dimension at 1
// only, i.e. not attention scores or patterns). Checks: "gap" (mean clean minus
// counterfactual log-probability per example, nats; reported) and "recovery".
// The patch interventions report liveness: a site whose clean and
// counterfactual activations agree is not live and fails the claim.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/patching.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

struct PatchingSpec {
  Counterfactual counterfactual;
  std::vector<PatchSite> sites;
  std::optional<HookType> sweep;   // resid_pre, resid_mid, resid_post, attn_out or mlp_out
};

// Reads the patching fields of `v` into its PatchingSpec and claim.pass.
void parse_patching(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
void run_patching(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
