// The "scrubbing" claim kind (claims/README.md; causal scrubbing, Chan et
// al. 2022), one level of the hypothesis graph: each named site depends on
// one feature of the input, a class of the task, and on nothing else.
//
//   { "kind": "scrubbing",
//     "sites": [{"hook": "blocks.0.attn.hook_z", "heads": [0], "positions": [6], "feature": "idx"}],
//     "domain": {"sample": 2000, "seed": 4},
//     "pass": {"value_at_least": 0.9} }
//
// Scrubbed run: each site's activation is resampled from another example of
// the same batch of kVerifyBatch examples (for_each_slice, domain.h) that
// agrees on the site's feature (a [batch] class; drawn
// with std::mt19937_64 seeded with the domain's seed and the batch's index;
// the example itself when no other one agrees or its feature is -1, none; a
// site given by a role takes the other example's activation at that
// example's own role positions, item by item: donor_values, patching.h).
// Random run: each site's activation is taken from a random
// other example, agreeing or not (the
// hypothesis that the site depends on nothing). With L the mean
// cross-entropy of the targets per scored position:
//   loss recovered = (L_random - L_scrubbed) / (L_random - L_model),
// as a ratio of per-example sums, bootstrapped over examples (bootstrap.h).
// It is undefined (and fails) where L_random is not above L_model on its
// bootstrap lower bound, or by less than 1 % of L_random (has_gap's floor,
// patching.h): the sites do not matter (random init: a gap of 1e-4 nats on a
// loss of 3.9, significant on some samples, gives a ratio of noise). The three losses are
// reported, and drawn in a figure. Sites are patch sites (patching.h) plus
// "feature"; every site is resampled in the same run, each from its own
// agreeing example.
//
// Not covered: deeper levels of the hypothesis graph (a site's inputs
// scrubbed recursively), features that are not classes, and sites whose
// feature differs by position.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/patching.h"

#include <string>
#include <vector>

namespace circuitcheck {

struct ScrubbedSite {
  PatchSite site;
  std::string feature;  // a [batch] class of the task
};

struct ScrubbingSpec {
  std::vector<ScrubbedSite> sites;
};

void parse_scrubbing(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
void run_scrubbing(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
