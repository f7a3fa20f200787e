// CLI commands over claim files (claims/<system>.json, see claims/README.md):
// verify and list. Each returns the process exit code and throws InputError
// on bad input, before anything has run or been written.
#pragma once

namespace circuitcheck {

// circuitcheck verify CLAIMS.json... [--checkpoint F] [--config CFG]
//   [--threads N] [--seed N] [--only ID] [--report-dir D]
// Validates every claim file (its checkpoint loaded, every claim checked
// against the model and the task) before running any claim, then runs each
// claim on the checkpoint and its controls, printing one line per claim.
// --checkpoint replaces every file's checkpoint; --seed replaces the seed of
// every sampled domain; --only runs the claims with that id.
// With --report-dir, writes D/<system>.json atomically (temporary file, then
// rename): summary {passed, failed (fail or not_falsifiable), not_falsifiable,
// errors}, the checkpoint, and per claim ClaimResult::to_json().
// Returns 0 when every claim passes, 1 otherwise.
int verify_command(int argc, char** argv);

// circuitcheck list CLAIMS.json [--checkpoint F] [--config CFG]
// Validates the file like verify and prints "<system>/<id>  <kind>  <hypothesis>" per claim.
int list_command(int argc, char** argv);

}  // namespace circuitcheck
