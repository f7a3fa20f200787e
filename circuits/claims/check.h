// What a claim measures on one model: its thresholds (PassRule), each
// thresholded quantity (a Check, which carries its own explanation, like
// testing::AssertionResult), and the result on one model (Outcome), with the
// pictures of its evidence (figure.h) over its domain (domain.h). Every claim
// kind builds these; verify.h runs kinds and gives verdicts, the reports draw
// them.
#pragma once

#include "circuits/claims/bootstrap.h"
#include "circuits/claims/domain.h"
#include "circuits/claims/figure.h"
#include "circuits/model/intervention.h"
#include "circuits/tasks/evaluate.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

// The one-sided 95 % confidence bound a sampled rate passes on (stats.h):
// Wilson's or Clopper-Pearson's over the whole sample, or the betting
// confidence sequence's, valid at any stopping time, so that a run may stop
// as soon as it decides the verdict (betting_decided).
enum class BoundMethod { kWilson, kClopperPearson, kBetting };

// Thresholds; which ones a claim may set depends on its kind and metric.
struct PassRule {
  std::optional<double> rate_at_least;    // a rate, in [0, 1]: the rate (lower bound when sampled) >= x
  std::optional<double> rate_at_most;     // a rate, in [0, 1]: the rate (upper bound when sampled) <= x
  std::optional<double> value_at_least;   // a value (e.g. loss in nats): the value >= x
  std::optional<double> value_at_most;    // a value: the value <= x
  std::optional<double> drop_to_at_most;  // ablation, in [0, 1]: the rate after (upper bound when sampled) <= x
  std::optional<double> before_at_least;  // ablation, in [0, 1]: the rate before (lower bound when sampled) >= x
  std::optional<double> compare_at_most;  // probe, in [0, 1]: each compared hook's rate (upper bound when sampled) <= x
  std::optional<double> faithfulness_at_least;  // circuit: its faithfulness (lower bound when sampled) >= x
  std::optional<double> completeness_at_most;   // circuit: each completeness gap (upper bound when sampled) <= x
  std::optional<double> minimality_at_least;    // circuit: each node's contribution (lower bound when sampled) >= x
  BoundMethod bound = BoundMethod::kWilson;  // "bound": "wilson" (default), "clopper_pearson" or "betting"
  bool for_all = false;                   // property: the predicate holds on every generated example

  nlohmann::json to_json() const;  // the thresholds set, and "bound"
};

// The PassRule field a check is compared against; kNone for a reported,
// unthresholded value. "At least" rules (rate_at_least, value_at_least,
// before_at_least, faithfulness_at_least, minimality_at_least) compare a
// rate's or value's lower bound, "at most" rules (rate_at_most, value_at_most,
// drop_to_at_most, compare_at_most, completeness_at_most) its upper bound;
// for_all holds on every generated example (property claims).
enum class Rule {
  kNone, kRateAtLeast, kRateAtMost, kValueAtLeast, kValueAtMost, kDropToAtMost, kBeforeAtLeast, kCompareAtMost, kForAll,
  kFaithfulnessAtLeast, kCompletenessAtMost, kMinimalityAtLeast
};
// The PassRule field's name in claim files and reports ("rate_at_least"); "" for kNone.
const char* to_string(Rule rule);

// Which side of its threshold a rule passes on.
enum class Direction { kAtLeast, kAtMost };

// What a check compares with its threshold (claims/README.md, "Verdicts"): a
// rate's exact value (an exhaustive domain, or a property's verdict), its
// one-sided 95 % Wilson, Clopper-Pearson or betting bound (sampled), a sampled value's
// bootstrap bound, or a value computed without sampling (weights, an
// exhaustive domain).
enum class Basis {
  kExact,
  kWilsonLower,
  kWilsonUpper,
  kClopperPearsonLower,
  kClopperPearsonUpper,
  kBettingLower,
  kBettingUpper,
  kBootstrapLower,
  kBootstrapUpper,
  kValue,
};

// "exact", "wilson_lower", "wilson_upper", "clopper_pearson_lower",
// "clopper_pearson_upper", "betting_lower", "betting_upper",
// "bootstrap_lower", "bootstrap_upper", "value": the spelling of the reports.
const char* to_string(Basis basis);
Direction direction(Rule rule);
// ">=" or "<=".
const char* comparison(Direction direction);

