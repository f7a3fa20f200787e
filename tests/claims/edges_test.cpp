// Edges (edges.h) and circuits of edges (kinds/circuit_claim.h): names and
// reach, edge runs against known answers (every edge kept is the model;
// every edge ablated towards a counterfactual is the model on it), a planted
// circuit of edges, the direct and indirect edges of S2's copy, edges at
// positions (known answers and S2's key edge at elt), at roles whose
// positions differ per example, and bad input.
#include "circuits/claims/claim.h"
#include "circuits/claims/edges.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/task_spec.h"
#include "tests/claims/claim_test_util.h"
#include "tests/claims/previous_token.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

namespace circuitcheck {
namespace {

using nlohmann::json;

TEST(Edges, SendersReceiversAndReach) {
  const Config c = testing_util::small_mlp_config();
  std::vector<std::string> senders, receivers;
  for (const EdgePoint& p : edge_senders(c)) senders.push_back(p.name());
  for (const EdgePoint& p : edge_receivers(c)) receivers.push_back(p.name());
  EXPECT_EQ(senders, (std::vector<std::string>{"embed", "L0H0", "L0H1", "MLP0", "L1H0", "L1H1", "MLP1"}));
  EXPECT_EQ(receivers, (std::vector<std::string>{"L0H0.q", "L0H0.k", "L0H0.v", "L0H1.q", "L0H1.k", "L0H1.v", "MLP0",
                                                 "L1H0.q", "L1H0.k", "L1H0.v", "L1H1.q", "L1H1.k", "L1H1.v", "MLP1",
                                                 "logits"}));
  const EdgePoint embed{EdgeEnd::kEmbed}, l0h1{EdgeEnd::kHead, 0, 1}, mlp0{EdgeEnd::kMlp, 0}, l1h0{EdgeEnd::kHead, 1, 0};
  const EdgePoint q00{EdgeEnd::kQuery, 0, 0}, k10{EdgeEnd::kKey, 1, 0}, in0{EdgeEnd::kMlpInput, 0}, in1{EdgeEnd::kMlpInput, 1},
      logits{EdgeEnd::kLogits};
  const std::vector<std::tuple<EdgePoint, EdgePoint, bool>> cases = {
      {embed, q00, true},  {embed, logits, true}, {l0h1, q00, false}, {l0h1, in0, true},  {l0h1, k10, true},
      {mlp0, in0, false},  {mlp0, k10, true},     {mlp0, in1, true},   {l1h0, k10, false}, {l1h0, in1, true},
      {l1h0, logits, true}};
  for (const auto& [s, r, expected] : cases) EXPECT_EQ(reaches(s, r), expected) << s.name() << " -> " << r.name();
  // 7 senders: embed reaches 15 receivers, each layer-0 head 9, MLP0 8, each layer-1 head 2, MLP1 1.
  EXPECT_EQ(all_edges(c).size(), 15u + 2 * 9 + 8 + 2 * 2 + 1);
}

// The senders' outputs [senders, batch, pos, d_model] of `model` on `tokens`.
at::Tensor senders_on(const HookedTransformer& model, const at::Tensor& tokens) {
  RunOptions senders;
  senders.cache = sender_hooks(model.config);
  return sender_outputs(model.config, run(model, tokens, senders).cache);
}

// With every edge kept an edge run is the model; with every edge ablated
// towards a counterfactual's senders, it is the model on the counterfactual.
TEST(Edges, RunsAgreeWithTheModelAtBothEnds) {
  const Config c = testing_util::small_mlp_config();
  const HookedTransformer model = make_model(c, init_params(c, 5), "test");
  const at::Tensor tokens = at::randint(7, {4, 5}, at::kLong), other = at::randint(7, {4, 5}, at::kLong);
  const at::Tensor own = senders_on(model, tokens), theirs = senders_on(model, other);
  const at::Tensor all = edge_mask(c, all_edges(c));
  EXPECT_TRUE(at::allclose(run_edges(model, tokens, theirs, all), forward(model, tokens), 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(run_edges(model, tokens, theirs, all.logical_not()), forward(model, other), 1e-4, 1e-4));
  // An ablated edge towards the sender's own output changes nothing.
  EXPECT_TRUE(at::allclose(run_edges(model, tokens, own, all.logical_not()), forward(model, tokens), 1e-4, 1e-4));
}

// A run from position `from` gives the logits of the whole run at positions
// >= from, whichever edges it ablates, in a model with an MLP and an
// attention-only one; `from` outside [0, pos) is refused.
TEST(Edges, ARunFromAPositionGivesTheLaterLogits) {
  Config attn_only = testing_util::small_mlp_config();
  attn_only.attn_only = true;
  for (const Config& c : {testing_util::small_mlp_config(), attn_only}) {
    const HookedTransformer model = make_model(c, init_params(c, 6), "test");
    const at::Tensor tokens = at::randint(7, {4, 5}, at::kLong), other = at::randint(7, {4, 5}, at::kLong);
    const at::Tensor theirs = senders_on(model, other);
    at::manual_seed(3);
    const at::Tensor kept = at::rand({static_cast<int64_t>(edge_receivers(c).size()),
                                      static_cast<int64_t>(edge_senders(c).size())}) < 0.5;
    const at::Tensor whole = run_edges(model, tokens, theirs, kept);
    for (int64_t from : {1, 3, 4})
      EXPECT_TRUE(at::allclose(run_edges(model, tokens, theirs, kept, from), whole.slice(1, from), 1e-5, 1e-5))
          << "from " << from;
    EXPECT_THROW(run_edges(model, tokens, theirs, kept, 5), InternalError);
  }
}

// An edge at positions is ablated in what its receiver reads at the other
// positions only. The logits and the last MLP's input are read per position,
// so ablating their edges at positions P gives, at P, the logits with those
// edges ablated everywhere and elsewhere the model's. A mask with positions
// everywhere is the mask without; a run from a position agrees with the
// whole run under a random mask with positions.
TEST(Edges, AnEdgeAtPositionsIsAblatedThereOnly) {
  const Config c = testing_util::small_mlp_config();
  const HookedTransformer model = make_model(c, init_params(c, 8), "test");
  const at::Tensor tokens = at::randint(7, {4, 5}, at::kLong), other = at::randint(7, {4, 5}, at::kLong);
  const at::Tensor theirs = senders_on(model, other);
  const int64_t n_receivers = static_cast<int64_t>(edge_receivers(c).size());
  const int64_t n_senders = static_cast<int64_t>(edge_senders(c).size());
  const at::Tensor model_logits = forward(model, tokens);
  for (int64_t receiver : {n_receivers - 1, n_receivers - 2}) {  // logits, MLP1
    const at::Tensor all = at::ones({n_receivers, n_senders}, at::kBool);
    const at::Tensor without = all.clone();
    without[receiver] = false;
    const at::Tensor ablated_everywhere = run_edges(model, tokens, theirs, without);
    ASSERT_FALSE(at::allclose(ablated_everywhere, model_logits, 1e-3, 1e-3));
    at::Tensor at_positions = at::ones({n_receivers, n_senders, c.n_ctx}, at::kBool);
    for (int64_t p : {1, 3}) at_positions[receiver].select(1, p).fill_(false);
    const at::Tensor logits = run_edges(model, tokens, theirs, at_positions);
    for (int64_t p = 0; p < tokens.size(1); ++p) {
      const at::Tensor expected = (p == 1 || p == 3 ? ablated_everywhere : model_logits).select(1, p);
      EXPECT_TRUE(at::allclose(logits.select(1, p), expected, 1e-5, 1e-5)) << "receiver " << receiver << ", position " << p;
    }
  }
  at::manual_seed(4);
  const at::Tensor kept = at::rand({n_receivers, n_senders}) < 0.5;
  EXPECT_TRUE(at::allclose(run_edges(model, tokens, theirs, kept.unsqueeze(2).expand({-1, -1, c.n_ctx})),
                           run_edges(model, tokens, theirs, kept), 1e-6, 1e-6));
  const at::Tensor mixed = at::rand({n_receivers, n_senders, c.n_ctx}) < 0.5;
  const at::Tensor whole = run_edges(model, tokens, theirs, mixed);
  for (int64_t from : {1, 3, 4})
    EXPECT_TRUE(at::allclose(run_edges(model, tokens, theirs, mixed, from), whole.slice(1, from), 1e-5, 1e-5))
        << "from " << from;
  EXPECT_THROW(run_edges(model, tokens, theirs, mixed.slice(2, 0, 4)), InternalError);
  // A mask longer than the run: the model is causal, so a run on the first 4
  // tokens gives the whole run's first 4 positions.
  const at::Tensor shorter = senders_on(model, other.slice(1, 0, 4));
  EXPECT_TRUE(at::allclose(run_edges(model, tokens.slice(1, 0, 4), shorter, mixed), whole.slice(1, 0, 4), 1e-5, 1e-5));
}

// A mask per example ([receivers, senders, batch, n]) runs each example
// with its own mask: the batch's logits are each example's run alone,
// whole and from a later position; a mask whose examples agree is the
// mask without examples.
TEST(Edges, APerExampleMaskIsEachExamplesOwnMask) {
  const Config c = testing_util::small_mlp_config();
  const HookedTransformer model = make_model(c, init_params(c, 6), "test");
  const at::Tensor tokens = at::randint(7, {4, 5}, at::kLong), other = at::randint(7, {4, 5}, at::kLong);
  const at::Tensor theirs = senders_on(model, other);
  const int64_t n_receivers = static_cast<int64_t>(edge_receivers(c).size());
  const int64_t n_senders = static_cast<int64_t>(edge_senders(c).size());
  at::manual_seed(7);
  const at::Tensor kept = at::rand({n_receivers, n_senders, tokens.size(0), c.n_ctx}) < 0.5;
  const at::Tensor one = theirs.slice(1, 0, 1);  // one example's senders for all, as zero and mean ablation give
  for (int64_t from : {0, 3}) {
    for (const at::Tensor& senders : {theirs, one}) {
      const at::Tensor batch = run_edges(model, tokens, senders, kept, from);
      for (int64_t i = 0; i < tokens.size(0); ++i) {
        const at::Tensor own = senders.size(1) == 1 ? one : senders.slice(1, i, i + 1);
        const at::Tensor alone = run_edges(model, tokens.slice(0, i, i + 1), own, kept.select(2, i), from);
        EXPECT_TRUE(at::allclose(batch.slice(0, i, i + 1), alone, 1e-5, 1e-5))
            << "example " << i << ", from " << from << ", senders' rows " << senders.size(1);
      }
    }
  }
  const at::Tensor shared = kept.select(2, 0);
  EXPECT_TRUE(at::allclose(run_edges(model, tokens, theirs, shared.unsqueeze(2).expand({-1, -1, tokens.size(0), -1})),
                           run_edges(model, tokens, theirs, shared), 1e-6, 1e-6));
  EXPECT_THROW(run_edges(model, tokens, theirs, kept.slice(2, 0, 3)), InternalError);  // another batch
}

// edge_mask: an edge at a role is kept at each example's own positions, next
// to an edge at positions and one everywhere; first_differing_part compares
// it with a mask without examples.
TEST(Edges, AMaskAtARoleHoldsEachExamplesPositions) {
  const Config c = previous_token_config(2);
  Batch b = previous_token_batch(at::randint(kVocab, {3, kCtx}, at::kLong));
  b.roles["mine"] = at::tensor({1, 4, -1}, at::kLong);  // the third example has none
  const EdgePoint embed{EdgeEnd::kEmbed}, l0h1{EdgeEnd::kHead, 0, 1}, logits{EdgeEnd::kLogits};
  const EdgePoint key{EdgeEnd::kKey, 0, 0}, query{EdgeEnd::kQuery, 0, 1};
  const std::vector<Edge> edges = {{embed, key, {}, "mine"}, {embed, query, {2}, ""}, {l0h1, logits, {}, ""}};
  const std::vector<EdgePoint> senders = edge_senders(c), receivers = edge_receivers(c);
  const at::Tensor kept = edge_mask(c, edges, &b);
  ASSERT_EQ(kept.sizes(), at::IntArrayRef({static_cast<int64_t>(receivers.size()), static_cast<int64_t>(senders.size()), 3, kCtx}));
  const at::Tensor role = kept[point_index(receivers, key)][point_index(senders, embed)];
  EXPECT_TRUE(at::equal(role.nonzero(), at::tensor({0, 1, 1, 4}, at::kLong).view({2, 2})));
  const at::Tensor at_two = kept[point_index(receivers, query)][point_index(senders, embed)];
  EXPECT_TRUE(at::equal(at_two.nonzero().select(1, 1), at::full({3}, 2, at::kLong)));
  EXPECT_TRUE(kept[point_index(receivers, logits)][point_index(senders, l0h1)].all().item<bool>());
  EXPECT_EQ(kept.sum().item<int64_t>(), 2 + 3 + 3 * kCtx);
  EXPECT_THROW(edge_mask(c, edges), InternalError);  // a role needs the examples
  // Against the same edges without the role: they differ at layer 0's attention only.
  const at::Tensor without = edge_mask(c, {edges[1], edges[2]});
  EXPECT_EQ(first_differing_part(c, without, kept, kCtx), 0);
  EXPECT_EQ(first_differing_part(c, without.logical_or(kept.any(2)), kept.any(2, true).expand_as(kept), kCtx), edge_parts(c));
}

// An edge run started at a part from an earlier run's state (run_edges'
// reuse) equals the run computed whole, when the two masks agree on every
// receiver before that part: in a model with an MLP and an attention-only
// one, from position 0 and from a later one, with masks with and without
// positions and per example. first_differing_part finds that part; a run
// started one part later than it differs (the earlier run's state there is
// not its own).
TEST(Edges, ARunStartedFromAnEarlierRunsStateIsItsOwnRun) {
  Config attn_only = testing_util::small_mlp_config();
  attn_only.attn_only = true;
  for (const Config& c : {testing_util::small_mlp_config(), attn_only}) {
    const HookedTransformer model = make_model(c, init_params(c, 9), "test");
    const at::Tensor tokens = at::randint(7, {4, 5}, at::kLong), other = at::randint(7, {4, 5}, at::kLong);
    const at::Tensor theirs = senders_on(model, other);
    const int64_t n_receivers = static_cast<int64_t>(edge_receivers(c).size());
    const int64_t n_senders = static_cast<int64_t>(edge_senders(c).size());
    const int64_t per_layer = 3 * c.n_heads + (c.attn_only ? 0 : 1);
    ASSERT_EQ(edge_parts(c), c.n_layers * (c.attn_only ? 1 : 2) + 1);
    at::manual_seed(5);
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{n_receivers, n_senders},
                                              {n_receivers, n_senders, c.n_ctx},
                                              {n_receivers, n_senders, tokens.size(0), c.n_ctx}}) {
      const int dims = static_cast<int>(shape.size());
      at::Tensor base = at::rand(shape) < 0.5;
      base[n_receivers - 1].fill_(true);  // the logits read every sender, so that every part matters
      // The first receiver of each part: each layer's first query, its MLP's input, the logits.
      std::vector<int64_t> first_receiver;
      for (int l = 0; l < c.n_layers; ++l) {
        first_receiver.push_back(l * per_layer);
        if (!c.attn_only) first_receiver.push_back(l * per_layer + 3 * c.n_heads);
      }
      first_receiver.push_back(n_receivers - 1);
      first_receiver.push_back(n_receivers);
      for (int64_t from : {0, 3}) {
        EdgeRunStates states;
        const at::Tensor base_logits = run_edges(model, tokens, theirs, base, from, {&states});
        ASSERT_EQ(static_cast<int>(states.size()), edge_parts(c));
        EXPECT_TRUE(at::allclose(base_logits, run_edges(model, tokens, theirs, base, from), 0, 0));
        for (int part = 1; part < edge_parts(c); ++part) {
          at::Tensor later = base.clone();  // base with every edge into the part's receivers flipped
          later.slice(0, first_receiver[static_cast<std::size_t>(part)], first_receiver[static_cast<std::size_t>(part) + 1])
              .logical_not_();
          ASSERT_EQ(first_differing_part(c, base, later, tokens.size(1)), part);
          const at::Tensor alone = run_edges(model, tokens, theirs, later, from);
          const at::Tensor reused = run_edges(model, tokens, theirs, later, from, {nullptr, &states, part});
          EXPECT_TRUE(at::allclose(reused, alone, 1e-5, 1e-5))
              << "part " << part << ", from " << from << ", dims " << dims;
          if (part + 1 < edge_parts(c)) {
            const at::Tensor too_late = run_edges(model, tokens, theirs, later, from, {nullptr, &states, part + 1});
            EXPECT_FALSE(at::allclose(too_late, alone, 1e-4, 1e-4)) << "part " << part << ", from " << from << ", dims " << dims;
          }
        }
        EXPECT_EQ(first_differing_part(c, base, base.clone(), tokens.size(1)), edge_parts(c));
      }
    }
    const at::Tensor kept = at::ones({n_receivers, n_senders}, at::kBool);
    EXPECT_THROW(run_edges(model, tokens, theirs, kept, 0, {nullptr, nullptr, 1}), InternalError);
  }
}

json edge_claim(const json& edges, const json& pass = {{"faithfulness_at_least", 0.9}}) {
  return {{"id", "edges"}, {"hypothesis", "h"}, {"kind", "circuit"}, {"ablation", "zero"},
          {"metric", "logit_diff"}, {"edges", edges}, {"domain", {{"exhaustive", true}}}, {"pass", pass}};
}

// The planted previous-token head beside a head that writes nothing: its
// five edges (embed to its query, key and value, it and embed to the
// logits) are the whole model (f = 1), and each of the head's is needed;
// without the key edge the head cannot
// find the previous token and f falls; the useless head's edges contribute 0.
TEST(EdgeCircuit, PlantedHeadsEdgesAreTheModel) {
  const Task task = previous_token_task();
  const HookedTransformer model = previous_token_model(10.0f, 1, 2);
  const auto outcome = [&](const json& edges, const json& pass) {
    const json document = testing_util::system_claim_file("previous_token", json::array({edge_claim(edges, pass)}));
    return run_claim(task, parse_claims(parse_claim_file(document, "toy/claims.json"), task, model.config).at(0),
                     model, "checkpoint");
  };
  const json mechanism = {{{"sender", "embed"}, {"receiver", "L0H0.q"}}, {{"sender", "embed"}, {"receiver", "L0H0.k"}},
                          {{"sender", "embed"}, {"receiver", "L0H0.v"}}, {{"sender", "L0H0"}, {"receiver", "logits"}},
                          {{"sender", "embed"}, {"receiver", "logits"}}};
  const Outcome whole = outcome(mechanism, {{"faithfulness_at_least", 0.99}});
  EXPECT_TRUE(whole.pass) << whole.explanation;
  EXPECT_NEAR(testing_util::check_named(whole, "faithfulness").value, 1.0, 1e-5);
  // The head's four edges are needed; the current token's own logit (embed
  // -> logits) competes with the copied one, so it contributes less than 0.
  for (int e = 0; e < 4; ++e)
    EXPECT_GT(testing_util::check_named(whole, "contribution of edge " + std::to_string(e)).value, 0.5) << e;
  EXPECT_LT(testing_util::check_named(whole, "contribution of edge 4").value, 0.0);
  json keyless = mechanism;
  keyless.erase(1);
  EXPECT_LT(testing_util::check_named(outcome(keyless, {{"faithfulness_at_least", 0.9}}), "faithfulness").value, 0.9);
  // The head's query at p reads its key at p - 1, so no query reads the key
  // at the last position: its key edge at the others is the whole edge, and
  // at the last one alone it is no edge at all.
  json before_last = mechanism, last = mechanism;
  before_last[1]["positions"] = {0, 1, 2, 3, 4};
  last[1]["positions"] = {5};
  const double without_key = testing_util::check_named(outcome(keyless, {{"faithfulness_at_least", 0.9}}), "faithfulness").value;
  EXPECT_NEAR(testing_util::check_named(outcome(before_last, {{"faithfulness_at_least", 0.99}}), "faithfulness").value,
              1.0, 1e-5);
  EXPECT_NEAR(testing_util::check_named(outcome(last, {{"faithfulness_at_least", 0.9}}), "faithfulness").value,
              without_key, 1e-6);
  json with_useless = mechanism;
  with_useless.push_back({{"sender", "L0H1"}, {"receiver", "logits"}});
  const Outcome useless = outcome(with_useless, {{"faithfulness_at_least", 0.9}, {"minimality_at_least", 0.01}});
  EXPECT_FALSE(useless.pass);
  EXPECT_NEAR(testing_util::check_named(useless, "contribution of edge 5").value, 0.0, 1e-9) << useless.explanation;
  EXPECT_GT(testing_util::check_named(useless, "contribution of edge 3").value, 0.5);
}

// The planted previous-token head scored at one position per example, s =
// 1 + (the first token + the second) mod 5, with roles "source" (s - 1,
// where the head's key must match) and "scored" (s). Its key edge at the
// role "source" is the whole key edge (f = 1): a zero-ablated key scores 0,
// as an unmatched one does. The key edge at any one fixed position, or at
// the wrong role, misses the examples whose source is elsewhere.
TEST(EdgeCircuit, AnEdgeAtARoleFollowsEachExamplesPositions) {
  Task task = previous_token_task();
  const auto scored_once = [](Batch b) {
    const at::Tensor s = 1 + (b.tokens.select(1, 0) + b.tokens.select(1, 1)).remainder(5);
    const at::Tensor at_s = at::arange(kCtx).unsqueeze(0).eq(s.unsqueeze(1));
    b.targets = b.targets.masked_fill(at_s.logical_not(), -1);
    b.roles = {{"source", s - 1}, {"scored", s}};
    return b;
  };
  task.sample = [=](int64_t n, uint64_t seed, Scale scale) { return scored_once(previous_token_task().sample(n, seed, scale)); };
  task.domain_batch = [=](int64_t start, int64_t count) {
    return scored_once(previous_token_task().domain_batch(start, count));
  };
  const HookedTransformer model = previous_token_model(10.0f);
  const auto faithfulness = [&](const json& key) {
    json edges = {{{"sender", "embed"}, {"receiver", "L0H0.q"}}, {{"sender", "embed"}, {"receiver", "L0H0.v"}},
                  {{"sender", "L0H0"}, {"receiver", "logits"}}, {{"sender", "embed"}, {"receiver", "logits"}}};
    json edge = {{"sender", "embed"}, {"receiver", "L0H0.k"}};
    edge.update(key);
    edges.push_back(edge);
    const json document = testing_util::system_claim_file("previous_token", json::array({edge_claim(edges)}));
    const Claim claim = parse_claims(parse_claim_file(document, "toy/claims.json"), task, model.config).at(0);
    const Outcome o = run_claim(task, claim, model, "checkpoint");
    return std::make_pair(testing_util::check_named(o, "faithfulness").value, o.explanation);
  };
  const auto [at_role, explanation] = faithfulness({{"role", "source"}});
  EXPECT_NEAR(at_role, 1.0, 1e-5) << explanation;
  EXPECT_NE(explanation.find("embed -> L0H0.k at role source"), std::string::npos) << explanation;
  EXPECT_NEAR(faithfulness(json::object()).first, 1.0, 1e-5);
  for (int64_t p = 0; p < kCtx - 1; ++p) EXPECT_LT(faithfulness({{"positions", {p}}}).first, 0.5) << "position " << p;
  EXPECT_LT(faithfulness({{"role", "scored"}}).first, 0.5);
}

// On the shipped S2 model (mean ablation): layer 1 copies the answer from
// the position its key matches, so the edge from layer 0 to layer 1's key is
// needed, while layer 0's direct edge to the logits carries little. Path
// patching in edges: the same sender, an indirect edge that matters and a
// direct one that does not.
TEST(EdgeCircuit, ShippedCopyNeedsTheIndirectEdgeNotTheDirectOne) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::shared_ptr<const Task> task = load_task("array_index");
  json edges = json::array();
  for (const Edge& e : all_edges(ck.model.config)) edges.push_back({{"sender", e.sender.name()}, {"receiver", e.receiver.name()}});
  json claim = edge_claim(edges, {{"faithfulness_at_least", 0.9}, {"minimality_at_least", 0.05}});
  claim["ablation"] = "mean";
  claim["domain"] = {{"sample", 500}, {"seed", 3}};
  const json document = testing_util::system_claim_file("array_index", json::array({claim}));
  const Claim parsed = parse_claims(parse_claim_file(document, "claims/x.json"), *task, ck.model.config).at(0);
  const Outcome all = run_claim(*task, parsed, ck.model, "checkpoint");
  EXPECT_NEAR(testing_util::check_named(all, "faithfulness").value, 1.0, 1e-4) << all.explanation;
  const auto contribution = [&](const std::string& name) {
    const auto& list = spec_of<CircuitSpec>(parsed.spec).edges;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (list[i].name() == name) return testing_util::check_named(all, "contribution of edge " + std::to_string(i)).value;
    ADD_FAILURE() << "no edge " << name;
    return 0.0;
  };
  EXPECT_GT(contribution("L0H0 -> L1H0.k"), 0.3);
  EXPECT_LT(std::fabs(contribution("L0H0 -> logits")), 0.05);
}

