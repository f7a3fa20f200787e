#include "circuits/claims/kinds/behaviour_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace circuitcheck {
namespace {

// "depth=3": the label of one class value; its check is "accuracy depth=3".
std::string class_label(const BehaviourSpec& b, int64_t value) { return b.by_class + "=" + std::to_string(value); }

// The checks of a behaviour claim on its evaluation.
void behaviour_checks(const Claim& claim, const Evaluation& e, Outcome& out) {
  const BehaviourSpec& b = spec_of<BehaviourSpec>(claim.spec);
  if (b.metric == BehaviourMetric::kLoss) {
    const std::string what = "loss per scored position (nats) over " + std::to_string(e.n_examples) + " examples";
    std::optional<Bootstrap> interval;
    if (!claim.domain.exhaustive && e.n_examples > 0)
      interval = ratio_bootstrap(at::tensor(e.example_loss, at::kDouble), at::tensor(e.example_scored, at::kDouble),
                                 claim.domain.seed);
    for (Check& c : value_checks("loss", what, e.loss, claim.pass, interval ? &*interval : nullptr))
      out.checks.push_back(std::move(c));
    return;
  }
  const double threshold = *claim.pass.rate_at_least;
  const int64_t max_units = e.units_per_example;
  if (b.by_class.empty()) {
    out.checks.push_back(rate_check("accuracy", "correct on", unit_name(e), e.overall,
                                    claim.domain.exhaustive, Rule::kRateAtLeast, threshold, claim.pass.bound, max_units));
    return;
  }
  static const std::map<int64_t, Tally> kNone;
  const auto found = e.by_class.find(b.by_class);
  const auto& groups = found == e.by_class.end() ? kNone : found->second;
  if (groups.empty())
    out.checks.push_back(rate_check("accuracy " + b.by_class, b.by_class + ": correct on", unit_name(e), Tally{},
                                    claim.domain.exhaustive, Rule::kRateAtLeast, threshold, claim.pass.bound));
  Figure figure;
  figure.type = "bars";
  figure.title = "accuracy by " + b.by_class;
  figure.x_title = b.by_class;
  figure.y_title = "accuracy";
  figure.series = {"accuracy"};
  figure.values.assign(1, {});
  figure.reference = {threshold};
  for (const auto& [value, tally] : groups) {
    const std::string label = class_label(b, value);
    const bool claimed = b.class_values.empty() ||
                         std::find(b.class_values.begin(), b.class_values.end(), value) != b.class_values.end();
    out.checks.push_back(rate_check("accuracy " + label, label + ": correct on", unit_name(e), tally,
                                    claim.domain.exhaustive, claimed ? Rule::kRateAtLeast : Rule::kNone, threshold,
                                    claim.pass.bound, max_units));
    figure.x_labels.push_back(std::to_string(value));
    figure.values[0].push_back(out.checks.back().value);
  }
  for (int64_t value : b.class_values)
    if (!groups.count(value))
      out.checks.push_back(rate_check("accuracy " + class_label(b, value), class_label(b, value) + ": correct on",
                                      unit_name(e), Tally{},
                                      claim.domain.exhaustive, Rule::kRateAtLeast, threshold, claim.pass.bound));
  out.figures.push_back(figure);
}

// `e` as if `more_examples` examples after those tallied each had
// e.units_per_example units of every class, all correct: the most a run that
// goes on could reach. Wilson and Clopper-Pearson bounds grow with the
// successes at a fixed number of trials, so a claimed rate that fails with
// certainty there (on_control) fails so whatever the rest of the run.
Evaluation best_case(const Claim& claim, Evaluation e, int64_t more_examples) {
  const BehaviourSpec& b = spec_of<BehaviourSpec>(claim.spec);
  const auto add = [&](Tally& t) {
    for (int64_t i = 0; i < more_examples; ++i) add_example(t, e.units_per_example, e.units_per_example);
  };
  add(e.overall);
  if (!b.by_class.empty()) {
    auto& groups = e.by_class[b.by_class];
    for (auto& [value, tally] : groups) add(tally);
    for (int64_t value : b.class_values)
      if (!groups.count(value)) add(groups[value]);
  }
  e.n_examples += more_examples;
  return e;
}

// The claimed accuracy tallies of `e` by check name, each with its most units
// per example; a claimed class not seen yet leaves the verdict open (none).
std::map<std::string, std::pair<const Tally*, int64_t>> claimed_tallies(const Claim& claim, const Evaluation& e) {
  const BehaviourSpec& b = spec_of<BehaviourSpec>(claim.spec);
  if (b.by_class.empty()) return {{"accuracy", {&e.overall, e.units_per_example}}};
  const auto found = e.by_class.find(b.by_class);
  if (found == e.by_class.end()) return {};
  std::map<std::string, std::pair<const Tally*, int64_t>> out;
  for (const auto& [value, tally] : found->second)
    if (b.class_values.empty() || std::count(b.class_values.begin(), b.class_values.end(), value))
      out["accuracy " + class_label(b, value)] = {&tally, e.units_per_example};
  for (int64_t value : b.class_values)
    if (!found->second.count(value)) return {};
  return out;
}

}  // namespace

