// The "circuit" claim kind (claims/README.md): a set of nodes, or of edges,
// reproduces the model's behaviour (faithfulness), nothing outside it
// matters much (completeness), and every member of it is needed (minimality).
// Below for nodes; a circuit of edges ("edges": [{"sender", "receiver"}],
// edges.h) keeps its edges and ablates every other edge of the model by an
// edge run, with the same three checks over its edges.
//
//   { "kind": "circuit", "ablation": "mean", "metric": "logit_diff",
//     "nodes": [{"hook": "blocks.0.attn.hook_z", "heads": [0], "positions": [6]},
//               {"hook": "blocks.1.attn.hook_z", "heads": [0], "positions": [7, 8, 9]}],
//     "completeness": {"subsets": 5, "seed": 0},
//     "domain": {...},
//     "pass": {"faithfulness_at_least": 0.9, "completeness_at_most": 0.1, "minimality_at_least": 0.05} }
//
// A node is one entry of `nodes` (an AblationSite, ablate.h): heads of
// blocks.L.attn.hook_z, blocks.L.hook_mlp_out or neurons of
// blocks.L.mlp.hook_post, each optionally at positions. The model's
// components are every head and MLP (or, in a layer whose nodes are neurons,
// every neuron) at every position (complement in ablate.h); a circuit C keeps
// its nodes and ablates every other component by `ablation`: zero, mean,
// resample, or "counterfactual" (MIB's counterfactual patching: each
// component gets its activation on the example's `counterfactual` input,
// patching.h, so ∅ is the model on that input as far as the heads and MLPs
// are concerned). With m the
// per-example metric (summed over the example's scored positions) averaged
// over the domain, N the whole model and ∅ every component ablated:
//   f(C) = (m(C) - m(∅)) / (m(N) - m(∅))                       (MIB)
//   completeness gap of S ⊆ C = |f(C \ S) - f(N \ S)|          (Wang et al. 2022)
//   contribution of v ∈ C = f(C) - f(C \ {v})                  (minimality)
// where N \ S ablates S's nodes only. With "score_at": ROLE, m reads only the
// targets at that role's positions (circuit_targets). Each is a ratio of per-example sums
// with the common denominator m(N) - m(∅), bootstrapped over examples
// (bootstrap.h) on a sampled domain. Without a gap between N and ∅ (its
// bootstrap lower bound, has_gap in patching.h) f is undefined and every
// check is too.
#pragma once

#include "circuits/claims/ablate.h"
#include "circuits/claims/edges.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/patching.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace circuitcheck {

// What m measures per example, summed over its scored positions (targets >= 0).
enum class CircuitMetric {
  kLogitDiff,      // the target's logit minus the largest other logit (nats of logit)
  kTargetLogProb,  // log-probability of the target (nats)
  kAccuracy,       // 1 when every scored position's argmax is its target, else 0
};

// "logit_diff", "target_log_prob", "accuracy".
const char* to_string(CircuitMetric metric);

// The metric of a run, per example: logits [batch, pos - from, vocab] (a run
// from position `from`), targets [batch, pos]. Returns [batch] (double).
at::Tensor circuit_metric(CircuitMetric metric, const at::Tensor& logits, const at::Tensor& targets, int64_t from);

struct CircuitSpec {
  std::vector<AblationSite> nodes;  // a circuit of nodes, or
  std::vector<Edge> edges;          // a circuit of edges (edges.h): exactly one is non-empty
  InterventionKind ablation = InterventionKind::kMean;  // zero, mean, resample, or patch: from `counterfactual`
  Domain reference{false, 4096, 0};                     // mean and resample: as the ablation kind's
  Counterfactual counterfactual;                        // patch only
  CircuitMetric metric = CircuitMetric::kLogitDiff;
  std::string score_at;      // a role: the metric reads the targets at its positions only; empty: every scored position
  int64_t subsets = 5;       // completeness: the subsets S of C (every non-empty one when there are at most this many)
  uint64_t subset_seed = 0;  // completeness: their draw
};

// The targets [batch, pos] a circuit claim's metric reads on batch `b`: b's,
// or with `c.score_at`, b's at that role's positions and -1 elsewhere (e.g.
// S5's predict_A3: the one position that predicts answer digit A3).
at::Tensor circuit_targets(const CircuitSpec& c, const Batch& b);

// The non-empty subsets of `n` nodes completeness measures: every one when
// 2^n - 1 <= k, else k distinct ones (each node in with probability 1/2)
// drawn from std::mt19937_64 seeded with `seed`. Each is its nodes' indices, ascending.
std::vector<std::vector<int64_t>> circuit_subsets(int64_t n, int64_t k, uint64_t seed);

// One run of a circuit claim: the nodes it keeps (every other component
// ablated: complement in ablate.h, over each batch's length), or the sites it
// ablates (the whole model N: none; N \ S: S's nodes).
struct CircuitConfiguration {
  bool keeps = false;
  std::vector<AblationSite> sites;  // a circuit of nodes
  std::vector<Edge> edges;          // a circuit of edges: the edges it keeps, or ablates
};

// What the runs of a circuit claim share: every component's hook (what
// ablation replaces; for a circuit of edges, the senders' hooks) and, for
// mean and resample ablation, their reference values (ablation_values; none
// for zero and counterfactual ablation).
struct CircuitAblation {
  std::vector<HookPoint> hooks;
  std::map<HookPoint, at::Tensor> values;
};

// How many positions the runs of circuit claim `claim` cover: for a circuit
// of nodes in a causal model, up to the last position its domain scores (the
// largest over its slices: measure_circuits stops each slice's runs after its
// own), read from the domain's examples with no forward pass; 0 (every
// position) for a circuit of edges or a bidirectional model.
int64_t circuit_run_length(const RunContext& context, const Claim& claim);

