#include "circuits/claims/kinds/ablation_claim.h"

#include "circuits/claims/ablate.h"
#include "circuits/claims/claim.h"
#include "circuits/claims/placebo.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>

namespace circuitcheck {
namespace {

// The positions before every site that an ablated run shares with the run
// before ablation (RunOptions::prefix), or 0.
int64_t shared_positions(const std::vector<AblationSite>& sites, bool keep_only, const Config& config) {
  return config.attention_dir == AttentionDir::kCausal && !keep_only ? before_every_site(sites, config.n_ctx) : 0;
}

// Accuracy after ablation for each value of class `name` (unthresholded
// checks), and a figure of it before and after.
void add_by_class(const std::string& name, Evaluation& before, Evaluation& after, const Claim& claim, Outcome& out) {
  Figure by_class;
  by_class.type = "bars";
  by_class.title = "accuracy before and after ablation by " + name;
  by_class.x_title = name;
  by_class.y_title = "accuracy";
  by_class.series = {"before", "after"};
  by_class.values.assign(2, {});
  for (const auto& [value, tally] : after.by_class[name]) {
    const std::string label = name + "=" + std::to_string(value);
    const auto& was = before.by_class[name];  // a stopped run may not have met the class before ablation
    out.checks.push_back(rate_check("accuracy after " + label, label + ": after ablation correct on", unit_name(after),
                                    tally, claim.domain.exhaustive, Rule::kNone, 0.0, claim.pass.bound,
                                    after.units_per_example));
    by_class.x_labels.push_back(std::to_string(value));
    by_class.values[0].push_back(was.count(value) ? was.at(value).accuracy() : 0.0);
    by_class.values[1].push_back(out.checks.back().value);
  }
  out.figures.push_back(by_class);
}

}  // namespace

void parse_ablation(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  AblationSpec& a = claim.spec.emplace<AblationSpec>();
  if (v.contains("metric")) named_at<bool>(v["metric"], at / "metric", "metric", {{"accuracy", true}});
  a.method = named_at(v["method"], at / "method", "method", ablation_methods(false));
  if (v.contains("keep_only")) {
    if (!v["keep_only"].is_boolean()) (at / "keep_only").fail(std::string("expected a boolean, got ") + type_name(v["keep_only"]));
    a.keep_only = v["keep_only"].get<bool>();
  }
  const nlohmann::json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const At where = at / "sites" / i;
    a.sites.push_back(ablation_site_at(sites[i], where, context.config));
    const AblationSite& site = a.sites.back();
    if (a.keep_only &&
        (!site.positions.empty() || !site.neurons.empty() ||
         (site.hook.type != HookType::kZ && site.hook.type != HookType::kMlpOut)))
      where.fail("keep_only keeps whole components: blocks.L.attn.hook_z (with heads) or blocks.L.hook_mlp_out, "
                 "without positions or neurons");
  }
  if (shared_positions(a.sites, a.keep_only, context.config) > 0) a.plain_hooks = prefix_hooks(context.config);
  a.reference = reference_at(v, at, context.task, claim.domain, a.method);
  claim.pass = a.keep_only
                   ? pass_at(v["pass"], at / "pass", {"rate_at_least", "before_at_least"}, {}, {"rate_at_least"})
                   : pass_at(v["pass"], at / "pass", {"drop_to_at_most", "rate_at_least", "before_at_least"}, {}, {});
  if (!claim.pass.drop_to_at_most && !claim.pass.rate_at_least)
    (at / "pass").fail("needs drop_to_at_most (the sites are necessary) or rate_at_least (accuracy survives the ablation)");
  if (claim.pass.drop_to_at_most && claim.pass.rate_at_least)
    (at / "pass").fail("drop_to_at_most and rate_at_least contradict each other; give one");
  if (v.contains("by_class")) a.by_class = class_name_at(v["by_class"], at / "by_class", context.accuracy_classes);
}

PlainReads ablation_reads(const Claim& claim) { return {spec_of<AblationSpec>(claim.spec).plain_hooks, true}; }

