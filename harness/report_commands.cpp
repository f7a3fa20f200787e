#include "harness/report_commands.h"

#include "circuits/formats/error.h"
#include "circuits/reports/report_diff.h"
#include "harness/args.h"

#include <cmath>
#include <iostream>

namespace circuitcheck {

int diff_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "diff", {"--tolerance"}, {"--markdown"});
  expect_positionals(args, 2, 2, "circuitcheck diff OLD.json NEW.json [--tolerance X] [--markdown]");
  const std::string text = args.get_or("--tolerance", "0.01");
  std::size_t used = 0;
  double tolerance = -1.0;
  try {
    tolerance = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used == text.size() && !text.empty() && std::isfinite(tolerance) && tolerance >= 0.0, "--tolerance",
        "expected a number >= 0, got " + quote(text));
  const std::string& old_path = args.positional[0];
  const std::string& new_path = args.positional[1];
  const ReportSummary before = read_report(old_path), after = read_report(new_path);
  check(before.system == after.system, "diff: " + new_path + ": /system",
        "a report of " + after.system + ", but " + old_path + " is one of " + before.system);
  const ReportDiff diff = diff_reports(before, after, tolerance);
  std::cout << (args.has("--markdown") ? diff_markdown(diff) : diff_text(diff));
  return diff.regressions().empty() ? 0 : 1;
}

}  // namespace circuitcheck
