#include "circuits/claims/check.h"

#include "circuits/claims/stats.h"
#include "circuits/formats/error.h"

#include <algorithm>
#include <cstdio>

namespace circuitcheck {

using nlohmann::json;

json PassRule::to_json() const {
  json j = json::object();
  if (rate_at_least) j["rate_at_least"] = *rate_at_least;
  if (rate_at_most) j["rate_at_most"] = *rate_at_most;
  if (value_at_least) j["value_at_least"] = *value_at_least;
  if (value_at_most) j["value_at_most"] = *value_at_most;
  if (drop_to_at_most) j["drop_to_at_most"] = *drop_to_at_most;
  if (before_at_least) j["before_at_least"] = *before_at_least;
  if (compare_at_most) j["compare_at_most"] = *compare_at_most;
  if (faithfulness_at_least) j["faithfulness_at_least"] = *faithfulness_at_least;
  if (completeness_at_most) j["completeness_at_most"] = *completeness_at_most;
  if (minimality_at_least) j["minimality_at_least"] = *minimality_at_least;
  if (for_all) j["for_all"] = true;
  j["bound"] = bound == BoundMethod::kWilson ? "wilson" : bound == BoundMethod::kBetting ? "betting" : "clopper_pearson";
  return j;
}

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.5g%%", rate * 100.0);
  return buf;
}

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.5g", x);
  return buf;
}

const char* to_string(Rule rule) {
  switch (rule) {
    case Rule::kNone: return "";
    case Rule::kRateAtLeast: return "rate_at_least";
    case Rule::kRateAtMost: return "rate_at_most";
    case Rule::kValueAtLeast: return "value_at_least";
    case Rule::kValueAtMost: return "value_at_most";
    case Rule::kDropToAtMost: return "drop_to_at_most";
    case Rule::kBeforeAtLeast: return "before_at_least";
    case Rule::kCompareAtMost: return "compare_at_most";
    case Rule::kForAll: return "for_all";
    case Rule::kFaithfulnessAtLeast: return "faithfulness_at_least";
    case Rule::kCompletenessAtMost: return "completeness_at_most";
    case Rule::kMinimalityAtLeast: return "minimality_at_least";
  }
  return "";
}

Direction direction(Rule rule) {
  const bool at_most = rule == Rule::kRateAtMost || rule == Rule::kValueAtMost || rule == Rule::kDropToAtMost ||
                       rule == Rule::kCompareAtMost || rule == Rule::kCompletenessAtMost;
  return at_most ? Direction::kAtMost : Direction::kAtLeast;
}

const char* comparison(Direction direction) { return direction == Direction::kAtMost ? "<=" : ">="; }

std::string unit_name(const Evaluation& e) { return e.unit + "s"; }

std::string stopped_after(int64_t seen, int64_t total, const std::string& why) {
  return "stopped after " + std::to_string(seen) + " of " + std::to_string(total) + " examples: " + why;
}

const Check* headline_check(const Outcome& outcome) {
  const Check* first_thresholded = nullptr;
  for (const Check& c : outcome.checks) {
    if (c.rule == Rule::kNone) continue;
    if (!c.pass) return &c;
    if (!first_thresholded) first_thresholded = &c;
  }
  if (first_thresholded) return first_thresholded;
  return outcome.checks.empty() ? nullptr : &outcome.checks.front();
}

ControlCheck on_control(const Check& c) {
  if (c.pass) return ControlCheck::kPasses;
  if (!c.undefined.empty() && c.rule != Rule::kNone)
    return direction(c.rule) == Direction::kAtLeast ? ControlCheck::kFails : ControlCheck::kPasses;
  if (c.rule == Rule::kForAll) return c.successes < c.trials ? ControlCheck::kFails : ControlCheck::kInconclusive;
  const bool misses = direction(c.rule) == Direction::kAtMost ? c.other_bound > c.threshold : c.other_bound < c.threshold;
  return misses ? ControlCheck::kFails : ControlCheck::kInconclusive;
}

