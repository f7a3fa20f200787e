#include "circuits/claims/kinds/circuit_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/claims/placebo.h"
#include "circuits/claims/domain.h"
#include "circuits/claims/patching.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>

namespace circuitcheck {
namespace {

constexpr int64_t kMaxSubsets = 64;

std::set<int> neuron_layers(const std::vector<AblationSite>& nodes) {
  std::set<int> out;
  for (const AblationSite& node : nodes)
    if (node.hook.type == HookType::kMlpPost) out.insert(node.hook.layer);
  return out;
}

// The members (nodes or edges) whose indices `removed` (ascending) does not hold.
template <typename T>
std::vector<T> without(const std::vector<T>& members, const std::vector<int64_t>& removed) {
  std::vector<T> out;
  for (std::size_t i = 0; i < members.size(); ++i)
    if (!std::binary_search(removed.begin(), removed.end(), static_cast<int64_t>(i))) out.push_back(members[i]);
  return out;
}

template <typename T>
std::vector<T> only(const std::vector<T>& members, const std::vector<int64_t>& kept) {
  std::vector<T> out;
  for (int64_t i : kept) out.push_back(members[static_cast<std::size_t>(i)]);
  return out;
}

// C without its members `removed` (kept), and N without C's members `subset` (ablated).
CircuitConfiguration keeping_without(const CircuitSpec& c, const std::vector<int64_t>& removed) {
  if (!c.edges.empty()) return {true, {}, without(c.edges, removed)};
  return {true, without(c.nodes, removed), {}};
}
CircuitConfiguration ablating(const CircuitSpec& c, const std::vector<int64_t>& subset) {
  if (!c.edges.empty()) return {false, {}, only(c.edges, subset)};
  return {false, only(c.nodes, subset), {}};
}

// The elements of its hook's activation a role node covers in batch `b`:
// [batch, pos, heads, 1] (hook_z), [batch, pos, 1] (hook_mlp_out) or
// [batch, pos, d_mlp] (hook_post).
at::Tensor node_mask(const AblationSite& node, const Batch& b, const Config& config) {
  const at::Tensor at_role = role_mask(b, node.role).unsqueeze(2);
  const auto chosen = [](int64_t size, const std::vector<int64_t>& which) {
    at::Tensor m = at::full({size}, which.empty(), at::kBool);
    for (int64_t i : which) m[i] = true;
    return m;
  };
  if (node.hook.type == HookType::kZ) return at_role.logical_and(chosen(config.n_heads, node.heads)).unsqueeze(3);
  if (node.hook.type == HookType::kMlpPost) return at_role.logical_and(chosen(config.d_mlp, node.neurons));
  return at_role;
}

// The interventions that ablate what configuration `k` does not keep (or,
// ablating, what it names) in batch `b`. Nodes at a role are masked per example.
std::vector<Intervention> circuit_interventions(const CircuitSpec& c, const CircuitConfiguration& k, const Batch& b,
                                                const Config& config, const std::set<int>& by_neuron,
                                                const std::map<HookPoint, at::Tensor>& values, const std::string& where) {
  std::vector<AblationSite> fixed, by_role;
  for (const AblationSite& site : k.sites) (site.role.empty() ? fixed : by_role).push_back(site);
  std::vector<Intervention> out = ablation_interventions(
      c.ablation, k.keeps ? complement(fixed, config, by_neuron, b.tokens.size(1), where) : fixed, values, c.reference.seed);
  for (Intervention& iv : out) iv.first_row = b.first_row;
  if (k.keeps) {
    for (Intervention& iv : out) {  // a role node's component stays at its role's positions
      at::Tensor kept;
      for (const AblationSite& node : by_role)
        if (node.hook == iv.hook) {
          const at::Tensor m = node_mask(node, b, config);
          kept = kept.defined() ? kept.logical_or(m) : m;
        }
      if (kept.defined()) iv.mask = kept.logical_not();
    }
    return out;
  }
  for (const AblationSite& node : by_role) {
    AblationSite everywhere = node;
    everywhere.role.clear();
    out.push_back(ablation_interventions(c.ablation, {everywhere}, values, c.reference.seed).front());
    out.back().mask = node_mask(node, b, config);
    out.back().first_row = b.first_row;
  }
  return out;
}

bool same_site(const AblationSite& a, const AblationSite& b) {
  return a.hook == b.hook && a.heads == b.heads && a.positions == b.positions && a.neurons == b.neurons &&
         a.role == b.role;
}

// The first position at which sites `a` and `b` differ: the least position
// of a site in one and not the other (0 for a site at a role or at every
// position); `none` when they hold the same sites.
int64_t first_difference(const std::vector<AblationSite>& a, const std::vector<AblationSite>& b, int64_t none) {
  std::vector<AblationSite> differing;
  const auto outside = [&](const std::vector<AblationSite>& from, const std::vector<AblationSite>& in) {
    for (const AblationSite& site : from)
      if (std::none_of(in.begin(), in.end(), [&](const AblationSite& o) { return same_site(site, o); }))
        differing.push_back(site);
  };
  outside(a, b);
  outside(b, a);
  return before_every_site(differing, none);
}

// `head`'s keys and values followed by the first `length` positions of `tail`'s.
RunPrefix joined(const RunPrefix& head, const RunPrefix& tail, int64_t length) {
  RunPrefix out;
  out.length = head.length + length;
  const auto join = [&](const at::Tensor& h, const at::Tensor& t) {
    return h.defined() ? at::cat({h, t.slice(1, 0, length)}, 1) : t.slice(1, 0, length).contiguous();
  };
  for (std::size_t l = 0; l < tail.k.size(); ++l) {
    const bool read = tail.k[l].defined();  // layers a run from hook_z does not read are undefined in both
    check_internal(tail.v[l].defined() == read && (head.k.empty() || (head.k[l].defined() == read && head.v[l].defined() == read)),
                   "joined", "the prefixes leave different layers undefined");
    out.k.push_back(read ? join(head.k.empty() ? at::Tensor() : head.k[l], tail.k[l]) : at::Tensor());
    out.v.push_back(read ? join(head.v.empty() ? at::Tensor() : head.v[l], tail.v[l]) : at::Tensor());
  }
  return out;
}

// "{0, 2}": a subset's node indices.
std::string subset_name(const std::vector<int64_t>& subset) {
  std::string s;
  for (int64_t i : subset) s += (s.empty() ? "" : ", ") + std::to_string(i);
  return "{" + s + "}";
}

// The checks of a circuit claim's outcome: ratios of per-example sums over
// the common denominator m(N) - m(empty), bootstrapped over examples (exact
// on an exhaustive domain), all undefined without a gap.
struct GapChecks {
  GapChecks(Outcome& out, const Domain& domain, const at::Tensor& whole, const at::Tensor& empty,
            const std::string& metric)
      : out(out), empty(empty), gap(whole - empty), exhaustive(domain.exhaustive), seed(domain.seed),
        no_gap(circuit_gap_missing(metric, whole, empty, domain)),
        defined(no_gap.empty()),
        total(gap.sum().item<double>()) {}

