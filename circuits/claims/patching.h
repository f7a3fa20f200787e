// Activation patching from counterfactual inputs (denoising: clean activations
// patched into the run on the counterfactual, "corrupt", input).
//
// The metric of a run is per example (PatchMetric); claims use the
// log-probability of the clean targets summed over the scored positions
// (target_log_prob), nats. A patch's
// effect is the fraction of the clean-vs-corrupt gap it restores, pooled over
// the batch:
//   recovery = sum_b (m_patched[b] - m_corrupt[b]) / sum_b (m_clean[b] - m_corrupt[b])
// 1 means the patched site carries the whole effect of the changed input, 0 none.
//
// Sweeps over (layer, position) skip sites whose clean and corrupt activations
// agree (patching them changes nothing: in a causal model every position
// before the changed token, and at layer 0 every other position), batch the
// remaining positions of a layer into one run, and for hook_resid_pre reuse
// the corrupt run's earlier layers (the patched run starts at layer L from a
// mixed start, RunOptions::start_base and start_mask, whose copies share
// layer L's projections and attention matrices). A residual-stream hook
// (resid_pre, resid_mid, resid_post) whose clean and corrupt activations
// differ at one position only is, patched there, the clean run's: that site
// gets the clean metric without a run.
#pragma once

#include "circuits/claims/claim_fields.h"
#include "circuits/model/hooks.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace circuitcheck {

// What a claim's counterfactual changes: a role (its tokens taken from the
// next example of the batch, counterfactual_tokens below; optionally one
// item of a [batch, k] role), or an input the task pairs with each example
// (a dataset's counterfactual.<name>, Batch::counterfactuals).
struct Counterfactual {
  std::string role;   // empty with `input`
  int64_t item = -1;  // only this item of a [batch, k] role; -1: every item
  std::string input;  // empty: a role
};

// "ROLE", {"role": ROLE, "item": K} or {"input": NAME}, against the roles and
// paired inputs of `sample`; InputError at the field otherwise.
Counterfactual counterfactual_at(const nlohmann::json& v, const At& at, const Batch& sample);

// The counterfactual tokens [batch, pos] of batch `b` (a role's needs at
// least two examples).
at::Tensor counterfactual_tokens(const Counterfactual& counterfactual, const Batch& b);

// "input swap", "idx changed", "a[0] changed": for explanations.
std::string to_string(const Counterfactual& counterfactual);

// A patched site of a claim: a hook with optional heads and either fixed
// `positions` or a `role` (each example's own positions).
struct PatchSite {
  HookPoint hook;
  std::vector<int64_t> heads;      // empty: all (or no head dimension)
  std::vector<int64_t> positions;  // empty: all, unless `role`
  std::string role;                // per-example positions
};

// {"hook", "heads", "positions", "role"} (all but hook optional; positions or
// role, not both; a role only on hooks with a position dimension at 1, not
// attention scores or patterns), against `config` and the roles of `sample`.
// InputError at the field otherwise.
PatchSite patch_site_at(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample);

// "blocks.0.attn.hook_z heads [0] at eq"; sites joined by ", ".
std::string patch_site_names(const std::vector<PatchSite>& sites);

// The intervention that patches `site` of a run with `value` (another run's
// activation at the site's hook, [batch, pos, ...]); a role's positions are
// those of batch `b`.
Intervention patch_intervention(const PatchSite& site, const at::Tensor& value, const Batch& b);

// The value that patches role site `role` of batch `b` (patch_intervention)
// from other examples of the batch, `from` [batch] (each example's donor):
// each example's activation at its role positions is its donor's at the
// donor's role positions, item by item, not at its own positions (which in
// the donor may hold another token); where either lacks the item (-1), and at
// every other position, it is its own. `activation` [batch, pos, ...] is the
// batch's run at the site's hook. Causal scrubbing draws donors this way.
at::Tensor donor_values(const at::Tensor& activation, const at::Tensor& from, const Batch& b, const std::string& role);

