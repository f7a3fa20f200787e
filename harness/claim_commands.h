// CLI commands over claim files (claims/<system>.json, see claims/README.md):
// verify and list. Each returns the process exit code and throws InputError
// on bad input, before anything has run or been written.
#pragma once

namespace circuitcheck {

// circuitcheck verify CLAIMS.json... [--checkpoint F] [--config CFG]
//   [--threads N] [--seed N] [--only ID] [--report-dir D] [--junit FILE] [--device cpu|cuda]
//   [--verbose | --quiet]
// Validates every claim file (its checkpoint loaded, every claim checked
// against the model and the task) and every output place before running any
// claim, then runs each claim on the checkpoint and its controls (on
// --device, default cpu), printing one line per claim (claim_line; --verbose:
// its whole explanation, --quiet: none) and a summary per system, with a
// progress line on stderr where it is a terminal. A claim that errs while
// running gets verdict "error"; the others still run.
// --checkpoint replaces every file's checkpoint; --seed replaces the seed of
// every sampled domain; --only runs the claims with that id.
// With --report-dir, writes per system D/<system>.json (report.h) and
// D/<system>.html, and D/index.html and D/junit.xml for the whole run; with
// --junit, the JUnit XML (junit.h) to FILE too. Every report is drawn before
// the first is written, each atomically (temporary file, then rename); a run
// that stops on bad input writes none.
// Returns 0 when every claim passes, 1 otherwise.
int verify_command(int argc, char** argv);

// circuitcheck list CLAIMS.json [--checkpoint F] [--config CFG]
// Validates the file like verify and prints "<system>/<id>  <kind>  <hypothesis>" per claim.
int list_command(int argc, char** argv);

}  // namespace circuitcheck