  // sum(numerator) / sum(gap); 0 (not -0, inf or NaN) where undefined.
  double of_gap(const at::Tensor& numerator) const {
    const double value = total != 0.0 ? numerator.sum().item<double>() / total : 0.0;
    return value == 0.0 ? 0.0 : value;
  }

  // Adds a check of `value`; on a sampled domain with a gap its interval is
  // the bootstrap of the ratio of `numerators` (of the largest |ratio| over
  // them when `max_abs`), set by finish(). Without a gap it is an undefined
  // value with no interval (and no p-value: patching.h's rule).
  void thresholded(const std::string& name, const std::string& what, double value,
                   const std::vector<at::Tensor>& numerators, bool max_abs, Rule rule,
                   const std::optional<double>& threshold) {
    const Rule r = threshold ? rule : Rule::kNone;
    Check check = value_check(name, what, value, r, threshold.value_or(0.0));
    if (!defined) mark_undefined(check, no_gap);
    else if (!exhaustive)
      pending.push_back({out.checks.size(), name, what, numerators, max_abs, value, r, threshold.value_or(0.0)});
    out.checks.push_back(check);
  }

  double ratio(const std::string& name, const std::string& what, const at::Tensor& numerator, Rule rule,
               const std::optional<double>& threshold) {
    const double value = of_gap(numerator);
    thresholded(name, what, value, {numerator}, false, rule, threshold);
    return value;
  }

  // The pending checks' intervals, from one draw of resamples (resampled_ratios).
  void finish() {
    std::vector<at::Tensor> numerators;
    for (const Pending& p : pending) numerators.insert(numerators.end(), p.numerators.begin(), p.numerators.end());
    if (numerators.empty()) return;
    std::vector<std::vector<double>> ratios = resampled_ratios(numerators, gap, seed);
    std::size_t next = 0;
    for (const Pending& p : pending) {
      std::vector<std::vector<double>> own(std::make_move_iterator(ratios.begin() + next),
                                           std::make_move_iterator(ratios.begin() + next + p.numerators.size()));
      next += p.numerators.size();
      const Bootstrap interval =
          percentile_bootstrap(p.max_abs ? max_abs_draws(own) : std::move(own[0]), gap.size(0), seed);
      out.checks[p.index] = value_check(p.name, p.what, p.value, interval, p.rule, p.threshold);
    }
    pending.clear();
  }

