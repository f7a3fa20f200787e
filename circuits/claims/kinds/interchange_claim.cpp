#include "circuits/claims/kinds/interchange_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/tasks/evaluate.h"

#include <map>
#include <utility>

namespace circuitcheck {

void parse_interchange(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  InterchangeSpec& s = claim.spec.emplace<InterchangeSpec>();
  const Batch& sample = context.sample;
  s.counterfactual = string_at(v["counterfactual"], at / "counterfactual");
  if (!sample.counterfactual_targets.count(s.counterfactual)) {
    std::vector<std::string> valid;
    for (const auto& [name, t] : sample.counterfactual_targets) valid.push_back(name);
    (at / "counterfactual")
        .fail("unknown counterfactual input " + quote(s.counterfactual) + " with targets (valid: " +
              (valid.empty() ? "none: the task pairs no inputs with targets (a dataset's "
                                               "counterfactual.<name>.targets, a task spec's counterfactuals)"
                             : joined(valid)) +
              ")");
  }
  const nlohmann::json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i)
    s.sites.push_back(patch_site_at(sites[i], at / "sites" / i, context.config, sample));
  if (v.contains("by_class")) {
    if (class_at(v["by_class"], at / "by_class", context.task, sample).dim() != 1)
      (at / "by_class").fail("class " + quote(v["by_class"].get<std::string>()) + " has several values per example");
    s.by_class = v["by_class"].get<std::string>();
  }
  claim.pass = pass_at(v["pass"], at / "pass", {"rate_at_least"}, {}, {"rate_at_least"});
}

void run_interchange(const RunContext& context, const Claim& claim, Outcome& out) {
  const InterchangeSpec& s = spec_of<InterchangeSpec>(claim.spec);
  RunOptions cached;
  for (const PatchSite& site : s.sites) cached.cache.push_back(site.hook);
  Tally interchanged, already, changing;  // over pairs, one unit each; changing: those whose answer changes
  std::map<int64_t, Tally> by_value;  // class value -> its pairs
  std::map<int64_t, std::string> value_names;
  out.liveness.resize(s.sites.size());
  const bool betting = claim.pass.bound == BoundMethod::kBetting;
  const auto decided = [&] { return betting_decided({{&interchanged, 1}}, Rule::kRateAtLeast, *claim.pass.rate_at_least); };
  int64_t seen = 0;
  for_each_batch(context.task, claim.domain, context.scale, [&](const Batch& b) {
    seen += b.tokens.size(0);
    const at::Tensor& targets = b.counterfactual_targets.at(s.counterfactual);
    const RunResult source = run(context.model, b.counterfactuals.at(s.counterfactual), cached);
    RunOptions patched;
    for (const PatchSite& site : s.sites)
      patched.interventions.push_back(patch_intervention(site, source.cache.at(site.hook), b));
    const RunResult base = run(context.model, b.tokens, patched);
    for (std::size_t i = 0; i < base.liveness.size(); ++i) accumulate(out.liveness[i], base.liveness[i]);
    const at::Tensor paired = (targets >= 0).any(1).cpu().unsqueeze(1);  // [batch, 1]: a pair sets a target
    const at::Tensor ok = targets_predicted(base.logits, targets, 0).cpu().unsqueeze(1) & paired;
    add_rows(interchanged, ok, paired);
    const at::Tensor changes = ((targets >= 0) & (targets != b.targets)).any(1).cpu().unsqueeze(1) & paired;
    add_rows(changing, ok & changes, changes);
    add_rows(already, targets_predicted(run(context.model, b.tokens).logits, targets, 0).cpu().unsqueeze(1) & paired,
             paired);
    if (s.by_class.empty()) return;
    const at::Tensor values = b.classes.at(s.by_class).cpu();
    for (int64_t i = 0; i < ok.size(0); ++i) {
      const int64_t value = values[i].item<int64_t>();
      if (value < 0 || !paired[i].item<bool>()) continue;
      add_example(by_value[value], 1, ok[i].item<bool>());
      const std::string named = class_value_name(context.task, s.by_class, value);
      value_names[value] = named.empty() ? std::to_string(value) : named;
    }
  }, betting ? std::function<bool()>(decided) : nullptr);
  const int64_t total = domain_examples(claim.domain, context.task.domain_size);
  if (total >= 0 && seen < total)
    out.stopped = stopped_after(seen, total, "the betting test of the interchange accuracy had decided it (" +
                                                 std::to_string(interchanged.examples) + " pairs)");
  const std::string sites = patch_site_names(s.sites);
  const bool exhaustive = claim.domain.exhaustive;
  out.checks.push_back(rate_check("interchange accuracy",
                                  "with " + sites + " patched from input " + s.counterfactual +
                                      ", predicts its targets on",
                                  "pairs", interchanged, exhaustive, Rule::kRateAtLeast,
                                  *claim.pass.rate_at_least, claim.pass.bound));
  out.checks.push_back(rate_check("without the intervention", "unpatched, already predicts input " + s.counterfactual +
                                                                  "'s targets on",
                                  "pairs", already, exhaustive, Rule::kNone, 0.0, claim.pass.bound));
  out.checks.push_back(rate_check("interchange accuracy where the answer changes",
                                  "where input " + s.counterfactual + "'s targets differ from the base's, predicts them on",
                                  "pairs", changing, exhaustive, Rule::kNone, 0.0, claim.pass.bound));
  Figure figure;
  figure.type = "bars";
  figure.y_title = "pairs giving the source's answer";
  figure.reference = {*claim.pass.rate_at_least};
  if (s.by_class.empty()) {
    figure.title = "interchange accuracy, and the unpatched base's";
    figure.x_labels = {"patched", "unpatched"};
    figure.series = {"rate"};
    figure.values = {{out.checks[0].value, out.checks[1].value}};
    out.figures.push_back(figure);
    return;
  }
  figure.title = "interchange accuracy by " + s.by_class;
  figure.x_title = s.by_class;
  figure.series = {"interchange accuracy"};
  figure.values.assign(1, {});
  for (const auto& [value, tally] : by_value) {
    const std::string label = s.by_class + "=" + value_names[value];
    out.checks.push_back(rate_check("interchange accuracy " + label, label + ": predicts the source's targets on",
                                    "pairs", tally, exhaustive, Rule::kNone, 0.0, claim.pass.bound));
    figure.x_labels.push_back(value_names[value]);
    figure.values[0].push_back(out.checks.back().value);
  }
  out.figures.push_back(figure);
}

}  // namespace circuitcheck
