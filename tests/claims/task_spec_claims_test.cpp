// S1 and S2 re-expressed as task specs (examples/task_specs/) give the same
// reports as the built-in tasks: every shipped claim of claims/<system>.json,
// run through `circuitcheck verify` on each, has the same verdict, checks,
// values, controls and figures.
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace circuitcheck {
namespace {

using nlohmann::json;

json verify_report(const std::string& claim_file, const std::string& dir, const std::string& system) {
  const auto r = testing_util::run_command(std::string(CIRCUITCHECK_CLI) + " verify " + claim_file + " --quiet --report-dir " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return json::parse(testing_util::read_file(dir + "/" + system + ".json"));
}

class SpecMatchesBuiltin : public ::testing::TestWithParam<std::string> {};

TEST_P(SpecMatchesBuiltin, SameVerdictsAndFigures) {
  const std::string system = GetParam();
  const std::string root = testing_util::source_dir();
  const std::string dir = testing_util::scratch_dir("SpecMatchesBuiltin_" + system);
  json claims = json::parse(testing_util::read_file(root + "/claims/" + system + ".json"));
  claims.erase("system");
  claims["task"] = root + "/examples/task_specs/" + system + ".json";
  claims["checkpoint"] = root + "/" + claims["checkpoint"].get<std::string>();
  testing_util::write_file(dir + "/spec_claims.json", claims.dump(2));
  const json builtin = verify_report(root + "/claims/" + system + ".json", dir + "/builtin", system);
  const json spec = verify_report(dir + "/spec_claims.json", dir + "/spec", system);
  ASSERT_EQ(builtin["claims"].size(), spec["claims"].size());
  for (std::size_t i = 0; i < builtin["claims"].size(); ++i) {
    const json& a = builtin["claims"][i];
    const json& b = spec["claims"][i];
    for (const char* key : {"verdict", "checks", "values", "controls", "figures", "counterexamples", "domain"})
      EXPECT_EQ(a[key], b[key]) << a["id"] << " " << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Shipped, SpecMatchesBuiltin, ::testing::Values("modular_addition", "array_index"));

}  // namespace
}  // namespace circuitcheck