  struct Pending {
    std::size_t index;  // in out.checks
    std::string name, what;
    std::vector<at::Tensor> numerators;
    bool max_abs;
    double value;
    Rule rule;
    double threshold;
  };
  std::vector<Pending> pending;
  Outcome& out;
  at::Tensor empty, gap;
  bool exhaustive;
  uint64_t seed;
  std::string no_gap;
  bool defined;
  double total;
};

// Each member's contribution f(C) - f(C without it), from m (the runs:
// C, then C without each member), as checks and a figure.
Figure minimality(GapChecks& checks, const CircuitSpec& c, const PassRule& pass, const std::vector<at::Tensor>& m) {
  const std::string kind = c.edges.empty() ? "node" : "edge";
  Figure f;
  f.type = "bars";
  f.title = "each " + kind + "'s contribution f(C) - f(C without it)";
  f.x_title = kind;
  f.y_title = "contribution";
  f.series = {"contribution"};
  f.values.assign(1, {});
  if (pass.minimality_at_least) f.reference = {*pass.minimality_at_least};
  for (std::size_t i = 0; i < c.nodes.size() + c.edges.size(); ++i) {
    const std::string member = kind + " " + std::to_string(i);
    const std::string name = c.edges.empty() ? site_name(c.nodes[i]) : c.edges[i].name();
    f.x_labels.push_back(std::to_string(i));
    f.values[0].push_back(checks.ratio("contribution of " + member, member + " (" + name + "): f(C) - f(C without it)",
                                       m[0] - m[1 + i], Rule::kMinimalityAtLeast, pass.minimality_at_least));
  }
  return f;
}

// The largest completeness gap over `subsets`, from m (after C and, with
// `after_minimality`, C without each member: C \ S and N \ S for each S), as checks and a figure.
Figure completeness(GapChecks& checks, const CircuitSpec& c, const PassRule& pass, const std::vector<at::Tensor>& m,
                    const std::vector<std::vector<int64_t>>& subsets, bool after_minimality) {
  const std::size_t n = after_minimality ? c.nodes.size() + c.edges.size() : 0;
  const std::string kind = c.edges.empty() ? "nodes" : "edges";
  Figure f;
  f.type = "bars";
  f.title = "completeness: f(C without S) against f(N without S)";
  f.x_title = "S (" + kind.substr(0, 4) + " indices)";
  f.y_title = "faithfulness";
  f.series = {"f(C without S)", "f(N without S)"};
  f.values.assign(2, {});
  std::vector<at::Tensor> differences;
  std::vector<Check> gaps;
  double largest = 0.0;
  for (std::size_t j = 0; j < subsets.size(); ++j) {
    const at::Tensor& circuit_less = m[1 + n + 2 * j];
    const at::Tensor& model_less = m[2 + n + 2 * j];
    const std::string s = subset_name(subsets[j]);
    differences.push_back(circuit_less - model_less);
    const double value = std::fabs(checks.of_gap(differences.back()));
    largest = std::isnan(value) ? value : std::max(largest, value);  // a NaN gap is not skipped
    gaps.push_back(value_check("completeness gap " + s, "S = " + kind + " " + s + ": |f(C without S) - f(N without S)|",
                               value, Rule::kNone, 0.0));
    f.x_labels.push_back(s);
    f.values[0].push_back(checks.of_gap(circuit_less - checks.empty));
    f.values[1].push_back(checks.of_gap(model_less - checks.empty));
  }
  checks.thresholded("completeness",
                     "the largest completeness gap |f(C without S) - f(N without S)| over " +
                         std::to_string(subsets.size()) + " subsets S of C",
                     largest, differences, true, Rule::kCompletenessAtMost, pass.completeness_at_most);
  if (checks.defined) checks.out.checks.insert(checks.out.checks.end(), gaps.begin(), gaps.end());
  return f;
}

}  // namespace

const char* to_string(CircuitMetric metric) {
  switch (metric) {
    case CircuitMetric::kLogitDiff: return "logit_diff";
    case CircuitMetric::kTargetLogProb: return "target_log_prob";
    case CircuitMetric::kAccuracy: return "accuracy";
  }
  return "";
}

at::Tensor circuit_metric(CircuitMetric metric, const at::Tensor& logits, const at::Tensor& targets, int64_t from) {
  if (metric == CircuitMetric::kTargetLogProb) return target_log_prob(logits, targets, from).to(at::kDouble);
  if (metric == CircuitMetric::kAccuracy) return targets_predicted(logits, targets, from).to(at::kDouble);
  const at::Tensor t = targets.slice(1, from).to(logits.device());
  const at::Tensor scored = t >= 0;
  const at::Tensor index = t.clamp_min(0).unsqueeze(-1);
  const at::Tensor target = logits.gather(-1, index).squeeze(-1);
  const at::Tensor other = logits.scatter(-1, index, -std::numeric_limits<float>::infinity()).amax(-1);
  return ((target - other) * scored).sum(1).to(at::kDouble);
}

at::Tensor circuit_targets(const CircuitSpec& c, const Batch& b) {
  if (c.score_at.empty()) return b.targets;
  return b.targets.masked_fill(role_mask(b, c.score_at).logical_not().to(b.targets.device()), -1);
}

std::vector<CircuitConfiguration> circuit_variants(const CircuitSpec& c, const std::vector<std::vector<int64_t>>& subsets,
                                                   bool minimality) {
  std::vector<CircuitConfiguration> out = {keeping_without(c, {})};
  for (int64_t v = 0; minimality && v < static_cast<int64_t>(c.nodes.size() + c.edges.size()); ++v)
    out.push_back(keeping_without(c, {v}));
  for (const std::vector<int64_t>& s : subsets) {
    out.push_back(keeping_without(c, s));
    out.push_back(ablating(c, s));
  }
  return out;
}

std::vector<std::vector<int64_t>> circuit_subsets(int64_t n, int64_t k, uint64_t seed) {
  std::vector<std::vector<int64_t>> out;
  const auto members = [n](uint64_t bits) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < n; ++i)
      if (bits >> i & 1) s.push_back(i);
    return s;
  };
  if (n < 63 && (uint64_t{1} << n) - 1 <= static_cast<uint64_t>(k)) {
    for (uint64_t bits = 1; bits < (uint64_t{1} << n); ++bits) out.push_back(members(bits));
    return out;
  }
  std::mt19937_64 gen(seed);
  std::set<std::vector<int64_t>> seen;
  while (static_cast<int64_t>(out.size()) < k) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < n; ++i)
      if (gen() >> 63) s.push_back(i);
    if (!s.empty() && seen.insert(s).second) out.push_back(s);
  }
  return out;
}

