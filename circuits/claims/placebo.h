// The placebo control: a specificity control that runs the claim's own
// intervention on as many *other* components, on the checkpoint itself. A
// claim that "ablating head X breaks the model" passes only if ablating X
// drops accuracy and ablating a placebo does not: the placebo reaches the
// ablation half of the claim (the check `accuracy after`), which a control
// that already fails before ablation (random_init) never does.
//
//   "placebo"          drawn with seed 0
//   "placebo:<seed>"   drawn with that seed (a decimal integer below 2^31)
//
// For an ablation claim with drop_to_at_most, each site is replaced by:
//   - heads given: as many other heads of the same hook and layer;
//   - neurons given: as many other neurons of the same hook and layer;
//   - neither (a whole hook): the same hook in another layer.
// Positions are kept. Components are drawn without replacement (sample_rows)
// from those that no site of the claim names, so placebo sites never overlap
// the claimed ones or each other.
#pragma once

#include "circuits/claims/claim.h"
#include "circuits/model/config.h"

#include <string>

namespace circuitcheck {

// True for "placebo" and "placebo:<anything>" (check_placebo says whether it is valid).
bool is_placebo(const std::string& control);

// The claim with its sites replaced by the placebo's. Throws InputError
// "<where>: control '<name>': ..." when the seed is malformed, the claim is
// not an ablation with drop_to_at_most, or a site has too few other
// components (a layer whose heads are all claimed, a one-layer model).
Claim placebo_claim(const Claim& claim, const std::string& control, const Config& config, const std::string& where);

}  // namespace circuitcheck
