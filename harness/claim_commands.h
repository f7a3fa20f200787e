// CLI commands over claim files (claims/<system>.json, see claims/README.md):
// verify and list. Each returns the process exit code and throws InputError
// on bad input, before anything has run or been written.
#pragma once

namespace circuitcheck {

// circuitcheck verify CLAIMS.json... [--checkpoint F]... [--checkpoints LIST|DIR]
//   [--config CFG] [--threads N] [--seed N] [--only ID] [--report-dir D]
//   [--junit FILE] [--device cpu|cuda] [--family-alpha A] [--verbose | --quiet]
//   [--shard I/N --shard-report FILE]
// Validates every claim file (its checkpoints loaded, every claim checked
// against each model and the task) and every output place before running any
// claim, then runs each claim on each checkpoint and its controls (on
// --device, default cpu), printing one line per claim (claim_line; --verbose:
// its whole explanation, --quiet: none) and a summary per report, with a
// progress line on stderr where it is a terminal. A claim that errs while
// running gets verdict "error"; the others still run.
// Checkpoints: without --checkpoint(s), each file's own. --checkpoint (which
// may repeat) and the lines of the LIST file (one path per line, relative to
// the list's folder; blank lines and "#" comments skipped) replace them: with
// one claim file it runs on each; with several, each checkpoint runs the
// files of the system its metadata names, and each file must get one. A file
// run on several checkpoints gets a report per checkpoint, named
// "<system>@<checkpoint stem>" (report_name), and a table of each claim's
// verdict per checkpoint (checkpoint_table.h), printed after the summaries.
// --checkpoints DIR takes the snapshots of a training run (snapshot.h) in
// step order; they get a timeline (timeline.h) instead of the table, and
// D/timeline.json. With several checkpoints, one model's weights are in
// memory at a time.
// --shard I/N runs only the units (checkpoint, claim) of shard I (shard.h)
// and writes them to the --shard-report FILE instead of any report.
// --seed replaces the seed of every sampled domain; --only runs the claims
// with that id; --family-alpha tests the run's deciding checks as one family
// (family.h).
// With --report-dir, writes per report D/<name>.json (report.h) and
// D/<name>.html, and D/index.html, D/junit.xml and, when a file ran on
// several checkpoints, D/checkpoints.json for the whole run; with --junit,
// the JUnit XML (junit.h) to FILE too. Every report is drawn before the first
// is written, each atomically (temporary file, then rename); a run that stops
// on bad input writes none.
// Returns 0 when every claim passes on every checkpoint (and at the family
// level, with --family-alpha), 1 otherwise.
int verify_command(int argc, char** argv);

// circuitcheck merge SHARD.json... [--report-dir D] [--junit FILE] [--quiet]
// Checks that the shard reports are all the shards of one verify run
// (check_shards), plans that run again from what they recorded (its claim
// files and checkpoints must be unchanged, and this build the one that made
// them), then prints and writes what that run would have: the same reports,
// identical apart from their timings and dates (each report's date is its
// earliest shard's, its wall time the sum of its claims' times). Returns
// as verify does.
int merge_command(int argc, char** argv);

// circuitcheck list CLAIMS.json [--checkpoint F] [--config CFG]
// Validates the file like verify and prints "<system>/<id>  <kind>  <hypothesis>" per claim.
int list_command(int argc, char** argv);

}  // namespace circuitcheck
