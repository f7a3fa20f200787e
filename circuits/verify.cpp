#include "circuits/verify.h"

#include "circuits/controls.h"
#include "circuits/error.h"
#include "circuits/evaluate.h"
#include "circuits/stats.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdio>
#include <functional>

namespace circuitcheck {
namespace {

using nlohmann::json;

std::string unit_name(const Evaluation& e) { return e.unit + "s"; }

// The plain runs of a model over a domain with hooks cached, shared or its
// own, stopping early after a batch for which the last argument (when set) is true.
using VisitRuns =
    std::function<void(const Domain&, const std::vector<HookPoint>&, const RunVisitor&, const std::function<bool()>&)>;

// The accuracy and loss of the model on the domain (the examples for_each_batch visits).
Evaluation evaluate_domain(const Task& task, const Domain& domain, const VisitRuns& visit) {
  Evaluation e = empty_evaluation(task);
  visit(domain, {}, [&](const Batch& b, const RunResult& r) { tally_batch(task, b, r.logits, e); }, nullptr);
  return e;
}

// The checks of a behaviour claim on its evaluation.
void behaviour_checks(const Claim& claim, const Evaluation& e, Outcome& out) {
  if (claim.metric == "loss") {
    const std::string what = "loss per scored position (nats) over " + std::to_string(e.n_examples) + " examples";
    for (Check& c : value_checks("loss", what, e.loss, claim.pass)) out.checks.push_back(std::move(c));
    return;
  }
  const double threshold = *claim.pass.rate_at_least;
  if (claim.by_class.empty()) {
    out.checks.push_back(rate_check("accuracy", "correct on", unit_name(e), e.overall.correct, e.overall.n,
                                    claim.domain.exhaustive, "rate_at_least", threshold, claim.pass.bound));
    return;
  }
  static const std::map<int64_t, Tally> kNone;
  const auto found = e.by_class.find(claim.by_class);
  const auto& groups = found == e.by_class.end() ? kNone : found->second;
  if (groups.empty())
    out.checks.push_back(rate_check("accuracy " + claim.by_class, claim.by_class + ": correct on", unit_name(e), 0, 0,
                                    claim.domain.exhaustive, "rate_at_least", threshold, claim.pass.bound));
  Figure figure;
  figure.type = "bars";
  figure.title = "accuracy by " + claim.by_class;
  figure.x_title = claim.by_class;
  figure.y_title = "accuracy";
  figure.series = {"accuracy"};
  figure.values.assign(1, {});
  figure.reference = {threshold};
  for (const auto& [value, tally] : groups) {
    const std::string label = claim.by_class + "=" + std::to_string(value);
    const bool claimed = claim.class_values.empty() ||
                         std::find(claim.class_values.begin(), claim.class_values.end(), value) != claim.class_values.end();
    out.checks.push_back(rate_check("accuracy " + label, label + ": correct on", unit_name(e), tally.correct, tally.n,
                                    claim.domain.exhaustive, claimed ? "rate_at_least" : "", threshold,
                                    claim.pass.bound));
    figure.x_labels.push_back(std::to_string(value));
    figure.values[0].push_back(out.checks.back().value);
  }
  for (int64_t value : claim.class_values)
    if (!groups.count(value))
      out.checks.push_back(rate_check("accuracy " + claim.by_class + "=" + std::to_string(value),
                                      claim.by_class + "=" + std::to_string(value) + ": correct on", unit_name(e), 0, 0,
                                      claim.domain.exhaustive, "rate_at_least", threshold, claim.pass.bound));
  out.figures.push_back(figure);
}

// Whether a behaviour claim's accuracy checks would fail even if `more` units
// after those tallied in `e` were all correct (each rate only rises with them).
bool certainly_fails(const Claim& claim, Evaluation e, int64_t more) {
  if (more <= 0 || claim.metric == "loss") return false;
  const auto add = [&](Tally& t) {
    t.n += more;
    t.correct += more;
  };
  add(e.overall);
  if (!claim.by_class.empty()) {
    auto& groups = e.by_class[claim.by_class];
    if (groups.empty() && claim.class_values.empty()) return false;
    for (auto& [value, tally] : groups) add(tally);
    for (int64_t value : claim.class_values)
      if (!groups.count(value)) add(groups[value]);
  }
  Outcome best;
  behaviour_checks(claim, e, best);
  return std::any_of(best.checks.begin(), best.checks.end(), [](const Check& c) { return !c.pass; });
}

// On a control, the run stops once no later batch could make it pass.
void run_behaviour(const Task& task, const Claim& claim, const VisitRuns& visit, bool control, Outcome& out) {
  Evaluation e = empty_evaluation(task);
  const int64_t total = domain_examples(task, claim.domain);
  const auto done = [&] { return certainly_fails(claim, e, (total - e.n_examples) * e.units_per_example); };
  visit(
      claim.domain, {}, [&](const Batch& b, const RunResult& r) { tally_batch(task, b, r.logits, e); },
      control && total >= 0 ? std::function<bool()>(done) : nullptr);
  if (total >= 0 && e.n_examples < total)
    out.stopped = "stopped after " + std::to_string(e.n_examples) + " of " + std::to_string(total) +
                  " examples: it fails even if every later " + e.unit + " were correct";
  behaviour_checks(claim, e, out);
}

// Counts the items whose attention mass from the query role to the key roles is >= min_mass.
// pattern [batch, query_pos, key_pos] (one head); roles [batch] or [batch, k].
std::pair<int64_t, int64_t> count_attention(const at::Tensor& pattern, const at::Tensor& query_role,
                                            const std::vector<at::Tensor>& key_roles, double min_mass) {
  const int64_t batch = pattern.size(0), n_keys = pattern.size(2);
  at::Tensor query = (query_role.dim() == 1 ? query_role.unsqueeze(1) : query_role).to(pattern.device());
  const int64_t m = query.size(1);
  at::Tensor counts = at::zeros({batch, m, n_keys}, pattern.options());
  for (const auto& key_role : key_roles) {
    at::Tensor role = key_role.to(pattern.device());
    at::Tensor positions = role.dim() == 1         ? role.view({batch, 1, 1}).expand({batch, m, 1})
                           : query_role.dim() == 2 ? role.unsqueeze(-1)
                                                   : role.unsqueeze(1).expand({batch, m, role.size(1)});
    positions = positions.contiguous();
    counts.scatter_add_(2, positions.clamp_min(0), (positions >= 0).to(pattern.scalar_type()));
  }
  at::Tensor rows = pattern.gather(1, query.clamp_min(0).unsqueeze(-1).expand({batch, m, n_keys}));
  at::Tensor mass = (rows * (counts > 0)).sum(-1);  // [batch, m]
  at::Tensor present = query >= 0;
  return {((mass >= min_mass) & present).sum().item<int64_t>(), present.sum().item<int64_t>()};
}

void run_attention(const Claim& claim, const VisitRuns& visit, Outcome& out) {
  const HookPoint hook{HookType::kPattern, claim.layer};
  int64_t hits = 0, items = 0;
  bool per_item = false;
  Figure figure;  // the head's mean pattern over the first batch, query x key
  visit(claim.domain, {hook}, [&](const Batch& b, const RunResult& r) {
    std::vector<at::Tensor> keys;
    for (const auto& k : claim.keys) keys.push_back(b.roles.at(k));
    const at::Tensor& query = b.roles.at(claim.query);
    per_item = query.dim() == 2;
    const at::Tensor pattern = r.cache.at(hook).select(1, claim.head);  // [batch, query_pos, key_pos]
    auto [h, n] = count_attention(pattern, query, keys, claim.min_mass);
    hits += h;
    items += n;
    if (!figure.values.empty()) return;
    figure.type = "heatmap";
    figure.title = "L" + std::to_string(claim.layer) + "H" + std::to_string(claim.head) + " mean attention pattern over " +
                   std::to_string(b.tokens.size(0)) + " examples";
    figure.x_title = "key position";
    figure.y_title = "query position";
    const at::Tensor mean = pattern.mean(0).to(at::kDouble).cpu();
    for (int64_t q = 0; q < mean.size(0); ++q) {
      // A position's label: its index, and the roles that sit there in every example.
      std::string label = std::to_string(q);
      for (const auto& [name, role] : b.roles)
        if (role.dim() == 1 && (role == q).all().item<bool>()) label += " " + name;
      figure.x_labels.push_back(label);
      figure.y_labels.push_back(label);
      figure.values.emplace_back();
      for (int64_t k = 0; k < mean.size(1); ++k) figure.values.back().push_back(mean[q][k].item<double>());
    }
  }, nullptr);
  if (!figure.values.empty()) out.figures.push_back(figure);
  std::string keys;
  for (const auto& k : claim.keys) keys += (keys.empty() ? "" : ", ") + k;
  const std::string what = "L" + std::to_string(claim.layer) + "H" + std::to_string(claim.head) + " attention mass " +
                           claim.query + " -> {" + keys + "} >= " + number(claim.min_mass) + " on";
  out.checks.push_back(rate_check("attention", what, per_item ? "(example, k) items" : "examples", hits, items,
                                  claim.domain.exhaustive, "rate_at_least", *claim.pass.rate_at_least, claim.pass.bound));
}

// The sites a keep_only claim ablates: every head and MLP that is not kept.
std::vector<AblationSite> complement(const Claim& claim, const Config& config) {
  std::vector<AblationSite> out;
  for (int l = 0; l < config.n_layers; ++l) {
    AblationSite heads{{HookType::kZ, l}, {}, {}, {}};
    bool some_head_kept = false;
    for (int64_t h = 0; h < config.n_heads; ++h) {
      bool kept = false;
      for (const auto& site : claim.sites)
        if (site.hook == heads.hook && (site.heads.empty() || std::count(site.heads.begin(), site.heads.end(), h)))
          kept = true;
      if (!kept) heads.heads.push_back(h);
      some_head_kept = some_head_kept || kept;
    }
    if (!heads.heads.empty()) {
      if (!some_head_kept) heads.heads.clear();  // every head: no restriction
      out.push_back(heads);
    }
    const HookPoint mlp{HookType::kMlpOut, l};
    if (!config.attn_only &&
        std::none_of(claim.sites.begin(), claim.sites.end(), [&](const AblationSite& s) { return s.hook == mlp; }))
      out.push_back({mlp, {}, {}, {}});
  }
  return out;
}

// The ablation's interventions; mean and resample ablation read each site over the reference sample.
std::vector<Intervention> ablations(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale) {
  std::vector<Intervention> out;
  RunOptions options;
  for (const auto& site : claim.keep_only ? complement(claim, model.config) : claim.sites) {
    Intervention iv;
    iv.hook = site.hook;
    iv.kind = claim.method;
    iv.heads = site.heads;
    iv.positions = site.positions;
    iv.neurons = site.neurons;
    iv.seed = claim.reference.seed;
    out.push_back(iv);
    options.cache.push_back(site.hook);
  }
  if (claim.method == InterventionKind::kZero) return out;
  std::vector<std::vector<at::Tensor>> parts(out.size());
  for_each_batch(task, claim.reference, scale, [&](const Batch& b) {
    RunResult r = run(model, b.tokens, options);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const at::Tensor& act = r.cache.at(out[i].hook);
      parts[i].push_back(claim.method == InterventionKind::kMean ? act.sum(0, true) : act);
    }
  });
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].value = claim.method == InterventionKind::kMean
                       ? at::cat(parts[i]).sum(0, true) / static_cast<double>(claim.reference.sample)
                       : at::cat(parts[i]);
  return out;
}

