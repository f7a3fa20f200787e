// Attribution: which parts of a model a circuit claim's metric depends on,
// estimated from gradients (claims/README.md, "Discovering a circuit").
//
// A unit is a node or an edge, as a circuit claim sees the model. A node is
// one component at one position (complement in ablate.h): a head's output
// (blocks.L.attn.hook_z, one head) and an MLP's (blocks.L.hook_mlp_out) or,
// at neuron grain, each of its neurons (blocks.L.mlp.hook_post, one neuron). An
// edge is a sender's write as one receiver reads it, at every position or,
// by position, at one (edges.h). A unit's score estimates m(N with the unit ablated) - m(N): how
// the claim's metric m (mean per example, in its units) changes when that
// unit alone is ablated the way the claim ablates (zero, mean, resample, or
// patched from the counterfactual). With a the node's activation (an edge's
// sender's output), a' its ablated value, g the gradient of m at a (at the
// edge's receiver's input), x the model's input residual
// (blocks.0.hook_resid_pre) and x' its ablation by the same method (the
// counterfactual's own input for counterfactual ablation):
//   attribution patching, AtP (Nanda 2023; Syed et al. 2023; EAP for
//     edges): (a' - a) . g at the model's own run;
//   EAP-IG (Hanna et al. 2024, interpolating the inputs as MIB's "inputs"
//   variant does):
//     (a' - a) . (1/k) sum_{j=1..k} g at the run whose input residual is
//     x' + (j/k)(x - x'), the rest of the model computing as it does: the
//     right Riemann sum, which holds the clean end (j = k) and not the
//     ablated one, as Hanna et al.'s formula; MIB's code sums j = 0..k-1
//     (the left one), so its scores differ somewhat for small k.
// The dot products run over the activation (d_head, d_model) and, for an
// edge, its positions: an edge's score is the sum of its scores by
// position. With k = 1, EAP-IG is AtP. Both are first-order estimates: they
// can miss effects that only show when several units are ablated together,
// which is why the faithfulness curve (faithfulness_curve.h) measures the
// circuits they rank instead of trusting them.
#pragma once

#include "circuits/claims/ablate.h"
#include "circuits/claims/claim.h"
#include "circuits/claims/edges.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/model/config.h"
#include "circuits/model/hooks.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

enum class AttributionMethod { kAtp, kEapIg };

// "atp", "eap-ig".
const char* to_string(AttributionMethod method);

// One unit: a node, or (with `edge`) an edge.
struct AttributionUnit {
  HookPoint hook;            // a node: blocks.L.attn.hook_z, blocks.L.hook_mlp_out or blocks.L.mlp.hook_post
  int64_t head = -1;         // hook_z's head; -1 for an MLP
  int64_t position = 0;      // in the task's sequence
  std::optional<Edge> edge;  // an edge, at every position or (by position) at one
  int64_t neuron = -1;       // hook_post's neuron; -1 otherwise
  double atp = 0.0;          // the AtP score, metric units per example
  double eap_ig = 0.0;       // the EAP-IG score

  double score(AttributionMethod method) const { return method == AttributionMethod::kAtp ? atp : eap_ig; }
  // "L0H1@6" (a head), "MLP1@7" (an MLP), "MLP0[123]@2" (a neuron), "L0H0 -> L1H0.k" (an edge),
  // "L0H0 -> L1H0.k at [6]" (an edge by position).
  std::string name() const;
};

// Every node of `config`'s model on sequences of `length` positions (<=
// n_ctx), in layer order: each head at each position, then the layer's MLP
// (unless attention-only) at each position, or with `neurons` each of its
// d_mlp neurons at each position. Scores are 0.
std::vector<AttributionUnit> attribution_nodes(const Config& config, int64_t length, bool neurons = false);

// Every edge of `config`'s model (all_edges) or, with `length` > 0 (<=
// n_ctx), every edge at each position in [0, length), by edge then
// position. Scores are 0.
std::vector<AttributionUnit> attribution_edges(const Config& config, int64_t length = 0);

// Scores every unit of `units` on the domain of circuit claim `claim`,
// ablated as its `ablation` is (circuit_ablation): nodes (attribution_nodes
// for the task's length) for a circuit of nodes, edges for a circuit of
// edges (the gradients taken at the receivers' inputs of edge_model). EAP-IG
// runs over `ig_steps` >= 1 steps. Works in batches of kVerifyBatch examples:
// one forward pass for the activations (two with a counterfactual), then
// ig_steps forward and backward passes, the last of which (j = k, the model's
// own input) gives AtP. Throws InputError naming the claim for the accuracy
// metric (it has no gradient) and for a batch whose length is not the nodes'
// (or, for edges by position, one past their last position);
// InternalError when the units are not the claim's (nodes for a circuit of
// nodes, edges for one of edges).
void attribute(const RunContext& context, const Claim& claim, const CircuitAblation& ablation, int64_t ig_steps,
               std::vector<AttributionUnit>& units);

// The indices of `units` by decreasing |score| under `method`; ties keep their order.
std::vector<int64_t> ranking(const std::vector<AttributionUnit>& units, AttributionMethod method);

// The first `count` units of `order` (a ranking of `units`).
std::vector<AttributionUnit> top_units(const std::vector<AttributionUnit>& units, const std::vector<int64_t>& order,
                                       int64_t count);

// The sites a circuit keeps for nodes `nodes`: one per head (hook_z with
// heads {h}) or MLP (hook_mlp_out), at its nodes' positions (ascending);
// ordered by layer, then heads before the MLP, then head; then, for neuron
// nodes, one per layer and position (hook_post with its neurons, ascending).
std::vector<AblationSite> circuit_sites(const std::vector<AttributionUnit>& nodes);

// The circuit that keeps `units`: their edges (one per sender and receiver,
// at the union of its units' positions, every position when one unit has
// none), or the sites of their nodes.
CircuitConfiguration circuit_of(const std::vector<AttributionUnit>& units);

}  // namespace circuitcheck