const char* to_string(Basis basis) {
  switch (basis) {
    case Basis::kExact: return "exact";
    case Basis::kWilsonLower: return "wilson_lower";
    case Basis::kWilsonUpper: return "wilson_upper";
    case Basis::kClopperPearsonLower: return "clopper_pearson_lower";
    case Basis::kClopperPearsonUpper: return "clopper_pearson_upper";
    case Basis::kBettingLower: return "betting_lower";
    case Basis::kBettingUpper: return "betting_upper";
    case Basis::kBootstrapLower: return "bootstrap_lower";
    case Basis::kBootstrapUpper: return "bootstrap_upper";
    case Basis::kValue: return "value";
  }
  return "value";
}

bool is_rate(const Check& c) { return c.basis != Basis::kValue && c.resamples == 0; }

void mark_undefined(Check& c, const std::string& why) {
  c.undefined = why;
  c.pass = c.rule == Rule::kNone;
  c.explanation += " (undefined: " + why + ")";
}

bool fails_with_certainty(const Outcome& outcome) {
  for (const Check& c : outcome.checks)
    if (c.rule != Rule::kNone && on_control(c) == ControlCheck::kFails) return true;
  return false;
}

const char* to_string(ControlCheck outcome) {
  switch (outcome) {
    case ControlCheck::kFails: return "fails";
    case ControlCheck::kInconclusive: return "inconclusive";
    case ControlCheck::kPasses: return "passes";
  }
  return "";
}

Check rate_check(const std::string& name, const std::string& what, const std::string& units, int64_t successes,
                 int64_t trials, bool exhaustive, Rule rule, double threshold, BoundMethod bound) {
  check_internal(bound != BoundMethod::kBetting || exhaustive, "rate_check",
                 "betting bounds need each example's units in draw order (a Tally)");
  Tally independent;
  independent.n = trials;
  independent.correct = successes;
  return rate_check(name, what, units, independent, exhaustive, rule, threshold, bound);
}

namespace {

// The tail of a check's explanation: " >= 90%: pass".
std::string against(bool at_most, const std::string& threshold, bool pass) {
  return std::string(at_most ? " <= " : " >= ") + threshold + ": " + (pass ? "pass" : "fail");
}

// A sampled rate bounded by its betting confidence sequence (stats.h).
Check betting_rate_check(Check c, const std::string& what, const std::string& units, const Tally& tally,
                         int64_t max_units) {
  const bool at_most = direction(c.rule) == Direction::kAtMost;
  const double lower = betting_lower_bound(tally.per_example, max_units, kCheckAlpha);
  const double upper = betting_upper_bound(tally.per_example, max_units, kCheckAlpha);
  c.basis = at_most ? Basis::kBettingUpper : Basis::kBettingLower;
  c.bound = at_most ? upper : lower;
  c.other_bound = at_most ? lower : upper;
  if (tally.largest > 1) c.examples = tally.examples;
  c.explanation = what + " " + percent(c.value) + " of " + std::to_string(tally.n) + " " + units +
                  (tally.largest > 1 ? " in " + std::to_string(tally.examples) + " examples" : "") + " (betting 95% " +
                  (at_most ? "upper" : "lower") + " bound " + percent(c.bound) + ", valid at any stop)";
  if (c.rule == Rule::kNone) {
    c.pass = true;
    return c;
  }
  c.basis_p_value = betting_p_value(tally.per_example, max_units, c.threshold, !at_most, kCheckAlpha);
  c.pass = c.basis_p_value <= kCheckAlpha;
  c.explanation += against(at_most, percent(c.threshold), c.pass);
  return c;
}

}  // namespace

