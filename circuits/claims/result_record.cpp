#include "circuits/claims/result_record.h"

#include <cmath>
#include <initializer_list>
#include <limits>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr double kInf = std::numeric_limits<double>::infinity();

double number_or_nan(const json& v, const At& at) {
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v == "inf" || v == "-inf") return v == "inf" ? kInf : -kInf;
  return number_at(v, at);
}

// `v` with every infinite number as the text "inf" or "-inf", which JSON
// would write as null.
json infinities_as_text(json v) {
  if (v.is_number_float() && std::isinf(v.get<double>())) return v.get<double>() > 0 ? "inf" : "-inf";
  if (v.is_structured())
    for (json& e : v) e = infinities_as_text(std::move(e));
  return v;
}

std::vector<std::string> strings_at(const json& v, const At& at) { return list_of(v, at, string_at); }
std::vector<double> numbers_at(const json& v, const At& at) { return list_of(v, at, number_or_nan); }

constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max();

Check check_from(const json& v, const At& at) {
  Check c;
  c.name = string_at(field_at(v, at, "name"), at / "name");
  c.value = number_or_nan(field_at(v, at, "value"), at / "value");
  c.basis = enum_at(field_at(v, at, "basis"), at / "basis", "basis",
                    {Basis::kExact, Basis::kWilsonLower, Basis::kWilsonUpper, Basis::kClopperPearsonLower,
                     Basis::kClopperPearsonUpper, Basis::kBettingLower, Basis::kBettingUpper, Basis::kBootstrapLower,
                     Basis::kBootstrapUpper, Basis::kValue});
  c.bound = number_or_nan(field_at(v, at, "bound"), at / "bound");
  c.other_bound = number_or_nan(field_at(v, at, "other_bound"), at / "other_bound");
  c.pass = boolean_at(field_at(v, at, "pass"), at / "pass");
  c.explanation = string_at(field_at(v, at, "explanation"), at / "explanation");
  if (v.contains("trials")) {
    c.successes = integer_at(field_at(v, at, "successes"), at / "successes", 0, kMaxCount);
    c.trials = integer_at(v["trials"], at / "trials", 0, kMaxCount);
  }
  if (v.contains("examples")) c.examples = integer_at(v["examples"], at / "examples", 0, kMaxCount);
  if (v.contains("design_effect")) c.design_effect = number_or_nan(v["design_effect"], at / "design_effect");
  if (v.contains("undefined")) c.undefined = string_at(v["undefined"], at / "undefined");
  if (v.contains("resamples")) {
    c.resamples = integer_at(v["resamples"], at / "resamples", 0, kMaxCount);
    c.resample_seed = static_cast<uint64_t>(integer_at(field_at(v, at, "resample_seed"), at / "resample_seed", 0, kMaxCount));
  }
  if (v.contains("p_value")) c.basis_p_value = number_or_nan(v["p_value"], at / "p_value");
  if (v.contains("rule")) {
    c.rule = enum_at(v["rule"], at / "rule", "rule",
                     {Rule::kRateAtLeast, Rule::kRateAtMost, Rule::kValueAtLeast, Rule::kValueAtMost,
                      Rule::kDropToAtMost, Rule::kBeforeAtLeast, Rule::kCompareAtMost, Rule::kForAll,
                      Rule::kFaithfulnessAtLeast, Rule::kCompletenessAtMost, Rule::kMinimalityAtLeast});
    c.threshold = number_or_nan(field_at(v, at, "threshold"), at / "threshold");
  }
  return c;
}

Liveness liveness_from(const json& v, const At& at) {
  Liveness l;
  l.hook = string_at(field_at(v, at, "hook"), at / "hook");
  l.kind = string_at(field_at(v, at, "kind"), at / "kind");
  l.fired = static_cast<int>(integer_at(field_at(v, at, "fired"), at / "fired", 0, std::numeric_limits<int>::max()));
  l.elements = integer_at(field_at(v, at, "elements"), at / "elements", 0, kMaxCount);
  l.max_abs_change = number_or_nan(field_at(v, at, "max_abs_change"), at / "max_abs_change");
  l.mean_abs_change = number_or_nan(field_at(v, at, "mean_abs_change"), at / "mean_abs_change");
  return l;
}

