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
//
// For an ablation claim with drop_to_at_most, each site is replaced by:
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
// For a circuit claim, each node is moved as an ablation's site is: its
// heads to as many other heads of its layer (positions kept), and so on. A
// circuit of other components must not be faithful: its faithfulness and its
// nodes' contributions fail, and its completeness gap is large (everything
// that matters lies outside it).
//
// For a fourier claim with measure restricted_excluded, the placebo keeps or
// removes k frequencies other than the key ones (fourier_claim.h), drawn with
// the seed: a model whose answer lives in its key frequencies keeps its
// accuracy when others are removed and loses it when only others are kept,
// so the placebo fails both "accuracy restricted" and "accuracy excluded".
// "placebo:all" does not apply (C(56 - k, k) choices at p = 113).
//
// For an item_patching claim, the placebo patches the same items at an
// earlier layer: every rule moves to one layer below the lowest claimed
// layer, drawn with the seed ("placebo:all": each such layer, labelled
// "placebo:all/L<layer>"). A value that the claim says has arrived at its
// items' positions by layer L must not be there before (an "at least" rule
// fails there); an "at most" rule is only lower there, so no placebo tests it.
//
// The control task (Hewitt & Liang 2019) is the probe's specificity control:
//   "control_task"          a probe claim on its labels permuted across the
//   "control_task:<seed>"   domain's items (seed 0, or that seed)
// A probe that reads the label from the activation fails on it; one that
// could fit any labelling (too many classes for its items) does not.
#pragma once

#include "circuits/claims/claim.h"
#include "circuits/model/config.h"

#include <string>

namespace circuitcheck {

// True for the controls that run on the checkpoint itself with the claim's
// spec changed: "placebo", "control_task" and "<either>:<anything>"
// (placebo_runs says whether it is valid). Not "checkpoint:<path>", which
// names another model (controls.h).
bool runs_on_checkpoint(const std::string& control);

// The most placebos "placebo:all" runs; beyond, draw some with "placebo:<seed>".
constexpr int64_t kMaxPlacebos = 16;

// The runs of checkpoint control `control` of `claim` (one, or every one for
// "placebo:all"): each its label and the claim's spec with the placebo's
// sites (or frequencies, or permuted labels). Throws InputError "<where>:
// control '<name>': ..." when the name is malformed, a placebo's claim is
// not an ablation with drop_to_at_most, a circuit, a fourier restricted_excluded claim
// or an item_patching claim with a layer below its rules, a control task's claim is not a probe, a site has too few other components (a
// layer whose heads are all claimed, a one-layer model; fewer than k other
// frequencies), or "placebo:all" would run more than kMaxPlacebos.
std::vector<PlaceboRun> placebo_runs(const Claim& claim, const std::string& control, const Config& config,
                                     const std::string& where);

}  // namespace circuitcheck
