#include "circuits/reports/report_diff.h"

#include "circuits/claims/check.h"
#include "circuits/claims/claim_fields.h"
#include "circuits/formats/text_file.h"
#include "circuits/reports/report.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

std::string signed_number(double x) { return (x > 0 ? "+" : "") + number(x); }

std::string side(const std::optional<double>& v) { return v ? number(*v) : "absent"; }

std::string delta(const MetricMove& m) {
  return m.before && m.after && std::isfinite(*m.before) && std::isfinite(*m.after) ? signed_number(*m.after - *m.before)
                                                                                   : "";
}

std::string summary(const ReportDiff& d) {
  const auto count = [](std::size_t n, const std::string& noun) { return plural(static_cast<int64_t>(n), noun); };
  return count(d.regressions().size(), "regression") + ", " + count(d.flips.size(), "verdict") + " changed, " +
         count(d.moves.size(), "metric") + " moved by more than " + number(d.tolerance) + ", " +
         std::to_string(d.added.size()) + " added, " + std::to_string(d.removed.size()) + " removed";
}

// A Markdown table cell: "|" escaped, line breaks as spaces.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

}  // namespace

std::vector<std::string> ReportDiff::regressions() const {
  std::vector<std::string> out;
  for (const auto& f : flips)
    if (f.before == Verdict::kPass) out.push_back(f.id + ": pass -> " + to_string(f.after));
  for (const auto& r : removed) out.push_back(r.id + ": removed (was " + to_string(r.verdict) + ")");
  return out;
}

ReportSummary read_report(const std::string& path) {
  const At at{"read_report: " + path, ""};
  if (!std::filesystem::is_regular_file(path_status(path, at.file)))
    at.fail("cannot read the file (missing, or not a regular file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) at.fail("cannot open the file");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    at.fail(std::string("invalid JSON: ") + e.what());
  }
  object_at(doc, at);
  const std::string schema = string_at(field_at(doc, at, "schema"), at / "schema");
  if (schema != kReportSchema) (at / "schema").fail("unknown schema " + quote(schema) + " (expected " + kReportSchema + ")");
  ReportSummary report;
  report.system = string_at(field_at(doc, at, "system"), at / "system");
  const json& claims = list_at(field_at(doc, at, "claims"), at / "claims");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const At claim_at = at / "claims" / i;
    const json& claim = object_at(claims[i], claim_at);
    ReportClaim& c = report.claims.emplace_back();
    c.id = string_at(field_at(claim, claim_at, "id"), claim_at / "id");
    if (!ids.insert(c.id).second) (claim_at / "id").fail("duplicate id " + quote(c.id));
    c.verdict = verdict_at(field_at(claim, claim_at, "verdict"), claim_at / "verdict");
    const json& checks = list_at(field_at(claim, claim_at, "checks"), claim_at / "checks");
    for (std::size_t k = 0; k < checks.size(); ++k) {
      const At check_at = claim_at / "checks" / k;
      const json& check = object_at(checks[k], check_at);
      const std::string name = string_at(field_at(check, check_at, "name"), check_at / "name");
      const json& value = field_at(check, check_at, "value");
      c.checks.emplace_back(name, value.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                  : number_at(value, check_at / "value"));
    }
  }
  return report;
}

ReportDiff diff_reports(const ReportSummary& before, const ReportSummary& after, double tolerance) {
  ReportDiff d;
  d.system = after.system;
  d.tolerance = tolerance;
  std::map<std::string, const ReportClaim*> old_claims, new_claims;
  for (const auto& c : before.claims) old_claims[c.id] = &c;
  for (const auto& c : after.claims) new_claims[c.id] = &c;
  for (const auto& c : before.claims)
    if (!new_claims.count(c.id)) d.removed.push_back({c.id, c.verdict});
  for (const auto& now : after.claims) {
    auto it = old_claims.find(now.id);
    if (it == old_claims.end()) {
      d.added.push_back({now.id, now.verdict});
      continue;
    }
    const ReportClaim& then = *it->second;
    if (then.verdict != now.verdict) d.flips.push_back({now.id, then.verdict, now.verdict});
    const std::map<std::string, double> old_values(then.checks.begin(), then.checks.end());
    std::set<std::string> seen;
    for (const auto& [name, value] : now.checks) {
      seen.insert(name);
      auto old = old_values.find(name);
      if (old == old_values.end()) {
        d.moves.push_back({now.id, name, std::nullopt, value});
        continue;
      }
      const bool both_nan = std::isnan(old->second) && std::isnan(value);
      if (!both_nan && !(std::abs(value - old->second) <= tolerance)) d.moves.push_back({now.id, name, old->second, value});
    }
    for (const auto& [name, value] : then.checks)
      if (!seen.count(name)) d.moves.push_back({now.id, name, value, std::nullopt});
  }
  return d;
}

std::string diff_text(const ReportDiff& d) {
  std::string s = d.system + ": " + summary(d) + "\n";
  for (const auto& f : d.flips)
    s += std::string(f.before == Verdict::kPass ? "REGRESSION  " : "CHANGED     ") + f.id + ": " + to_string(f.before) +
         " -> " + to_string(f.after) + "\n";
  for (const auto& r : d.removed) s += "REMOVED     " + r.id + " (was " + to_string(r.verdict) + "): regression\n";
  for (const auto& a : d.added) s += "ADDED       " + a.id + " (" + to_string(a.verdict) + ")\n";
  for (const auto& m : d.moves) {
    const std::string change = delta(m);
    s += "MOVED       " + m.id + " / " + m.check + ": " + side(m.before) + " -> " + side(m.after) +
         (change.empty() ? "" : " (" + change + ")") + "\n";
  }
  return s;
}

std::string diff_markdown(const ReportDiff& d) {
  std::string s = "### circuitcheck diff: " + cell(d.system) + "\n\n" +
                  (d.regressions().empty() ? "No regression: " : "**Regression**: ") + summary(d) + ".\n";
  if (d.flips.empty() && d.added.empty() && d.removed.empty() && d.moves.empty()) return s;
  s += "\n| claim | change | before | after | note |\n|---|---|---|---|---|\n";
  for (const auto& f : d.flips)
    s += "| `" + cell(f.id) + "` | verdict | " + to_string(f.before) + " | " + to_string(f.after) + " | " +
         (f.before == Verdict::kPass ? "**regression**" : "") + " |\n";
  for (const auto& r : d.removed)
    s += "| `" + cell(r.id) + "` | removed | " + to_string(r.verdict) + " | | **regression** |\n";
  for (const auto& a : d.added) s += "| `" + cell(a.id) + "` | added | | " + to_string(a.verdict) + " | |\n";
  for (const auto& m : d.moves)
    s += "| `" + cell(m.id) + "` | " + cell(m.check) + " | " + side(m.before) + " | " + side(m.after) + " | " +
         delta(m) + " |\n";
  return s;
}

}  // namespace circuitcheck
