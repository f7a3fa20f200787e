#include "circuits/claims/kinds/ablation_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>

namespace circuitcheck {
namespace {

AblationSite site_at(const nlohmann::json& v, const At& at, const Config& config) {
  check_object(v, at, {"hook", "heads", "positions", "neurons"}, {"hook"});
  AblationSite site;
  site.hook = hook_at(v["hook"], at / "hook", config);
  const std::string name = v["hook"].get<std::string>();
  if (site.hook.type == HookType::kTokens) (at / "hook").fail("tokens cannot be ablated");
  if (v.contains("heads")) {
    if (head_dim(site.hook.type) < 0) (at / "heads").fail(name + " has no head dimension");
    if (!v["heads"].is_array() || v["heads"].empty()) (at / "heads").fail("expected a non-empty array of heads");
    for (std::size_t i = 0; i < v["heads"].size(); ++i) site.heads.push_back(head_at(v["heads"][i], at / "heads" / i, config));
  }
  if (v.contains("positions")) {
    if (!v["positions"].is_array() || v["positions"].empty()) (at / "positions").fail("expected a non-empty array of positions");
    for (std::size_t i = 0; i < v["positions"].size(); ++i)
      site.positions.push_back(integer_at(v["positions"][i], at / "positions" / i, 0, config.n_ctx - 1));
  }
  if (v.contains("neurons")) {
    if (site.hook.type != HookType::kMlpPre && site.hook.type != HookType::kMlpPost)
      (at / "neurons").fail("neurons are the last dimension of blocks.L.mlp.hook_pre or hook_post, not of " + name);
    const nlohmann::json& neurons = array_at(v["neurons"], at / "neurons");
    for (std::size_t i = 0; i < neurons.size(); ++i)
      site.neurons.push_back(integer_at(neurons[i], at / "neurons" / i, 0, config.d_mlp - 1));
  }
  return site;
}

// The sites a keep_only claim ablates: every head and MLP that is not kept.
std::vector<AblationSite> complement(const AblationSpec& a, const Config& config) {
  std::vector<AblationSite> out;
  for (int l = 0; l < config.n_layers; ++l) {
    AblationSite heads{{HookType::kZ, l}, {}, {}, {}};
    bool some_head_kept = false;
    for (int64_t h = 0; h < config.n_heads; ++h) {
      bool kept = false;
      for (const auto& site : a.sites)
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
        std::none_of(a.sites.begin(), a.sites.end(), [&](const AblationSite& s) { return s.hook == mlp; }))
      out.push_back({mlp, {}, {}, {}});
  }
  return out;
}

// The ablation's interventions; mean and resample ablation read each site over the reference sample.
std::vector<Intervention> ablations(const Task& task, const AblationSpec& a, const HookedTransformer& model, Scale scale) {
  std::vector<Intervention> out;
  RunOptions options;
  for (const auto& site : a.keep_only ? complement(a, model.config) : a.sites) {
    Intervention iv;
    iv.hook = site.hook;
    iv.kind = a.method;
    iv.heads = site.heads;
    iv.positions = site.positions;
    iv.neurons = site.neurons;
    iv.seed = a.reference.seed;
    out.push_back(iv);
    options.cache.push_back(site.hook);
  }
  if (a.method == InterventionKind::kZero) return out;
  std::vector<std::vector<at::Tensor>> parts(out.size());  // resample: every row; mean: one running sum
  int64_t rows = 0;
  for_each_batch(task, a.reference, scale, [&](const Batch& b) {
    rows += b.tokens.size(0);
    RunResult r = run(model, b.tokens, options);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const at::Tensor& act = r.cache.at(out[i].hook);
      if (a.method != InterventionKind::kMean) parts[i].push_back(act);
      else if (parts[i].empty()) parts[i].push_back(act.sum(0, true));
      else parts[i][0] += act.sum(0, true);
    }
  });
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i].value = a.method == InterventionKind::kMean ? parts[i][0] / static_cast<double>(rows) : at::cat(parts[i]);
  return out;
}

}  // namespace

void parse_ablation(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  AblationSpec& a = claim.spec.emplace<AblationSpec>();
  if (v.contains("metric")) {
    const std::string metric = string_at(v["metric"], at / "metric");
    if (metric != "accuracy") (at / "metric").fail("unknown metric " + quote(metric) + " (valid: accuracy)");
  }
  const std::string method = string_at(v["method"], at / "method");
  if (method != "zero" && method != "mean" && method != "resample")
    (at / "method").fail("unknown method " + quote(method) + " (valid: zero, mean, resample)");
  a.method = parse_intervention_kind(method, at.file);
  if (v.contains("keep_only")) {
    if (!v["keep_only"].is_boolean()) (at / "keep_only").fail(std::string("expected a boolean, got ") + type_name(v["keep_only"]));
    a.keep_only = v["keep_only"].get<bool>();
  }
  const nlohmann::json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const At where = at / "sites" / i;
    a.sites.push_back(site_at(sites[i], where, context.config));
    const AblationSite& site = a.sites.back();
    if (a.keep_only &&
        (!site.positions.empty() || !site.neurons.empty() ||
         (site.hook.type != HookType::kZ && site.hook.type != HookType::kMlpOut)))
      where.fail("keep_only keeps whole components: blocks.L.attn.hook_z (with heads) or blocks.L.hook_mlp_out, "
                 "without positions or neurons");
  }
  if (v.contains("reference")) {
    if (a.method == InterventionKind::kZero) (at / "reference").fail("only mean and resample ablation use a reference sample");
    a.reference = domain_at(v["reference"], at / "reference", context.task, context.sample, false);
  } else if (context.task.dataset_rows && *context.task.domain_size <= a.reference.sample) {
    a.reference = Domain{};  // a dataset no larger than the default sample: every row
    a.reference.all = true;
    a.reference.sample = *context.task.domain_size;
  }
  if (a.reference.where.empty()) {  // the reference follows the claim's filter unless it names its own
    a.reference.where = claim.domain.where;
    a.reference.where_value = claim.domain.where_value;
  }
  claim.pass = a.keep_only
                   ? pass_at(v["pass"], at / "pass", {"rate_at_least", "before_at_least"}, {}, {"rate_at_least"})
                   : pass_at(v["pass"], at / "pass", {"drop_to_at_most", "rate_at_least", "before_at_least"}, {}, {});
  if (!claim.pass.drop_to_at_most && !claim.pass.rate_at_least)
    (at / "pass").fail("needs drop_to_at_most (the sites are necessary) or rate_at_least (accuracy survives the ablation)");
  if (claim.pass.drop_to_at_most && claim.pass.rate_at_least)
    (at / "pass").fail("drop_to_at_most and rate_at_least contradict each other; give one");
  if (v.contains("by_class")) a.by_class = class_name_at(v["by_class"], at / "by_class", context.class_names);
}