// The counterfactual tokens of `batch` that change `role`: each example's
// tokens at the role's positions ([batch] or [batch, k]; -1 entries are left
// alone; only item `item` of a [batch, k] role when item >= 0) replaced by the
// next example's tokens at its role positions (the batch rolled by one).
// Throws InputError for an unknown role, an item out of range or a batch of one.
at::Tensor counterfactual_tokens(const Batch& batch, const std::string& role, int64_t item = -1);

// Per-example log-probability of the targets, summed over scored positions.
// logits [batch, pos - from, vocab] (a run with from_position = from), targets [batch, pos].
// Returns [batch] (float, nats).
at::Tensor target_log_prob(const at::Tensor& logits, const at::Tensor& targets, int64_t from);

// Per example, whether the argmax of the logits equals the targets at every
// scored position (targets >= 0); shapes as target_log_prob's. Returns [batch]
// (bool, on the logits' device).
at::Tensor targets_predicted(const at::Tensor& logits, const at::Tensor& targets, int64_t from);

// Whether the counterfactual changes the output, so that a recovery of its
// effect exists: `gaps` [examples] (each example's clean minus counterfactual
// metric, nats) has a positive mean, on its one-sided 95 % bootstrap lower
// bound (bootstrap.h, seeded with `seed`) when sampled, and a mean above
// 1e-6 when exhaustive. At random init the gap is typically a fraction of a
// nat and within its noise: no recovery is defined there. With `scale` (the
// metric's magnitude at the two ends, e.g. max(|mean clean|, |mean
// corrupt|)), the mean gap must also be at least kGapFloor * scale: at
// random init a gap of 1e-4 nats on a loss of 3.9 can be significant on a
// large sample, and a ratio over it is noise.
constexpr double kGapFloor = 0.01;
bool has_gap(const at::Tensor& gaps, bool exhaustive, uint64_t seed, double scale = 0.0);

// `(patched - corrupt).sum() / (clean - corrupt).sum()` over the last dimension
// (examples); patched [..., batch], clean and corrupt [batch]. NaN where the gap is 0.
at::Tensor recovery(const at::Tensor& patched, const at::Tensor& clean, const at::Tensor& corrupt);

// A per-example metric of a run's logits [batch, pos - from_position, vocab] -> [batch].
using PatchMetric = std::function<at::Tensor(const at::Tensor& logits)>;

struct PatchingSweep {
  HookType type = HookType::kResidPre;
  at::Tensor clean;    // [batch] metric of the clean run
  at::Tensor corrupt;  // [batch] metric of the corrupt run
  at::Tensor patched;  // [n_layers, pos, batch] metric with (layer, position) patched
};

// Patches `type` (resid_pre, resid_mid, resid_post, attn_out or mlp_out: a
// [batch, pos, d_model] hook) at every (layer, position), one at a time, from
// the clean run into the corrupt run, and measures `metric` (runs compute the
// logits from `from_position` on). clean_tokens and corrupt_tokens [batch, pos].
// Equals TransformerLens' get_act_patch_resid_pre etc. per example. Throws
// InputError for another hook type, mismatched shapes, from_position out of
// range, or resid_mid/mlp_out in an attn_only model.
PatchingSweep patching_sweep(const HookedTransformer& model, const at::Tensor& clean_tokens,
                             const at::Tensor& corrupt_tokens, HookType type, const PatchMetric& metric,
                             int64_t from_position = 0);

// The same sweep from clean and corrupt runs already made (each with `type`
// cached at every layer, any from_position <= from_position; e.g. a claim's
// own runs), so they are not run again. Throws InputError when a run lacks a
// layer's `type`.
PatchingSweep patching_sweep(const HookedTransformer& model, const RunResult& clean, const RunResult& corrupt,
                             const at::Tensor& corrupt_tokens, HookType type, const PatchMetric& metric,
                             int64_t from_position = 0);

}  // namespace circuitcheck
