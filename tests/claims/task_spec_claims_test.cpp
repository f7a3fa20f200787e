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
  for (json& claim : claims["claims"]) {  // checkpoint: controls resolve as the checkpoint does
    if (!claim.contains("controls")) continue;
    for (json& control : claim["controls"])
      if (control.get<std::string>().rfind("checkpoint:", 0) == 0)
        control = "checkpoint:" + root + "/" + control.get<std::string>().substr(11);
  }
  testing_util::write_file(dir + "/spec_claims.json", claims.dump(2));
  const json builtin = verify_report(root + "/claims/" + system + ".json", dir + "/builtin", system);
  const json spec = verify_report(dir + "/spec_claims.json", dir + "/spec", system);
  // Every shipped claim passes on the built-in task, fails on its first
  // control, shows its figures and finds its interventions live.
  for (const json& claim : builtin["claims"]) {
    EXPECT_EQ(claim["verdict"], "pass") << claim.dump(2);
    EXPECT_EQ(claim["controls"][0]["pass"], false) << claim["id"];
    if (claim["kind"] != "behaviour" && claim["kind"] != "property") EXPECT_FALSE(claim["figures"].empty()) << claim["id"];
    for (const json& site : claim.value("liveness", json::array())) EXPECT_EQ(site["live"], true) << claim["id"];
  }
  ASSERT_EQ(builtin["claims"].size(), spec["claims"].size());
  for (std::size_t i = 0; i < builtin["claims"].size(); ++i) {
    const json& a = builtin["claims"][i];
    const json& b = spec["claims"][i];
    for (const char* key : {"verdict", "checks", "values", "controls", "figures", "counterexamples", "domain"})
      EXPECT_EQ(a[key], b[key]) << a["id"] << " " << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Shipped, SpecMatchesBuiltin, ::testing::Values("modular_addition", "array_index"));

// A wrong property on the S2 spec fails and shrinks field by field to the
// same minimal counterexample as on the built-in task (claims/README.md).
TEST(SpecProperty, AWrongHypothesisShrinksAsOnTheBuiltinTask) {
  const std::string root = testing_util::source_dir();
  const std::string dir = testing_util::scratch_dir("SpecProperty");
  const json claim = {{"id", "b1_is_a1"},
                      {"hypothesis", "b1 is always a1 (wrong: idx == 1 writes elt there)"},
                      {"kind", "property"},
                      {"predicate", {{"copies", {{"query", "predict_b1"}, {"source", "a1"}}}}},
                      {"domain", {{"sample", 1000}, {"seed", 7}}},
                      {"pass", {{"for_all", true}}}};
  json file = {{"schema", "circuitcheck.claims/1"}, {"task", root + "/examples/task_specs/array_index.json"},
               {"checkpoint", root + "/checkpoints/array_index.safetensors"}, {"claims", {claim}}};
  testing_util::write_file(dir + "/spec.json", file.dump());
  file.erase("task");
  file["system"] = "array_index";
  testing_util::write_file(dir + "/builtin.json", file.dump());
  const auto run = [&](const std::string& name) {
    const auto r = testing_util::run_command(std::string(CIRCUITCHECK_CLI) + " verify " + dir + "/" + name +
                                             ".json --quiet --report-dir " + dir + "/" + name);
    EXPECT_EQ(r.exit_code, 1) << r.output;  // the claim fails
    const json report = json::parse(testing_util::read_file(dir + "/" + name + "/" +
                                                            "array_index.json"));
    return report["claims"][0];
  };
  const json spec = run("spec"), builtin = run("builtin");
  EXPECT_EQ(spec["verdict"], "fail");
  EXPECT_EQ(spec["counterexamples"], builtin["counterexamples"]);
  EXPECT_NE(spec["counterexamples"].dump().find("BOS 0 0 0 \\\\n 1 1 \\\\n 0 1 0"), std::string::npos)
      << spec["counterexamples"].dump();
}

}  // namespace
}  // namespace circuitcheck
