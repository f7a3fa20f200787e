// Discovery (attribution.h, faithfulness_curve.h, attribution_report.h):
// node and edge lists, MIB's areas, known answers on a planted circuit, AtP against
// finite differences (no autograd) on the shipped S2 model, and the claim it
// writes verified on a fresh sample, failing on its control.
#include "circuits/claims/verify.h"
#include "circuits/discovery/attribution.h"
#include "circuits/discovery/attribution_report.h"
#include "circuits/discovery/faithfulness_curve.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/task_spec.h"
#include "tests/claims/claim_test_util.h"
#include "tests/claims/previous_token.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace circuitcheck {
namespace {

using nlohmann::json;

const VisitRuns kNoSharedRuns = [](const Domain&, const PlainReads&, const RunVisitor&,
                                   const std::function<bool()>&) { FAIL() << "a circuit claim runs no shared passes"; };

json circuit_claim(const json& domain, const std::string& ablation = "mean") {
  return {{"id", "found"},       {"hypothesis", "h"},
          {"kind", "circuit"},   {"ablation", ablation},
          {"metric", "logit_diff"}, {"nodes", {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}}},
          {"domain", domain},    {"pass", {{"faithfulness_at_least", 0.9}}},
          {"controls", {"random_init"}}};
}

Claim parsed(const json& document, const Task& task, const Config& config) {
  return parse_claims(parse_claim_file(document, "discovered/claims.json"), task, config).at(0);
}

TEST(AttributionUnits, EveryHeadAndMlpAtEveryPosition) {
  struct Case {
    Config config;
    int64_t length;
    std::vector<std::string> first, last;  // the first and last two names
    std::size_t size;
  };
  Config mlp = previous_token_config(2);
  mlp.attn_only = false;
  mlp.n_layers = 2;
  const std::vector<Case> cases = {
      {previous_token_config(2), 6, {"L0H0@0", "L0H0@1"}, {"L0H1@4", "L0H1@5"}, 12},
      {previous_token_config(1), 3, {"L0H0@0", "L0H0@1"}, {"L0H0@1", "L0H0@2"}, 3},
      {mlp, 2, {"L0H0@0", "L0H0@1"}, {"MLP1@0", "MLP1@1"}, 2 * (2 * 2 + 2)},
  };
  for (const Case& c : cases) {
    const std::vector<AttributionUnit> nodes = attribution_nodes(c.config, c.length);
    ASSERT_EQ(nodes.size(), c.size);
    EXPECT_EQ(nodes[0].name(), c.first[0]);
    EXPECT_EQ(nodes[1].name(), c.first[1]);
    EXPECT_EQ(nodes[c.size - 2].name(), c.last[0]);
    EXPECT_EQ(nodes[c.size - 1].name(), c.last[1]);
  }
}

// Edges by position: each edge at each position, by edge then position;
// the circuit of such units names each edge once, at the union of its
// units' positions (every position when one of them has none).
TEST(AttributionUnits, EdgesByPositionAndTheirCircuit) {
  const Config c = previous_token_config(1);  // edges: embed -> L0H0.q|k|v, embed -> logits, L0H0 -> logits
  const std::vector<AttributionUnit> whole = attribution_edges(c), by_position = attribution_edges(c, 3);
  ASSERT_EQ(whole.size(), 5u);
  ASSERT_EQ(by_position.size(), 15u);
  EXPECT_EQ(whole[0].name(), "embed -> L0H0.q");
  EXPECT_EQ(by_position[0].name(), "embed -> L0H0.q at [0]");
  EXPECT_EQ(by_position[2].name(), "embed -> L0H0.q at [2]");
  EXPECT_EQ(by_position[14].name(), "L0H0 -> logits at [2]");
  const std::vector<AttributionUnit> units = {by_position[5], by_position[14], by_position[3], by_position[12],
                                              whole[4]};
  std::vector<std::string> names;
  for (const Edge& e : circuit_of(units).edges) names.push_back(e.name());
  EXPECT_EQ(names, (std::vector<std::string>{"embed -> L0H0.k at [0, 2]", "L0H0 -> logits"}));
}

