#pragma once

#include "circuits/claims/kinds/kind.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

// The "item_patching" claim kind (claims/README.md): which layers carry which items' answers. For
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
// heatmap of every (layer, class value) cell; on a control or a placebo, of
// the layers its checks read only. Item k's patched run at layer L starts
// at L's hook_resid_pre and, in a causal model, covers only the positions
// from item k's first to its last (its keys and values before them from the
// counterfactual run, RunOptions::prefix): K runs per layer and slice.
// A class value whose gap is 0 (the counterfactual does not change those
// items) has recovery 0.
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
  // A placebo run (placebo.h): every rule patched at this layer instead; its
  // checks keep the claim's names, so that they answer the claim's checks.
  std::optional<int> placebo_layer;
};

// Reads the item_patching fields of `v` into its ItemPatchingSpec.
void parse_item_patching(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
void run_item_patching(const RunContext& context, const Claim& claim, Outcome& out);
// Its placebo (placebo.h) patches the same items at an earlier layer: every
// rule moves to one layer below the lowest claimed layer, drawn with the seed
// ("placebo:all": each such layer, labelled "placebo:all/L<layer>";
// placebo_layer). A value that the claim says has arrived at its items'
// positions by layer L must not be there before (an "at least" rule fails
// there); an "at most" rule is only lower there, so no placebo tests it.
std::vector<PlaceboRun> item_patching_placebos(const Claim& claim, const std::string& control, const Config& config,
                                               const std::string& where);

}  // namespace circuitcheck