Check rate_check(const std::string& name, const std::string& what, const std::string& units, const Tally& tally,
                 bool exhaustive, Rule rule, double threshold, BoundMethod bound, int64_t max_units) {
  Check c;
  c.name = name;
  c.successes = tally.correct;
  c.trials = tally.n;
  c.rule = rule;
  c.threshold = threshold;
  if (tally.n == 0) {
    c.basis = Basis::kExact;
    c.other_bound = direction(rule) == Direction::kAtMost ? 0.0 : 1.0;  // no evidence either way
    c.pass = rule == Rule::kNone;
    c.explanation = what + " no " + units + ": " + (c.pass ? "reported" : "fail");
    return c;
  }
  c.value = tally.accuracy();
  if (bound == BoundMethod::kBetting && !exhaustive) return betting_rate_check(c, what, units, tally, max_units);
  const bool at_most = direction(rule) == Direction::kAtMost;
  const bool wilson = bound == BoundMethod::kWilson;
  const bool clustered = !exhaustive && tally.largest > 1;
  if (clustered) {
    c.examples = tally.examples;
    c.design_effect = design_effect(tally);
  }
  const double n = static_cast<double>(tally.n) / c.design_effect, k = static_cast<double>(tally.correct) / c.design_effect;
  c.basis = exhaustive ? Basis::kExact
            : wilson  ? (at_most ? Basis::kWilsonUpper : Basis::kWilsonLower)
                      : (at_most ? Basis::kClopperPearsonUpper : Basis::kClopperPearsonLower);
  const double lower = exhaustive ? c.value : wilson ? wilson_lower_bound(k, n) : clopper_pearson_lower_bound(k, n);
  const double upper = exhaustive ? c.value : wilson ? wilson_upper_bound(k, n) : clopper_pearson_upper_bound(k, n);
  c.bound = at_most ? upper : lower;
  c.other_bound = at_most ? lower : upper;
  c.explanation = what + " " + percent(c.value) + " of " + std::to_string(tally.n) + " " + units;
  if (clustered) c.explanation += " in " + std::to_string(tally.examples) + " examples";
  c.explanation += " (";
  if (exhaustive) {
    c.explanation += "exhaustive, exact";
  } else {
    c.explanation += std::string(wilson ? "Wilson" : "Clopper-Pearson") + " 95% " + (at_most ? "upper" : "lower") +
                     " bound " + percent(c.bound);
    if (clustered) c.explanation += " over " + number(n) + " effective " + units + ", design effect " + number(c.design_effect);
  }
  c.explanation += ")";
  if (rule == Rule::kNone) {
    c.pass = true;
    return c;
  }
  c.pass = at_most ? c.bound <= threshold : c.bound >= threshold;
  c.explanation += against(at_most, percent(threshold), c.pass);
  return c;
}

Check value_check(const std::string& name, const std::string& what, double value, Rule rule, double threshold) {
  Check c;
  c.name = name;
  c.value = c.bound = c.other_bound = value;
  c.basis = Basis::kValue;
  c.rule = rule;
  c.threshold = threshold;
  if (rule == Rule::kNone) {
    c.pass = true;
    c.explanation = what + " " + number(value);
    return c;
  }
  const bool at_most = direction(rule) == Direction::kAtMost;
  c.pass = at_most ? value <= threshold : value >= threshold;
  c.explanation = what + " " + number(value) + against(at_most, number(threshold), c.pass);
  return c;
}

Check value_check(const std::string& name, const std::string& what, double value, const Bootstrap& interval, Rule rule,
                  double threshold) {
  Check c = value_check(name, what, value, Rule::kNone, 0.0);
  c.rule = rule;
  c.threshold = threshold;
  c.examples = interval.examples;
  c.resamples = static_cast<int64_t>(interval.draws.size());
  c.resample_seed = interval.seed;
  const bool at_most = direction(rule) == Direction::kAtMost;
  c.basis = at_most ? Basis::kBootstrapUpper : Basis::kBootstrapLower;
  c.bound = at_most ? interval.upper : interval.lower;
  c.other_bound = at_most ? interval.lower : interval.upper;
  c.explanation = what + " " + number(value) + " (bootstrap 95% " + (at_most ? "upper" : "lower") + " bound " +
                  number(c.bound) + " over " + std::to_string(interval.examples) + " examples, " +
                  std::to_string(c.resamples) + " resamples, seed " + std::to_string(interval.seed) + ")";
  if (rule == Rule::kNone) return c;
  c.basis_p_value = bootstrap_p_value(interval, threshold, !at_most);
  c.pass = at_most ? c.bound <= threshold : c.bound >= threshold;
  c.explanation += against(at_most, number(threshold), c.pass);
  return c;
}

std::vector<Check> value_checks(const std::string& name, const std::string& what, double value, const PassRule& pass,
                                const Bootstrap* interval) {
  std::vector<Check> out;
  const auto one = [&](Rule rule, double threshold) {
    return interval ? value_check(name, what, value, *interval, rule, threshold)
                    : value_check(name, what, value, rule, threshold);
  };
  if (pass.value_at_least) out.push_back(one(Rule::kValueAtLeast, *pass.value_at_least));
  if (pass.value_at_most) out.push_back(one(Rule::kValueAtMost, *pass.value_at_most));
  return out;
}

