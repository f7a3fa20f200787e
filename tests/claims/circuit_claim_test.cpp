// The circuit kind (kinds/circuit_claim.h) and what it builds on: the
// complement of a circuit (ablate.h), its metric, its completeness subsets;
// and on the shipped S2 model, a circuit that is faithful, complete and
// minimal, and circuits that are not.
#include "circuits/claims/ablate.h"
#include "circuits/claims/claim.h"
#include "circuits/claims/controls.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "tests/claims/claim_test_util.h"
#include "tests/claims/previous_token.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

TEST(CircuitMetric, MatchesHandComputedValues) {
  // Two examples of three positions over a vocabulary of three; positions 1 and 2 scored.
  const at::Tensor logits = at::tensor(std::vector<float>{0.0, 0.0, 0.0, 1.0, 3.0, 0.0, 0.5, 0.0, 2.0,  //
                                        0.0, 0.0, 0.0, 4.0, 1.0, 0.0, 0.0, 3.0, 1.0},
                                       at::kFloat)
                                .reshape({2, 3, 3});
  const at::Tensor targets = at::tensor(std::vector<int64_t>{-1, 1, 2, -1, 0, 2}, at::kLong).reshape({2, 3});
  const at::Tensor diff = circuit_metric(CircuitMetric::kLogitDiff, logits, targets, 0);
  EXPECT_NEAR(diff[0].item<double>(), (3.0 - 1.0) + (2.0 - 0.5), 1e-6);
  EXPECT_NEAR(diff[1].item<double>(), (4.0 - 1.0) + (1.0 - 3.0), 1e-6);
  const at::Tensor right = circuit_metric(CircuitMetric::kAccuracy, logits, targets, 0);
  EXPECT_EQ(right[0].item<double>(), 1.0);
  EXPECT_EQ(right[1].item<double>(), 0.0);  // position 2 predicts 1, not 2
  const at::Tensor log_prob = circuit_metric(CircuitMetric::kTargetLogProb, logits, targets, 0);
  const double expected = std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(3.0) + 1.0)) +
                          std::log(std::exp(2.0) / (std::exp(0.5) + 1.0 + std::exp(2.0)));
  EXPECT_NEAR(log_prob[0].item<double>(), expected, 1e-5);
  // A run from position 1 covers the same scored positions.
  EXPECT_TRUE(at::allclose(circuit_metric(CircuitMetric::kLogitDiff, logits.slice(1, 1), targets, 1), diff));
}

TEST(CircuitSubsets, EveryOneWhenFewElseDistinctSeededDraws) {
  EXPECT_EQ(circuit_subsets(2, 5, 0), (std::vector<std::vector<int64_t>>{{0}, {1}, {0, 1}}));
  EXPECT_EQ(circuit_subsets(3, 7, 9).size(), 7u);
  const auto drawn = circuit_subsets(10, 6, 3);
  ASSERT_EQ(drawn.size(), 6u);
  EXPECT_EQ(std::set<std::vector<int64_t>>(drawn.begin(), drawn.end()).size(), 6u);
  for (const auto& s : drawn) {
    EXPECT_FALSE(s.empty());
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    for (int64_t i : s) EXPECT_TRUE(i >= 0 && i < 10);
  }
  EXPECT_EQ(circuit_subsets(10, 6, 3), drawn);
  EXPECT_NE(circuit_subsets(10, 6, 4), drawn);
}

Config small_config() {
  Config c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = 8;
  c.d_head = 4;
  c.d_mlp = 3;
  c.n_ctx = 4;
  c.d_vocab = c.d_vocab_out = 5;
  c.act_fn = ActFn::kRelu;
  return c;
}

TEST(Complement, AblatesEveryComponentAndPositionNotKept) {
  const Config config = small_config();
  const HookPoint z0{HookType::kZ, 0}, z1{HookType::kZ, 1}, mlp0{HookType::kMlpOut, 0}, mlp1{HookType::kMlpOut, 1},
      post0{HookType::kMlpPost, 0};
  struct Case {
    const char* name;
    std::vector<AblationSite> kept;
    std::set<int> neuron_layers;
    std::vector<std::string> expected;  // site_name of each site
  };
  const std::vector<Case> cases = {
      {"nothing kept: every head and MLP everywhere", {}, {},
       {"blocks.0.attn.hook_z", "blocks.0.hook_mlp_out", "blocks.1.attn.hook_z", "blocks.1.hook_mlp_out"}},
      {"one head kept", {{z0, {1}, {}, {}}}, {},
       {"blocks.0.attn.hook_z heads [0]", "blocks.0.hook_mlp_out", "blocks.1.attn.hook_z", "blocks.1.hook_mlp_out"}},
      {"a head kept at two positions loses the others",
       {{z1, {0}, {2, 3}, {}}, {mlp0, {}, {}, {}}, {mlp1, {}, {1}, {}}},
       {},
       {"blocks.0.attn.hook_z", "blocks.1.attn.hook_z heads [1]", "blocks.1.attn.hook_z heads [0] positions [0, 1]",
        "blocks.1.hook_mlp_out positions [0, 2, 3]"}},
      {"two sites of one head add up", {{z0, {0}, {0, 1}, {}}, {z0, {0}, {2}, {}}, {z0, {1}, {}, {}}}, {},
       {"blocks.0.attn.hook_z heads [0] positions [3]", "blocks.0.hook_mlp_out", "blocks.1.attn.hook_z",
        "blocks.1.hook_mlp_out"}},
      {"neurons in a layer kept by neurons", {{post0, {}, {}, {1}}}, {0},
       {"blocks.0.attn.hook_z", "blocks.0.mlp.hook_post neurons [0, 2]", "blocks.1.attn.hook_z",
        "blocks.1.hook_mlp_out"}},
      {"everything kept", {{z0, {}, {}, {}}, {z1, {}, {}, {}}, {mlp0, {}, {}, {}}, {mlp1, {}, {}, {}}}, {}, {}},
  };
  // Sequences of 3 positions (the model's n_ctx is 4): position 3 never appears.
  std::vector<std::string> short_names;
  for (const AblationSite& s : complement({{z0, {}, {0, 1}, {}}}, config, {}, 3, "test")) short_names.push_back(site_name(s));
  EXPECT_EQ(short_names, (std::vector<std::string>{"blocks.0.attn.hook_z positions [2]", "blocks.0.hook_mlp_out",
                                                   "blocks.1.attn.hook_z", "blocks.1.hook_mlp_out"}));
  for (const Case& c : cases) {
    std::vector<std::string> names;
    for (const AblationSite& s : complement(c.kept, config, c.neuron_layers, config.n_ctx, "test")) names.push_back(site_name(s));
    EXPECT_EQ(names, c.expected) << c.name;
  }
  EXPECT_THROW(complement({{{HookType::kResidPre, 0}, {}, {}, {}}}, config, {}, config.n_ctx, "test"), InputError);
  EXPECT_THROW(complement({{mlp0, {}, {}, {}}}, config, {0}, config.n_ctx, "test"), InputError);  // layer 0 is kept by neurons
}