std::string circuit_gap_missing(const std::string& metric, const at::Tensor& whole, const at::Tensor& empty,
                                const Domain& domain) {
  const double w = whole.mean().item<double>(), e = empty.mean().item<double>();
  const double scale = std::max(std::fabs(w), std::fabs(e));
  if (has_gap(whole - empty, domain.exhaustive, domain.seed, scale)) return "";
  const bool small = w - e > 0.0 && w - e < kGapFloor * scale;
  return "the whole model's " + metric + " is not above the empty circuit's (" + number(w) + " against " + number(e) +
         (small ? ": by less than " + number(kGapFloor * 100) + " % of the larger magnitude"
                : domain.exhaustive ? "" : ", on the bootstrap lower bound of the difference") +
         "): there is no behaviour for a circuit to reproduce";
}

std::map<HookPoint, at::Tensor> ablated_activations(const RunContext& context, const CircuitSpec& c, const Batch& b,
                                                    const std::map<HookPoint, at::Tensor>& clean,
                                                    const std::map<HookPoint, at::Tensor>& values) {
  std::vector<HookPoint> hooks;
  for (const auto& [hook, activation] : clean) hooks.push_back(hook);
  if (c.ablation == InterventionKind::kPatch) {
    RunOptions source;
    source.cache = hooks;
    source.logits = false;
    return run(context.model, counterfactual_tokens(c.counterfactual, b), source).cache;
  }
  std::map<HookPoint, at::Tensor> out;
  for (const HookPoint& hook : hooks) {
    Liveness unused;
    Intervention ablate =
        ablation_interventions(c.ablation, {AblationSite{hook, {}, {}, {}}}, values, c.reference.seed).front();
    ablate.first_row = b.first_row;
    out[hook] = apply_intervention(ablate, clean.at(hook), unused);
  }
  return out;
}