// As MIB's int(k * n): 0.1 % to 2 % of 22 units is none (the empty circuit).
TEST(FaithfulnessCurve, NodesAtPercentRoundDownAsMibDoes) {
  const std::vector<std::tuple<double, int64_t, int64_t>> cases = {
      {0.1, 22, 0}, {2, 22, 0}, {5, 22, 1}, {20, 22, 4}, {50, 22, 11}, {100, 22, 22}, {0, 22, 0}, {10, 1000, 100},
      {0.1, 1000, 1}, {0.2, 5000, 10}};
  for (const auto& [percent, n, count] : cases) EXPECT_EQ(units_at_percent(percent, n), count) << percent << " of " << n;
}

// Along the nominal percents, whatever the counts they hold (MIB's x).
TEST(FaithfulnessCurve, AreasAreMibTrapezoids) {
  const auto point = [](double percent, double f) { return CurvePoint{percent, 0, f, f, f}; };
  struct Case {
    std::vector<CurvePoint> points;
    double cpr, cmd;
  };
  const std::vector<Case> cases = {
      {{point(0, 1.0), point(100, 1.0)}, 1.0, 0.0},                       // faithful from the start
      {{point(0, 0.0), point(100, 1.0)}, 0.5, 0.5},                       // a straight line
      {{point(10, 0.0), point(50, 1.0), point(100, 1.0)}, 0.2 + 0.5, 0.2},  // x from the first point, not 0
      {{point(0, 1.5), point(50, 1.5), point(100, 1.0)}, 0.75 + 0.625, 0.25 + 0.125},  // |1 - f| above 1 too
  };
  for (const Case& c : cases) {
    const CurveAreas a = curve_areas(c.points);
    EXPECT_NEAR(a.cpr, c.cpr, 1e-12);
    EXPECT_NEAR(a.cmd, c.cmd, 1e-12);
  }
}