// On a control whose accuracy before ablation already fails before_at_least,
// the ablated pass is skipped (the outcome fails either way).
void run_ablation(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale,
                  const VisitRuns& visit, bool control, Outcome& out) {
  const Evaluation before = evaluate_domain(task, claim.domain, visit);
  out.checks.push_back(rate_check("accuracy before", "before ablation: correct on", unit_name(before),
                                  before.overall.correct, before.overall.n, claim.domain.exhaustive,
                                  claim.pass.before_at_least ? "before_at_least" : "",
                                  claim.pass.before_at_least.value_or(0.0), claim.pass.bound));
  if (control && !out.checks[0].pass) {
    out.stopped = "not ablated: it already fails before ablation";
    return;
  }
  RunOptions options;
  options.interventions = ablations(task, claim, model, scale);
  out.liveness.resize(options.interventions.size());
  Evaluation after;
  after.unit = before.unit;
  for_each_batch(task, claim.domain, scale, [&](const Batch& b) {
    RunResult r = run(model, b.tokens, options);
    tally_batch(task, b, r.logits, after);
    for (std::size_t i = 0; i < r.liveness.size(); ++i) accumulate(out.liveness[i], r.liveness[i]);
  });
  std::string sites;
  for (const auto& site : claim.sites) {
    sites += (sites.empty() ? "" : ", ") + hook_name(site.hook);
    if (!site.heads.empty()) sites += " heads " + c10::str(at::IntArrayRef(site.heads));
    if (!site.positions.empty()) sites += " positions " + c10::str(at::IntArrayRef(site.positions));
    if (!site.neurons.empty()) sites += " neurons " + c10::str(at::IntArrayRef(site.neurons));
  }
  const std::string what = "after " + to_string(claim.method) + "-ablating " +
                           (claim.keep_only ? "every head and MLP except " : "") + sites + ": correct on";
  out.checks.push_back(claim.pass.rate_at_least
                           ? rate_check("accuracy after", what, unit_name(after), after.overall.correct, after.overall.n,
                                        claim.domain.exhaustive, "rate_at_least", *claim.pass.rate_at_least,
                                        claim.pass.bound)
                           : rate_check("accuracy after", what, unit_name(after), after.overall.correct, after.overall.n,
                                        claim.domain.exhaustive, "drop_to_at_most", *claim.pass.drop_to_at_most,
                                        claim.pass.bound));
  if (!claim.by_class.empty()) {
    Figure by_class;
    by_class.type = "bars";
    by_class.title = "accuracy before and after ablation by " + claim.by_class;
    by_class.x_title = claim.by_class;
    by_class.y_title = "accuracy";
    by_class.series = {"before", "after"};
    by_class.values.assign(2, {});
    for (const auto& [value, tally] : after.by_class[claim.by_class]) {
      const std::string label = claim.by_class + "=" + std::to_string(value);
      const Tally& was = before.by_class.at(claim.by_class).at(value);
      out.checks.push_back(rate_check("accuracy after " + label, label + ": after ablation correct on",
                                      unit_name(after), tally.correct, tally.n, claim.domain.exhaustive, "", 0.0,
                                      claim.pass.bound));
      by_class.x_labels.push_back(std::to_string(value));
      by_class.values[0].push_back(was.n ? static_cast<double>(was.correct) / static_cast<double>(was.n) : 0.0);
      by_class.values[1].push_back(out.checks.back().value);
    }
    out.figures.push_back(by_class);
  }
  Figure figure;
  figure.type = "bars";
  figure.title = "accuracy before and after " + to_string(claim.method) + "-ablating " +
                 (claim.keep_only ? "all but " : "") + sites;
  figure.y_title = "accuracy";
  figure.x_labels = {"before", "after"};
  figure.series = {"accuracy"};
  figure.values = {{out.checks[0].value, out.checks[1].value}};
  figure.reference = {claim.pass.rate_at_least ? *claim.pass.rate_at_least : *claim.pass.drop_to_at_most};
  out.figures.push_back(figure);
}

}  // namespace