void parse_behaviour(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  BehaviourSpec& b = claim.spec.emplace<BehaviourSpec>();
  if (v.contains("metric"))
    b.metric = named_at<BehaviourMetric>(v["metric"], at / "metric", "metric",
                                         {{"accuracy", BehaviourMetric::kAccuracy}, {"loss", BehaviourMetric::kLoss}});
  if (v.contains("by_class")) {
    if (b.metric != BehaviourMetric::kAccuracy) (at / "by_class").fail("only accuracy is broken down by class");
    b.by_class = class_name_at(v["by_class"], at / "by_class", context.accuracy_classes);
  }
  if (v.contains("class_values")) {
    if (b.by_class.empty()) (at / "class_values").fail("needs by_class");
    const nlohmann::json& values = array_at(v["class_values"], at / "class_values");
    for (std::size_t i = 0; i < values.size(); ++i)
      b.class_values.push_back(integer_at(values[i], at / "class_values" / i, 0, std::numeric_limits<int>::max()));
  }
  claim.pass = b.metric == BehaviourMetric::kAccuracy
                   ? pass_at(v["pass"], at / "pass", {"rate_at_least"}, {}, {"rate_at_least"})
                   : pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
  if (claim.pass.bound == BoundMethod::kBetting && !b.by_class.empty() && b.class_values.empty())
    (at / "pass" / "bound")
        .fail("betting by_class needs class_values: a run that stops once the classes it has met pass would skip "
              "a class it has not met yet");
}

PlainReads behaviour_reads(const Claim&) { return {}; }

void run_behaviour(const RunContext& context, const Claim& claim, Outcome& out) {
  const Task& task = context.task;
  const BehaviourSpec& b = spec_of<BehaviourSpec>(claim.spec);
  Evaluation e = empty_evaluation(task);
  const int64_t total = domain_examples(claim.domain, task.domain_size);
  const bool betting = claim.pass.bound == BoundMethod::kBetting;  // accuracy only: pass_at allows no bound on loss
  const double threshold = claim.pass.rate_at_least.value_or(0.0);
  const auto done = [&] {
    const auto claimed = claimed_tallies(claim, e);
    if (!context.control) {
      std::vector<std::pair<const Tally*, int64_t>> tallies;
      for (const auto& [name, tally] : claimed) tallies.push_back(tally);
      return betting_decided(tallies, Rule::kRateAtLeast, threshold);
    }
    std::set<std::string> settled, claims;  // a control: may stop once every deciding check is settled
    if (betting) {
      for (const auto& [name, tally] : claimed) {
        claims.insert(name);
        if (betting_decided({tally}, Rule::kRateAtLeast, threshold)) settled.insert(name);
      }
    } else {
      Outcome best;
      behaviour_checks(claim, best_case(claim, e, total - e.n_examples), best);
      for (const Check& c : best.checks) {
        if (c.rule != Rule::kNone) claims.insert(c.name);
        if (c.rule != Rule::kNone && on_control(c) == ControlCheck::kFails) settled.insert(c.name);
      }
    }
    const std::vector<std::string> deciding = context.deciding ? *context.deciding
                                                               : std::vector<std::string>(claims.begin(), claims.end());
    return !deciding.empty() && std::all_of(deciding.begin(), deciding.end(),
                                            [&](const std::string& name) { return settled.count(name) > 0; });
  };
  const bool may_stop = b.metric == BehaviourMetric::kAccuracy && total >= 0 && (betting || context.control);
  context.visit(
      claim.domain, behaviour_reads(claim),
      [&](const Batch& batch, const RunResult& r) { tally_batch(task, batch, r.logits, e); },
      may_stop ? std::function<bool()>(done) : nullptr);
  if (total < 0 || e.n_examples == total || betting) {
    if (total >= 0 && e.n_examples < total)
      out.stopped = stopped_after(e.n_examples, total, "the betting tests had decided the verdict");
    behaviour_checks(claim, e, out);
    return;
  }
  // A control stopped without betting: its checks are those of the examples
  // it ran, each with the upper bound of the best case over the whole domain
  // (every example not drawn correct), which failed with certainty.
  const int64_t ran = e.n_examples;
  out.stopped = stopped_after(ran, total, "every deciding rate fails with certainty even if every later example were "
                                          "correct");
  Outcome best;
  behaviour_checks(claim, best_case(claim, e, total - ran), best);
  behaviour_checks(claim, e, out);
  for (Check& c : out.checks)
    for (const Check& b : best.checks)
      if (c.rule != Rule::kNone && b.name == c.name) {
        c.other_bound = b.other_bound;
        const std::string exact = "exhaustive, exact";  // of the part it ran: the first examples in the domain's order
        if (const std::size_t at = c.explanation.find(exact); claim.domain.exhaustive && at != std::string::npos)
          c.explanation.replace(at, exact.size(), "the first " + std::to_string(ran) + " of the exhaustive domain's " +
                                                      std::to_string(total) + ", in its order");
        c.explanation += "; with the " + std::to_string(total - ran) + " examples not drawn counted correct, its " +
                         "upper bound over the whole domain is " + percent(b.other_bound) +
                         (on_control(b) == ControlCheck::kFails ? ", below the threshold" : "");
      }
}

}  // namespace circuitcheck
