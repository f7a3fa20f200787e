// The interchange kind (kinds/interchange_claim.h) on ckkissane's min_int
// model (examples/min_int): the head's output at `=` carries the answer, so
// patching it from the raise_min input gives that input's answer; the same
// patch at the first operand's position does not; random init does not.
#include "circuits/claims/claim.h"
#include "circuits/claims/kinds/interchange_claim.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/dataset.h"
#include "tests/claims/claim_test_util.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

namespace circuitcheck {
namespace {

using nlohmann::json;

json interchange(const json& sites) {
  return {{"id", "iia"},    {"hypothesis", "h"},          {"kind", "interchange"}, {"counterfactual", "raise_min"},
          {"sites", sites}, {"by_class", "order"},        {"domain", {{"all", true}}},
          {"pass", {{"rate_at_least", 0.9}}}};
}

json min_int_file(const json& claim) {
  return {{"schema", "circuitcheck.claims/1"},
          {"task", testing_util::source_dir() + "/examples/min_int/min_int.jsonl"},
          {"checkpoint", "x"},
          {"claims", json::array({claim})}};
}

TEST(InterchangeClaim, TheHeadAtEqualsCarriesTheAnswerAndNoOtherSiteDoes) {
  Checkpoint ck = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt"));
  const auto verify = [&](const json& sites) {
    const ClaimFile file = parse_claim_file(min_int_file(interchange(sites)), "ex/claims.json");
    const std::shared_ptr<const Task> task = claim_task(file);
    ControlCache controls{&ck.model, {}};
    return verify_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, controls);
  };
  const ClaimResult at_eq = verify({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"role", "eq"}}});
  EXPECT_EQ(at_eq.verdict, Verdict::kPass) << at_eq.explanation;
  const Check& iia = testing_util::check_named(at_eq.checkpoint, "interchange accuracy");
  EXPECT_EQ(iia.trials, 2000);
  EXPECT_GT(iia.value, 0.95) << at_eq.explanation;
  EXPECT_LT(testing_util::check_named(at_eq.checkpoint, "without the intervention").value, 0.05);  // raise_min changes every answer
  EXPECT_TRUE(testing_util::check_named(at_eq.checkpoint, "interchange accuracy order=a<b").trials > 0);
  ASSERT_EQ(at_eq.checkpoint.figures.size(), 1u);
  EXPECT_EQ(at_eq.checkpoint.figures[0].x_labels, (std::vector<std::string>{"a<b", "a>b", "a=b"}));
  EXPECT_TRUE(at_eq.checkpoint.liveness.at(0).live());
  ASSERT_EQ(at_eq.controls.size(), 1u);
  EXPECT_EQ(on_control(testing_util::check_named(at_eq.controls[0], "interchange accuracy")), ControlCheck::kFails);

  // The first operand's position: its output there never reaches `=`'s answer.
  const ClaimResult at_a = verify({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {0}}}});
  EXPECT_EQ(at_a.verdict, Verdict::kFail);
  EXPECT_EQ(on_control(testing_util::check_named(at_a.checkpoint, "interchange accuracy")), ControlCheck::kFails) << at_a.explanation;
}

TEST(InterchangeClaim, BadFieldsNameTheirPointer) {
  const Config config = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt")).model.config;
  struct Case {
    const char* name;
    json change;  // merged into a valid claim (merge_patch)
    std::string error;
  };
  const std::vector<Case> cases = {
      {"an unknown input", {{"counterfactual", "swap"}},
       "/claims/0/counterfactual: unknown counterfactual input 'swap' with targets (valid: raise_min)"},
      {"no sites", {{"sites", json::array()}}, "/claims/0/sites: expected a non-empty array"},
      {"an unknown role", {{"sites", {{{"hook", "blocks.0.attn.hook_z"}, {"role", "c"}}}}}, "/claims/0/sites/0/role"},
      {"an unknown class", {{"by_class", "parity"}}, "/claims/0/by_class"},
      {"a value rule", {{"pass", {{"rate_at_least", nullptr}, {"value_at_least", 0.9}}}}, "/claims/0/pass"},
  };
  const json site = {{"hook", "blocks.0.attn.hook_z"}, {"role", "eq"}};
  for (const Case& c : cases) {
    json claim = interchange(json::array({site}));
    claim.merge_patch(c.change);
    const std::string error = testing_util::claim_parse_error(min_int_file(claim), "ex/claims.json", config);
    EXPECT_NE(error.find("ex/claims.json: " + c.error), std::string::npos) << c.name << ": " << error;
  }
  // A built-in task pairs no inputs with targets.
  json builtin = interchange(json::array({site}));
  builtin["sites"] = {{{"hook", "blocks.0.attn.hook_z"}}};
  builtin.erase("by_class");
  builtin["domain"] = {{"sample", 100}, {"seed", 1}};
  const json s2 = testing_util::system_claim_file("array_index", json::array({builtin}));
  const Config s2_config =
      load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors").model.config;
  EXPECT_NE(testing_util::claim_parse_error(s2, "s2.json", s2_config)
                .find("s2.json: /claims/0/counterfactual: unknown counterfactual input 'raise_min' with targets "
                      "(valid: none: the task pairs no inputs with targets"),
            std::string::npos);
}

}  // namespace
}  // namespace circuitcheck