// One thresholded quantity of a claim on one model.
struct Check {
  std::string name;       // "accuracy", "accuracy idx=1", "attention", "accuracy after", "top_k_energy", ...
  double value = 0.0;     // the rate in [0, 1] (successes / trials) or the value (loss: nats; energy: a fraction)
  int64_t successes = 0;  // rates only
  int64_t trials = 0;     // rates only; 0 for values
  // Rates whose units are grouped in examples (Tally), sampled: the examples,
  // and the design effect (stats.h) by which the bounds widen; 0 and 1 otherwise.
  // Values with a bootstrap interval: the examples resampled.
  int64_t examples = 0;
  double design_effect = 1.0;
  // Values with a bootstrap interval (bootstrap.h): its resamples and seed; 0 resamples otherwise.
  int64_t resamples = 0;
  uint64_t resample_seed = 0;
  // The p-value of a check on a bootstrap or betting bound (bootstrap_p_value, betting_p_value).
  double basis_p_value = 1.0;
  Basis basis = Basis::kValue;  // what was compared (Basis)
  double bound = 0.0;     // the compared number: the value for kExact and kValue, else the bound
  double other_bound = 0.0;  // the bound on the other side of the value (the upper bound where `bound`
                             // is the lower): a control fails the check only when it misses too
  Rule rule = Rule::kNone;
  double threshold = 0.0;
  bool pass = false;      // true for unthresholded values
  // Non-empty when the quantity does not exist on this model, and why: a
  // recovery with no gap to recover (patching.h, has_gap). The check fails;
  // on a control, see on_control.
  std::string undefined;
  std::string explanation;  // "correct on 100% of 20000 examples (Wilson 95% lower bound 99.986%) >= 99.9%: pass"

  nlohmann::json to_json() const;
};

// The one-sided level of every sampled check: a Wilson, Clopper-Pearson or
// betting bound clears the threshold exactly when its p-value (p_value) is
// at most this; a bootstrap bound (an interpolated quantile of the draws) to
// within one draw of its 2,000 (bootstrap_p_value).
constexpr double kCheckAlpha = 0.05;

// The one-sided p-value of a thresholded check's null hypothesis "the true
// rate (value) is on the failing side of the threshold": by the bound its
// basis names (stats.h; a bootstrap's or betting's basis_p_value); 0 or 1 for an exact
// rate (an exhaustive domain: pass or not), 1 with no trials. nullopt for
// unthresholded checks, for_all checks and values computed without sampling.
std::optional<double> p_value(const Check& check);

// How a check comes out on a control, where only a certain failure counts:
// kPasses as on the checkpoint (`bound` clears the threshold), kFails when
// `other_bound` misses it too (an "at least" rule's upper bound is below the
// threshold, an "at most" rule's lower bound above it), kInconclusive in
// between. A for_all check fails with a counterexample and is inconclusive
// when generation gave up; an unthresholded check passes. An undefined check
// (a recovery without a gap) fails with certainty under an "at least" rule:
// the effect it claims is absent; under an "at most" rule it passes, as the
// control cannot test it (a model without the effect has nothing to limit).
enum class ControlCheck { kFails, kInconclusive, kPasses };
ControlCheck on_control(const Check& check);
// "fails", "inconclusive", "passes".
const char* to_string(ControlCheck outcome);

// A rate check: `successes` of `trials` independent `units` (e.g.
// "examples"), `what` describing the success ("correct on"). `rule` is kNone
// (reported only), an "at least" rule (lower bound) or an "at most" rule
// (upper bound). Exhaustive domains compare the exact rate. No trials: fails
// unless reported only. `bound` is Wilson or Clopper-Pearson: betting needs
// the examples' order (the Tally overload); kBetting throws InternalError.
Check rate_check(const std::string& name, const std::string& what, const std::string& units, int64_t successes,
                 int64_t trials, bool exhaustive, Rule rule, double threshold, BoundMethod bound = BoundMethod::kWilson);
// The same for units grouped in examples: the bounds are those of
// tally.n / deff effective units (design_effect in stats.h), and the
// explanation gives the examples and the design effect when any example has
// more than one unit. With kBetting (sampled only), the bounds are the betting
// confidence sequence's over tally.per_example at level kCheckAlpha, each
// example with at most `max_units` units (the kinds pass the task's units per
// example, Evaluation::units_per_example: its sequence length or unit count,
// set by the batches' shapes, not by what the model gets right), and the
// check passes when its test rejects at that level.
Check rate_check(const std::string& name, const std::string& what, const std::string& units, const Tally& tally,
                 bool exhaustive, Rule rule, double threshold, BoundMethod bound = BoundMethod::kWilson,
                 int64_t max_units = 1);

