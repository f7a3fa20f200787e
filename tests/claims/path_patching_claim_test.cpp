// The path_patching kind (kinds/path_patching_claim.h) on the shipped S2
// model: what layer 0 writes at elt reaches layer 1 through its keys (the
// position that receives elt is chosen by idx), not through its queries or
// values, and not directly to the logits, which it reaches only through
// layer 1 (an indirect edge, which the patching kind's all-paths patch sees).
#include "circuits/claims/claim.h"
#include "circuits/claims/kinds/path_patching_claim.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "tests/claims/claim_test_util.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

json path(const json& receivers, const json& pass = {{"value_at_least", 0.9}}) {
  return {{"id", "path"},
          {"hypothesis", "h"},
          {"kind", "path_patching"},
          {"counterfactual", "idx"},
          {"sender", {{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {6}}}},
          {"receivers", receivers},
          {"domain", {{"sample", 1000}, {"seed", 3}}},
          {"pass", pass}};
}

json s2_file(const json& claim) { return testing_util::system_claim_file("array_index", json::array({claim})); }

TEST(ShippedPathPatching, IdxAtEltReachesLayerOneThroughItsKeysOnly) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const auto verify = [&](const json& claim) {
    const ClaimFile file = parse_claim_file(s2_file(claim), "claims/s2.json");
    const std::shared_ptr<const Task> task = claim_task(file);
    ControlCache controls{&ck.model, {}};
    return verify_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, controls);
  };
  const ClaimResult keys = verify(path({{{"hook", "blocks.1.hook_k_input"}, {"heads", {0}}}}));
  EXPECT_EQ(keys.verdict, Verdict::kPass) << keys.explanation;
  EXPECT_GT(testing_util::check_named(keys.checkpoint, "path recovery").value, 0.9) << keys.explanation;
  EXPECT_FALSE(testing_util::check_named(keys.controls.at(0), "path recovery").undefined.empty());  // random init: no gap
  for (const char* receiver : {"blocks.1.hook_q_input", "blocks.1.hook_v_input"}) {
    const ClaimResult other = verify(path({{{"hook", receiver}}}));
    EXPECT_EQ(other.verdict, Verdict::kFail) << receiver;
    EXPECT_LT(testing_util::check_named(other.checkpoint, "path recovery").value, 0.1) << other.explanation;
  }
  // Directly to the logits nothing arrives, though all paths together (the
  // patching kind, which lets the sender's output reach everything after it)
  // carry the whole effect: the edge to the logits is indirect, through layer 1.
  const ClaimResult logits = verify(path({"logits"}));
  EXPECT_LT(testing_util::check_named(logits.checkpoint, "path recovery").value, 0.01) << logits.explanation;
  const ClaimResult all_paths = verify({{"id", "all_paths"}, {"hypothesis", "h"}, {"kind", "patching"},
                                        {"counterfactual", "idx"},
                                        {"sites", {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {6}}}}},
                                        {"domain", {{"sample", 1000}, {"seed", 3}}},
                                        {"pass", {{"value_at_least", 0.9}}}});
  EXPECT_GT(testing_util::check_named(all_paths.checkpoint, "recovery").value, 0.9) << all_paths.explanation;
  // Both inputs together restore what the keys alone do, and no more.
  const ClaimResult both =
      verify(path({{{"hook", "blocks.1.hook_k_input"}}, {{"hook", "blocks.1.hook_q_input"}}}, {{"value_at_least", 0.0}}));
  EXPECT_NEAR(testing_util::check_named(both.checkpoint, "path recovery").value, testing_util::check_named(keys.checkpoint, "path recovery").value, 0.05) << both.explanation;
}

