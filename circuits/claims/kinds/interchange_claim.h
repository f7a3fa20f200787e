// The "interchange" claim kind (claims/README.md): interchange intervention
// accuracy (IIA; causal abstraction, Geiger et al.; MIB's causal-variable
// track). A high-level variable is aligned to sites; for each (base, source)
// pair the sites are patched from the source run into the base run, and the
// pair counts when the patched prediction equals the high-level model's
// output with the variable taken from the source.
//
//   { "kind": "interchange", "counterfactual": "raise_min",
//     "sites": [{"hook": "blocks.0.attn.hook_z", "heads": [0], "role": "eq"}],
//     "by_class": "order",
//     "domain": {"all": true},
//     "pass": {"rate_at_least": 0.9} }
//
// The base is each example; the source is the task's paired counterfactual
// input `counterfactual` (Batch::counterfactuals: a dataset's
// counterfactual.<name>.tokens, a task spec's counterfactuals, S3's
// reparent_goal), and the high-level output is its targets
// (Batch::counterfactual_targets): what the variable's value from the source
// makes the answer. A pair counts when the argmax at every position where
// those targets are set equals them; an example whose targets are all unset
// has no source (S3's reparent_goal where no node qualifies) and is not a
// pair. Sites are patch sites (patching.h): a hook with optional heads and
// fixed positions or a role (the base's positions).
// Checks: "interchange accuracy" (a rate over pairs, on its Wilson,
// Clopper-Pearson or betting bound; with betting the run stops once its test
// decides, Outcome::stopped), the same rate of the unpatched base ("without
// the intervention", reported: how often the base already gives the source's
// answer), and with by_class the rate for each value of that [batch] class
// (reported). A figure shows the rates by class (with by_class) or patched
// against unpatched. The patches report liveness.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/patching.h"

#include <string>
#include <vector>

namespace circuitcheck {

struct InterchangeSpec {
  std::string counterfactual;  // the task's paired input with targets
  std::vector<PatchSite> sites;
  std::string by_class;        // empty: none
};

void parse_interchange(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
void run_interchange(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