void run_ablation(const RunContext& context, const Claim& claim, Outcome& out) {
  const AblationSpec& a = spec_of<AblationSpec>(claim.spec);
  const Task& task = context.task;
  const Scale scale = context.scale;
  const bool betting = claim.pass.bound == BoundMethod::kBetting;
  // With betting, each pass stops once its claimed rate is decided (Outcome::stopped).
  const auto decides = [&](const Evaluation& e, Rule rule, const std::optional<double>& threshold) {
    return betting && threshold
               ? std::function<bool()>([&e, rule, threshold] {
                   return betting_decided({{&e.overall, e.units_per_example}}, rule, *threshold);
                 })
               : nullptr;
  };
  const Config& config = context.model.config;
  const std::vector<AblationSite> sites =
      a.keep_only ? complement(a.sites, config, {}, config.n_ctx, claim.pointer) : a.sites;
  // The positions before every site are the model's own: an ablated run takes
  // their keys and values, and its logits there, from the same batch's run
  // before ablation (RunOptions::prefix), while those kept fit kSharedRunBytes.
  // Placebos replay the checkpoint's runs before ablation (shared_runs.h).
  const int64_t shared = shared_positions(sites, a.keep_only, config);
  // Kept batches are the first kept.size() batches of the domain, in order:
  // keeping stops at the first batch that is not kept.
  struct Kept {
    int64_t first_row = 0;  // the batch's first example
    RunPrefix prefix;
    at::Tensor logits;  // before ablation, at [first, shared): [batch, shared - first, d_vocab_out], maybe empty
  };
  std::vector<Kept> kept;
  int64_t kept_bytes = 0;
  bool keeping = shared > 0;
  Evaluation before = empty_evaluation(task);
  context.visit(claim.domain, {shared > 0 ? prefix_hooks(config) : std::vector<HookPoint>{}, true},
                [&](const Batch& b, const RunResult& r) {
                  tally_batch(task, b, r.logits, before);
                  keeping = keeping && shared < b.tokens.size(1) && kept_bytes <= kSharedRunBytes;
                  if (!keeping) return;
                  const int64_t first = b.tokens.size(1) - r.logits.size(1);
                  Kept k{b.first_row, run_prefix(config, r.cache, shared),
                         r.logits.slice(1, 0, std::max<int64_t>(shared - first, 0)).contiguous()};
                  for (const at::Tensor& t : k.prefix.k) kept_bytes += t.nbytes();
                  for (const at::Tensor& t : k.prefix.v) kept_bytes += t.nbytes();
                  kept.push_back(std::move(k));
                },
                decides(before, Rule::kBeforeAtLeast, claim.pass.before_at_least));
  out.checks.push_back(rate_check("accuracy before", "before ablation: correct on", unit_name(before),
                                  before.overall, claim.domain.exhaustive,
                                  claim.pass.before_at_least ? Rule::kBeforeAtLeast : Rule::kNone,
                                  claim.pass.before_at_least.value_or(0.0), claim.pass.bound, before.units_per_example));
  if (context.control && on_control(out.checks[0]) == ControlCheck::kFails) {
    out.stopped = "not ablated: it already fails before ablation with certainty";
    return;
  }
  std::vector<HookPoint> hooks;
  for (const AblationSite& site : sites) hooks.push_back(site.hook);
  const std::vector<Intervention> interventions = ablation_interventions(
      a.method, sites, ablation_values(task, a.method, hooks, a.reference, context.model, scale), a.reference.seed);
  out.liveness.resize(interventions.size());
  Evaluation after = empty_evaluation(task);
  const Rule rule = claim.pass.rate_at_least ? Rule::kRateAtLeast : Rule::kDropToAtMost;
  const double threshold = claim.pass.rate_at_least ? *claim.pass.rate_at_least : *claim.pass.drop_to_at_most;
  std::size_t index = 0;
  for_each_batch(task, claim.domain, scale, [&](const Batch& b) {
    const Kept* k = index < kept.size() && kept[index].first_row == b.first_row ? &kept[index] : nullptr;
    ++index;
    RunOptions options;
    options.interventions = k ? within_positions(interventions, config, 0, b.tokens.size(1), shared) : interventions;
    if (k) options.prefix = k->prefix;
    for (Intervention& iv : options.interventions) iv.first_row = b.first_row;
    RunResult r = run(context.model, b.tokens, options);
    tally_batch(task, b, k ? at::cat({k->logits, r.logits}, 1) : r.logits, after);
    for (std::size_t i = 0; i < r.liveness.size(); ++i) accumulate(out.liveness[i], r.liveness[i]);
  }, decides(after, rule, threshold));
  const int64_t total = domain_examples(claim.domain, task.domain_size);
  if (total >= 0 && (before.n_examples < total || after.n_examples < total))
    out.stopped = "stopped after " + std::to_string(before.n_examples) + " examples before ablation and " +
                  std::to_string(after.n_examples) + " after, of " + std::to_string(total) +
                  (after.n_examples < total ? ": the betting tests had decided the verdict"
                                            : ": the betting test before ablation had decided; the one after "
                                              "ablation had not by the last example");
  const std::string what = "after " + to_string(a.method) + "-ablating " +
                           (a.keep_only ? "every head and MLP except " : "") + site_names(a.sites) + ": correct on";
  out.checks.push_back(rate_check("accuracy after", what, unit_name(after), after.overall, claim.domain.exhaustive,
                                  rule, threshold, claim.pass.bound, after.units_per_example));
  if (!a.by_class.empty()) add_by_class(a.by_class, before, after, claim, out);
  Figure figure;
  figure.type = "bars";
  figure.title = "accuracy before and after " + to_string(a.method) + "-ablating " +
                 (a.keep_only ? "all but " : "") + site_names(a.sites);
  figure.y_title = "accuracy";
  figure.x_labels = {"before", "after"};
  figure.series = {"accuracy"};
  figure.values = {{out.checks[0].value, out.checks[1].value}};
  figure.reference = {claim.pass.rate_at_least ? *claim.pass.rate_at_least : *claim.pass.drop_to_at_most};
  out.figures.push_back(figure);
}


std::vector<PlaceboRun> ablation_placebos(const Claim& claim, const std::string& control, const Config& config,
                                          const std::string& where) {
  check(claim.pass.drop_to_at_most.has_value(), where,
        "control " + quote(control) + ": an ablation takes a placebo with drop_to_at_most only (a necessity ablation)");
  return site_placebos(spec_of<AblationSpec>(claim.spec), &AblationSpec::sites, control, config, where);
}

}  // namespace circuitcheck
