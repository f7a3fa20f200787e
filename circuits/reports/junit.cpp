#include "circuits/reports/junit.h"

#include "circuits/model/runtime.h"

#include <cstdio>

namespace circuitcheck {
namespace {

using std::string;

string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

string attribute(const string& name, const string& value) { return " " + name + "=\"" + escape_markup(value) + "\""; }

// "accuracy after = 50% (10000/20000), wilson_upper bound 50.69% vs drop_to_at_most 10%".
string describe_check(const Check& c) {
  string s = c.name + " = " + check_quantity(c, c.value);
  if (c.trials > 0) s += " (" + std::to_string(c.successes) + "/" + std::to_string(c.trials) + ")";
  if (c.basis != Basis::kExact && c.basis != Basis::kValue)
    s += ", " + std::string(to_string(c.basis)) + " bound " + check_quantity(c, c.bound);
  return s + " vs " + to_string(c.rule) + " " + check_quantity(c, c.threshold);
}

// What decided an outcome: its failing checks and dead interventions, or (when it passes) all its checks.
string decided_by(const Outcome& o) {
  string s;
  for (const auto& c : o.checks)
    if (c.rule != Rule::kNone && c.pass == o.pass) s += (s.empty() ? "" : "; ") + describe_check(c);
  for (const auto& l : o.liveness)
    if (!l.live()) s += (s.empty() ? "" : "; ") + string("not live: ") + l.describe();
  return s;
}

string failure_message(const ClaimResult& r, const std::optional<int64_t>& domain_size) {
  string what;
  if (r.verdict == Verdict::kError) {
    what = r.explanation;
  } else if (r.verdict == Verdict::kNotFalsifiable || r.verdict == Verdict::kInconclusive) {
    const auto add = [&](const string& text) { what += (what.empty() ? "" : "; ") + text; };
    for (const auto& c : r.controls) {
      if (c.pass) add("passes on control " + c.model + " too: " + decided_by(c));
      else if (!fails_with_certainty(c)) add("control " + c.model + " fails no check with certainty");
    }
    for (const auto& f : r.falsification)
      if (f.fails_on.empty()) add("no control fails " + f.check + " with certainty");
  } else {
    what = decided_by(r.checkpoint);
  }
  return what + "; domain " + describe_domain(r.claim.domain, domain_size);
}

}  // namespace

std::string junit_xml(const std::vector<SystemReport>& reports) {
  const Summary total = summarize(reports);
  double total_seconds = 0.0;
  string suites;
  for (const auto& report : reports) {
    const Summary s = summarize(report.results);
    total_seconds += report.run.wall_seconds;
    const Provenance& p = report.provenance;
    suites += "  <testsuite" + attribute("name", report_name(report)) + attribute("tests", std::to_string(s.claims)) +
              attribute("failures", std::to_string(s.failed)) + attribute("errors", std::to_string(s.errors)) +
              attribute("skipped", "0") + attribute("time", seconds(report.run.wall_seconds)) +
              attribute("timestamp", report.run.date) + ">\n    <properties>\n";
    std::vector<std::pair<string, string>> properties{{"claims_file", p.claims_file},
                                                {"claims_sha256", p.claims_sha256},
                                                {"checkpoint", p.checkpoint},
                                                {"checkpoint_sha256", p.checkpoint_sha256},
                                                {"device", p.device},
                                                {"threads", std::to_string(p.threads)},
                                                {"circuitcheck_version", circuitcheck_version()},
                                                {"circuitcheck_git_commit", circuitcheck_git_commit()},
                                                {"libtorch_version", torch_version()}};
    if (!p.task_file.empty()) properties.insert(properties.begin() + 2, {{"task_file", p.task_file}, {"task_sha256", p.task_sha256}});
    for (const auto& [name, value] : properties)
      suites += "      <property" + attribute("name", name) + attribute("value", value) + "/>\n";
    suites += "    </properties>\n";
    for (std::size_t i = 0; i < report.results.size(); ++i) {
      const ClaimResult& r = report.results[i];
      suites += "    <testcase" + attribute("classname", report_name(report)) + attribute("name", r.claim.id) +
                attribute("time", seconds(i < report.run.claim_seconds.size() ? report.run.claim_seconds[i] : 0.0));
      const string family =
          r.family ? "      <system-out>" + escape_markup(family_text(*r.family)) + "</system-out>\n" : "";
      if (r.verdict == Verdict::kPass) {
        suites += family.empty() ? "/>\n" : ">\n" + family + "    </testcase>\n";
        continue;
      }
      const string element = r.verdict == Verdict::kError ? "error" : "failure";
      suites += ">\n      <" + element + attribute("type", to_string(r.verdict)) +
                attribute("message", failure_message(r, report.domain_size)) + ">" + escape_markup(r.explanation) +
                "</" + element + ">\n" + family + "    </testcase>\n";
    }
    suites += "  </testsuite>\n";
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites" + attribute("name", "circuitcheck") +
         attribute("tests", std::to_string(total.claims)) + attribute("failures", std::to_string(total.failed)) +
         attribute("errors", std::to_string(total.errors)) + attribute("time", seconds(total_seconds)) + ">\n" +
         suites + "</testsuites>\n";
}

}  // namespace circuitcheck
