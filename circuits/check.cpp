#include "circuits/check.h"

#include "circuits/error.h"
#include "circuits/stats.h"

#include <algorithm>
#include <cstdio>

namespace circuitcheck {

using nlohmann::json;

json Domain::to_json() const {
  if (weights_only()) return {{"weights", true}};
  json j = exhaustive ? json{{"exhaustive", true}} : json{{"sample", sample}, {"seed", seed}};
  if (!where.empty()) j["where"] = {{where, where_value}};
  return j;
}

json PassRule::to_json() const {
  json j = json::object();
  if (rate_at_least) j["rate_at_least"] = *rate_at_least;
  if (rate_at_most) j["rate_at_most"] = *rate_at_most;
  if (value_at_least) j["value_at_least"] = *value_at_least;
  if (value_at_most) j["value_at_most"] = *value_at_most;
  if (drop_to_at_most) j["drop_to_at_most"] = *drop_to_at_most;
  if (before_at_least) j["before_at_least"] = *before_at_least;
  if (compare_at_most) j["compare_at_most"] = *compare_at_most;
  if (for_all) j["for_all"] = true;
  j["bound"] = bound == BoundMethod::kWilson ? "wilson" : "clopper_pearson";
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

Check rate_check(const std::string& name, const std::string& what, const std::string& units, int64_t successes,
                 int64_t trials, bool exhaustive, const std::string& rule, double threshold, BoundMethod bound) {
  Check c;
  c.name = name;
  c.successes = successes;
  c.trials = trials;
  c.rule = rule;
  c.threshold = threshold;
  if (trials == 0) {
    c.basis = "exact";
    c.pass = rule.empty();
    c.explanation = what + " no " + units + ": " + (c.pass ? "reported" : "fail");
    return c;
  }
  c.value = static_cast<double>(successes) / static_cast<double>(trials);
  const bool at_most = rule == "drop_to_at_most" || rule == "rate_at_most" || rule == "compare_at_most";
  const bool wilson = bound == BoundMethod::kWilson;
  const std::string method = wilson ? "wilson" : "clopper_pearson";
  c.basis = exhaustive ? "exact" : method + (at_most ? "_upper" : "_lower");
  c.bound = exhaustive ? c.value
            : at_most  ? (wilson ? wilson_upper_bound(successes, trials) : clopper_pearson_upper_bound(successes, trials))
                       : (wilson ? wilson_lower_bound(successes, trials) : clopper_pearson_lower_bound(successes, trials));
  c.explanation = what + " " + percent(c.value) + " of " + std::to_string(trials) + " " + units + " (" +
                  (exhaustive ? std::string("exhaustive, exact")
                              : std::string(wilson ? "Wilson" : "Clopper-Pearson") + " 95% " +
                                    (at_most ? "upper" : "lower") + " bound " + percent(c.bound)) +
                  ")";
  if (rule.empty()) {
    c.pass = true;
    return c;
  }
  c.pass = at_most ? c.bound <= threshold : c.bound >= threshold;
  c.explanation += std::string(at_most ? " <= " : " >= ") + percent(threshold) + ": " + (c.pass ? "pass" : "fail");
  return c;
}

Check value_check(const std::string& name, const std::string& what, double value, const std::string& rule,
                  double threshold) {
  Check c;
  c.name = name;
  c.value = c.bound = value;
  c.basis = "value";
  c.rule = rule;
  c.threshold = threshold;
  if (rule.empty()) {
    c.pass = true;
    c.explanation = what + " " + number(value);
    return c;
  }
  const bool at_most = rule == "value_at_most";
  c.pass = at_most ? value <= threshold : value >= threshold;
  c.explanation = what + " " + number(value) + (at_most ? " <= " : " >= ") + number(threshold) + ": " +
                  (c.pass ? "pass" : "fail");
  return c;
}

std::vector<Check> value_checks(const std::string& name, const std::string& what, double value, const PassRule& pass) {
  std::vector<Check> out;
  if (pass.value_at_least) out.push_back(value_check(name, what, value, "value_at_least", *pass.value_at_least));
  if (pass.value_at_most) out.push_back(value_check(name, what, value, "value_at_most", *pass.value_at_most));
  return out;
}

json Check::to_json() const {
  json j = {{"name", name}, {"value", value}, {"basis", basis}, {"bound", bound}, {"pass", pass},
            {"explanation", explanation}};
  if (trials > 0) {
    j["successes"] = successes;
    j["trials"] = trials;
  }
  if (!rule.empty()) {
    j["rule"] = rule;
    j["threshold"] = threshold;
  }
  return j;
}

json Figure::to_json() const {
  json j = {{"type", type}, {"title", title}, {"values", values}};
  if (!x_title.empty()) j["x_title"] = x_title;
  if (!y_title.empty()) j["y_title"] = y_title;
  if (!x_labels.empty()) j["x_labels"] = x_labels;
  if (!y_labels.empty()) j["y_labels"] = y_labels;
  if (!series.empty()) j["series"] = series;
  if (!classes.empty()) j["classes"] = classes;
  if (!reference.empty()) j["reference"] = reference;
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

namespace {

// The examples of `b` whose class `where` is `value`, at most `limit` of them.
Batch filtered(const Batch& b, const std::string& where, int64_t value, int64_t limit) {
  at::Tensor keep = (b.classes.at(where) == value).nonzero().view({-1});
  return take_rows(b, keep.slice(0, 0, std::min(limit, keep.size(0))));
}

}  // namespace

void for_each_batch(const Task& task, const Domain& domain, Scale scale, const std::function<void(const Batch&)>& fn,
                    const std::function<bool()>& done) {
  const int64_t total = domain.exhaustive ? *task.domain_size : domain.sample;
  const auto stop = [&] { return done && done(); };
  if (domain.where.empty()) {
    for (int64_t start = 0; start < total; start += kVerifyBatch) {
      const int64_t count = std::min(kVerifyBatch, total - start);
      fn(domain.exhaustive ? task.domain_batch(start, count)
                           : task.sample(count, domain.seed + static_cast<uint64_t>(start), scale));
      if (stop()) return;
    }
    return;
  }
  int64_t found = 0, drawn = 0;
  for (int64_t i = 0; found < total && (domain.exhaustive ? drawn < total : i < 1000); ++i) {
    const int64_t count = domain.exhaustive ? std::min(kVerifyBatch, total - drawn) : kVerifyBatch;
    Batch b = domain.exhaustive ? task.domain_batch(drawn, count)
                                : task.sample(count, domain.seed + static_cast<uint64_t>(drawn), scale);
    drawn += count;
    Batch kept = filtered(b, domain.where, domain.where_value, domain.exhaustive ? count : total - found);
    found += kept.tokens.size(0);
    if (kept.tokens.size(0) == 0) continue;
    fn(kept);
    if (stop()) return;
  }
  check(found > 0 && (domain.exhaustive || found == total), "for_each_batch",
        "found " + std::to_string(found) + " examples with " + domain.where + " = " + std::to_string(domain.where_value) +
            " in " + std::to_string(drawn) + " drawn");
}

int64_t domain_examples(const Task& task, const Domain& domain) {
  if (!domain.exhaustive) return domain.sample;
  return domain.where.empty() ? *task.domain_size : -1;
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
