// CLI commands over reports (circuits/reports/report_diff.h): diff. Each returns the process
// exit code and throws InputError on bad input, before printing anything.
#pragma once

namespace circuitcheck {

// circuitcheck diff OLD.json NEW.json [--tolerance X] [--markdown]
// Compares two JSON reports of one system (report_diff.h): claims whose
// verdict flipped, claims added or removed, and checks whose value moved by
// more than X (absolute, default 0.01, X >= 0), printed as text lines or, with
// --markdown, as a table for a pull-request comment.
// Returns 1 on a regression (a claim that passed and no longer does, or a
// removed claim), else 0. InputError (exit 2) for an unreadable or invalid
// report, a wrong schema, or reports of two different systems.
int diff_command(int argc, char** argv);

}  // namespace circuitcheck