std::vector<at::Tensor> measure_circuits(const RunContext& context, const Claim& claim, const CircuitAblation& ablation,
                                         const std::vector<CircuitConfiguration>& configurations,
                                         CircuitPrefixes* prefixes) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  const Config& config = context.model.config;
  const std::set<int> by_neuron = neuron_layers(c.nodes);
  std::vector<std::vector<at::Tensor>> parts(configurations.size());
  // The activations ablation replaces, as ablated_activations needs them:
  // the model's own on `tokens` (for counterfactual ablation only their hooks matter).
  const auto own = [&](const at::Tensor& tokens) {
    std::map<HookPoint, at::Tensor> out;
    for (const HookPoint& hook : ablation.hooks) out[hook] = at::Tensor();
    if (c.ablation == InterventionKind::kPatch) return out;
    RunOptions options;
    options.cache = ablation.hooks;
    options.logits = false;
    return run(context.model, tokens, options).cache;
  };
  // Zero and mean ablation give every example the same senders, [senders, 1, pos, d_model]:
  // the model's own run on one example gives their shapes.
  const bool same_for_all = c.ablation == InterventionKind::kZero || c.ablation == InterventionKind::kMean;
  const auto measure_edges = [&](const Batch& b) {
    const at::Tensor ablated = sender_outputs(
        config, ablated_activations(context, c, b, own(same_for_all ? b.tokens.slice(0, 0, 1) : b.tokens), ablation.values));
    const at::Tensor targets = circuit_targets(c, b);
    const int64_t from = first_scored_position(targets);
    const int64_t pos = b.tokens.size(1);
    // C and N keep their states when a configuration follows them; a later
    // one starts at the first part where it differs from the one it agrees
    // with longest.
    std::vector<at::Tensor> kept(configurations.size());  // C's and N's only, once run (per example with roles)
    std::vector<EdgeRunStates> states(configurations.size());
    for (std::size_t i = 0; i < configurations.size(); ++i) {
      const CircuitConfiguration& k = configurations[i];
      const at::Tensor listed = edge_mask(config, k.edges, &b);
      kept[i] = k.keeps ? listed : listed.logical_not();
      EdgeRunReuse reuse;
      for (std::size_t j = 0; j < i; ++j) {
        if (states[j].empty()) continue;
        const int start = first_differing_part(config, kept[j], kept[i], pos);
        if (start > reuse.start) reuse = {nullptr, &states[j], std::min(start, edge_parts(config) - 1)};
      }
      const bool is_base =  // C (no configuration keeps more of the circuit) or N
          i + 1 < configurations.size() && (k.keeps ? k.edges.size() == c.edges.size() : k.edges.empty());
      if (is_base) reuse.keep = &states[i];
      const at::Tensor logits = run_edges(context.model, b.tokens, ablated, kept[i], from, reuse);
      if (!is_base) kept[i] = at::Tensor();
      parts[i].push_back(circuit_metric(c.metric, logits, targets, from));
    }
  };
  // In a causal model positions after the last scored one change nothing
  // that is scored: node runs stop there, share the positions before every
  // node and reuse C's and N's keys and values. A bidirectional model's runs
  // cover every position, whole.
  const bool causal = config.attention_dir == AttentionDir::kCausal;
  const auto measure_nodes = [&](const Batch& whole) {
    const at::Tensor scored = circuit_targets(c, whole);
    const int64_t to = causal ? last_scored_position(scored) + 1 : whole.tokens.size(1);
    const Batch b = leading_positions(whole, to);
    const std::map<HookPoint, at::Tensor> patched = c.ablation == InterventionKind::kPatch
                                                        ? ablated_activations(context, c, b, own(b.tokens), {})
                                                        : std::map<HookPoint, at::Tensor>{};
    const at::Tensor targets = scored.slice(1, 0, to);
    const std::map<HookPoint, at::Tensor>& values = c.ablation == InterventionKind::kPatch ? patched : ablation.values;
    const auto interventions = [&](const CircuitConfiguration& k) {
      return circuit_interventions(c, k, b, config, by_neuron, values, claim.pointer);
    };
    // Layer 0's attention is the same in every configuration (every node, and
    // every component an ablation replaces, sits at or after its hook_z): one
    // pass per slice gives its input and its heads' outputs, and every run
    // below starts at its hook_z (RunOptions::start_z), so no prefix needs
    // layer 0's keys and values.
    const HookPoint resid0{HookType::kResidPre, 0}, z0{HookType::kZ, 0};
    RunOptions clean;
    clean.cache = {resid0, z0};
    clean.logits = false;
    const ActivationCache layer0 = run(context.model, b.tokens, clean).cache;
    const auto start_at_z = [&](RunOptions& o, int64_t length) {
      o.start_resid = layer0.at(resid0).slice(1, 0, length);
      o.start_z = layer0.at(z0).slice(1, 0, length);
    };
    RunOptions options;
    options.from_position = first_scored_position(targets);
    // The positions before every node, run once per slice for the runs that
    // keep the circuit (every component ablated there) and once for those
    // that ablate some of its nodes (the model's own). A one-layer model's
    // prefixes hold no keys and values (it has none after layer 0), only
    // their length.
    const int64_t shared = causal ? before_every_site(c.nodes, options.from_position) : 0;
    std::optional<RunPrefix> keeping, ablating;  // by CircuitConfiguration::keeps
    const auto prefix = [&](bool keeps) {
      std::optional<RunPrefix>& made = keeps ? keeping : ablating;
      if (made) return *made;
      const std::pair<int64_t, bool> key{b.first_row, keeps};
      if (prefixes && prefixes->runs.count(key)) return *(made = prefixes->runs.at(key));
      RunOptions head;
      head.cache = prefix_hooks(config, 1);
      head.logits = false;
      head.interventions = within_positions(interventions({keeps, {}, {}}), config, 0, shared);
      start_at_z(head, shared);
      made = run_prefix(config, run(context.model, b.tokens.slice(1, 0, shared), head).cache, shared, 1);
      std::size_t bytes = 0;
      for (const std::vector<at::Tensor>* kv : {&made->k, &made->v})
        for (const at::Tensor& t : *kv) bytes += t.defined() ? t.nbytes() : 0;
      if (prefixes && prefixes->bytes + bytes <= kKeptPrefixBytes) {
        prefixes->runs[key] = *made;
        prefixes->bytes += bytes;
      }
      return *made;
    };
    // The whole circuit kept (C) and the whole model (N) keep their keys and
    // values; a later configuration of the same kind that differs from one
    // of them only at nodes from position p on computes what it does before
    // p, and runs from p (at most the first scored position) with them.
    std::vector<std::optional<RunPrefix>> kept(configurations.size());
    for (std::size_t i = 0; i < configurations.size(); ++i) {
      const CircuitConfiguration& k = configurations[i];
      RunOptions o = options;
      int64_t start = shared;
      std::optional<std::size_t> base;
      for (std::size_t j = 0; j < i && causal; ++j) {
        if (!kept[j] || configurations[j].keeps != k.keeps) continue;
        const int64_t p = std::min(first_difference(configurations[j].sites, k.sites, to), options.from_position);
        if (p > start) {
          start = p;
          base = j;
        }
      }
      if (base) o.prefix = joined(shared > 0 ? prefix(k.keeps) : RunPrefix{}, *kept[*base], start - shared);
      else if (shared > 0) o.prefix = prefix(k.keeps);
      const bool is_base =
          causal && !base && options.from_position > shared &&
          (k.keeps ? first_difference(k.sites, c.nodes, to) == to : k.sites.empty()) &&
          std::any_of(configurations.begin() + static_cast<std::ptrdiff_t>(i) + 1, configurations.end(),
                      [&](const CircuitConfiguration& later) { return later.keeps == k.keeps; });
      if (is_base) o.cache = prefix_hooks(config, 1);
      o.interventions = within_positions(interventions(k), config, o.from_position, to, start);
      start_at_z(o, to);
      RunResult r = run(context.model, b.tokens, o);
      if (is_base) kept[i] = run_prefix(config, r.cache, options.from_position - shared, 1);
      parts[i].push_back(circuit_metric(c.metric, r.logits, targets, o.from_position));
    }
  };
  for_each_slice(context.task, claim.domain, context.scale, kVerifyBatch, [&](const Batch& b) {
    if (c.edges.empty()) measure_nodes(b);
    else measure_edges(b);
  });
  std::vector<at::Tensor> out;
  for (const auto& p : parts) out.push_back(at::cat(p));
  return out;
}

