// The placebo control: a specificity control that runs the claim's own
// intervention on as many *other* components, on the checkpoint itself. A
// claim that "ablating head X breaks the model" passes only if ablating X
// drops accuracy and ablating a placebo does not: the placebo reaches the
// ablation half of the claim (the check `accuracy after`), which a control
// that already fails before ablation (random_init) never does.
//
//   "placebo"          one placebo, drawn with seed 0
//   "placebo:<seed>"   one placebo, drawn with that seed (a decimal integer below 2^31)
//   "placebo:all"      every placebo there is (at most kMaxPlacebos of them),
//                      each its own control labelled "placebo:all/<sites>",
//                      e.g. "placebo:all/blocks.0.attn.hook_z:1": a claim
//                      passes only if its effect appears on none of them
//   "control_task"     the claim with its labels permuted, drawn with seed 0
//   "control_task:<seed>"  likewise with that seed (a probe's, Hewitt & Liang 2019)
//
// moved_sites is the rule for claims whose intervention names sites
// (ablation, circuit nodes): each site is replaced by:
//   - heads given (of a layer with more than one): as many other heads of
//     the same hook and layer;
//   - neurons given: as many other neurons of the same hook and layer;
//   - otherwise (a whole hook, or a one-head layer's head), in a model with
//     more than one layer: the same hook in another layer;
//   - otherwise (a one-layer model, a hook outside the blocks), positions
//     given: as many other positions of the same hook (labelled
//     "<hook>@<positions>").
// Positions are kept, except in the last case. Components are drawn without replacement (sample_rows)
// from those that no site of the claim names, so placebo sites never overlap
// the claimed ones or each other; "placebo:all" takes every such choice.
//
// Which kinds take a placebo or a control task, and what theirs move, is
// the kind's own (KindEntry::placebos, KindEntry::control_task; each kind's
// header says).
#pragma once

#include "circuits/claims/ablate.h"
#include "circuits/claims/claim.h"
#include "circuits/model/config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace circuitcheck {

// True for the controls that run on the checkpoint itself with the claim's
// spec changed: "placebo", "control_task" and "<either>:<anything>"
// (placebo_runs says whether it is valid). Not "checkpoint:<path>", which
// names another model (controls.h).
bool runs_on_checkpoint(const std::string& control);

// True for "control_task" and "control_task:<anything>".
bool is_control_task(const std::string& control);

// The control that takes every placebo there is; at most kMaxPlacebos, beyond
// which a claim draws some with "placebo:<seed>".
constexpr const char* kAllPlacebos = "placebo:all";
constexpr int64_t kMaxPlacebos = 16;

// The runs of checkpoint control `control` of `claim` (one, or every one for
// "placebo:all"), from its kind's placebos or control_task. Throws InputError
// "<where>: control '<name>': ..." when the name is malformed or the claim's
// kind takes no such control (the message lists those that do), or as the
// kind's function does.
std::vector<PlaceboRun> placebo_runs(const Claim& claim, const std::string& control, const Config& config,
                                     const std::string& where);

// The seed of control "<name>" (0) or "<name>:<seed>" ("placebo:3"; a decimal
// integer below 2^31); InputError "<where>: control '<control>': expected ..."
// otherwise. "placebo:all" is the caller's to handle.
uint64_t control_seed(const std::string& control, const std::string& name, const std::string& where);

// A claim's sites moved to other components: its label in reports and the sites.
struct MovedSites {
  std::string label;
  std::vector<AblationSite> sites;
};

// The placebo `control` of a claim whose intervention names `sites`: one
// drawn with the control's seed (labelled `control`), or for "placebo:all"
// every one (labelled "placebo:all/<sites>"). InputError "<where>: control
// '<name>': ..." when a site has too few other components or "placebo:all"
// would run more than kMaxPlacebos.
std::vector<MovedSites> moved_sites(const std::vector<AblationSite>& sites, const std::string& control,
                                    const Config& config, const std::string& where);

// The placebo runs of a claim whose spec holds its sites in spec.*sites
// (AblationSpec::sites, CircuitSpec::nodes): the spec with them moved, as
// moved_sites moves them.
template <class Spec>
std::vector<PlaceboRun> site_placebos(const Spec& spec, std::vector<AblationSite> Spec::*sites,
                                      const std::string& control, const Config& config, const std::string& where) {
  std::vector<PlaceboRun> out;
  for (MovedSites& moved : moved_sites(spec.*sites, control, config, where)) {
    Spec placebo = spec;
    placebo.*sites = std::move(moved.sites);
    out.push_back({control, std::move(moved.label), std::move(placebo)});
  }
  return out;
}

}  // namespace circuitcheck