// within_positions cuts what lies along the positions: a mean value and a
// per-position mask; a value or mask that broadcasts over the positions (an
// added [d_model] direction, a [batch, 1, 1] mask) is left whole (review:
// cutting them threw, or cut another dimension).
TEST(WithinPositions, CutsOnlyWhatLiesAlongThePositions) {
  Config config;
  config.n_layers = 2;
  config.d_model = 4;
  config.n_ctx = 6;
  const HookPoint out1{HookType::kMlpOut, 1};
  Intervention mean{out1, InterventionKind::kMean, at::zeros({3, 6, 4})};
  mean.mask = at::ones({2, 6, 1}, at::kBool);
  Intervention add{out1, InterventionKind::kAdd, at::ones({4})};
  add.mask = at::ones({2, 1, 1}, at::kBool);
  add.positions = {4};
  const std::vector<Intervention> cut = within_positions({mean, add}, config, 3, 5);  // the last layer from 3, up to 5
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0].value.sizes(), (std::vector<int64_t>{3, 2, 4}));
  EXPECT_EQ(cut[0].mask.sizes(), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(cut[1].value.sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(cut[1].mask.sizes(), (std::vector<int64_t>{2, 1, 1}));
  EXPECT_EQ(cut[1].positions, (std::vector<int64_t>{1}));
}

json circuit(const std::string& id, const json& nodes, const json& pass) {
  return {{"id", id},         {"hypothesis", "h"}, {"kind", "circuit"}, {"ablation", "mean"}, {"metric", "logit_diff"},
          {"nodes", nodes},   {"reference", {{"sample", 1024}, {"seed", 3}}},
          {"domain", {{"sample", 1000}, {"seed", 4}}}, {"pass", pass}};
}

json s2_file(const json& claims) { return testing_util::system_claim_file("array_index", claims); }

// Every claim of `document` run on the shipped checkpoint `name` (checkpoints/NAME.safetensors).
std::vector<Outcome> run_on_shipped(const json& document, const std::string& name) {
  const ClaimFile file = parse_claim_file(document, "claims/" + name + ".json");
  const std::shared_ptr<const Task> task = claim_task(file);
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/" + name + ".safetensors");
  std::vector<Outcome> out;
  for (const Claim& claim : parse_claims(file, *task, ck.model.config)) out.push_back(run_claim(*task, claim, ck.model, "checkpoint"));
  return out;
}

// A hook named twice (two sites on it) is read once: its mean is not doubled.
TEST(AblationValues, AHookNamedTwiceIsReadOnce) {
  const Task task = previous_token_task();
  const HookedTransformer model = previous_token_model(10.0f);
  const HookPoint z{HookType::kZ, 0};
  const Domain reference{false, 64, 1};
  const auto once = ablation_values(task, InterventionKind::kMean, {z}, reference, model, Scale::kCpu);
  const auto twice = ablation_values(task, InterventionKind::kMean, {z, z}, reference, model, Scale::kCpu);
  EXPECT_TRUE(at::equal(once.at(z), twice.at(z)));
  const auto rows = ablation_values(task, InterventionKind::kResample, {z, z}, reference, model, Scale::kCpu);
  EXPECT_EQ(rows.at(z).size(0), 64);
}

// Known answers on a planted circuit (previous_token.h) with a second head
// that writes nothing, on the exhaustive domain (exact values): the
// mechanism's head alone is the whole model (f = 1), the useless head alone
// reproduces nothing (f = 0), and in a circuit of both, minimality flags the
// useless one (contribution 0) and completeness finds nothing outside.
TEST(PlantedCircuit, TheMechanismsHeadIsFaithfulAndTheUselessHeadIsFlagged) {
  const Task task = previous_token_task();
  const HookedTransformer model = previous_token_model(10.0f, 1, 2);
  const auto outcome = [&](const json& heads) {
    json claim = circuit("planted", {{{"hook", "blocks.0.attn.hook_z"}, {"heads", heads}}},
                         {{"faithfulness_at_least", 0.9}, {"minimality_at_least", 0.01}, {"completeness_at_most", 0.1}});
    if (heads.size() == 2) claim["nodes"] = {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}},
                                             {{"hook", "blocks.0.attn.hook_z"}, {"heads", {1}}}};
    claim["domain"] = {{"exhaustive", true}};
    const json document = testing_util::system_claim_file("previous_token", json::array({claim}));
    return run_claim(task, parse_claims(parse_claim_file(document, "toy/claims.json"), task, model.config).at(0),
                     model, "checkpoint");
  };
  const Outcome mechanism = outcome({0});
  EXPECT_TRUE(mechanism.pass) << mechanism.explanation;
  EXPECT_NEAR(testing_util::check_named(mechanism, "faithfulness").value, 1.0, 1e-6);
  EXPECT_EQ(testing_util::check_named(mechanism, "faithfulness").basis, Basis::kValue);
  const Outcome useless = outcome({1});
  EXPECT_FALSE(useless.pass);
  EXPECT_NEAR(testing_util::check_named(useless, "faithfulness").value, 0.0, 1e-6) << useless.explanation;
  const Outcome both = outcome({0, 1});
  EXPECT_FALSE(both.pass);
  EXPECT_NEAR(testing_util::check_named(both, "faithfulness").value, 1.0, 1e-6);
  EXPECT_NEAR(testing_util::check_named(both, "contribution of node 0").value, 1.0, 1e-6);
  EXPECT_NEAR(testing_util::check_named(both, "contribution of node 1").value, 0.0, 1e-6);
  EXPECT_FALSE(testing_util::check_named(both, "contribution of node 1").pass);
  EXPECT_NEAR(testing_util::check_named(both, "completeness").value, 0.0, 1e-6);
}