int64_t circuit_run_length(const RunContext& context, const Claim& claim) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  int64_t out = 0;
  if (c.edges.empty() && context.model.config.attention_dir == AttentionDir::kCausal)
    for_each_slice(context.task, claim.domain, context.scale, kVerifyBatch,
                   [&](const Batch& b) { out = std::max(out, last_scored_position(circuit_targets(c, b)) + 1); });
  return out;
}

CircuitAblation circuit_ablation(const RunContext& context, const Claim& claim, int64_t to) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  const Config& config = context.model.config;
  CircuitAblation out;
  if (!c.edges.empty()) out.hooks = sender_hooks(config);
  else
    for (const AblationSite& site : complement({}, config, neuron_layers(c.nodes), config.n_ctx, claim.pointer))
      if (std::find(out.hooks.begin(), out.hooks.end(), site.hook) == out.hooks.end()) out.hooks.push_back(site.hook);
  if (c.ablation != InterventionKind::kPatch)
    out.values = ablation_values(context.task, c.ablation, out.hooks, c.reference, context.model, context.scale, to);
  return out;
}

namespace {

// A circuit's "nodes" (array_at's), each an AblationSite of a head, an MLP or
// neurons, at positions or at a role; InputError at the node's pointer.
std::vector<AblationSite> circuit_nodes_at(const nlohmann::json& nodes, const At& at, const ParseContext& context) {
  std::vector<AblationSite> out;
  std::set<int> mlp_out_layers;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const At where = at / i;
    check_object(nodes[i], where, {"hook", "heads", "positions", "neurons", "role"}, {"hook"});
    nlohmann::json site = nodes[i];
    site.erase("role");
    out.push_back(ablation_site_at(site, where, context.config));
    if (nodes[i].contains("role")) {
      if (nodes[i].contains("positions")) (where / "role").fail("a node is at \"positions\" or at a \"role\", not both");
      role_at(nodes[i]["role"], where / "role", context.sample);
      out.back().role = nodes[i]["role"].get<std::string>();
    }
    const AblationSite& node = out.back();
    const HookType type = node.hook.type;
    if ((type != HookType::kZ && type != HookType::kMlpOut && type != HookType::kMlpPost) ||
        (type == HookType::kMlpPost && node.neurons.empty()))
      (where / "hook").fail("a node is heads of blocks.L.attn.hook_z, blocks.L.hook_mlp_out or neurons of "
                            "blocks.L.mlp.hook_post, not " + hook_name(node.hook) +
                            (type == HookType::kMlpPost ? " without neurons" : ""));
    check_within_sequence(node.positions, where / "positions", context.sample);
    if (type == HookType::kMlpOut) mlp_out_layers.insert(node.hook.layer);
  }
  for (int layer : neuron_layers(out))
    if (mlp_out_layers.count(layer))
      at.fail("layer " + std::to_string(layer) +
              "'s MLP is a node both whole (hook_mlp_out) and by neurons (mlp.hook_post); give one");
  return out;
}

}  // namespace