std::vector<HookPoint> ablation_hooks(const Claim&) { return {}; }

void run_ablation(const RunContext& context, const Claim& claim, Outcome& out) {
  const AblationSpec& a = std::get<AblationSpec>(claim.spec);
  const Task& task = context.task;
  const Scale scale = context.scale;
  Evaluation before = empty_evaluation(task);
  context.visit(claim.domain, {}, [&](const Batch& b, const RunResult& r) { tally_batch(task, b, r.logits, before); },
                nullptr);
  out.checks.push_back(rate_check("accuracy before", "before ablation: correct on", unit_name(before),
                                  before.overall, claim.domain.exhaustive,
                                  claim.pass.before_at_least ? Rule::kBeforeAtLeast : Rule::kNone,
                                  claim.pass.before_at_least.value_or(0.0), claim.pass.bound));
  if (context.control && !out.checks[0].pass) {
    out.stopped = "not ablated: it already fails before ablation";
    return;
  }
  RunOptions options;
  options.interventions = ablations(task, a, context.model, scale);
  out.liveness.resize(options.interventions.size());
  Evaluation after;
  after.unit = before.unit;
  for_each_batch(task, claim.domain, scale, [&](const Batch& b) {
    RunResult r = run(context.model, b.tokens, options);
    tally_batch(task, b, r.logits, after);
    for (std::size_t i = 0; i < r.liveness.size(); ++i) accumulate(out.liveness[i], r.liveness[i]);
  });
  std::string sites;
  for (const auto& site : a.sites) {
    sites += (sites.empty() ? "" : ", ") + hook_name(site.hook);
    if (!site.heads.empty()) sites += " heads " + c10::str(at::IntArrayRef(site.heads));
    if (!site.positions.empty()) sites += " positions " + c10::str(at::IntArrayRef(site.positions));
    if (!site.neurons.empty()) sites += " neurons " + c10::str(at::IntArrayRef(site.neurons));
  }
  const std::string what = "after " + to_string(a.method) + "-ablating " +
                           (a.keep_only ? "every head and MLP except " : "") + sites + ": correct on";
  out.checks.push_back(claim.pass.rate_at_least
                           ? rate_check("accuracy after", what, unit_name(after), after.overall,
                                        claim.domain.exhaustive, Rule::kRateAtLeast, *claim.pass.rate_at_least,
                                        claim.pass.bound)
                           : rate_check("accuracy after", what, unit_name(after), after.overall,
                                        claim.domain.exhaustive, Rule::kDropToAtMost, *claim.pass.drop_to_at_most,
                                        claim.pass.bound));
  if (!a.by_class.empty()) {
    Figure by_class;
    by_class.type = "bars";
    by_class.title = "accuracy before and after ablation by " + a.by_class;
    by_class.x_title = a.by_class;
    by_class.y_title = "accuracy";
    by_class.series = {"before", "after"};
    by_class.values.assign(2, {});
    for (const auto& [value, tally] : after.by_class[a.by_class]) {
      const std::string label = a.by_class + "=" + std::to_string(value);
      const Tally& was = before.by_class.at(a.by_class).at(value);
      out.checks.push_back(rate_check("accuracy after " + label, label + ": after ablation correct on",
                                      unit_name(after), tally, claim.domain.exhaustive, Rule::kNone, 0.0,
                                      claim.pass.bound));
      by_class.x_labels.push_back(std::to_string(value));
      by_class.values[0].push_back(was.accuracy());
      by_class.values[1].push_back(out.checks.back().value);
    }
    out.figures.push_back(by_class);
  }
  Figure figure;
  figure.type = "bars";
  figure.title = "accuracy before and after " + to_string(a.method) + "-ablating " +
                 (a.keep_only ? "all but " : "") + sites;
  figure.y_title = "accuracy";
  figure.x_labels = {"before", "after"};
  figure.series = {"accuracy"};
  figure.values = {{out.checks[0].value, out.checks[1].value}};
  figure.reference = {claim.pass.rate_at_least ? *claim.pass.rate_at_least : *claim.pass.drop_to_at_most};
  out.figures.push_back(figure);
}


}  // namespace circuitcheck