Figure figure_from(const json& v, const At& at) {
  Figure f;
  f.type = string_at(field_at(v, at, "type"), at / "type");
  f.title = string_at(field_at(v, at, "title"), at / "title");
  f.values = list_of(field_at(v, at, "values"), at / "values", numbers_at);
  if (v.contains("x_title")) f.x_title = string_at(v["x_title"], at / "x_title");
  if (v.contains("y_title")) f.y_title = string_at(v["y_title"], at / "y_title");
  if (v.contains("x_labels")) f.x_labels = strings_at(v["x_labels"], at / "x_labels");
  if (v.contains("y_labels")) f.y_labels = strings_at(v["y_labels"], at / "y_labels");
  if (v.contains("series")) f.series = strings_at(v["series"], at / "series");
  if (v.contains("classes"))
    f.classes = list_of(v["classes"], at / "classes", [](const json& x, const At& a) {
      return static_cast<int>(integer_at(x, a, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
    });
  if (v.contains("reference")) f.reference = numbers_at(v["reference"], at / "reference");
  if (v.contains("x")) f.x = numbers_at(v["x"], at / "x");
  if (v.contains("x_reference")) f.x_reference = numbers_at(v["x_reference"], at / "x_reference");
  if (v.contains("log_y")) f.log_y = boolean_at(v["log_y"], at / "log_y");
  return f;
}

Outcome outcome_from(const json& v, const At& at) {
  Outcome o;
  o.model = string_at(field_at(v, at, "model"), at / "model");
  o.pass = boolean_at(field_at(v, at, "pass"), at / "pass");
  o.explanation = string_at(field_at(v, at, "explanation"), at / "explanation");
  o.checks = list_of(field_at(v, at, "checks"), at / "checks", check_from);
  o.liveness = list_of(field_at(v, at, "liveness"), at / "liveness", liveness_from);
  o.figures = list_of(field_at(v, at, "figures"), at / "figures", figure_from);
  if (v.contains("counterexamples")) o.counterexamples = strings_at(v["counterexamples"], at / "counterexamples");
  if (v.contains("stopped")) o.stopped = string_at(v["stopped"], at / "stopped");
  return o;
}

Falsification falsification_from(const json& v, const At& at) {
  Falsification f;
  f.check = string_at(field_at(v, at, "check"), at / "check");
  f.fails_on = strings_at(field_at(v, at, "fails_on"), at / "fails_on");
  f.inconclusive_on = strings_at(field_at(v, at, "inconclusive_on"), at / "inconclusive_on");
  return f;
}

}  // namespace

json result_record(const ClaimResult& result) {
  json controls = json::array(), falsification = json::array();
  for (const auto& c : result.controls) controls.push_back(c.to_json());
  for (const auto& f : result.falsification) falsification.push_back(f.to_json());
  return infinities_as_text({{"verdict", to_string(result.verdict)},
                             {"explanation", result.explanation},
                             {"checkpoint", result.checkpoint.to_json()},
                             {"controls", controls},
                             {"falsification", falsification}});
}

ClaimResult result_from_record(const json& record, Claim claim, const At& at) {
  ClaimResult r;
  r.claim = std::move(claim);
  r.verdict = verdict_at(field_at(record, at, "verdict"), at / "verdict");
  r.explanation = string_at(field_at(record, at, "explanation"), at / "explanation");
  r.checkpoint = outcome_from(field_at(record, at, "checkpoint"), at / "checkpoint");
  r.controls = list_of(field_at(record, at, "controls"), at / "controls", outcome_from);
  r.falsification = list_of(field_at(record, at, "falsification"), at / "falsification", falsification_from);
  return r;
}

}  // namespace circuitcheck