// The planted previous-token head (previous_token.h) beside a head that
// writes nothing, on the exhaustive domain: the mechanism's head at the
// scored positions 1-5 ranks first under both methods, every other node
// scores exactly 0 (the useless head has W_O = 0; position 0 is not scored),
// and the smallest faithful circuit is exactly those five nodes (f = 1).
TEST(PlantedAttribution, TheMechanismRanksFirstAndIsTheCircuitFound) {
  const Task task = previous_token_task();
  const HookedTransformer model = previous_token_model(10.0f, 1, 2);
  const json document =
      testing_util::system_claim_file("previous_token", json::array({circuit_claim({{"exhaustive", true}})}));
  const Claim claim = parsed(document, task, model.config);
  const RunContext context{task, model, Scale::kCpu, kNoSharedRuns, false};
  const CircuitAblation ablation = circuit_ablation(context, claim);
  std::vector<AttributionUnit> nodes = attribution_nodes(model.config, kCtx);
  attribute(context, claim, ablation, 5, nodes);
  for (AttributionMethod method : {AttributionMethod::kAtp, AttributionMethod::kEapIg}) {
    const std::vector<int64_t> order = ranking(nodes, method);
    for (int64_t r = 0; r < 5; ++r) {
      const AttributionUnit& top = nodes[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
      EXPECT_EQ(top.head, 0) << to_string(method) << " rank " << r << ": " << top.name();
      EXPECT_GE(top.position, 1);
      EXPECT_LT(top.score(method), 0.0) << top.name() << ": ablating the mechanism lowers the logit difference";
    }
    for (std::size_t r = 5; r < nodes.size(); ++r)
      EXPECT_EQ(nodes[static_cast<std::size_t>(order[r])].score(method), 0.0) << nodes[static_cast<std::size_t>(order[r])].name();
  }
  const CircuitMeasure measure(context, claim, ablation, nodes, "test");
  const std::vector<int64_t> order = ranking(nodes, AttributionMethod::kEapIg);
  const std::vector<CurvePoint> curve = measure.curve(order);
  ASSERT_EQ(curve.size(), std::size(kCurvePercents));
  EXPECT_NEAR(curve.back().f, 1.0, 1e-9);
  EXPECT_EQ(curve.back().count, 12);
  const CurvePoint chosen = measure.smallest(order, curve, 0.9);
  EXPECT_EQ(chosen.count, 5);
  EXPECT_NEAR(chosen.f, 1.0, 1e-6);
  const std::vector<AblationSite> sites = circuit_sites(top_units(nodes, order, chosen.count));
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_EQ(site_name(sites[0]), "blocks.0.attn.hook_z heads [0] positions [1, 2, 3, 4, 5]");
  // With no head writing anything (W_O = 0) there is nothing to attribute.
  HookedTransformer absent = previous_token_model(10.0f, 1, 2);
  absent.params["blocks.0.attn.W_O"].zero_();
  const RunContext none{task, absent, Scale::kCpu, kNoSharedRuns, false};
  const CircuitAblation none_ablation = circuit_ablation(none, claim);
  EXPECT_THROW(CircuitMeasure(none, claim, none_ablation, nodes, "test"), InputError);
}

// A circuit of edges on the shipped S2 model (mean ablation, logit
// difference; 256 examples, seed 7), with its ablation values.
class ShippedEdgeAttribution : public ::testing::Test {
 protected:
  static json edge_claim() {
    json claim = circuit_claim({{"sample", 256}, {"seed", 7}});
    claim.erase("nodes");
    claim["edges"] = {{{"sender", "embed"}, {"receiver", "logits"}}};
    return testing_util::system_claim_file("array_index", json::array({claim}));
  }

  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::shared_ptr<const Task> task = load_task("array_index");
  const Claim parsed_claim = parsed(edge_claim(), *task, ck.model.config);
  const RunContext context{*task, ck.model, Scale::kCpu, kNoSharedRuns, false};
  const CircuitAblation ablation = circuit_ablation(context, parsed_claim);
};

// On the shipped S2 model (LayerNorm, two layers): AtP is the directional
// derivative of the metric towards each node's ablation, so it matches a
// finite difference that never calls autograd,
//   (m(a + eps (a' - a)) - m(a)) / eps   (eps = 1e-2, one node moved),
// and EAP-IG with one step is AtP.
TEST(ShippedAttribution, AtpIsTheFiniteDifferenceAndOneStepEapIgIsAtp) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::shared_ptr<const Task> task = load_task("array_index");
  const json document =
      testing_util::system_claim_file("array_index", json::array({circuit_claim({{"sample", 256}, {"seed", 7}})}));
  const Claim claim = parsed(document, *task, ck.model.config);
  const RunContext context{*task, ck.model, Scale::kCpu, kNoSharedRuns, false};
  const CircuitAblation ablation = circuit_ablation(context, claim);
  const int64_t length = task->sample(1, 0, Scale::kCpu).tokens.size(1);
  std::vector<AttributionUnit> nodes = attribution_nodes(ck.model.config, length);
  std::vector<AttributionUnit> one_step = nodes;
  attribute(context, claim, ablation, 1, one_step);
  attribute(context, claim, ablation, 5, nodes);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_DOUBLE_EQ(one_step[i].eap_ig, one_step[i].atp) << nodes[i].name();
    EXPECT_DOUBLE_EQ(one_step[i].atp, nodes[i].atp) << nodes[i].name();
  }
  const Batch b = task->sample(256, 7, Scale::kCpu);
  const HookPoint z0{HookType::kZ, 0}, z1{HookType::kZ, 1};
  RunOptions cached;
  cached.cache = {z0, z1};
  const ActivationCache clean = run(ck.model, b.tokens, cached).cache;
  const CircuitSpec& spec = spec_of<CircuitSpec>(claim.spec);
  const double m0 = circuit_metric(spec.metric, run(ck.model, b.tokens).logits, b.targets, 0).mean().item<double>();
  const std::vector<int64_t> order = ranking(nodes, AttributionMethod::kAtp);
  for (int64_t r = 0; r < 4; ++r) {
    const AttributionUnit& node = nodes[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
    const double eps = 1e-2;
    Intervention nudge;
    nudge.hook = node.hook;
    nudge.kind = InterventionKind::kAdd;
    nudge.value = eps * (ablation.values.at(node.hook).mean(0, true) - clean.at(node.hook));
    nudge.heads = {node.head};
    nudge.positions = {node.position};
    RunOptions nudged;
    nudged.interventions = {nudge};
    const double m = circuit_metric(spec.metric, run(ck.model, b.tokens, nudged).logits, b.targets, 0).mean().item<double>();
    const double difference = (m - m0) / eps;
    EXPECT_NEAR(node.atp, difference, 0.02 * std::fabs(difference) + 0.05) << node.name();
    EXPECT_GT(std::fabs(node.atp), 1.0) << node.name() << ": a top node moves the logit difference";
  }
}