json ClaimResult::to_json() const {
  const json on_checkpoint = checkpoint.to_json();
  json j = {{"id", claim.id},
            {"kind", to_string(claim.kind)},
            {"hypothesis", claim.hypothesis},
            {"verdict", verdict},
            {"domain", claim.domain.to_json()},
            {"thresholds", claim.pass.to_json()},
            {"values", json::object()},
            {"checks", on_checkpoint["checks"]},
            {"liveness", on_checkpoint["liveness"]},
            {"figures", on_checkpoint["figures"]},
            {"controls", json::array()},
            {"explanation", explanation}};
  if (on_checkpoint.contains("counterexamples")) j["counterexamples"] = on_checkpoint["counterexamples"];
  for (const auto& c : checkpoint.checks) j["values"][c.name] = c.value;
  for (const auto& c : controls) j["controls"].push_back(c.to_json());
  return j;
}

const HookedTransformer& ControlCache::get(const std::string& name) {
  auto it = built.find(name);
  if (it == built.end()) it = built.emplace(name, control_model(*model, name)).first;
  return it->second;
}

Outcome run_claim(const Task& task, const Claim& claim, const HookedTransformer& model, const std::string& label,
                  SharedRuns* shared) {
  c10::InferenceMode guard;
  const Scale scale = scale_for(task, model.config);
  check_fits(task, scale, model.config, "run_claim: " + claim.id + " on " + label);
  const VisitRuns visit = [&](const Domain& domain, const std::vector<HookPoint>& hooks, const RunVisitor& fn,
                              const std::function<bool()>& done) {
    if (shared)
      shared->visit(task, model, label, scale, domain, hooks, fn, done);
    else
      visit_runs(task, model, scale, domain, hooks, fn, done);
  };
  const bool control = label != "checkpoint";
  Outcome out;
  out.model = label;
  switch (claim.kind) {
    case ClaimKind::kBehaviour: run_behaviour(task, claim, visit, control, out); break;
    case ClaimKind::kAttention: run_attention(claim, visit, out); break;
    case ClaimKind::kAblation: run_ablation(task, claim, model, scale, visit, control, out); break;
    case ClaimKind::kFourier: run_fourier(task, claim, model, scale, out); break;
    case ClaimKind::kSpectrum: run_spectrum(task, claim, model, scale, out); break;
    case ClaimKind::kGeometry: run_geometry(task, claim, model, scale, out); break;
    case ClaimKind::kProbe: run_probe(task, claim, model, scale, out); break;
    case ClaimKind::kPatching: run_patching(task, claim, model, scale, out); break;
    case ClaimKind::kItemPatching: run_item_patching(task, claim, model, scale, out); break;
    case ClaimKind::kProperty: run_property(task, claim, model, scale, out); break;
  }
  out.pass = true;
  for (const auto& c : out.checks) {
    out.pass = out.pass && c.pass;
    out.explanation += (out.explanation.empty() ? "" : "; ") + c.explanation;
  }
  for (const auto& l : out.liveness) {
    if (l.live()) continue;
    out.pass = false;
    out.explanation += "; not live: " + l.describe();
  }
  if (!out.stopped.empty()) out.explanation += "; " + out.stopped;
  return out;
}

