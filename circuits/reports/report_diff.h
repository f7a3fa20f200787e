// Comparing two JSON reports of one system (report.h): the gate for a
// retrained checkpoint. Claims are matched by id, metrics by claim id and
// check name (the checkpoint's checks' "value"s).
#pragma once

#include "circuits/claims/verify.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace circuitcheck {

// A claim whose verdict differs between the reports.
struct VerdictFlip {
  std::string id;
  Verdict before, after;
};

// A claim present in one report only.
struct ClaimPresence {
  std::string id;
  Verdict verdict;
};

// A check whose value moved by more than the tolerance, or that exists (or is
// a number) in one report only (nullopt on the other side; null values are NaN).
struct MetricMove {
  std::string id, check;
  std::optional<double> before, after;
};

struct ReportDiff {
  std::string system;
  double tolerance = 0.0;             // absolute, in the checks' units
  std::vector<VerdictFlip> flips;     // in the new report's claim order
  std::vector<ClaimPresence> added;   // in the new report only
  std::vector<ClaimPresence> removed; // in the old report only (verdict: the old one)
  std::vector<MetricMove> moves;

  // Regressions: flips away from "pass", and removed claims.
  std::vector<std::string> regressions() const;
};

// What diff reads of a report: its system and, per claim in report order,
// the id, the verdict and the checkpoint's checks' values (null as NaN).
struct ReportClaim {
  std::string id;
  Verdict verdict = Verdict::kError;
  std::vector<std::pair<std::string, double>> checks;  // name, value
};
struct ReportSummary {
  std::string system;
  std::vector<ReportClaim> claims;
};

// Reads a report: a JSON object with schema "circuitcheck.report/1", a
// string "system", and "claims", an array of objects each with a unique
// string "id", a "verdict" (verdict_at) and "checks", an array of objects
// with a string "name" and a number (or null) "value". Other fields are not
// read. Throws InputError "read_report: <path>: <JSON pointer>: <what>" (no
// pointer for an unreadable file or invalid JSON).
ReportSummary read_report(const std::string& path);

// Compares two reports (of the same system: the caller checks).
ReportDiff diff_reports(const ReportSummary& before, const ReportSummary& after, double tolerance);

// One line per change ("REGRESSION  accuracy: pass -> fail", "REMOVED ...",
// "ADDED ...", "CHANGED ...", "MOVED  claim / check: 0.99 -> 0.5 (-0.49)")
// after a summary line.
std::string diff_text(const ReportDiff& diff);

// The same as a Markdown heading, summary line and table (claim | change |
// before | after | note), for a pull-request comment; "|" in cells escaped.
std::string diff_markdown(const ReportDiff& diff);

}  // namespace circuitcheck
