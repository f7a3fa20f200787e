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

// evaluate() on the claim's domain (the examples for_each_batch visits).
Evaluation evaluate_domain(const Task& task, const HookedTransformer& model, Scale scale, const Domain& domain) {
  return evaluate(task, model, scale, domain.sample, domain.seed, domain.exhaustive ? kExhaustiveLimit : -1,
                  kVerifyBatch);
}

void run_behaviour(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale, Outcome& out) {
  Evaluation e = evaluate_domain(task, model, scale, claim.domain);
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
  const auto& groups = e.by_class[claim.by_class];
  if (groups.empty())
    out.checks.push_back(rate_check("accuracy " + claim.by_class, claim.by_class + ": correct on", unit_name(e), 0, 0,
                                    claim.domain.exhaustive, "rate_at_least", threshold, claim.pass.bound));
  for (const auto& [value, tally] : groups) {
    const std::string label = claim.by_class + "=" + std::to_string(value);
    out.checks.push_back(rate_check("accuracy " + label, label + ": correct on", unit_name(e), tally.correct, tally.n,
                                    claim.domain.exhaustive, "rate_at_least", threshold, claim.pass.bound));
  }
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

void run_attention(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale, Outcome& out) {
  const HookPoint hook{HookType::kPattern, claim.layer};
  RunOptions options;
  options.cache = {hook};
  int64_t hits = 0, items = 0;
  bool per_item = false;
  for_each_batch(task, claim.domain, scale, [&](const Batch& b) {
    std::vector<at::Tensor> keys;
    for (const auto& k : claim.keys) keys.push_back(b.roles.at(k));
    const at::Tensor& query = b.roles.at(claim.query);
    per_item = query.dim() == 2;
    RunResult r = run(model, b.tokens, options);
    auto [h, n] = count_attention(r.cache.at(hook).select(1, claim.head), query, keys, claim.min_mass);
    hits += h;
    items += n;
  });
  std::string keys;
  for (const auto& k : claim.keys) keys += (keys.empty() ? "" : ", ") + k;
  const std::string what = "L" + std::to_string(claim.layer) + "H" + std::to_string(claim.head) + " attention mass " +
                           claim.query + " -> {" + keys + "} >= " + number(claim.min_mass) + " on";
  out.checks.push_back(rate_check("attention", what, per_item ? "(example, k) items" : "examples", hits, items,
                                  claim.domain.exhaustive, "rate_at_least", *claim.pass.rate_at_least, claim.pass.bound));
}

// The ablation's interventions; mean ablation takes each site's mean over the reference sample.
std::vector<Intervention> ablations(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale) {
  std::vector<Intervention> out;
  RunOptions options;
  for (const auto& site : claim.sites) {
    Intervention iv;
    iv.hook = site.hook;
    iv.kind = claim.method;
    iv.heads = site.heads;
    iv.positions = site.positions;
    out.push_back(iv);
    options.cache.push_back(site.hook);
  }
  if (claim.method != InterventionKind::kMean) return out;
  std::vector<at::Tensor> sums(out.size());
  for_each_batch(task, claim.reference, scale, [&](const Batch& b) {
    RunResult r = run(model, b.tokens, options);
    for (std::size_t i = 0; i < out.size(); ++i) {
      at::Tensor s = r.cache.at(out[i].hook).sum(0, true);
      sums[i] = sums[i].defined() ? sums[i] + s : s;
    }
  });
  for (std::size_t i = 0; i < out.size(); ++i) out[i].value = sums[i] / static_cast<double>(claim.reference.sample);
  return out;
}

void run_ablation(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale, Outcome& out) {
  RunOptions options;
  options.interventions = ablations(task, claim, model, scale);
  out.liveness.resize(options.interventions.size());
  const Evaluation before = evaluate_domain(task, model, scale, claim.domain);
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
  }
  out.checks.push_back(rate_check("accuracy before", "before ablation: correct on", unit_name(before),
                                  before.overall.correct, before.overall.n, claim.domain.exhaustive,
                                  claim.pass.before_at_least ? "before_at_least" : "",
                                  claim.pass.before_at_least.value_or(0.0), claim.pass.bound));
  out.checks.push_back(rate_check("accuracy after",
                                  "after " + to_string(claim.method) + "-ablating " + sites + ": correct on",
                                  unit_name(after), after.overall.correct, after.overall.n, claim.domain.exhaustive,
                                  "drop_to_at_most", *claim.pass.drop_to_at_most, claim.pass.bound));
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

Outcome run_claim(const Task& task, const Claim& claim, const HookedTransformer& model, const std::string& label) {
  c10::InferenceMode guard;
  const Scale scale = scale_for(task, model.config);
  check_fits(task, scale, model.config, "run_claim: " + claim.id + " on " + label);
  Outcome out;
  out.model = label;
  switch (claim.kind) {
    case ClaimKind::kBehaviour: run_behaviour(task, claim, model, scale, out); break;
    case ClaimKind::kAttention: run_attention(task, claim, model, scale, out); break;
    case ClaimKind::kAblation: run_ablation(task, claim, model, scale, out); break;
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
  return out;
}

ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls) {
  ClaimResult result;
  result.claim = claim;
  try {
    result.checkpoint = run_claim(task, claim, model, "checkpoint");
    for (const auto& name : claim.controls) result.controls.push_back(run_claim(task, claim, controls.get(name), name));
  } catch (const InputError& e) {
    result.verdict = "error";
    result.explanation = e.what();
    return result;
  }
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