// The level at which a sampled run stops early on a failure: a tenth of
// kCheckAlpha. The confidence sequences decide at kCheckAlpha; stopping on a
// failure only at this stricter level keeps an early run of lucky examples
// from failing a checkpoint whose rate sits near its threshold (a rate of
// about 33 % against "at most 40 %": at kCheckAlpha about 2 % of domain seeds
// stopped on such a failure; claims/README.md, "Verdicts"). Drawing on
// costs only time: the verdict at the stop still needs the passing side's
// test at kCheckAlpha, whatever the stop.
constexpr double kStopOnFailAlpha = kCheckAlpha / 10.0;

// Whether a sampled run whose rates are bounded by betting may stop drawing:
// some claimed rate (a tally with its max_units) fails with certainty under
// `rule` and `threshold` (its other-side test rejects at kStopOnFailAlpha:
// betting_capital of the opposite hypothesis reaches 1 / kStopOnFailAlpha),
// or every one passes (its test rejects at kCheckAlpha). The tests are valid
// at any stopping time (stats.h), so the verdict at the stop holds at level
// kCheckAlpha. False with no tallies.
bool betting_decided(const std::vector<std::pair<const Tally*, int64_t>>& tallies, Rule rule, double threshold);

// A value check: `rule` is kValueAtLeast or kValueAtMost (or kNone: reported only).
Check value_check(const std::string& name, const std::string& what, double value, Rule rule, double threshold);

// A value measured on sampled examples, with its bootstrap over them
// (bootstrap.h): an "at least" rule passes on interval.lower, an "at most"
// rule on interval.upper (basis "bootstrap_lower" or "bootstrap_upper"); the
// other quantile is other_bound.
Check value_check(const std::string& name, const std::string& what, double value, const Bootstrap& interval, Rule rule,
                  double threshold);

// Every value check the pass rule sets on one value (value_at_least and/or
// value_at_most); none when it sets neither. With `interval`, on its bounds.
std::vector<Check> value_checks(const std::string& name, const std::string& what, double value, const PassRule& pass,
                                const Bootstrap* interval = nullptr);

// A claim on one model.
struct Outcome {
  std::string model;               // "checkpoint" or a control's name
  bool pass = false;               // every check passed and every intervention was live
  std::vector<Check> checks;
  std::vector<Liveness> liveness;  // one per intervention, summed over all batches
  std::vector<Figure> figures;     // evidence pictures
  std::vector<std::string> counterexamples;  // property claims: shrunk failing examples as token strings
  std::string explanation;         // the checks' explanations, then any dead intervention
  // Empty when the claim ran its whole domain; else why the run stopped early
  // ("stopped after 128 of 20000 examples: ..."; a control once its failure is
  // certain, any run once its betting tests decide), also in the explanation.
  std::string stopped;

  nlohmann::json to_json() const;
};

// Whether a check is a rate (a fraction in [0, 1]: its basis is exact, Wilson
// or Clopper-Pearson) rather than a value (basis value or bootstrap_*).
bool is_rate(const Check& check);

// Outcome::stopped for a run that stopped after `seen` of `total` examples:
// "stopped after <seen> of <total> examples: <why>".
std::string stopped_after(int64_t seen, int64_t total, const std::string& why);

// Makes `check` undefined (Check::undefined) for `why`: it fails, and its explanation says why.
void mark_undefined(Check& check, const std::string& why);

// True when some check with a rule fails on `outcome` with certainty (on_control).
bool fails_with_certainty(const Outcome& outcome);

// The plural of an evaluation's unit ("examples", "assignments"), for explanations.
std::string unit_name(const Evaluation& e);

// The check a one-line summary shows: the first thresholded check that fails,
// else the first thresholded check, else the first; nullptr when there is none.
const Check* headline_check(const Outcome& outcome);

// "99.5%", "0.25" (5 significant digits), for explanations.
std::string percent(double rate);
std::string number(double x);

// Adds one batch's liveness to a running total.
void accumulate(Liveness& into, const Liveness& part);

}  // namespace circuitcheck