// The ablation of circuit claim `claim` on the context's model: one forward
// pass over its reference sample (mean, resample), over positions [0, to)
// when `to` > 0 (enough for measure_circuits with to = circuit_run_length),
// else every position (attribution's runs, discovery/attribution.h).
CircuitAblation circuit_ablation(const RunContext& context, const Claim& claim, int64_t to = 0);

// Why a circuit claim's ratios are undefined on a model, or "" when they are
// defined: m(N) - m(empty) per example (`whole`, `empty` [examples]) must
// have a gap by has_gap (patching.h), at least kGapFloor of the larger of
// |mean m(N)| and |mean m(empty)|. The reason says which test failed, with
// both means: "the whole model's <metric> is not above the empty circuit's
// (...): there is no behaviour for a circuit to reproduce".
std::string circuit_gap_missing(const std::string& metric, const at::Tensor& whole, const at::Tensor& empty,
                                const Domain& domain);

// The activation each hook of `clean` (the model's own on batch `b`) takes
// when a circuit claim with spec `c` ablates it: the counterfactual run's
// (one forward pass; then only `clean`'s hooks are read, not its tensors),
// or `clean` ablated with `values` (circuit_ablation's).
std::map<HookPoint, at::Tensor> ablated_activations(const RunContext& context, const CircuitSpec& c, const Batch& b,
                                                    const std::map<HookPoint, at::Tensor>& clean,
                                                    const std::map<HookPoint, at::Tensor>& values);

// The variants run_circuit measures after N and the empty circuit, in order:
// C, C without each member (with `minimality`), then C \ S and N \ S for
// each of `subsets`. On a control (run only once the checkpoint passed, so
// every thresholded check decided it), run_circuit measures minimality and
// completeness only where the claim thresholds them: a claim that reports a
// circuit's contributions without a threshold runs N, the empty circuit and
// C on its controls, and the completeness subsets where completeness is
// thresholded; Outcome::stopped says what was left out. Without a gap
// between N and the empty circuit (circuit_gap_missing) run_circuit runs no
// variant, on the checkpoint as on a control: every check is undefined.
std::vector<CircuitConfiguration> circuit_variants(const CircuitSpec& c, const std::vector<std::vector<int64_t>>& subsets,
                                                   bool minimality = true);

// Each configuration's per-example metric (read at circuit_targets) over the claim's domain
// ([examples], double, in domain order), ablated as `claim` (a circuit claim:
// its ablation, counterfactual and metric) says; its own nodes only name the
// layers whose MLP components are neurons, and C below. One forward pass
// per slice and configuration, plus the counterfactual's per slice. For a
// circuit of nodes, layer 0's attention, which no configuration changes
// (every node, and every component an ablation replaces, sits at or after
// its hook_z), runs once per slice in each call, and every run starts at
// its hook_z (RunOptions::start_z), so the prefixes below hold the keys and
// values of layers 1 on only (a one-layer model's hold none, only their
// length). In a causal model (a bidirectional one's runs cover every
// position, and share no prefix): each run stops after the last scored
// position; when
// every node sits at fixed positions, the positions before the first of them
// run once per slice for the configurations that keep nodes and once for
// those that ablate them (RunOptions::prefix), and each configuration's pass
// covers only the positions from there. A configuration listed after C (keeping
// exactly the claim's nodes) or N (nothing ablated) that differs from it only at
// nodes from position p on covers only the positions from p (at most the
// first scored one), with C's or N's keys and values before p (C and N keep
// theirs while their slice runs, when a configuration of their kind follows:
// 2 x (n_layers - 1) x [rows, positions, n_heads x d_head] floats). For a
// circuit of edges, an edge run (run_edges, about one pass) per slice and
// configuration; a configuration after C or N starts at the first part of
// the run (a layer's attention or MLP, the logits) whose receivers it treats
// differently from the one it agrees with longest, from that one's state
// there (EdgeRunReuse; C and N keep theirs while their slice runs, when a
// configuration follows). The senders' ablated values take one pass per
// slice (resample: the model's own run; counterfactual: the
// counterfactual's), or for zero and mean ablation, which give every example
// the same, a pass over one example.
//
// The configurations' sites are drawn from the claim's nodes (or are empty):
// the shared runs before every node assume that a configuration that keeps
// ablates everything there, and one that ablates ablates nothing there.
//
// `prefixes`, when given, keeps each slice's runs of the positions before
// every node (the same in every call for one claim on one model) for the
// calls after, up to kKeptPrefixBytes in all: run_circuit's second call
// (the variants, after N and the empty circuit) takes them from its first.
struct CircuitPrefixes {
  std::map<std::pair<int64_t, bool>, RunPrefix> runs;  // by the slice's first row and CircuitConfiguration::keeps
  std::size_t bytes = 0;
};
inline constexpr std::size_t kKeptPrefixBytes = std::size_t{256} << 20;
std::vector<at::Tensor> measure_circuits(const RunContext& context, const Claim& claim, const CircuitAblation& ablation,
                                         const std::vector<CircuitConfiguration>& configurations,
                                         CircuitPrefixes* prefixes = nullptr);

void parse_circuit(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
void run_circuit(const RunContext& context, const Claim& claim, Outcome& out);
// Its placebos (placebo.h): each node moved as an ablation's site is
// (site_placebos): its heads to as many other heads of its layer (positions
// kept), and so on. A circuit of other components must not be faithful: its
// faithfulness and its nodes' contributions fail, and its completeness gap
// is large (everything that matters lies outside it). A circuit of edges
// takes none.
std::vector<PlaceboRun> circuit_placebos(const Claim& claim, const std::string& control, const Config& config,
                                         const std::string& where);

}  // namespace circuitcheck
