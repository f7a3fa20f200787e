// The JSON report of a verify run: one document per claim file (one system),
// schema "circuitcheck.report/1", described by reports/report.schema.json.
//
//   { "schema": "circuitcheck.report/1", "system": "array_index",
//     "provenance": { "claims_file": {path, sha256},
//                     "checkpoint": {path, format, sha256, config_source, config,
//                                    step, train_loss, test_loss (snapshots only)},
//                     "circuitcheck": {version, git_commit}, "libtorch", "device", "threads" },
//     "summary": { claims, passed, failed, not_falsifiable, inconclusive, errors,
//                  "family": {alpha, method, tested, passed} with verify --family-alpha },
//     "claims": [ ClaimResult::to_json() with "domain" given its size "n" and
//                 "counterexamples" always present ],
//     "run": { date, wall_seconds, claim_seconds: {id: seconds} } }
//
// Everything that depends on when or how fast the run was (dates, timings)
// is in "run" and nowhere else: the same inputs, seed, device and threads give
// byte-identical documents once "run" is removed.
//
// The HTML (html_report.h) and JUnit (junit.h) reports are drawn from the same
// SystemReport; all of a run's reports are written with write_text_atomically.
#pragma once

#include "circuits/formats/text_file.h"
#include "circuits/claims/check.h"
#include "circuits/model/checkpoint.h"
#include "circuits/claims/claim.h"
#include "circuits/claims/verify.h"
#include "circuits/training/snapshot.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kReportSchema = "circuitcheck.report/1";

// Where a system's results come from: the claim file and checkpoint (paths as
// given, SHA-256 of their bytes) and what ran them. Versions are read from
// runtime.h when the report is drawn.
// Paths are as printable() (formats/error.h) gives them: a path that is not
// valid UTF-8 is escaped, so that the JSON report can hold it.
struct Provenance {
  std::string claims_file;
  std::string claims_sha256;
  std::string checkpoint;
  std::string checkpoint_format;  // Checkpoint::format
  std::string checkpoint_sha256;
  std::string config_source;      // Checkpoint::config_source
  nlohmann::json config;          // config_to_json of the checkpoint's model
  std::string device;             // "cpu", "cuda:0"
  int threads = 1;                // LibTorch intra-op threads
  std::string task_file;          // ClaimFile::task: the dataset or task spec; empty for a built-in system
  std::string task_sha256;        // of task_file
  std::optional<SnapshotInfo> snapshot;  // the checkpoint's training step and losses, for a snapshot (snapshot.h)
};

// Hashes the claim file and the task file it names, if any (InputError
// naming the file when it cannot be read), and copies the checkpoint's
// identity, config and snapshot fields (InputError naming the checkpoint and
// the metadata key when they are malformed: snapshot_info).
Provenance provenance_of(const ClaimFile& file, const Checkpoint& checkpoint, const at::Device& device, int threads);

// When and how long: the report's "run" block.
struct RunTimes {
  std::string date;                   // start of the system's run, UTC, ISO 8601 ("2025-01-31T12:00:00Z")
  double wall_seconds = 0.0;          // the system's whole run
  std::vector<double> claim_seconds;  // per claim, in the order of SystemReport::results
};

// Now, UTC, ISO 8601 to the second.
std::string utc_now();

// One claim file's results.
struct SystemReport {
  std::string system;                  // the task's name
  std::string checkpoint_label;        // empty, or the checkpoint's file stem when the run verifies
                                       // this claim file on several checkpoints (report_name)
  std::optional<int64_t> domain_size;  // the task's finite domain (examples), the "n" of exhaustive domains
  Provenance provenance;
  std::vector<ClaimResult> results;
  RunTimes run;
};

// The report's name, the stem of its files (D/<name>.json, .html) and its
// JUnit suite: the system, or "<system>@<checkpoint_label>".
std::string report_name(const SystemReport& report);

// Verdict counts; `failed` counts "fail", "not_falsifiable" and "inconclusive".
// With a family test (claims/family.h): its level, the run's tested checks
// and the claims that pass at the family level.
struct Summary {
  int claims = 0, passed = 0, failed = 0, not_falsifiable = 0, inconclusive = 0, errors = 0;
  std::optional<double> family_alpha;
  int64_t family_tested = 0;
  int family_passed = 0;
};

// "; at family alpha 0.05 (Holm over 120 checks): 31 passed", or "" without a family test.
std::string family_text(const Summary& summary);

// One claim at the family level: "at family alpha 0.05 (Holm over 37
// checks): passes; accuracy p 0.0005 <= 0.00135 rejected; ...".
std::string family_text(const FamilyOutcome& family);

Summary summarize(const std::vector<ClaimResult>& results);
// Summed over the systems of a run.
Summary summarize(const std::vector<SystemReport>& reports);

// Drops from `report` what only its own pages (report_json, html_report)
// show, keeping what a run's index (html_index), JUnit (junit_xml),
// timeline (timelines) and checkpoint table (checkpoint_tables) read, so
// that they come out the same: the system, label, domain size, times and
// provenance without the config; per result, the claim's id, kind, scope
// and domain, the verdict and family outcome, and of the checkpoint and each
// control only the thresholded checks (without their explanations) and the
// interventions that were not live; the result's explanation unless it
// passes, and controls and falsification only where JUnit names them
// (verdict not_falsifiable or inconclusive). verify --checkpoints keeps only this of a
// checkpoint once its pages are written, so that what it holds per
// checkpoint is a few kilobytes.
void drop_page_details(SystemReport& report);

// Writes `report`'s results, as drop_page_details leaves them, to `path` as a
// JSON array of result records (claims/result_record.h) and frees them, so
// that verify --checkpoints holds nothing of a finished checkpoint's results
// while the later ones run. restore_results reads them back, for `claims`
// (the report's claims, in order), as they were. InputError naming `path`
// when it cannot be written or read.
void spill_results(SystemReport& report, const std::string& path);
void restore_results(SystemReport& report, const std::vector<Claim>& claims, const std::string& path);

// A check's value, bound or threshold as text: percent() for rates, number() for values.
std::string check_quantity(const Check& check, double x);

// "exhaustive, n = 12769", "sampled, n = 20000, seed 6" or "every row of the dataset, n = 5000".
std::string describe_domain(const Domain& domain, const std::optional<int64_t>& domain_size);

// "3.2 s": a time in seconds to one decimal, for the terminal and the HTML.
std::string seconds_text(double seconds);

// A verdict in capitals for the terminal: "PASS", "NOT_FALSIFIABLE".
std::string verdict_label(Verdict verdict);

// One line of a terminal, at most about 120 characters: the verdict, the
// system/id, the headline check (headline_check) as its compared number
// against its threshold, or the start of an error's message, and the time.
//   "PASS  array_index/accuracy   accuracy idx=0 99.959% >= 99.9%   2.9 s"
std::string claim_line(const std::string& system, const ClaimResult& result, double seconds);

// The report document (layout above).
nlohmann::json report_json(const SystemReport& report);

// `text` safe inside HTML/XML text and quoted attributes: & < > " ' as
// entities; control characters XML 1.0 forbids (below 0x20 except tab, LF, CR)
// become U+FFFD.
std::string escape_markup(const std::string& text);

}  // namespace circuitcheck