// Neurons on the shipped S1 model: the MLP's output is linear in its
// neurons (hook_post times W_out), and so is the mean ablation, so the
// scores of an MLP's neurons at a position add up to the MLP node's there,
// for AtP and EAP-IG alike. The circuit of the top neurons is written as
// hook_post sites with their neurons and verifies as written.
TEST(ShippedAttribution, AnMlpsNeuronsAddUpToItsNode) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/modular_addition.safetensors");
  const std::shared_ptr<const Task> task = load_task("modular_addition");
  const json domain = {{"sample", 300}, {"seed", 4}};
  json by_neuron = circuit_claim(domain);
  by_neuron["nodes"].push_back({{"hook", "blocks.0.mlp.hook_post"}, {"neurons", {0}}});
  const Claim whole = parsed(testing_util::system_claim_file("modular_addition", json::array({circuit_claim(domain)})),
                             *task, ck.model.config);
  const Claim neurons = parsed(testing_util::system_claim_file("modular_addition", json::array({by_neuron})), *task,
                               ck.model.config);
  const RunContext context{*task, ck.model, Scale::kCpu, kNoSharedRuns, false};
  std::vector<AttributionUnit> nodes = attribution_nodes(ck.model.config, 3);
  std::vector<AttributionUnit> units = attribution_nodes(ck.model.config, 3, true);
  ASSERT_EQ(units.size(), 4u * 3u + 512u * 3u);
  EXPECT_EQ(units[12 + 512 + 7].name(), "MLP0[7]@1");
  attribute(context, whole, circuit_ablation(context, whole), 3, nodes);
  attribute(context, neurons, circuit_ablation(context, neurons), 3, units);
  for (int64_t p = 0; p < 3; ++p) {
    double atp = 0.0, ig = 0.0;
    for (const AttributionUnit& u : units)
      if (u.neuron >= 0 && u.position == p) atp += u.atp, ig += u.eap_ig;
    const AttributionUnit& mlp = nodes[static_cast<std::size_t>(12 + p)];
    ASSERT_EQ(mlp.name(), "MLP0@" + std::to_string(p));
    EXPECT_NEAR(atp, mlp.atp, 1e-3 * std::fabs(mlp.atp) + 1e-4) << p;
    EXPECT_NEAR(ig, mlp.eap_ig, 1e-3 * std::fabs(mlp.eap_ig) + 1e-4) << p;
  }
  EXPECT_GT(std::fabs(nodes[14].atp), 1.0);  // the MLP at '=' matters
  const std::vector<int64_t> order = ranking(units, AttributionMethod::kEapIg);
  const std::vector<AblationSite> sites = circuit_sites(top_units(units, order, 40));
  ASSERT_FALSE(sites.empty());
  EXPECT_EQ(sites.back().hook, (HookPoint{HookType::kMlpPost, 0}));
  EXPECT_EQ(sites.back().positions, (std::vector<int64_t>{2}));
  EXPECT_TRUE(std::is_sorted(sites.back().neurons.begin(), sites.back().neurons.end()));
}

