// The placebo control (placebo.h): the claim's ablation on as many other
// components, drawn with a seed; and the verdict it changes: a head that is
// necessary but not alone in breaking the model is no longer a pass.
#include "circuits/claims/claim.h"
#include "circuits/claims/kinds/ablation_claim.h"
#include "circuits/claims/placebo.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "tests/claims/claim_test_util.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

// S5 (arithmetic): 3 layers of 4 heads, d_mlp 512.
Config arithmetic_config() {
  Config c;
  c.n_layers = 3;
  c.n_heads = 4;
  c.d_model = 128;
  c.d_head = 32;
  c.d_mlp = 512;
  c.n_ctx = 22;
  c.d_vocab = c.d_vocab_out = 15;
  c.act_fn = ActFn::kRelu;
  return c;
}

json ablation(const json& sites, const json& controls, const json& pass = {{"before_at_least", 0.99},
                                                                          {"drop_to_at_most", 0.3}}) {
  return {{"id", "needed"},       {"hypothesis", "h"}, {"kind", "ablation"}, {"method", "mean"},
          {"sites", sites},       {"controls", controls},
          {"reference", {{"sample", 512}, {"seed", 5}}}, {"domain", {{"sample", 500}, {"seed", 6}}}, {"pass", pass}};
}

json claim_file(const json& claim) {
  return {{"schema", "circuitcheck.claims/1"}, {"system", "arithmetic"}, {"checkpoint", "x"}, {"claims", {claim}}};
}

Claim parsed(const json& claim) {
  const ClaimFile file = parse_claim_file(claim_file(claim), "claims/a.json");
  return parse_claims(file, *claim_task(file), arithmetic_config()).at(0);
}

// A mean-ablation reference keeps the examples its claim's domain keeps (a
// claim about additions takes its mean over additions), unless it names its
// own filter; without a filter on the domain it keeps every example.
TEST(AblationReference, FollowsTheClaimsWhereUnlessItNamesItsOwn) {
  struct Case {
    const char* name;
    json domain_where, reference_where;
    std::string where;
    int64_t value;
  };
  const json sites = {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {3}}, {"positions", {17}}}};
  for (const Case& c : {Case{"no filter", nullptr, nullptr, "", 0},
                        Case{"the domain's", {{"operator", 0}}, nullptr, "operator", 0},
                        Case{"its own", {{"operator", 0}}, {{"operator", 1}}, "operator", 1}}) {
    SCOPED_TRACE(c.name);
    json claim = ablation(sites, {"random_init"}, {{"rate_at_least", 0.99}});
    if (!c.domain_where.is_null()) claim["domain"]["where"] = c.domain_where;
    if (!c.reference_where.is_null()) claim["reference"]["where"] = c.reference_where;
    const Domain& reference = spec_of<AblationSpec>(parsed(claim).spec).reference;
    EXPECT_EQ(reference.where, c.where);
    EXPECT_EQ(reference.where_value, c.value);
    EXPECT_EQ(reference.sample, 512);
  }
}

TEST(Placebo, OtherComponentsOfTheSameLayerDrawnWithTheSeed) {
  const json sites = {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {2}}, {"positions", {17}}},
                      {{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}},
                      {{"hook", "blocks.1.mlp.hook_post"}, {"neurons", {1, 2, 3}}},
                      {{"hook", "blocks.2.hook_mlp_out"}}};
  const Claim claim = parsed(ablation(sites, {"placebo"}));
  const std::vector<std::set<int64_t>> avoided = {{0, 2}, {0, 2}, {1, 2, 3}, {2}};
  std::set<std::string> draws;
  for (const std::string control : {"placebo", "placebo:0", "placebo:1", "placebo:7"}) {
    const std::vector<PlaceboRun> runs = placebo_runs(claim, control, arithmetic_config(), "test");
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].label, control);
    const auto& s = spec_of<AblationSpec>(runs[0].spec).sites;
    ASSERT_EQ(s.size(), 4u);
    EXPECT_EQ(s[0].positions, std::vector<int64_t>{17});  // positions are kept
    EXPECT_EQ(s[0].heads.size(), 1u);
    EXPECT_EQ(s[1].heads.size(), 1u);
    EXPECT_NE(s[0].heads, s[1].heads);  // no placebo head twice
    for (int64_t h : s[0].heads) EXPECT_FALSE(avoided[0].count(h)) << control;
    for (int64_t h : s[1].heads) EXPECT_FALSE(avoided[1].count(h)) << control;
    ASSERT_EQ(s[2].neurons.size(), 3u);
    for (int64_t n : s[2].neurons) EXPECT_FALSE(avoided[2].count(n)) << control;
    EXPECT_NE(s[3].hook.layer, 2);
    EXPECT_EQ(s[3].hook.type, HookType::kMlpOut);
    const PlaceboRun again = placebo_runs(claim, control, arithmetic_config(), "test").at(0);
    EXPECT_EQ(spec_of<AblationSpec>(again.spec).sites[2].neurons, s[2].neurons) << "the same seed, the same draw";
    draws.insert(std::to_string(s[0].heads[0]) + "/" + std::to_string(s[2].neurons[0]));
  }
  EXPECT_GE(draws.size(), 2u) << "seeds draw different placebos";
}

