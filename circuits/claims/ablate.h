// Ablating components: the sites claim files name (a hook, optionally
// restricted to heads, positions and neurons), the sites a set of kept
// components leaves (everything else), and the interventions that replace
// sites by zero, their mean over a reference sample, or a reference example's
// activation (claims/README.md, `ablation` and `circuit`).
#pragma once

#include "circuits/claims/claim_fields.h"
#include "circuits/model/intervention.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

// One ablated site: an activation, optionally restricted to heads, positions
// and neurons (the cross product of the three).
struct AblationSite {
  HookPoint hook;
  std::vector<int64_t> heads;      // empty: all heads (or a hook without heads)
  std::vector<int64_t> positions;  // empty: all positions
  std::vector<int64_t> neurons;    // mlp hook_pre/hook_post only; empty: all neurons
  std::string role;  // circuit nodes only: each example's positions of this role instead of `positions`
};

// {"hook": TL name, "heads": [..], "positions": [..], "neurons": [..]} (all
// but hook optional). InputError at the field for tokens, heads on a hook
// without a head dimension, neurons outside mlp.hook_pre/hook_post, an empty
// list, an index out of range.
AblationSite ablation_site_at(const nlohmann::json& v, const At& at, const Config& config);

// The ablations a claim file names, for named_at: "zero", "mean" and
// "resample" (an ablation claim's "method"), and with `counterfactual`
// also "counterfactual", patching from a counterfactual input (a circuit
// claim's "ablation", and attribute's --ablation).
std::vector<std::pair<std::string, InterventionKind>> ablation_methods(bool counterfactual);

// The reference sample of mean or resample ablation, from claim object `v`'s
// optional "reference" (a domain_at without exhaustive) at `at`: by default
// {"sample": 4096, "seed": 0}, or every row of a dataset task of at most 4,096
// rows; it keeps the examples `domain` (the claim's) keeps unless it names its
// own "where". InputError at /reference for zero ablation, which has none.
Domain reference_at(const nlohmann::json& v, const At& at, const Task& task, const Domain& domain,
                    InterventionKind method);

// "blocks.0.attn.hook_z heads [3] positions [17]" ("... role goal" with a
// role); sites joined by ", ".
std::string site_name(const AblationSite& site);
std::string site_names(const std::vector<AblationSite>& sites);

// The components of a model, as a circuit sees them: every attention head
// (blocks.L.attn.hook_z, one head) and every MLP (blocks.L.hook_mlp_out, or
// one neuron of blocks.L.mlp.hook_post in the layers `neuron_layers` names),
// each at every position of a sequence of `length` positions (<= n_ctx: the
// task's, which may be shorter than the model's context). Returns the sites
// that cover every (component, position) that no site of `kept` covers,
// grouped: the components of one hook that lose the same positions share one
// site. `kept` may only name hook_z (with heads), hook_mlp_out (layers outside
// neuron_layers) and mlp.hook_post with neurons (layers in neuron_layers), each
// optionally at positions below `length`; callers check that (InputError
// naming `where` otherwise). Sites with a role keep nothing here: their
// positions differ per example (circuit_claim.h masks them per batch).
std::vector<AblationSite> complement(const std::vector<AblationSite>& kept, const Config& config,
                                     const std::set<int>& neuron_layers, int64_t length, const std::string& where);

// The reference activations ablation by `method` reads at each of `hooks`
// (none for zero ablation): mean, each hook's mean over the `reference`
// sample [1, ...]; resample, its every row [n_ref, ...]. One forward pass
// over the reference, up to the last of `hooks` (RunOptions::logits false);
// a hook named twice is read once. With `to` > 0 the pass and the values
// cover positions [0, to) only: for runs that read no later position (the
// model is causal, so what it computes there does not depend on later ones).
std::map<HookPoint, at::Tensor> ablation_values(const Task& task, InterventionKind method,
                                                const std::vector<HookPoint>& hooks, const Domain& reference,
                                                const HookedTransformer& model, Scale scale, int64_t to = 0);

// One intervention per site, ablating it by `method` with `values`
// (ablation_values over at least the sites' hooks); resample draws with `seed`.
std::vector<Intervention> ablation_interventions(InterventionKind method, const std::vector<AblationSite>& sites,
                                                 const std::map<HookPoint, at::Tensor>& values, uint64_t seed);

// The positions before every site (each at fixed positions), at most
// `at_most`; 0 when a site covers every position or sits at a role. A run
// that intervenes only at `sites` equals the model's own run there, so it can
// take those positions from a run without them (RunOptions::prefix).
int64_t before_every_site(const std::vector<AblationSite>& sites, int64_t at_most);

// `interventions` for a run on positions [0, to) (leading_positions) from
// position `from` (RunOptions::from_position), after a prefix of `prefix`
// positions (RunOptions::prefix). Along each hook's position dimension
// (position_dim: the query position in attention scores and patterns), its
// mask and its mean, resample or patch value are cut to [0, to) (unless they
// broadcast over positions: size 1 there; other values are left as they
// are), and at a hook that covers [first, to)
// (hook_first_position) to [first, to), with positions shifted by -first. One
// whose positions all lie outside edits nothing there and is dropped.
std::vector<Intervention> within_positions(std::vector<Intervention> interventions, const Config& config, int64_t from,
                                           int64_t to, int64_t prefix = 0);

}  // namespace circuitcheck
