// The "ablation" claim kind (claims/README.md): accuracy when sites are
// zero-, mean- or resample-ablated.
//
//   { "kind": "ablation", "method": "mean",
//     "sites": [{"hook": "blocks.0.attn.hook_z", "heads": [3], "positions": [17]}],
//     "reference": {"sample": 4096, "seed": 0}, "by_class": "cascade",
//     "domain": {...}, "pass": {"before_at_least": 0.99, "drop_to_at_most": 0.3} }
//
// Necessity (drop_to_at_most: accuracy after ablating falls to at most x),
// robustness (rate_at_least: accuracy survives it), or, with keep_only,
// sufficiency: every attention head (hook_z) and MLP (hook_mlp_out) that is
// not a site is ablated and accuracy must stay >= rate_at_least.
// before_at_least checks the accuracy before ablating, from the plain logits
// of the domain (shared with the other claims). "mean" ablates with the mean
// activation over `reference` ({"sample": 4096, "seed": 0} by default; every
// row, {"all": true}, on a dataset task of at most 4,096 rows); "resample" gives each example the activation
// of a reference example (drawn with the reference seed). The reference
// keeps the examples the claim's domain keeps (its `where`) unless it names
// its own `where`: the mean is taken where the claim is made. by_class reports
// accuracy before and after by that class. On a control whose accuracy
// before ablation already fails before_at_least, the ablated pass is skipped.
// With "bound": "betting" each pass (before, after) stops once the betting
// test of its thresholded rate decides it (Outcome::stopped), so the two
// rates may count different examples.
#pragma once

#include "circuits/claims/ablate.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/model/intervention.h"

#include <cstdint>
#include <string>
#include <vector>

namespace circuitcheck {

struct AblationSpec {
  InterventionKind method = InterventionKind::kZero;
  std::vector<AblationSite> sites;
  bool keep_only = false;
  Domain reference{false, 4096, 0};
  std::string by_class;  // reported before and after; empty: none
  // What the runs before ablation keep for the ablated runs: the keys and
  // values (prefix_hooks) of the positions before every site, when each site
  // sits at fixed positions of a causal model; else none.
  std::vector<HookPoint> plain_hooks;
};

void parse_ablation(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
PlainReads ablation_reads(const Claim& claim);  // AblationSpec::plain_hooks, and the logits
void run_ablation(const RunContext& context, const Claim& claim, Outcome& out);
// Its placebos (placebo.h): the sites moved to other components
// (site_placebos). Only a necessity ablation (drop_to_at_most) takes one.
std::vector<PlaceboRun> ablation_placebos(const Claim& claim, const std::string& control, const Config& config,
                                          const std::string& where);

}  // namespace circuitcheck