// Edges on the shipped S2 model: an edge's AtP score is the derivative of the
// metric as its receiver's input moves towards the sender's ablation,
//   (m(input + eps (a' - a)) - m) / eps at the receiver only
// (and, for an edge by position, at that position only), computed with one
// intervention on the split-input model and no autograd.
TEST_F(ShippedEdgeAttribution, EdgeScoresAreFiniteDifferencesAtTheReceiver) {
  std::vector<AttributionUnit> edges = attribution_edges(ck.model.config);
  ASSERT_EQ(edges.size(), 12u);
  attribute(context, parsed_claim, ablation, 1, edges);
  std::vector<AttributionUnit> by_position = attribution_edges(ck.model.config, 11);
  attribute(context, parsed_claim, ablation, 1, by_position);
  edges.insert(edges.end(), by_position.begin(), by_position.end());
  const Config& c = ck.model.config;
  const HookedTransformer split = edge_model(ck.model);
  const Batch b = task->sample(256, 7, Scale::kCpu);
  RunOptions cached;
  cached.cache = sender_hooks(c);
  const at::Tensor own = sender_outputs(c, run(split, b.tokens, cached).cache);
  std::map<HookPoint, at::Tensor> means;
  for (const HookPoint& hook : sender_hooks(c)) means[hook] = ablation.values.at(hook).mean(0, true);
  const at::Tensor ablated = sender_outputs(c, means);
  const CircuitSpec& spec = spec_of<CircuitSpec>(parsed_claim.spec);
  const double m0 = circuit_metric(spec.metric, run(split, b.tokens).logits, b.targets, 0).mean().item<double>();
  const std::vector<EdgePoint> senders = edge_senders(c);
  struct Case {
    std::string edge;
    HookPoint receiver;
    int64_t head;      // -1: the receiver hook has no head dimension
    int64_t position;  // -1: every position
  };
  const std::vector<Case> cases = {{"L0H0 -> L1H0.k", {HookType::kKInput, 1}, 0, -1},
                                   {"embed -> L0H0.v", {HookType::kVInput, 0}, 0, -1},
                                   {"L1H0 -> logits", {HookType::kResidPost, 1}, -1, -1},
                                   {"L0H0 -> L1H0.k at [6]", {HookType::kKInput, 1}, 0, 6},
                                   {"L1H0 -> logits at [8]", {HookType::kResidPost, 1}, -1, 8}};
  for (const Case& k : cases) {
    const auto found = std::find_if(edges.begin(), edges.end(), [&](const AttributionUnit& u) { return u.name() == k.edge; });
    ASSERT_NE(found, edges.end()) << k.edge;
    const int64_t s = std::find(senders.begin(), senders.end(), found->edge->sender) - senders.begin();
    const double eps = 1e-2;
    at::Tensor nudge = eps * (ablated[s] - own[s]);  // [batch, pos, d_model]
    if (k.position >= 0) {
      const at::Tensor at_position = at::zeros({1, nudge.size(1), 1});
      at_position[0][k.position] = 1.0;
      nudge = nudge * at_position;
    }
    Intervention add;
    add.hook = k.receiver;
    add.kind = InterventionKind::kAdd;
    add.value = k.head < 0 ? nudge : nudge.unsqueeze(2);
    if (k.head >= 0) add.heads = {k.head};
    RunOptions nudged;
    nudged.interventions = {add};
    const double m = circuit_metric(spec.metric, run(split, b.tokens, nudged).logits, b.targets, 0).mean().item<double>();
    const double difference = (m - m0) / eps;
    EXPECT_NEAR(found->atp, difference, 0.02 * std::fabs(difference) + 0.05) << k.edge;
    // Nonzero: the key edge's 0.5 is far below what ablating it costs (about
    // half the gap): attention saturates, which is what EAP-IG's steps see.
    EXPECT_GT(std::fabs(found->atp), 0.1) << k.edge << ": an edge of the copy circuit moves the logit difference";
  }
}