void parse_circuit(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  CircuitSpec& c = claim.spec.emplace<CircuitSpec>();
  const Config& config = context.config;
  if (v.contains("nodes") == v.contains("edges"))
    at.fail("a circuit is either \"nodes\" or \"edges\": give one of them");
  if (v.contains("edges")) {
    const nlohmann::json& edges = array_at(v["edges"], at / "edges");
    for (std::size_t i = 0; i < edges.size(); ++i) {
      const Edge e = edge_at(edges[i], at / "edges" / i, config, context.sample);
      if (std::any_of(c.edges.begin(), c.edges.end(), [&](const Edge& o) { return same_pair(o, e); }))
        (at / "edges" / i).fail(Edge{e.sender, e.receiver, {}}.name() + " is given twice: name its positions or its role once");
      c.edges.push_back(e);
    }
  }
  if (v.contains("nodes")) c.nodes = circuit_nodes_at(array_at(v["nodes"], at / "nodes"), at / "nodes", context);
  if (v.contains("ablation"))
    c.ablation = named_at(v["ablation"], at / "ablation", "ablation", ablation_methods(true));
  if (c.ablation == InterventionKind::kPatch) {
    if (!v.contains("counterfactual")) (at / "counterfactual").fail("counterfactual ablation needs a counterfactual");
    c.counterfactual = counterfactual_at(v["counterfactual"], at / "counterfactual", context.sample);
    if (v.contains("reference")) (at / "reference").fail("only mean and resample ablation use a reference sample");
  } else if (v.contains("counterfactual")) {
    (at / "counterfactual").fail("only counterfactual ablation uses a counterfactual");
  }
  if (c.ablation != InterventionKind::kPatch)
    c.reference = reference_at(v, at, context.task, claim.domain, c.ablation);
  if (v.contains("metric"))
    c.metric = enum_at(v["metric"], at / "metric", "metric",
                       {CircuitMetric::kLogitDiff, CircuitMetric::kTargetLogProb, CircuitMetric::kAccuracy});
  if (v.contains("score_at")) {
    role_at(v["score_at"], at / "score_at", context.sample);
    c.score_at = v["score_at"].get<std::string>();
    if (!(context.sample.targets.ge(0) & role_mask(context.sample, c.score_at)).any().item<bool>())
      (at / "score_at").fail("role " + quote(c.score_at) +
                             " holds no scored target in the task's examples: the metric would read nothing");
  }
  if (v.contains("completeness")) {
    const At where = at / "completeness";
    check_object(v["completeness"], where, {"subsets", "seed"}, {});
    if (v["completeness"].contains("subsets"))
      c.subsets = integer_at(v["completeness"]["subsets"], where / "subsets", 1, kMaxSubsets);
    if (v["completeness"].contains("seed"))
      c.subset_seed = static_cast<uint64_t>(
          integer_at(v["completeness"]["seed"], where / "seed", 0, std::numeric_limits<int32_t>::max()));
  }
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"faithfulness_at_least", "completeness_at_most", "minimality_at_least"},
                       {"faithfulness_at_least"});
}

