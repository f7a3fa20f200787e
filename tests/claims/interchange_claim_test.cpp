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

json spec_file(const std::string& spec, const std::string& counterfactual, const json& sites, const std::string& by_class,
               const json& domain) {
  return {{"schema", "circuitcheck.claims/1"},
          {"task", testing_util::source_dir() + "/examples/" + spec},
          {"checkpoint", "x"},
          {"claims", {{{"id", "iia"},
                       {"hypothesis", "h"},
                       {"kind", "interchange"},
                       {"counterfactual", counterfactual},
                       {"sites", sites},
                       {"by_class", by_class},
                       {"domain", domain},
                       {"pass", {{"rate_at_least", 0.95}}}}}}};
}

ClaimResult verify_file(const json& doc, Checkpoint& ck) {
  const ClaimFile file = parse_claim_file(doc, "ex/claims.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  ControlCache controls{&ck.model, {}};
  return verify_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, controls);
}

TEST(InterchangeClaim, TheHeadAtEqualsCarriesTheAnswerAndNoOtherSiteDoes) {
  Checkpoint ck = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt"));
  const auto verify = [&](const json& sites) { return verify_file(min_int_file(interchange(sites)), ck); };
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

// A task spec's counterfactual (tasks/task_spec.h): the source redraws
// fields and the answer is re-evaluated with the variable from the source.
// S2's idx passes through layer 0 from elt on; patched before elt it moves
// nothing (the rate stays at the unpatched one); on seed 5 elt alone is not
// enough, as its layer 0 also writes idx at the answer positions.
TEST(InterchangeClaim, TaskSpecVariablesLiveWhereTheMechanismPutsThem) {
  const auto s2 = [](const std::vector<int64_t>& positions) {
    return spec_file("task_specs/array_index.json", "new_idx",
                     json::array({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", positions}}}), "idx",
                     {{"sample", 1000}, {"seed", 13}});
  };
  Checkpoint shipped = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const ClaimResult from_elt = verify_file(s2({6, 7, 8, 9, 10}), shipped);
  EXPECT_EQ(from_elt.verdict, Verdict::kPass) << from_elt.explanation;
  EXPECT_EQ(on_control(testing_util::check_named(from_elt.controls.at(0), "interchange accuracy")), ControlCheck::kFails);
  const Check& unpatched = testing_util::check_named(from_elt.checkpoint, "without the intervention");
  EXPECT_GT(unpatched.value, 0.25);  // idx drawn again equal: about a third
  EXPECT_LT(unpatched.value, 0.42);
  // The pairs whose answer changes (idx drawn again differs) are the others,
  // and the mechanism moves every one of them (review of issue 21: IIA alone
  // counts the unchanged third too).
  const Check& interchange = testing_util::check_named(from_elt.checkpoint, "interchange accuracy");
  const Check& changes = testing_util::check_named(from_elt.checkpoint, "interchange accuracy where the answer changes");
  EXPECT_EQ(changes.trials + unpatched.successes, interchange.trials);
  EXPECT_EQ(changes.successes, changes.trials);
  const ClaimResult before_elt = verify_file(s2({1, 2, 3, 4, 5}), shipped);
  EXPECT_EQ(before_elt.verdict, Verdict::kFail);
  EXPECT_NEAR(testing_util::check_named(before_elt.checkpoint, "interchange accuracy").value,
              testing_util::check_named(before_elt.checkpoint, "without the intervention").value, 0.01);
  EXPECT_LT(testing_util::check_named(before_elt.checkpoint, "interchange accuracy where the answer changes").value, 0.01);
  Checkpoint seed5 = load_checkpoint(testing_util::source_dir() + "/checkpoints/seeds/array_index_seed5.safetensors");
  const ClaimResult elt_alone = verify_file(s2({6}), seed5);
  EXPECT_EQ(elt_alone.verdict, Verdict::kFail) << elt_alone.explanation;
  EXPECT_EQ(verify_file(s2({6, 7, 8, 9, 10}), seed5).verdict, Verdict::kPass);

  // min_int's spec: m = min(a, b) lives in the head's output at '=', not at a.
  Checkpoint min_int = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt"));
  const auto m = [](const json& site) {
    return spec_file("min_int/min_int_task.json", "new_min", json::array({site}), "order", {{"sample", 2000}, {"seed", 1}});
  };
  EXPECT_EQ(verify_file(m({{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"role", "eq"}}), min_int).verdict, Verdict::kPass);
  EXPECT_EQ(verify_file(m({{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"role", "a"}}), min_int).verdict, Verdict::kFail);
}

// With "bound": "betting" the run stops once the interchange accuracy's test
// decides, where the mechanism is (pass) and where it is not (certain fail),
// after the first slice (128) of the 5,000 pairs; the same claim on Wilson's bound
// runs them all and reaches the same verdicts.
TEST(InterchangeClaim, ABettingBoundStopsOnceTheVerdictIsDecided) {
  Checkpoint shipped = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  for (const bool present : {true, false}) {
    SCOPED_TRACE(present ? "from elt on" : "before elt");
    json doc = spec_file("task_specs/array_index.json", "new_idx",
                         json::array({{{"hook", "blocks.0.attn.hook_z"},
                                       {"heads", {0}},
                                       {"positions", present ? std::vector<int64_t>{6, 7, 8, 9, 10}
                                                             : std::vector<int64_t>{1, 2, 3, 4, 5}}}}),
                         "idx", {{"sample", 5000}, {"seed", 13}});
    const ClaimResult wilson = verify_file(doc, shipped);
    doc["claims"][0]["pass"]["bound"] = "betting";
    const ClaimResult betting = verify_file(doc, shipped);
    EXPECT_EQ(betting.verdict, wilson.verdict) << betting.explanation;
    EXPECT_EQ(betting.verdict, present ? Verdict::kPass : Verdict::kFail);
    const Check& iia = testing_util::check_named(betting.checkpoint, "interchange accuracy");
    EXPECT_EQ(iia.basis, Basis::kBettingLower);
    EXPECT_EQ(iia.trials, kFirstRows);  // every example is a pair
    EXPECT_EQ(testing_util::check_named(wilson.checkpoint, "interchange accuracy").trials, 5000);
    EXPECT_EQ(betting.checkpoint.stopped, "stopped after 128 of 5000 examples: the betting test of the "
                                          "interchange accuracy had decided it (128 pairs)");
    if (!present) EXPECT_EQ(on_control(iia), ControlCheck::kFails);
  }
}

// S3's reparent_goal (tree_path.h): layer 0's attention output at `>goal`
// holds parent(goal); before layer 0, after layer 1, or at the parent's own
// token after layer 0, the same patch moves nothing; the parent's token
// embedding moves the path (the model follows a reparented tree). 999 of
// the 1,000 trees (seed 13) have another valid parent; the one without is
// no pair.
TEST(InterchangeClaim, TheGoalsParentIsLayerZerosOutputAtTheChild) {
  Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/tree_path.safetensors");
  const auto at = [&](const std::string& hook, const std::string& role = "goal_edge_child") {
    json claim = {{"id", "iia"},
                  {"hypothesis", "h"},
                  {"kind", "interchange"},
                  {"counterfactual", "reparent_goal"},
                  {"sites", json::array({{{"hook", hook}, {"role", role}}})},
                  {"domain", {{"sample", 1000}, {"seed", 13}}},
                  {"pass", {{"rate_at_least", 0.85}}}};
    return verify_file(testing_util::system_claim_file("tree_path", json::array({claim})), ck);
  };
  const ClaimResult layer0 = at("blocks.0.hook_attn_out");
  EXPECT_EQ(layer0.verdict, Verdict::kPass) << layer0.explanation;
  const Check& iia = testing_util::check_named(layer0.checkpoint, "interchange accuracy");
  EXPECT_EQ(iia.trials, 999);
  EXPECT_LT(testing_util::check_named(layer0.checkpoint, "without the intervention").value, 0.01);
  for (const auto& [hook, role] : std::vector<std::pair<std::string, std::string>>{
           {"blocks.0.hook_resid_pre", "goal_edge_child"},
           {"blocks.1.hook_resid_post", "goal_edge_child"},
           {"blocks.0.hook_resid_post", "goal_edge_parent"}}) {
    const ClaimResult elsewhere = at(hook, role);
    EXPECT_EQ(elsewhere.verdict, Verdict::kFail) << hook;
    EXPECT_LT(testing_util::check_named(elsewhere.checkpoint, "interchange accuracy").value, 0.01) << hook;
  }
  EXPECT_GT(testing_util::check_named(at("hook_embed", "goal_edge_parent").checkpoint, "interchange accuracy").value, 0.98);
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
  // S2's built-in generator pairs no inputs with targets.
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