// Edges by position on the shipped S2 model: an edge's scores at its
// positions add up to its score (AtP and EAP-IG: both come from one
// [receivers, senders, pos] sum; the finite differences above check single
// positions), and layer 0's edge into layer 1's key scores most at elt
// (position 6), where layer 0 puts idx (claims/README.md, "Edges at positions").
TEST_F(ShippedEdgeAttribution, EdgeScoresByPositionAddUpToTheEdge) {
  const int64_t length = task->sample(1, 0, Scale::kCpu).tokens.size(1);
  std::vector<AttributionUnit> whole = attribution_edges(ck.model.config);
  std::vector<AttributionUnit> by_position = attribution_edges(ck.model.config, length);
  ASSERT_EQ(by_position.size(), whole.size() * static_cast<std::size_t>(length));
  attribute(context, parsed_claim, ablation, 3, whole);
  attribute(context, parsed_claim, ablation, 3, by_position);
  for (std::size_t e = 0; e < whole.size(); ++e) {
    double atp = 0.0, eap_ig = 0.0;
    for (int64_t p = 0; p < length; ++p) {
      atp += by_position[e * static_cast<std::size_t>(length) + static_cast<std::size_t>(p)].atp;
      eap_ig += by_position[e * static_cast<std::size_t>(length) + static_cast<std::size_t>(p)].eap_ig;
    }
    EXPECT_NEAR(atp, whole[e].atp, 1e-9 + 1e-9 * std::fabs(whole[e].atp)) << whole[e].name();
    EXPECT_NEAR(eap_ig, whole[e].eap_ig, 1e-9 + 1e-9 * std::fabs(whole[e].eap_ig)) << whole[e].name();
  }
  const auto key = std::find_if(whole.begin(), whole.end(), [](const AttributionUnit& u) { return u.name() == "L0H0 -> L1H0.k"; });
  ASSERT_NE(key, whole.end());
  const std::size_t first = static_cast<std::size_t>(key - whole.begin()) * static_cast<std::size_t>(length);
  std::size_t top = first;
  for (std::size_t i = first; i < first + static_cast<std::size_t>(length); ++i)
    if (std::fabs(by_position[i].eap_ig) > std::fabs(by_position[top].eap_ig)) top = i;
  EXPECT_EQ(by_position[top].name(), "L0H0 -> L1H0.k at [6]");
}

// The whole path on the shipped S2 model: the claim discovery writes (the
// smallest faithful circuit of the EAP-IG ranking on seed 0's sample) passes
// verify on a fresh sample (seed 1), and random init, its control, fails it.
TEST(ShippedAttribution, TheWrittenClaimPassesOnAFreshSampleAndFailsAtRandomInit) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::shared_ptr<const Task> task = load_task("array_index");
  json document =
      testing_util::system_claim_file("array_index", json::array({circuit_claim({{"sample", 500}, {"seed", 0}})}));
  const Claim claim = parsed(document, *task, ck.model.config);
  const RunContext context{*task, ck.model, Scale::kCpu, kNoSharedRuns, false};
  const CircuitAblation ablation = circuit_ablation(context, claim);
  Attribution a;
  a.claim = document["claims"][0];
  a.examples = 500;
  a.units = attribution_nodes(ck.model.config, task->sample(1, 0, Scale::kCpu).tokens.size(1));
  attribute(context, claim, ablation, 5, a.units);
  const CircuitMeasure measure(context, claim, ablation, a.units, "test");
  a.atp_curve = measure.curve(ranking(a.units, AttributionMethod::kAtp));
  a.eap_ig_curve = measure.curve(ranking(a.units, AttributionMethod::kEapIg));
  a.chosen = measure.smallest(ranking(a.units, a.method), a.eap_ig_curve, a.threshold);
  EXPECT_GE(a.chosen.lower, 0.9);
  EXPECT_LT(a.chosen.count, static_cast<int64_t>(a.units.size()) / 2) << "a circuit, not the model";
  const json written = discovered_claim(a);
  EXPECT_EQ(written["domain"]["seed"], 1);
  EXPECT_EQ(written["pass"], (json{{"faithfulness_at_least", 0.9}}));
  document["claims"] = {written};
  const Claim fresh = parsed(document, *task, ck.model.config);
  ControlCache controls{&ck.model};
  const ClaimResult result = verify_claim(*task, fresh, ck.model, controls);
  EXPECT_EQ(result.verdict, Verdict::kPass) << result.explanation;
  ASSERT_EQ(result.controls.size(), 1u);
  EXPECT_FALSE(result.controls[0].pass) << result.controls[0].explanation;
  // The report names what it measured.
  const json report = attribution_json(a);
  EXPECT_EQ(report["chosen"]["count"], a.chosen.count);
  EXPECT_EQ(report["curves"]["eap-ig"]["points"].size(), std::size(kCurvePercents));
  EXPECT_NE(attribution_html(a).find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace circuitcheck
