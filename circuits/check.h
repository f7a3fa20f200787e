// What a claim measures on one model: the domain it ran on, its thresholds,
// each thresholded quantity (a Check, which carries its own explanation, like
// testing::AssertionResult), the pictures that show the evidence (Figure), and
// the result on one model (Outcome). Every claim kind builds these; verify.h
// runs kinds and gives verdicts, the reports draw them.
#pragma once

#include "circuits/evaluate.h"
#include "circuits/intervention.h"
#include "circuits/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

// The examples a claim is checked on: the task's whole finite domain, in its
// order, or `sample` examples drawn with `seed` (in batches of kVerifyBatch
// examples starting at `start`, drawn with seed + start, as evaluate() draws them).
//
// `where` keeps only examples whose [batch] class `where` has value
// `where_value` (e.g. {"operator": 0}: S5's additions): a sampled domain then
// draws batches until `sample` such examples are found (at most 1,000 batches).
struct Domain {
  bool exhaustive = false;
  int64_t sample = 0;  // examples, when sampled
  uint64_t seed = 0;   // when sampled
  std::string where;   // a [batch] class; empty: every example
  int64_t where_value = 0;

  // Claims on weights alone run on no examples: neither exhaustive nor sampled.
  bool weights_only() const { return !exhaustive && sample == 0; }

  // {"exhaustive": true}, {"sample": n, "seed": s} or {"weights": true}, with "where": {class: value} when set.
  nlohmann::json to_json() const;
};

// The one-sided 95 % confidence bound a sampled rate passes on (stats.h).
enum class BoundMethod { kWilson, kClopperPearson };

// Thresholds; which ones a claim may set depends on its kind and metric.
struct PassRule {
  std::optional<double> rate_at_least;    // a rate, in [0, 1]: the rate (lower bound when sampled) >= x
  std::optional<double> rate_at_most;     // a rate, in [0, 1]: the rate (upper bound when sampled) <= x
  std::optional<double> value_at_least;   // a value (e.g. loss in nats): the value >= x
  std::optional<double> value_at_most;    // a value: the value <= x
  std::optional<double> drop_to_at_most;  // ablation, in [0, 1]: the rate after (upper bound when sampled) <= x
  std::optional<double> before_at_least;  // ablation, in [0, 1]: the rate before (lower bound when sampled) >= x
  std::optional<double> compare_at_most;  // probe, in [0, 1]: each compared hook's rate (upper bound when sampled) <= x
  BoundMethod bound = BoundMethod::kWilson;  // "bound": "wilson" (default) or "clopper_pearson"
  bool for_all = false;                   // property: the predicate holds on every generated example

  nlohmann::json to_json() const;  // the thresholds set, and "bound"
};

// One thresholded quantity of a claim on one model.
struct Check {
  std::string name;       // "accuracy", "accuracy idx=1", "attention", "accuracy after", "top_k_energy", ...
  double value = 0.0;     // the rate in [0, 1] (successes / trials) or the value (loss: nats; energy: a fraction)
  int64_t successes = 0;  // rates only
  int64_t trials = 0;     // rates only; 0 for values
  std::string basis;      // what was compared: a rate's "exact" value (exhaustive domain), its
                          // "wilson_lower", "wilson_upper", "clopper_pearson_lower" or
                          // "clopper_pearson_upper" bound (sampled), or a "value"
  double bound = 0.0;     // the compared number: the value for "exact" and "value", else the bound
  std::string rule;       // the PassRule field compared against; empty for a reported, unthresholded value
  double threshold = 0.0;
  bool pass = false;      // true for unthresholded values
  std::string explanation;  // "correct on 100% of 20000 examples (Wilson 95% lower bound 99.986%) >= 99.9%: pass"

  nlohmann::json to_json() const;
};

// A rate check: `successes` of `trials` `units` (e.g. "examples"), `what`
// describing the success ("correct on"). `rule` is empty (reported only), an
// "at least" rule (rate_at_least, before_at_least: lower bound) or an "at most"
// rule (rate_at_most, drop_to_at_most, compare_at_most: upper bound). Exhaustive domains compare
// the exact rate. No trials: fails unless reported only.
Check rate_check(const std::string& name, const std::string& what, const std::string& units, int64_t successes,
                 int64_t trials, bool exhaustive, const std::string& rule, double threshold,
                 BoundMethod bound = BoundMethod::kWilson);

// A value check: `rule` is "value_at_least" or "value_at_most" (or empty: reported only).
Check value_check(const std::string& name, const std::string& what, double value, const std::string& rule,
                  double threshold);

// Every value check the pass rule sets on one value (value_at_least and/or
// value_at_most); none when it sets neither.
std::vector<Check> value_checks(const std::string& name, const std::string& what, double value, const PassRule& pass);

// A picture of the evidence, drawn by the HTML report.
//   "heatmap": values [rows][cols], y_labels (rows) x x_labels (cols), e.g. query x key attention;
//   "bars":    values [series][category], x_labels the categories, series the legend;
//   "scatter": points [n][2] (x, y), classes [n] (an index into series, the legend).
// Optional `reference` lines (bars: a threshold) are drawn across.
struct Figure {
  std::string type;
  std::string title;
  std::string x_title, y_title;
  std::vector<std::string> x_labels, y_labels, series;
  std::vector<std::vector<double>> values;
  std::vector<int> classes;
  std::vector<double> reference;

  nlohmann::json to_json() const;
};

// A claim on one model.
struct Outcome {
  std::string model;               // "checkpoint" or a control's name
  bool pass = false;               // every check passed and every intervention was live
  std::vector<Check> checks;
  std::vector<Liveness> liveness;  // one per intervention, summed over all batches
  std::vector<Figure> figures;     // evidence pictures
  std::vector<std::string> counterexamples;  // property claims: shrunk failing examples as token strings
  std::string explanation;         // the checks' explanations, then any dead intervention
  // Empty when the claim ran its whole domain; else why a control stopped early
  // ("stopped after 4096 of 20000 examples: ..."), also in the explanation.
  std::string stopped;

  nlohmann::json to_json() const;
};

// "99.5%", "0.25" (5 significant digits), for explanations.
std::string percent(double rate);
std::string number(double x);

// Calls `fn` on each batch of the domain, in order, drawn as evaluate() draws
// them (filtered by `where`), and stops early after a batch for which `done`
// (when set) returns true. Throws InputError when a filtered domain that ran
// to its end found too few examples.
void for_each_batch(const Task& task, const Domain& domain, Scale scale, const std::function<void(const Batch&)>& fn,
                    const std::function<bool()>& done = nullptr);

// The number of examples the domain holds (domain_size or sample), or -1 when
// unknown before it runs (an exhaustive domain filtered by `where`).
int64_t domain_examples(const Task& task, const Domain& domain);

// Adds one batch's liveness to a running total.
void accumulate(Liveness& into, const Liveness& part);

}  // namespace circuitcheck