void run_circuit(const RunContext& context, const Claim& claim, Outcome& out) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  const CircuitAblation ablation = circuit_ablation(context, claim, circuit_run_length(context, claim));

  const bool minimal = !context.control || claim.pass.minimality_at_least.has_value();
  const bool complete = !context.control || claim.pass.completeness_at_most.has_value();
  const std::vector<std::vector<int64_t>> subsets =
      complete ? circuit_subsets(static_cast<int64_t>(c.nodes.size() + c.edges.size()), c.subsets, c.subset_seed)
               : std::vector<std::vector<int64_t>>{};
  const std::vector<CircuitConfiguration> runs = circuit_variants(c, subsets, minimal);
  // N and ∅ first: without a gap between them nothing else is defined.
  CircuitPrefixes prefixes;  // each slice's runs before the first node, for both calls
  const std::vector<at::Tensor> ends = measure_circuits(context, claim, ablation, {{false, {}}, {true, {}}}, &prefixes);
  const at::Tensor& whole = ends[0];
  const at::Tensor& empty = ends[1];
  const std::string metric = to_string(c.metric);
  GapChecks checks(out, claim.domain, whole, empty, metric);
  const std::string per_example = " (mean per example, " + metric + " summed over its scored positions)";
  out.checks.push_back(value_check("metric whole model", metric + per_example + " of the whole model:",
                                   whole.mean().item<double>(), Rule::kNone, 0.0));
  const std::string ablated = c.ablation == InterventionKind::kPatch
                                  ? "patched from the counterfactual (" + to_string(c.counterfactual) + ")"
                                  : to_string(c.ablation) + "-ablated";
  out.checks.push_back(value_check("metric empty circuit",
                                   metric + " with every " + (c.edges.empty() ? "head and MLP " : "edge ") + ablated + ":",
                                   empty.mean().item<double>(), Rule::kNone, 0.0));
  // Without a gap the run stops here: every check is undefined (and fails) as it would be after the runs.
  const bool stop = !checks.defined;
  if (stop) out.stopped = "stopped after the whole model and the empty circuit: " + checks.no_gap;
  if (!stop && (!minimal || !complete))
    out.stopped = std::string("not run on a control, as the checkpoint's pass did not rest on it: ") +
                  (!minimal && !complete ? "minimality and completeness" : !minimal ? "minimality" : "completeness");
  const std::vector<at::Tensor> m =
      stop ? std::vector<at::Tensor>(runs.size(), empty) : measure_circuits(context, claim, ablation, runs, &prefixes);
  if (!stop)
    out.checks.push_back(
        value_check("metric circuit", metric + " of the circuit:", m[0].mean().item<double>(), Rule::kNone, 0.0));
  const double f = checks.ratio("faithfulness", "faithfulness f(C) = (m(C) - m(empty)) / (m(N) - m(empty))",
                                m[0] - empty, Rule::kFaithfulnessAtLeast, claim.pass.faithfulness_at_least);
  Figure metrics;
  metrics.type = "bars";
  metrics.title = metric + ": whole model, circuit (f = " + number(f) + ") and empty circuit";
  metrics.y_title = metric;
  metrics.x_labels = {"whole model", "circuit", "empty circuit"};
  metrics.series = {metric};
  metrics.values = {{whole.mean().item<double>(), m[0].mean().item<double>(), empty.mean().item<double>()}};
  std::vector<Figure> figures = {metrics};
  if (minimal) figures.push_back(minimality(checks, c, claim.pass, m));
  if (complete) figures.push_back(completeness(checks, c, claim.pass, m, subsets, minimal));
  checks.finish();
  if (checks.defined) out.figures = std::move(figures);
}

std::vector<PlaceboRun> circuit_placebos(const Claim& claim, const std::string& control, const Config& config,
                                         const std::string& where) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  check(c.edges.empty(), where,
        "control " + quote(control) + ": a placebo moves a circuit's nodes to other components; a circuit of edges has no nodes");
  return site_placebos(c, &CircuitSpec::nodes, control, config, where);
}

}  // namespace circuitcheck