std::optional<double> p_value(const Check& c) {
  if (c.rule == Rule::kNone || c.rule == Rule::kForAll || c.basis == Basis::kValue) return std::nullopt;
  if (!c.undefined.empty()) return 1.0;
  if (c.resamples > 0) return c.basis_p_value;
  if (c.trials == 0) return 1.0;
  if (c.basis == Basis::kBettingLower || c.basis == Basis::kBettingUpper) return c.basis_p_value;
  if (c.basis == Basis::kExact) return c.pass ? 0.0 : 1.0;
  const bool at_least = direction(c.rule) == Direction::kAtLeast;
  const double k = static_cast<double>(c.successes) / c.design_effect, n = static_cast<double>(c.trials) / c.design_effect;
  const bool wilson = c.basis == Basis::kWilsonLower || c.basis == Basis::kWilsonUpper;
  return wilson ? wilson_p_value(k, n, c.threshold, at_least) : binomial_p_value(k, n, c.threshold, at_least);
}

json Check::to_json() const {
  json j = {{"name", name},   {"value", value}, {"basis", to_string(basis)},
            {"bound", bound}, {"other_bound", other_bound}, {"pass", pass},
            {"explanation", explanation}};
  if (const std::optional<double> p = p_value(*this)) {
    j["p_value"] = *p;
    if (basis != Basis::kExact) j["alpha"] = kCheckAlpha;
  }
  if (trials > 0) {
    j["successes"] = successes;
    j["trials"] = trials;
  }
  if (examples > 0) j["examples"] = examples;
  if (examples > 0 && resamples == 0 && basis != Basis::kBettingLower && basis != Basis::kBettingUpper)
    j["design_effect"] = design_effect;  // betting bounds the examples' rates: no design effect
  if (!undefined.empty()) j["undefined"] = undefined;
  if (resamples > 0) {
    j["resamples"] = resamples;
    j["resample_seed"] = resample_seed;
  }
  if (rule != Rule::kNone) {
    j["rule"] = to_string(rule);
    j["threshold"] = threshold;
  }
  return j;
}

json Outcome::to_json() const {
  json j = {{"model", model}, {"pass", pass}, {"explanation", explanation}, {"checks", json::array()},
            {"liveness", json::array()}, {"figures", json::array()}};
  for (const auto& c : checks) j["checks"].push_back(c.to_json());
  for (const auto& l : liveness)
    j["liveness"].push_back({{"hook", l.hook}, {"kind", l.kind}, {"fired", l.fired}, {"elements", l.elements},
                             {"max_abs_change", l.max_abs_change}, {"mean_abs_change", l.mean_abs_change},
                             {"live", l.live()}});
  for (const auto& f : figures) j["figures"].push_back(f.to_json());
  if (!counterexamples.empty()) j["counterexamples"] = counterexamples;
  if (!stopped.empty()) j["stopped"] = stopped;
  return j;
}

bool betting_decided(const std::vector<std::pair<const Tally*, int64_t>>& tallies, Rule rule, double threshold) {
  const bool at_least = direction(rule) == Direction::kAtLeast;
  bool all_pass = !tallies.empty();
  for (const auto& [tally, max_units] : tallies) {
    if (betting_capital(tally->per_example, max_units, threshold, !at_least, kCheckAlpha) >= 1.0 / kStopOnFailAlpha)
      return true;
    all_pass = all_pass &&
               betting_capital(tally->per_example, max_units, threshold, at_least, kCheckAlpha) >= 1.0 / kCheckAlpha;
  }
  return all_pass;
}

void accumulate(Liveness& into, const Liveness& part) {
  const double total = into.mean_abs_change * static_cast<double>(into.elements) +
                       part.mean_abs_change * static_cast<double>(part.elements);
  into.hook = part.hook;
  into.kind = part.kind;
  into.fired += part.fired;
  into.elements += part.elements;
  into.max_abs_change = std::max(into.max_abs_change, part.max_abs_change);
  into.mean_abs_change = into.elements ? total / static_cast<double>(into.elements) : 0.0;
}

}  // namespace circuitcheck
