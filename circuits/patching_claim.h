// The "patching" claim kind: activation patching from a counterfactual that
// changes one role (patching.h). The claimed sites, patched together from the
// clean run into the counterfactual run, must restore at least x of the
// effect of the change on the clean targets' log-probability (recovery).
//
//   { "kind": "patching", "counterfactual": "idx",     // or {"role": "x", "item": 0}: one item of a [batch, k] role
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

#include "circuits/check.h"
#include "circuits/claim_fields.h"
#include "circuits/model.h"
#include "circuits/task.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

struct Claim;

struct PatchSite {
  HookPoint hook;
  std::vector<int64_t> heads;      // empty: all (or no head dimension)
  std::vector<int64_t> positions;  // empty: all, unless `role`
  std::string role;                // per-example positions
};

struct PatchingSpec {
  std::string counterfactual;      // the role the counterfactual changes
  int64_t item = -1;               // only this item of a [batch, k] role; -1: every item
  std::vector<PatchSite> sites;
  std::optional<HookType> sweep;   // resid_pre, resid_mid, resid_post, attn_out or mlp_out
};

// Reads the patching fields of `v` into claim.patching and claim.pass.
void parse_patching(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample, Claim& claim);

void run_patching(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale, Outcome& out);

// The "item_patching" kind: which layers carry which items' answers. For
// each layer L and each item k of [batch, K] roles (S4: an assignment's x,
// arrow, y and end positions), blocks.L.hook_resid_pre is patched from the
// clean run into the counterfactual run at item k's positions only, and the
// clean targets' log-probability is read at item k's scored positions only.
// Recovery (patching.h) is pooled over the items by the value of a [batch, K]
// class (S4: depth), giving a layer x class-value map; the claimed cells
// pass on their value (pooled over their class values):
//
//   { "kind": "item_patching", "counterfactual": "digit",
//     "items": ["x", "arrow", "y", "end"], "by_class": "depth",
//     "domain": {"sample": 64, "seed": 1},
//     "pass": {"layers": [{"layer": 2, "class_values": [0, 1], "value_at_least": 0.9},
//                         {"layer": 2, "class_values": [3, 4], "value_at_most": 0.3}]} }
//
// Checks: "gap" (mean clean minus counterfactual log-probability per item,
// nats; reported) and one "recovery L<l> <class> {values}" per rule; figure: a
// heatmap of every (layer, class value) cell. A class value whose gap is 0
// (the counterfactual does not change those items) has recovery 0.
struct ItemLayerRule {
  int layer = 0;
  std::vector<int64_t> class_values;
  PassRule pass;  // value_at_least and/or value_at_most
};

struct ItemPatchingSpec {
  std::string counterfactual;      // a role ([batch] or [batch, k]) the counterfactual changes
  std::vector<std::string> items;  // [batch, K] roles, one K
  std::string by_class;            // a [batch, K] class
  std::vector<ItemLayerRule> rules;
};

// Reads the item_patching fields of `v` into claim.item_patching.
void parse_item_patching(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample,
                         Claim& claim);

void run_item_patching(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale,
                       Outcome& out);

}  // namespace circuitcheck