// On the shipped S2 model, copy_edges at positions: layer 1's key needs
// layer 0's output at elt (position 6) alone, where layer 0 puts idx; at
// a0..a2 alone the circuit loses more than half of the logit difference. The
// logits are read where they are scored (predict_b0..2, positions 7-9).
TEST(EdgeCircuit, ShippedCopyReadsLayerZeroAtEltAlone) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const std::shared_ptr<const Task> task = load_task("array_index");
  const auto faithfulness = [&](const json& key_positions) {
    json edges = {{{"sender", "embed"}, {"receiver", "L0H0.q"}},
                  {{"sender", "embed"}, {"receiver", "L0H0.v"}},
                  {{"sender", "embed"}, {"receiver", "L1H0.v"}},
                  {{"sender", "L0H0"}, {"receiver", "L1H0.k"}, {"positions", key_positions}},
                  {{"sender", "L0H0"}, {"receiver", "L1H0.v"}},
                  {{"sender", "L0H0"}, {"receiver", "logits"}, {"positions", {7, 8, 9}}},
                  {{"sender", "L1H0"}, {"receiver", "logits"}, {"positions", {7, 8, 9}}}};
    json claim = edge_claim(edges);
    claim["ablation"] = "mean";
    claim["reference"] = {{"sample", 1024}, {"seed", 5}};
    claim["domain"] = {{"sample", 500}, {"seed", 13}};
    const json document = testing_util::system_claim_file("array_index", json::array({claim}));
    const Claim parsed = parse_claims(parse_claim_file(document, "claims/x.json"), *task, ck.model.config).at(0);
    return testing_util::check_named(run_claim(*task, parsed, ck.model, "checkpoint"), "faithfulness").value;
  };
  EXPECT_GT(faithfulness({6}), 0.95);
  EXPECT_LT(faithfulness({1, 2, 3}), 0.6);
}