// Nodes at positions in a one-layer model (which shares no prefix): the
// planted head at positions 1-2 and 3-5 is the whole model (f = 1), and the
// two nodes carry 2/5 and 3/5 of it, as every scored position carries the
// same share of the logit difference over the exhaustive domain.
TEST(PlantedCircuit, NodesAtPositionsOfAOneLayerModel) {
  const Task task = previous_token_task();
  const HookedTransformer model = previous_token_model(10.0f);
  const auto at = [](const json& positions) {
    return json{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", positions}};
  };
  json claim = circuit("planted", {at({1, 2}), at({3, 4, 5})}, {{"faithfulness_at_least", 0.9}, {"minimality_at_least", 0.01}});
  claim["ablation"] = "zero";
  claim.erase("reference");
  claim["domain"] = {{"exhaustive", true}};
  json late = claim;
  late["id"] = "late";
  late["nodes"] = {at({3, 4, 5})};
  const json document = testing_util::system_claim_file("previous_token", json::array({claim, late}));
  const std::vector<Claim> claims = parse_claims(parse_claim_file(document, "toy/claims.json"), task, model.config);
  const Outcome both = run_claim(task, claims.at(0), model, "checkpoint");
  EXPECT_TRUE(both.pass) << both.explanation;
  EXPECT_NEAR(testing_util::check_named(both, "faithfulness").value, 1.0, 1e-5);
  EXPECT_NEAR(testing_util::check_named(both, "contribution of node 0").value, 0.4, 1e-5);
  EXPECT_NEAR(testing_util::check_named(both, "contribution of node 1").value, 0.6, 1e-5);
  EXPECT_NEAR(testing_util::check_named(run_claim(task, claims.at(1), model, "checkpoint"), "faithfulness").value, 0.6, 1e-5);
}

// Completeness bounds the gap's absolute value even with one subset: the
// one-node circuit of layer 0 at BOS has f(C without S) = f(empty) = 0 and
// f(N without S) about 1, a signed gap of about -1, which must fail "at most
// 0.1" on its bootstrap upper bound of |gap|.
TEST(ShippedCircuit, OneSubsetsCompletenessBoundsTheAbsoluteGap) {
  json claim = circuit("bos", {{{"hook", "blocks.0.attn.hook_z"}, {"positions", {0}}}},
                       {{"faithfulness_at_least", 0.9}, {"completeness_at_most", 0.1}});
  claim["domain"] = {{"sample", 500}, {"seed", 4}};
  const Outcome bos = run_on_shipped(s2_file(json::array({claim})), "array_index").at(0);
  const Check& completeness = testing_util::check_named(bos, "completeness");
  EXPECT_GT(completeness.value, 0.9) << bos.explanation;
  EXPECT_EQ(completeness.basis, Basis::kBootstrapUpper);
  EXPECT_GT(completeness.bound, 0.9);
  EXPECT_FALSE(completeness.pass);
}

// score_at reads the metric at one role's positions only: S2's logit
// difference summed over its three answers is the sum of the three
// predict_b0..b2 claims' (whole model and empty circuit alike), and each of
// those is measured where only its answer is scored.
TEST(ShippedCircuit, ScoreAtReadsTheMetricAtItsRolesPositionsOnly) {
  const json nodes = {{{"hook", "blocks.0.attn.hook_z"}, {"positions", {1, 2, 3, 6, 7, 8, 9}}},
                      {{"hook", "blocks.1.attn.hook_z"}, {"positions", {7, 8, 9}}}};
  json claims = {circuit("all", nodes, {{"faithfulness_at_least", 0.9}})};
  for (int i = 0; i < 3; ++i) {
    json one = circuit("b" + std::to_string(i), nodes, {{"faithfulness_at_least", 0.9}});
    one["score_at"] = "predict_b" + std::to_string(i);
    claims.push_back(one);
  }
  const std::vector<Outcome> out = run_on_shipped(s2_file(claims), "array_index");
  for (const char* metric : {"metric whole model", "metric empty circuit", "metric circuit"}) {
    double sum = 0.0;
    for (int i = 1; i <= 3; ++i) sum += testing_util::check_named(out[i], metric).value;
    EXPECT_NEAR(testing_util::check_named(out[0], metric).value, sum, 1e-3) << metric;
  }
  for (int i = 1; i <= 3; ++i) {
    EXPECT_GT(testing_util::check_named(out[i], "metric whole model").value, 1.0) << i;
    EXPECT_TRUE(out[i].pass) << out[i].explanation;
  }
}

// S2's layer-1 head copies each answer's source; layer 0 writes, at the
// sources, at elt and at the answer positions, what it matches on. Those
// four nodes reproduce the whole model (f about 0.98-1.0, every node needed,
// nothing left outside). The head-level hypothesis (layer 0 at elt, layer 1
// at the answers) is not faithful (f about 0.6); a node that never changes
// (layer 0 at BOS, the same token in every example) contributes nothing; on
// seed 4, which also reads idx at its own position, the four nodes are neither
// faithful nor complete; at random init there is nothing to reproduce.
TEST(ShippedCircuit, FaithfulCompleteMinimalAndCircuitsThatAreNot) {
  const json l0_sources = {{"hook", "blocks.0.attn.hook_z"}, {"positions", {1, 2, 3}}};
  const json l0_elt = {{"hook", "blocks.0.attn.hook_z"}, {"positions", {6}}};
  const json l0_answers = {{"hook", "blocks.0.attn.hook_z"}, {"positions", {7, 8, 9}}};
  const json l1_answers = {{"hook", "blocks.1.attn.hook_z"}, {"positions", {7, 8, 9}}};
  const json l0_bos = {{"hook", "blocks.0.attn.hook_z"}, {"positions", {0}}};
  const json all = {{"faithfulness_at_least", 0.9}, {"completeness_at_most", 0.1}, {"minimality_at_least", 0.01}};
  const json document = s2_file({circuit("four_nodes", {l0_sources, l0_elt, l0_answers, l1_answers}, all),
                                 circuit("head_hypothesis", {l0_elt, l1_answers}, {{"faithfulness_at_least", 0.9}}),
                                 circuit("with_bos", {l0_sources, l0_elt, l0_answers, l1_answers, l0_bos}, all)});
  const ClaimFile file = parse_claim_file(document, "claims/s2.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  const Checkpoint shipped = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::vector<Claim> claims = parse_claims(file, *task, shipped.model.config);

  const Outcome four = run_claim(*task, claims[0], shipped.model, "checkpoint");
  EXPECT_TRUE(four.pass) << four.explanation;
  EXPECT_GT(testing_util::check_named(four, "faithfulness").value, 0.95);
  EXPECT_EQ(testing_util::check_named(four, "faithfulness").basis, Basis::kBootstrapLower);
  for (int v = 0; v < 4; ++v) EXPECT_TRUE(testing_util::check_named(four, "contribution of node " + std::to_string(v)).pass) << v;
  EXPECT_EQ(testing_util::check_named(four, "completeness").basis, Basis::kBootstrapUpper);
  EXPECT_LT(testing_util::check_named(four, "completeness").bound, 0.05);
  int64_t gaps = 0;  // 5 of the 15 subsets, each reported; the largest gap decides
  for (const Check& c : four.checks) gaps += c.name.rfind("completeness gap {", 0) == 0 && c.rule == Rule::kNone;
  EXPECT_EQ(gaps, 5);

  const Outcome hypothesis = run_claim(*task, claims[1], shipped.model, "checkpoint");
  EXPECT_FALSE(hypothesis.pass);
  EXPECT_LT(testing_util::check_named(hypothesis, "faithfulness").value, 0.7) << hypothesis.explanation;
  EXPECT_EQ(on_control(testing_util::check_named(hypothesis, "faithfulness")), ControlCheck::kFails);

  const Outcome bos = run_claim(*task, claims[2], shipped.model, "checkpoint");
  EXPECT_FALSE(bos.pass);
  EXPECT_TRUE(testing_util::check_named(bos, "faithfulness").pass);
  EXPECT_NEAR(testing_util::check_named(bos, "contribution of node 4").value, 0.0, 1e-6) << bos.explanation;
  EXPECT_FALSE(testing_util::check_named(bos, "contribution of node 4").pass);

  // MIB's counterfactual ablation: every other component takes its activation
  // on the same example with idx from another example. What the circuit must
  // hold is then what carries idx: layer 0 at idx and at elt, and layer 1 at
  // the answers, are faithful; layer 0 at a0..a2, whose output does not
  // depend on idx, contributes nothing (up to the rounding of runs of other
  // lengths: 3e-9 on an AMD EPYC, 0 on an Intel Xeon), so the four nodes are not minimal.
  const json l0_idx = {{"hook", "blocks.0.attn.hook_z"}, {"positions", {5}}};
  const auto counterfactual = [&](json claim) {
    claim["ablation"] = "counterfactual";
    claim["counterfactual"] = "idx";
    claim.erase("reference");
    const ClaimFile cf_file = parse_claim_file(s2_file(json::array({claim})), "claims/s2.json");
    return run_claim(*task, parse_claims(cf_file, *task, shipped.model.config).at(0), shipped.model, "checkpoint");
  };
  const Outcome idx_path =
      counterfactual(circuit("idx_path", {l0_idx, l0_elt, l1_answers}, {{"faithfulness_at_least", 0.9}}));
  EXPECT_TRUE(idx_path.pass) << idx_path.explanation;
  EXPECT_NE(idx_path.explanation.find("patched from the counterfactual (idx changed)"), std::string::npos);
  const Outcome four_cf = counterfactual(circuit("four_cf", {l0_sources, l0_elt, l0_answers, l1_answers}, all));
  EXPECT_FALSE(four_cf.pass);
  EXPECT_NEAR(testing_util::check_named(four_cf, "contribution of node 0").value, 0.0, 1e-6) << four_cf.explanation;

  const Checkpoint seed4 = load_checkpoint(testing_util::source_dir() + "/checkpoints/seeds/array_index_seed4.safetensors");
  const Outcome other = run_claim(*task, claims[0], seed4.model, "seed 4");
  EXPECT_FALSE(other.pass);
  EXPECT_EQ(on_control(testing_util::check_named(other, "faithfulness")), ControlCheck::kFails) << other.explanation;
  EXPECT_EQ(on_control(testing_util::check_named(other, "completeness")), ControlCheck::kFails) << other.explanation;

  ControlCache controls{&shipped.model, {}};
  const ClaimResult alone = verify_claim(*task, claims[0], shipped.model, controls);
  ASSERT_EQ(alone.controls.size(), 1u);
  const Check& random = testing_util::check_named(alone.controls[0], "faithfulness");
  EXPECT_FALSE(random.undefined.empty()) << alone.controls[0].explanation;
  EXPECT_EQ(on_control(random), ControlCheck::kFails);
  EXPECT_FALSE(alone.controls[0].stopped.empty());
  // Completeness (an "at most" rule) cannot fail where f is undefined: random
  // init alone does not test it; seed 4, whose circuit is larger, does.
  EXPECT_EQ(alone.verdict, Verdict::kNotFalsifiable) << alone.explanation;
  Claim with_seed4 = claims[0];
  with_seed4.controls.push_back("checkpoint:" + testing_util::source_dir() +
                                "/checkpoints/seeds/array_index_seed4.safetensors");
  const ClaimResult both = verify_claim(*task, with_seed4, shipped.model, controls);
  EXPECT_EQ(both.verdict, Verdict::kPass) << both.explanation;
}

// A control measures only the checks that decided the checkpoint: a claim
// that reports its nodes' contributions without thresholding them (S5's
// a3_circuit) does not run C without each node on its controls, one without
// a completeness threshold not its subsets either. What they do measure
// there, and their verdict, are those of the claim that thresholds every check.
TEST(ShippedCircuit, AControlMeasuresOnlyTheChecksThatDecidedTheCheckpoint) {
  const json nodes = {{{"hook", "blocks.0.attn.hook_z"}, {"positions", {1, 2, 3}}},
                      {{"hook", "blocks.0.attn.hook_z"}, {"positions", {6}}},
                      {{"hook", "blocks.0.attn.hook_z"}, {"positions", {7, 8, 9}}},
                      {{"hook", "blocks.1.attn.hook_z"}, {"positions", {7, 8, 9}}}};
  json every = circuit("every", nodes,
                       {{"faithfulness_at_least", 0.9}, {"completeness_at_most", 0.1}, {"minimality_at_least", 0.01}});
  json no_minimality = circuit("no_minimality", nodes, {{"faithfulness_at_least", 0.9}, {"completeness_at_most", 0.1}});
  json faithfulness_only = circuit("faithfulness_only", nodes, {{"faithfulness_at_least", 0.9}});
  const std::string seed4 = "checkpoint:" + testing_util::source_dir() + "/checkpoints/seeds/array_index_seed4.safetensors";
  every["controls"] = no_minimality["controls"] = faithfulness_only["controls"] = {seed4};
  const ClaimFile file = parse_claim_file(s2_file({every, no_minimality, faithfulness_only}), "claims/s2.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  const Checkpoint shipped = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::vector<Claim> claims = parse_claims(file, *task, shipped.model.config);
  ControlCache controls{&shipped.model, {}};
  const auto count = [](const Outcome& o, const std::string& prefix) {
    return std::count_if(o.checks.begin(), o.checks.end(),
                         [&](const Check& c) { return c.name.rfind(prefix, 0) == 0; });
  };
  struct Case {
    const char* stopped;    // what Outcome::stopped names on the control, "" for nothing
    int64_t contributions;  // on the control
    int64_t completeness;   // "completeness" checks on the control: the largest gap and each subset's
  };
  const std::vector<Case> cases = {{"", 4, 6}, {"minimality", 0, 6}, {"minimality and completeness", 0, 0}};
  std::vector<ClaimResult> results;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    results.push_back(verify_claim(*task, claims[i], shipped.model, controls));
    const ClaimResult& r = results.back();
    EXPECT_EQ(r.verdict, Verdict::kPass) << r.explanation;
    EXPECT_EQ(count(r.checkpoint, "contribution of node"), 4) << i;  // reported on the checkpoint
    const Outcome& on_seed4 = r.controls.at(1);
    EXPECT_EQ(count(on_seed4, "contribution of node"), cases[i].contributions) << i;
    EXPECT_EQ(count(on_seed4, "completeness"), cases[i].completeness) << i;
    if (*cases[i].stopped == '\0') EXPECT_TRUE(on_seed4.stopped.empty()) << on_seed4.stopped;
    else EXPECT_NE(on_seed4.stopped.find(std::string(": ") + cases[i].stopped), std::string::npos) << on_seed4.stopped;
    EXPECT_EQ(testing_util::check_named(on_seed4, "faithfulness").value,
              testing_util::check_named(results[0].controls.at(1), "faithfulness").value);
  }
  EXPECT_EQ(testing_util::check_named(results[1].controls.at(1), "completeness").value,
            testing_util::check_named(results[0].controls.at(1), "completeness").value);
}

// Without a gap between the whole model and the empty circuit every check is
// undefined, on a checkpoint as on a control, so the run stops after those
// two: at random init (as S1's snapshots before grokking) no variant is
// measured, and the claim fails saying why.
TEST(ShippedCircuit, ACheckpointWithoutAGapStopsAfterTheWholeModelAndTheEmptyCircuit) {
  const json nodes = {{{"hook", "blocks.0.attn.hook_z"}, {"positions", {6}}},
                      {{"hook", "blocks.1.attn.hook_z"}, {"positions", {7, 8, 9}}}};
  const json document = s2_file(json::array(
      {circuit("c", nodes, {{"faithfulness_at_least", 0.9}, {"completeness_at_most", 0.1}, {"minimality_at_least", 0.01}})}));
  const ClaimFile file = parse_claim_file(document, "claims/s2.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  const Checkpoint shipped = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const Claim claim = parse_claims(file, *task, shipped.model.config).at(0);
  const Outcome at_random = run_claim(*task, claim, control_model(shipped.model, "random_init"), "checkpoint");
  EXPECT_FALSE(at_random.pass);
  EXPECT_EQ(at_random.stopped.rfind("stopped after the whole model and the empty circuit: ", 0), 0u) << at_random.stopped;
  EXPECT_TRUE(std::none_of(at_random.checks.begin(), at_random.checks.end(),
                           [](const Check& c) { return c.name == "metric circuit"; }))
      << "no variant runs";
  for (const char* name : {"faithfulness", "completeness", "contribution of node 0", "contribution of node 1"})
    EXPECT_FALSE(testing_util::check_named(at_random, name).undefined.empty()) << name;
  // The trained model has the gap, and measures every variant.
  const Outcome trained = run_claim(*task, claim, shipped.model, "checkpoint");
  EXPECT_TRUE(trained.stopped.empty()) << trained.stopped;
  EXPECT_TRUE(testing_util::check_named(trained, "faithfulness").undefined.empty());
}

// Nodes at a role: each example's own positions. S2's roles sit at the same
// positions in every example, so a circuit at roles is the circuit at those
// positions, for f and every node's contribution; ablating role nodes
// (completeness' N \ S) matches too. Equal up to rounding: the nodes at
// fixed positions share a run of the positions before them (measure_circuits).
TEST(CircuitClaim, NodesAtRolesAreTheirExamplesPositions) {
  const auto at = [](int layer, const std::string& role) {
    return json{{"hook", "blocks." + std::to_string(layer) + ".attn.hook_z"}, {"role", role}};
  };
  const auto fixed = [](int layer, std::vector<int64_t> positions) {
    return json{{"hook", "blocks." + std::to_string(layer) + ".attn.hook_z"}, {"positions", positions}};
  };
  const json rules = {{"faithfulness_at_least", 0.9}, {"minimality_at_least", 0.01}, {"completeness_at_most", 0.5}};
  const json document =
      s2_file({circuit("roles", {at(0, "a1"), at(0, "a2"), at(0, "elt"), at(1, "predict_b1"), at(1, "predict_b2")}, rules),
               circuit("positions", {fixed(0, {2}), fixed(0, {3}), fixed(0, {6}), fixed(1, {8}), fixed(1, {9})}, rules)});
  const std::vector<Outcome> outcomes = run_on_shipped(document, "array_index");
  const Outcome& roles = outcomes[0];
  const Outcome& positions = outcomes[1];
  ASSERT_EQ(roles.checks.size(), positions.checks.size());
  for (std::size_t i = 0; i < roles.checks.size(); ++i) {
    EXPECT_EQ(roles.checks[i].name, positions.checks[i].name);
    EXPECT_NEAR(roles.checks[i].value, positions.checks[i].value, 1e-6 * (1.0 + std::abs(positions.checks[i].value)))
        << roles.checks[i].name;
  }
  EXPECT_GT(testing_util::check_named(roles, "faithfulness").value, 0.5);
  EXPECT_NE(roles.explanation.find("role elt"), std::string::npos) << roles.explanation;
}

// measure_circuits over `configurations` in one call, each checked against
// the configuration measured alone (1e-5 relative).
std::vector<at::Tensor> measured_together(const RunContext& context, const Claim& claim, const CircuitAblation& ablation,
                                          const std::vector<CircuitConfiguration>& configurations) {
  const std::vector<at::Tensor> together = measure_circuits(context, claim, ablation, configurations);
  for (std::size_t i = 0; i < configurations.size(); ++i) {
    const at::Tensor alone = measure_circuits(context, claim, ablation, {configurations[i]}).at(0);
    EXPECT_TRUE(at::allclose(together[i], alone, 1e-5, 1e-4)) << i << ": largest difference "
                                                               << (together[i] - alone).abs().max().item<double>();
  }
  return together;
}

// A circuit of four nodes on S2 (layer 0 at 1-3, at 6 and at 7-9, layer 1
// at 7-9), on 300 examples.
ClaimFile four_node_file() {
  const auto z = [](int layer, std::vector<int64_t> positions) {
    return json{{"hook", "blocks." + std::to_string(layer) + ".attn.hook_z"}, {"positions", positions}};
  };
  json claim = circuit("c", {z(0, {1, 2, 3}), z(0, {6}), z(0, {7, 8, 9}), z(1, {7, 8, 9})}, {{"faithfulness_at_least", 0.9}});
  claim["domain"] = {{"sample", 300}, {"seed", 4}};
  return parse_claim_file(s2_file(json::array({claim})), "claims/c.json");
}

// A configuration measured after C (the circuit kept) or N (the whole
// model) runs from the first position where it differs from that one, with
// its keys and values before (measure_circuits). Each such run equals the
// configuration measured alone, which runs from the positions before every
// node (here 1): per example, on the shipped S2 model, for a node of layer 0
// at 6, one at 7-9, and one of layer 1 (runs from 6 and from 7, the first
// scored position). A reference pass up to the last scored position
// (circuit_run_length) ablates as a full one. Runs before the first node
// kept from an earlier call (CircuitPrefixes) give the same values.
TEST(CircuitRuns, AConfigurationRunFromCOrNEqualsItsOwnRun) {
  const ClaimFile file = four_node_file();
  const std::shared_ptr<const Task> task = claim_task(file);
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const Claim parsed = parse_claims(file, *task, ck.model.config).at(0);
  const CircuitSpec& c = spec_of<CircuitSpec>(parsed.spec);
  const auto no_shared_runs = [](const Domain&, const PlainReads&, const RunVisitor&, const std::function<bool()>&) {};
  const RunContext context{*task, ck.model, Scale::kCpu, no_shared_runs, false};
  const CircuitAblation ablation = circuit_ablation(context, parsed);
  const auto without = [&](std::size_t node) {
    std::vector<AblationSite> sites = c.nodes;
    sites.erase(sites.begin() + static_cast<std::ptrdiff_t>(node));
    return sites;
  };
  const std::vector<CircuitConfiguration> configurations = {
      {false, {}, {}},         {true, c.nodes, {}},          {true, without(1), {}}, {true, without(2), {}},
      {true, without(3), {}},  {false, {c.nodes[1]}, {}},    {false, {c.nodes[3]}, {}}};
  const std::vector<at::Tensor> together = measured_together(context, parsed, ablation, configurations);
  // Each removed node matters, so a run that kept it by mistake would differ.
  for (std::size_t i = 2; i < configurations.size(); ++i)
    EXPECT_GT((together[i] - together[i < 5 ? 1 : 0]).abs().max().item<double>(), 1e-2) << i;
  // The runs before the first node, kept by a first call (N and the empty
  // circuit, as run_circuit makes it) for both kinds, give a second call the
  // same values.
  CircuitPrefixes prefixes;
  measure_circuits(context, parsed, ablation, {{false, {}, {}}, {true, {}, {}}}, &prefixes);
  EXPECT_EQ(prefixes.runs.size(), 2u);
  EXPECT_GT(prefixes.bytes, 0u);
  const std::vector<at::Tensor> second = measure_circuits(context, parsed, ablation, configurations, &prefixes);
  for (std::size_t i = 0; i < configurations.size(); ++i)
    EXPECT_TRUE(at::allclose(together[i], second[i], 1e-6, 1e-5)) << i;
  // The runs stop after the last scored position (9), so a reference over
  // positions 0-9 ablates as the one over all 11 does.
  ASSERT_EQ(circuit_run_length(context, parsed), 10);
  const CircuitAblation shorter = circuit_ablation(context, parsed, 10);
  EXPECT_EQ(shorter.values.at(c.nodes[0].hook).size(1), 10);
  const std::vector<at::Tensor> from_shorter = measure_circuits(context, parsed, shorter, configurations);
  for (std::size_t i = 0; i < configurations.size(); ++i)
    EXPECT_TRUE(at::allclose(together[i], from_shorter[i], 1e-5, 1e-4)) << i;
}

// A bidirectional model: a position before the last scored one attends to
// the later ones, so node runs cover every position, share no prefix and
// reuse no keys and values (review of issue 21: they stopped after the last
// scored position as in a causal model, and measured another model). On S2's
// shipped weights run bidirectionally, over 300 examples, each
// configuration equals a plain run with every position and its ablations,
// computed here independently of measure_circuits.
TEST(CircuitRuns, ABidirectionalModelsNodeRunsCoverEveryPosition) {
  const ClaimFile file = four_node_file();
  const std::shared_ptr<const Task> task = claim_task(file);
  HookedTransformer model = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors").model;
  model.config.attention_dir = AttentionDir::kBidirectional;
  const Claim parsed = parse_claims(file, *task, model.config).at(0);
  const CircuitSpec& c = spec_of<CircuitSpec>(parsed.spec);
  const auto no_shared_runs = [](const Domain&, const PlainReads&, const RunVisitor&, const std::function<bool()>&) {};
  const RunContext context{*task, model, Scale::kCpu, no_shared_runs, false};
  EXPECT_EQ(circuit_run_length(context, parsed), 0);
  const CircuitAblation ablation = circuit_ablation(context, parsed, circuit_run_length(context, parsed));
  const std::vector<CircuitConfiguration> configurations = {
      {false, {}, {}}, {true, {}, {}}, {true, c.nodes, {}}, {true, {c.nodes[0], c.nodes[1], c.nodes[3]}, {}},
      {false, {c.nodes[3]}, {}}};
  const std::vector<at::Tensor> measured = measure_circuits(context, parsed, ablation, configurations);
  for (std::size_t i = 0; i < configurations.size(); ++i) {
    const CircuitConfiguration& k = configurations[i];
    std::vector<at::Tensor> parts;
    for_each_slice(*task, parsed.domain, Scale::kCpu, kVerifyBatch, [&](const Batch& b) {
      RunOptions plain;
      plain.interventions = ablation_interventions(
          c.ablation, k.keeps ? complement(k.sites, model.config, {}, b.tokens.size(1), "") : k.sites, ablation.values,
          c.reference.seed);
      parts.push_back(circuit_metric(c.metric, run(model, b.tokens, plain).logits, circuit_targets(c, b), 0));
    });
    const at::Tensor expected = at::cat(parts);
    EXPECT_TRUE(at::allclose(measured[i], expected, 1e-5, 1e-4))
        << i << ": largest difference " << (measured[i] - expected).abs().max().item<double>();
  }
}

// The same for a circuit of edges: a configuration measured after C or N
// starts at the first part of the edge run (a layer's attention, the
// logits) whose receivers it treats differently, from C's or N's state there
// (measure_circuits). Each such run equals the configuration measured alone,
// for S2's shipped copy_edges (mean ablation, whose ablated senders come from
// one example's shapes) on 300 examples: C without each edge (edges into
// layer 0, into layer 1, into the logits), N without one, C without two.
TEST(CircuitRuns, AnEdgeConfigurationStartedFromCOrNEqualsItsOwnRun) {
  std::ifstream in(testing_util::source_dir() + "/claims/array_index.json");
  json document = json::parse(in);
  json claims = json::array();
  for (json& claim : document["claims"])
    if (claim["id"] == "copy_edges") {
      claim["domain"] = {{"sample", 300}, {"seed", 4}};
      claims.push_back(claim);
    }
  document["claims"] = claims;
  const ClaimFile file = parse_claim_file(document, "claims/array_index.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const Claim parsed = parse_claims(file, *task, ck.model.config).at(0);
  const CircuitSpec& c = spec_of<CircuitSpec>(parsed.spec);
  ASSERT_EQ(c.edges.size(), 7u);
  const auto no_shared_runs = [](const Domain&, const PlainReads&, const RunVisitor&, const std::function<bool()>&) {};
  const RunContext context{*task, ck.model, Scale::kCpu, no_shared_runs, false};
  const CircuitAblation ablation = circuit_ablation(context, parsed);
  const auto without = [&](std::vector<std::size_t> removed) {
    std::vector<Edge> edges;
    for (std::size_t i = 0; i < c.edges.size(); ++i)
      if (std::find(removed.begin(), removed.end(), i) == removed.end()) edges.push_back(c.edges[i]);
    return edges;
  };
  std::vector<CircuitConfiguration> configurations = {{false, {}, {}}, {true, {}, c.edges}};
  for (std::size_t e = 0; e < c.edges.size(); ++e) configurations.push_back({true, {}, without({e})});
  configurations.push_back({false, {}, {c.edges[3]}});
  configurations.push_back({false, {}, {c.edges[6]}});
  configurations.push_back({true, {}, without({0, 3})});
  const std::vector<at::Tensor> together = measured_together(context, parsed, ablation, configurations);
  // Each removed edge matters, so a run that kept it by mistake would differ.
  for (std::size_t i = 2; i < configurations.size(); ++i)
    EXPECT_GT((together[i] - together[i == 9 || i == 10 ? 0 : 1]).abs().max().item<double>(), 1e-2) << i;
}

// A role whose positions differ per example (S3's path_edge_child: the
// children of the path's edges, 1 to 15 of them): layer 0 kept there and at
// the goal-root block is faithful on the shipped model; kept at the goal's
// child alone it is not (claims/README.md, "circuit": measured, not shipped).
TEST(CircuitClaim, NodesAtARoleFollowEachExample) {
  const auto claim = [](const std::string& id, const std::string& role) {
    json nodes = json::array({{{"hook", "blocks.0.attn.hook_z"}, {"role", role}},
                              {{"hook", "blocks.0.attn.hook_z"}, {"positions", {44, 45, 46, 47}}}});
    for (int l = 1; l < 6; ++l) nodes.push_back({{"hook", "blocks." + std::to_string(l) + ".attn.hook_z"}});
    for (int l = 0; l < 6; ++l) nodes.push_back({{"hook", "blocks." + std::to_string(l) + ".hook_mlp_out"}});
    json c = circuit(id, nodes, {{"faithfulness_at_least", 0.9}});
    c["domain"] = {{"sample", 200}, {"seed", 3}};
    c["completeness"] = {{"subsets", 1}};
    return c;
  };
  const std::vector<Outcome> outcomes = run_on_shipped(
      testing_util::system_claim_file("tree_path", {claim("path", "path_edge_child"), claim("goal", "goal_edge_child")}),
      "tree_path");
  const Outcome& path = outcomes[0];
  EXPECT_TRUE(path.pass) << path.explanation;
  EXPECT_GT(testing_util::check_named(path, "contribution of node 0").value, 0.5);
  const Outcome& goal = outcomes[1];
  EXPECT_FALSE(goal.pass);
  EXPECT_LT(testing_util::check_named(goal, "faithfulness").value, 0.5) << goal.explanation;
}

TEST(CircuitClaim, BadNodesAndFieldsNameTheirPointer) {
  // S2's config with an MLP of 16 neurons, to name MLP nodes.
  Config config = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors").model.config;
  config.attn_only = false;
  config.d_mlp = 16;
  config.act_fn = ActFn::kRelu;
  const json z = {{"hook", "blocks.0.attn.hook_z"}};
  struct Case {
    const char* name;
    json change;  // merged into a valid claim (merge_patch: null removes a field)
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a residual stream", {{"nodes", {{{"hook", "blocks.0.hook_resid_pre"}}}}},
       "/claims/0/nodes/0/hook: a node is heads of blocks.L.attn.hook_z, blocks.L.hook_mlp_out or neurons of "
       "blocks.L.mlp.hook_post, not blocks.0.hook_resid_pre"},
      {"hook_post without neurons", {{"nodes", {{{"hook", "blocks.1.mlp.hook_post"}}}}},
       "/claims/0/nodes/0/hook: a node is heads of blocks.L.attn.hook_z, blocks.L.hook_mlp_out or neurons of "
       "blocks.L.mlp.hook_post, not blocks.1.mlp.hook_post without neurons"},
      {"an MLP whole and by neurons",
       {{"nodes", {{{"hook", "blocks.1.hook_mlp_out"}}, {{"hook", "blocks.1.mlp.hook_post"}, {"neurons", {2}}}}}},
       "/claims/0/nodes: layer 1's MLP is a node both whole (hook_mlp_out) and by neurons (mlp.hook_post); give one"},
      {"no nodes", {{"nodes", json::array()}}, "/claims/0/nodes: expected a non-empty array, got []"},
      {"a position out of range", {{"nodes", {{{"hook", "blocks.0.attn.hook_z"}, {"positions", {11}}}}}},
       "/claims/0/nodes/0/positions/0"},
      {"an unknown metric", {{"metric", "kl"}},
       "/claims/0/metric: unknown metric 'kl' (valid: logit_diff, target_log_prob, accuracy)"},
      {"an unknown ablation", {{"ablation", "patch"}},
       "/claims/0/ablation: unknown ablation 'patch' (valid: zero, mean, resample, counterfactual)"},
      {"counterfactual ablation without a counterfactual", {{"ablation", "counterfactual"}, {"reference", nullptr}},
       "/claims/0/counterfactual: counterfactual ablation needs a counterfactual"},
      {"a counterfactual for mean ablation", {{"counterfactual", "idx"}},
       "/claims/0/counterfactual: only counterfactual ablation uses a counterfactual"},
      {"a reference for counterfactual ablation", {{"ablation", "counterfactual"}, {"counterfactual", "idx"}},
       "/claims/0/reference: only mean and resample ablation use a reference sample"},
      {"an unknown counterfactual role", {{"ablation", "counterfactual"}, {"counterfactual", "nope"}, {"reference", nullptr}},
       "/claims/0/counterfactual: unknown role 'nope'"},
      {"a reference for zero ablation", {{"ablation", "zero"}},
       "/claims/0/reference: only mean and resample ablation use a reference sample"},
      {"too many subsets", {{"completeness", {{"subsets", 65}}}}, "/claims/0/completeness/subsets"},
      {"score_at an unknown role", {{"score_at", "nope"}}, "/claims/0/score_at: unknown role 'nope'"},
      {"score_at a role without targets", {{"score_at", "elt"}},
       "/claims/0/score_at: role 'elt' holds no scored target in the task's examples"},
      {"a role and positions", {{"nodes", {{{"hook", "blocks.0.attn.hook_z"}, {"role", "elt"}, {"positions", {6}}}}}},
       "/claims/0/nodes/0/role: a node is at \"positions\" or at a \"role\", not both"},
      {"an unknown role", {{"nodes", {{{"hook", "blocks.0.attn.hook_z"}, {"role", "goal"}}}}},
       "/claims/0/nodes/0/role: unknown role 'goal'"},
      {"no faithfulness threshold", {{"pass", {{"faithfulness_at_least", nullptr}, {"minimality_at_least", 0.1}}}},
       "/claims/0/pass: missing field 'faithfulness_at_least'"},
      {"a rate's bound", {{"pass", {{"faithfulness_at_least", 0.9}, {"bound", "wilson"}}}}, "/claims/0/pass"},
  };
  for (const Case& c : cases) {
    json claim = circuit("c", json::array({z}), {{"faithfulness_at_least", 0.9}});
    claim.merge_patch(c.change);
    const std::string error = testing_util::claim_parse_error(s2_file(json::array({claim})), "claims/s2.json", config);
    EXPECT_NE(error.find("claims/s2.json: " + c.error), std::string::npos) << c.name << ": " << error;
  }
}

// A circuit's placebo (placebo.h) keeps as many other heads of the same
// layers at the same positions: S5's claim on L0H2 and L2H3 at 17 gets
// other heads of layers 0 and 2.
TEST(CircuitClaim, PlaceboMovesEachNodeToOtherHeads) {
  const Config config = load_checkpoint(testing_util::source_dir() + "/checkpoints/arithmetic.safetensors").model.config;
  json claim = circuit("c",
                       {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {2}}, {"positions", {17}}},
                        {{"hook", "blocks.2.attn.hook_z"}, {"heads", {3}}, {"positions", {17}}}},
                       {{"faithfulness_at_least", 0.9}});
  claim["controls"] = {"placebo:5"};
  const json document = testing_util::system_claim_file("arithmetic", json::array({claim}));
  const ClaimFile file = parse_claim_file(document, "claims/s5.json");
  const Claim parsed = parse_claims(file, *claim_task(file), config).at(0);
  ASSERT_EQ(parsed.placebos.size(), 1u);
  const CircuitSpec& placebo = spec_of<CircuitSpec>(parsed.placebos[0].spec);
  ASSERT_EQ(placebo.nodes.size(), 2u);
  EXPECT_EQ(placebo.nodes[0].hook.layer, 0);
  EXPECT_EQ(placebo.nodes[1].hook.layer, 2);
  EXPECT_NE(placebo.nodes[0].heads, std::vector<int64_t>{2});
  EXPECT_NE(placebo.nodes[1].heads, std::vector<int64_t>{3});
  EXPECT_EQ(placebo.nodes[0].positions, std::vector<int64_t>{17});
}

}  // namespace
}  // namespace circuitcheck