// placebo:all: every choice of other components, no two sites of a layer
// sharing one, each labelled by its sites; parsed once, with the claim.
TEST(Placebo, AllRunsEveryChoiceOfOtherComponents) {
  struct Case {
    json sites;
    std::vector<std::string> labels;
  };
  const std::vector<Case> cases = {
      {{{{"hook", "blocks.0.attn.hook_z"}, {"heads", {2}}, {"positions", {17}}}},
       {"placebo:all/blocks.0.attn.hook_z:0", "placebo:all/blocks.0.attn.hook_z:1",
        "placebo:all/blocks.0.attn.hook_z:3"}},
      {{{{"hook", "blocks.0.attn.hook_z"}, {"heads", {2}}}, {{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}},
       {"placebo:all/blocks.0.attn.hook_z:3+blocks.0.attn.hook_z:1",
        "placebo:all/blocks.0.attn.hook_z:1+blocks.0.attn.hook_z:3"}},
      {{{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0, 1}}}},
       {"placebo:all/blocks.0.attn.hook_z:2,3"}},
      {{{{"hook", "blocks.1.hook_mlp_out"}}}, {"placebo:all/blocks.0.hook_mlp_out", "placebo:all/blocks.2.hook_mlp_out"}},
      // No other layer for a hook outside the blocks: its positions move.
      {{{{"hook", "hook_embed"}, {"positions", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}},
       {"placebo:all/hook_embed@11,12,13,14,15,16,17,18,19,20,21"}},
  };
  for (const Case& c : cases) {
    const Claim claim = parsed(ablation(c.sites, {"random_init", "placebo:all"}));
    std::vector<std::string> labels;
    for (const PlaceboRun& run : claim.placebos) {
      EXPECT_EQ(run.control, "placebo:all");
      labels.push_back(run.label);
    }
    EXPECT_EQ(labels, c.labels) << c.sites;
  }
}

struct PlaceboError {
  std::string name;
  json claim;
  std::string message;
};

void PrintTo(const PlaceboError& c, std::ostream* os) { *os << c.name; }

class PlaceboErrors : public ::testing::TestWithParam<PlaceboError> {};