TEST(EdgeCircuit, BadEdgesNameTheirPointer) {
  const Config config = previous_token_config(2);
  const Task task = previous_token_task();
  const auto error = [&](const json& claim) {
    return testing_util::claim_parse_error(testing_util::system_claim_file("previous_token", json::array({claim})),
                                           "c.json", config, &task);
  };
  const json q = {{"sender", "embed"}, {"receiver", "L0H0.q"}};
  struct Case {
    json claim;
    std::string message;
  };
  json both = edge_claim(json::array({q}));
  both["nodes"] = {{{"hook", "blocks.0.attn.hook_z"}}};
  json neither = edge_claim(json::array({q}));
  neither.erase("edges");
  json placebo = edge_claim(json::array({q}));
  placebo["controls"] = {"random_init", "placebo:all"};
  const std::vector<Case> cases = {
      {edge_claim({{{"sender", "L0H1"}, {"receiver", "L0H0.q"}}}),
       "c.json: /claims/0/edges/0/receiver: L0H0.q reads the residual stream before L0H1 writes to it"},
      {edge_claim({{{"sender", "L0H2"}, {"receiver", "logits"}}}),
       "c.json: /claims/0/edges/0/sender: 'L0H2': head 2 out of range, the model has 2 heads"},
      {edge_claim({{{"sender", "MLP0"}, {"receiver", "logits"}}}),
       "c.json: /claims/0/edges/0/sender: 'MLP0': the model is attention-only, it has no MLP"},
      {edge_claim({{{"sender", "logits"}, {"receiver", "L0H0.q"}}}),
       "c.json: /claims/0/edges/0/sender: 'logits' is no sender: a sender is embed, L<layer>H<head> or MLP<layer>"},
      {edge_claim({{{"sender", "embed"}, {"receiver", "L0H0.x"}}}),
       "c.json: /claims/0/edges/0/receiver: 'L0H0.x' is no receiver: a receiver is L<layer>H<head>.q, .k or .v, "
       "MLP<layer> or logits"},
      {edge_claim({q, q}), "c.json: /claims/0/edges/1: embed -> L0H0.q is given twice"},
      {edge_claim({q, {{"sender", "embed"}, {"receiver", "L0H0.q"}, {"positions", {2}}}}),
       "c.json: /claims/0/edges/1: embed -> L0H0.q is given twice: name its positions or its role once"},
      {edge_claim({{{"sender", "embed"}, {"receiver", "L0H0.q"}, {"positions", {2, 6}}}}),
       "c.json: /claims/0/edges/0/positions/1: "},
      {edge_claim({{{"sender", "embed"}, {"receiver", "L0H0.q"}, {"positions", {3, 2, 3}}}}),
       "c.json: /claims/0/edges/0/positions: position 3 is given twice"},
      {edge_claim({{{"sender", "embed"}, {"receiver", "L0H0.q"}, {"positions", json::array()}}}),
       "c.json: /claims/0/edges/0/positions: "},
      {edge_claim({{{"sender", "embed"}, {"receiver", "L0H0.q"}, {"positions", {2, 60}}, {"role", "last"}}}),
       "c.json: /claims/0/edges/0/role: an edge is at \"positions\" or at a \"role\", not both"},
      {edge_claim({{{"sender", "embed"}, {"receiver", "L0H0.q"}, {"role", "nope"}}}),
       "c.json: /claims/0/edges/0/role: unknown role 'nope'"},
      {edge_claim(json::array()), "c.json: /claims/0/edges: "},
      {both, "c.json: /claims/0: a circuit is either \"nodes\" or \"edges\": give one of them"},
      {neither, "c.json: /claims/0: a circuit is either \"nodes\" or \"edges\": give one of them"},
      {placebo, "a circuit of edges has no nodes"},
  };
  for (const Case& c : cases) {
    const std::string e = error(c.claim);
    EXPECT_NE(e.find(c.message), std::string::npos) << e << "\nexpected: " << c.message;
  }
}

}  // namespace
}  // namespace circuitcheck
