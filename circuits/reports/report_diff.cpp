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

const json& member(const json& object, const std::string& key, const At& at) {
  if (!object.contains(key)) at.fail("missing field " + quote(key));
  return object[key];
}

const json& object_at(const json& v, const At& at) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
  return v;
}

const json& list_at(const json& v, const At& at) {
  if (!v.is_array()) at.fail(std::string("expected an array, got ") + type_name(v));
  return v;
}

double value_of(const json& check) {
  return check["value"].is_null() ? std::numeric_limits<double>::quiet_NaN() : check["value"].get<double>();
}

// The verdict of a claim of a report read by read_report.
Verdict verdict_of(const json& claim) { return verdict_at(claim["verdict"], At{"report", "/verdict"}); }

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

json read_report(const std::string& path) {
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
  const std::string schema = string_at(member(doc, "schema", at), at / "schema");
  if (schema != kReportSchema) (at / "schema").fail("unknown schema " + quote(schema) + " (expected " + kReportSchema + ")");
  string_at(member(doc, "system", at), at / "system");
  const json& claims = list_at(member(doc, "claims", at), at / "claims");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const At claim_at = at / "claims" / i;
    const json& claim = object_at(claims[i], claim_at);
    const std::string id = string_at(member(claim, "id", claim_at), claim_at / "id");
    if (!ids.insert(id).second) (claim_at / "id").fail("duplicate id " + quote(id));
    verdict_at(member(claim, "verdict", claim_at), claim_at / "verdict");
    const json& checks = list_at(member(claim, "checks", claim_at), claim_at / "checks");
    for (std::size_t k = 0; k < checks.size(); ++k) {
      const At check_at = claim_at / "checks" / k;
      const json& check = object_at(checks[k], check_at);
      string_at(member(check, "name", check_at), check_at / "name");
      const json& value = member(check, "value", check_at);
      if (!value.is_null()) number_at(value, check_at / "value");
    }
  }
  return doc;
}

ReportDiff diff_reports(const json& before, const json& after, double tolerance) {
  ReportDiff d;
  d.system = after["system"].get<std::string>();
  d.tolerance = tolerance;
  std::map<std::string, const json*> old_claims, new_claims;
  for (const auto& c : before["claims"]) old_claims[c["id"].get<std::string>()] = &c;
  for (const auto& c : after["claims"]) new_claims[c["id"].get<std::string>()] = &c;
  for (const auto& c : before["claims"])
    if (!new_claims.count(c["id"].get<std::string>())) d.removed.push_back({c["id"].get<std::string>(), verdict_of(c)});
  for (const auto& now : after["claims"]) {
    const std::string id = now["id"].get<std::string>();
    auto it = old_claims.find(id);
    if (it == old_claims.end()) {
      d.added.push_back({id, verdict_of(now)});
      continue;
    }
    const json& then = *it->second;
    if (verdict_of(then) != verdict_of(now)) d.flips.push_back({id, verdict_of(then), verdict_of(now)});
    std::map<std::string, double> old_values;
    for (const auto& c : then["checks"]) old_values[c["name"].get<std::string>()] = value_of(c);
    std::set<std::string> seen;
    for (const auto& c : now["checks"]) {
      const std::string name = c["name"].get<std::string>();
      seen.insert(name);
      const double value = value_of(c);
      auto old = old_values.find(name);
      if (old == old_values.end()) {
        d.moves.push_back({id, name, std::nullopt, value});
        continue;
      }
      const bool both_nan = std::isnan(old->second) && std::isnan(value);
      if (!both_nan && !(std::abs(value - old->second) <= tolerance)) d.moves.push_back({id, name, old->second, value});
    }
    for (const auto& c : then["checks"])
      if (!seen.count(c["name"].get<std::string>())) d.moves.push_back({id, c["name"].get<std::string>(), value_of(c), std::nullopt});
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