// The sweep over every edge of S2 (idx changed): each edge alone carries the
// sender's clean output into the counterfactual run. Exactly the chain
// embed -> L0H0.v -> (L0H0) -> L1H0.k -> (L1H0) -> logits recovers the
// effect, each link alone nearly all of it; no other edge recovers 5 %.
TEST(ShippedPathPatching, TheSweepFindsTheChainOfEdges) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  json claim = path({{{"hook", "blocks.1.hook_k_input"}, {"heads", {0}}}});
  claim["sweep"] = true;
  claim["domain"] = {{"sample", 500}, {"seed", 3}};
  const ClaimFile file = parse_claim_file(s2_file(claim), "claims/s2.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  const Outcome outcome = run_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, "checkpoint");
  ASSERT_EQ(outcome.figures.size(), 2u) << outcome.explanation;
  const Figure& sweep = outcome.figures[1];
  EXPECT_EQ(sweep.type, "heatmap");
  EXPECT_EQ(sweep.y_labels, (std::vector<std::string>{"embed", "L0H0", "L1H0"}));
  EXPECT_EQ(sweep.x_labels, (std::vector<std::string>{"L0H0.q", "L0H0.k", "L0H0.v", "L1H0.q", "L1H0.k", "L1H0.v", "logits"}));
  const std::set<std::pair<std::string, std::string>> chain = {{"embed", "L0H0.v"}, {"L0H0", "L1H0.k"}, {"L1H0", "logits"}};
  int edges = 0;
  for (std::size_t s = 0; s < sweep.y_labels.size(); ++s)
    for (std::size_t r = 0; r < sweep.x_labels.size(); ++r) {
      const double v = sweep.values[s][r];
      if (std::isnan(v)) continue;  // no such edge
      ++edges;
      if (chain.count({sweep.y_labels[s], sweep.x_labels[r]})) EXPECT_GT(v, 0.9) << sweep.y_labels[s] << " -> " << sweep.x_labels[r];
      else EXPECT_LT(std::fabs(v), 0.05) << sweep.y_labels[s] << " -> " << sweep.x_labels[r];
    }
  EXPECT_EQ(edges, 12);
}

TEST(PathPatchingClaim, BadSendersAndReceiversNameTheirPointer) {
  const Config config = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors").model.config;
  struct Case {
    const char* name;
    json change;  // merged into a valid claim (merge_patch)
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a receiver in the sender's layer", {{"receivers", {{{"hook", "blocks.0.hook_q_input"}}}}},
       "/claims/0/receivers/0/hook: a receiver sits after its sender: layer 0 is not after the sender's layer 0"},
      {"a receiver that is not an input", {{"receivers", {{{"hook", "blocks.1.attn.hook_q"}}}}},
       "/claims/0/receivers/0/hook: a receiver is a head's input"},
      {"an unknown receiver", {{"receivers", {"unembed"}}}, "/claims/0/receivers/0"},
      {"a residual sender", {{"sender", {{"hook", "blocks.0.hook_resid_post"}, {"heads", nullptr}}}},
       "/claims/0/sender/hook: a sender is heads of blocks.L.attn.hook_z or blocks.L.hook_mlp_out"},
      {"no receivers", {{"receivers", json::array()}}, "/claims/0/receivers: expected a non-empty array"},
      {"a hook twice", {{"receivers", {{{"hook", "blocks.1.hook_k_input"}}, {{"hook", "blocks.1.hook_k_input"}}}}},
       "/claims/0/receivers/1/hook: receiver 0 has the same hook"},
      {"logits twice", {{"receivers", {"logits", "logits"}}}, "/claims/0/receivers/1: \"logits\" is a receiver already"},
      {"an unknown role", {{"counterfactual", "nope"}}, "/claims/0/counterfactual: unknown role 'nope'"},
      {"a sweep that is not a boolean", {{"sweep", "all"}}, "/claims/0/sweep: "},
  };
  for (const Case& c : cases) {
    json claim = path({{{"hook", "blocks.1.hook_k_input"}}});
    claim.merge_patch(c.change);
    const std::string error = testing_util::claim_parse_error(s2_file(claim), "claims/s2.json", config);
    EXPECT_NE(error.find("claims/s2.json: " + c.error), std::string::npos) << c.name << ": " << error;
  }
}

}  // namespace
}  // namespace circuitcheck