void plan_claims(const std::vector<Claim>& claims, SharedRuns& shared) {
  for (const auto& claim : claims) {
    shared.plan(claim, "checkpoint");
    for (const auto& name : claim.controls) shared.plan(claim, name);
  }
}

ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls,
                         SharedRuns* shared) {
  ClaimResult result;
  result.claim = claim;
  // Every planned model is released, whether or not it ran.
  const auto release_all = [&] {
    if (!shared) return;
    shared->release(claim, "checkpoint");
    for (const auto& name : claim.controls) shared->release(claim, name);
  };
  try {
    result.checkpoint = run_claim(task, claim, model, "checkpoint", shared);
    for (const auto& name : claim.controls)
      result.controls.push_back(run_claim(task, claim, controls.get(name), name, shared));
  } catch (const InputError& e) {
    release_all();
    result.verdict = "error";
    result.explanation = e.what();
    return result;
  }
  release_all();
  result.explanation = result.checkpoint.explanation;
  if (!result.checkpoint.pass) {
    result.verdict = "fail";
    return result;
  }
  result.verdict = "pass";
  for (const auto& c : result.controls) {
    if (c.pass) {
      result.verdict = "not_falsifiable";
      result.explanation += "; but it also passes on control " + c.model + " (" + c.explanation + "): not falsifiable";
    } else {
      result.explanation += "; control " + c.model + " fails as it must (" + c.explanation + ")";
    }
  }
  return result;
}

}  // namespace circuitcheck