TEST_P(PlaceboErrors, NameTheControl) {
  EXPECT_EQ(testing_util::claim_parse_error(claim_file(GetParam().claim), "claims/a.json", arithmetic_config()),
            GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PlaceboErrors,
    ::testing::Values(
        PlaceboError{"EveryHeadClaimed",
                     ablation({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0, 1, 2}}}}, {"placebo"}),
                     "claims/a.json: /claims/0/controls/0: control 'placebo': site 0 "
                     "(blocks.0.attn.hook_z): heads: 1 other components left, the placebo needs 3"},
        PlaceboError{"KeepOnly",
                     [] {
                       json c = ablation({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}}, {"placebo"},
                                         {{"rate_at_least", 0.9}});
                       c["keep_only"] = true;
                       return c;
                     }(),
                     "claims/a.json: /claims/0/controls/0: control 'placebo': an ablation takes a placebo with "
                     "drop_to_at_most only (a necessity ablation)"},
        PlaceboError{"KindWithoutPlacebos",
                     {{"id", "acc"}, {"hypothesis", "h"}, {"kind", "behaviour"},
                      {"domain", {{"sample", 500}, {"seed", 6}}}, {"pass", {{"rate_at_least", 0.9}}},
                      {"controls", {"placebo"}}},
                     "claims/a.json: /claims/0/controls/0: control 'placebo': kind 'behaviour' takes no placebo "
                     "(the kinds that do: ablation, fourier, item_patching, circuit)"},
        PlaceboError{"ControlTaskNotAProbe",
                     ablation({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}}, {"control_task"}),
                     "claims/a.json: /claims/0/controls/0: control 'control_task': kind 'ablation' takes no "
                     "control task (the kinds that do: probe)"},
        PlaceboError{"BadSeed", ablation({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}}, {"placebo:x"}),
                     "claims/a.json: /claims/0/controls/0: control 'placebo:x': expected placebo, "
                     "placebo:<seed> (a seed below 2^31) or placebo:all"},
        PlaceboError{"AllTooMany", ablation({{{"hook", "blocks.0.mlp.hook_post"}, {"neurons", {7}}}}, {"placebo:all"}),
                     "claims/a.json: /claims/0/controls/0: control 'placebo:all': more than 16 placebos; draw "
                     "some with placebo:<seed>"},
        PlaceboError{"ModelLevelHook", ablation({{{"hook", "hook_embed"}}}, {"random_init", "placebo:3"}),
                     "claims/a.json: /claims/0/controls/1: control 'placebo:3': site 0 (hook_embed): "
                     "a hook outside the blocks has no other layer (name positions to move those instead)"}),
    [](const auto& info) { return info.param.name; });

// On S5's checkpoint, at the position predicting A3: ablating L0H2 breaks
// additions and its placebo (L0H0) does not, so the claim passes with both
// its checks falsified. Without a placebo no control reaches `accuracy
// after` (random_init fails before ablation): "not_falsifiable". Ablating
// L0H0 breaks subtractions, but so does its placebo (L0H1): the old verdict
// "pass" becomes "not_falsifiable". Ablating L0H3 breaks additions (100 % ->
// about 69 %), but so does ablating L0H1 or L0H2, which placebo:all finds
// where one lucky draw (L0H0) does not.
TEST(Placebo, ChangesTheVerdictOnlyWhereTheEffectIsNotSpecific) {
  Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/arithmetic.safetensors");
  const auto verdict = [&](int64_t head, int64_t op, double drop, const json& controls) {
    json claim = ablation({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {head}}, {"positions", {17}}}}, controls,
                          {{"before_at_least", 0.99}, {"drop_to_at_most", drop}});
    claim["domain"]["where"] = {{"operator", op}};
    const ClaimFile file = parse_claim_file(claim_file(claim), "claims/a.json");
    const std::shared_ptr<const Task> task = claim_task(file);
    ControlCache controls_cache{&ck.model, {}};
    return verify_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, controls_cache);
  };
  const ClaimResult specific = verdict(2, 0, 0.3, {"placebo"});
  EXPECT_EQ(specific.verdict, Verdict::kPass) << specific.explanation;
  ASSERT_EQ(specific.falsification.size(), 2u);
  EXPECT_EQ(specific.falsification[1].fails_on, std::vector<std::string>{"placebo"});
  const ClaimResult without = verdict(2, 0, 0.3, json::array());
  EXPECT_EQ(without.verdict, Verdict::kNotFalsifiable) << without.explanation;
  EXPECT_NE(without.explanation.find("no control fails check 'accuracy after': the controls do not test it"),
            std::string::npos)
      << without.explanation;
  const ClaimResult shared = verdict(0, 1, 0.85, {"placebo"});
  EXPECT_EQ(shared.verdict, Verdict::kNotFalsifiable) << shared.explanation;
  EXPECT_NE(shared.explanation.find("but it also passes on control placebo"), std::string::npos) << shared.explanation;
  const ClaimResult lucky = verdict(3, 0, 0.85, {"placebo"});
  EXPECT_EQ(lucky.verdict, Verdict::kPass) << lucky.explanation;
  const ClaimResult all = verdict(3, 0, 0.85, {"placebo:all"});
  EXPECT_EQ(all.verdict, Verdict::kNotFalsifiable) << all.explanation;
  std::vector<std::string> passing;
  for (const Outcome& c : all.controls)
    if (c.pass) passing.push_back(c.model);
  EXPECT_EQ(passing, (std::vector<std::string>{"placebo:all/blocks.0.attn.hook_z:1",
                                                "placebo:all/blocks.0.attn.hook_z:2"}));
}

}  // namespace
}  // namespace circuitcheck
