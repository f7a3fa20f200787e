// An independent cross-check of the circuit quantities (issue 21): on the
// shipped S2 model, tests/discovery/cross_check.py computes in PyTorch, from
// the definitions and not from this code, the faithfulness of a circuit of
// nodes, of a circuit of edges, and every node's AtP and EAP-IG score, on the batch and
// mean-ablation values circuitcheck used; and a path's recovery and causal
// scrubbing's losses, on the inputs of S2's shipped claims; both must agree.
#include "circuits/claims/claim.h"
#include "circuits/claims/domain.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/kinds/path_patching_claim.h"
#include "circuits/claims/patching.h"
#include "circuits/claims/verify.h"
#include "circuits/discovery/attribution.h"
#include "circuits/formats/safetensors.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/evaluate.h"
#include "circuits/tasks/task_spec.h"
#include "tests/claims/claim_test_util.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <fstream>

namespace circuitcheck {
namespace {

using nlohmann::json;

const VisitRuns kNoSharedRuns = [](const Domain&, const PlainReads&, const RunVisitor&,
                                   const std::function<bool()>&) { FAIL() << "a circuit claim runs no shared passes"; };

json claim_with(const std::string& field, const json& circuit) {
  return {{"id", "c"},          {"hypothesis", "h"},   {"kind", "circuit"}, {"ablation", "mean"},
          {"metric", "logit_diff"}, {field, circuit}, {"domain", {{"sample", 200}, {"seed", 9}}},
          {"pass", {{"faithfulness_at_least", 0.9}}}};
}

double faithfulness(const RunContext& context, const Claim& claim, const CircuitAblation& ablation) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  const std::vector<at::Tensor> m = measure_circuits(
      context, claim, ablation, {{false, {}, {}}, {true, {}, {}}, {true, c.nodes, c.edges}});
  return (m[2] - m[1]).sum().item<double>() / (m[0] - m[1]).sum().item<double>();
}

// tests/discovery/cross_check.py on `file` (written into scratch folder
// `name`), with the S2 model's attention scale and `settings` (JSON members):
// what it prints, parsed. Throws with its output when it fails.
json cross_check(const TensorMap& file, const std::string& name, double attn_scale, const std::string& settings = "") {
  const std::string dir = testing_util::scratch_dir(name);
  write_safetensors(dir + "/in.safetensors", file);
  const auto r = testing_util::run_command("/usr/bin/python3 " + testing_util::source_dir() +
                                           "/tests/discovery/cross_check.py " + dir + "/in.safetensors '{" + settings +
                                           "\"n_layers\": 2, \"attn_scale\": " + std::to_string(attn_scale) + "}' 2>&1");
  if (r.exit_code != 0) throw std::runtime_error("cross_check.py failed: " + r.output);
  return json::parse(r.output);
}

// A claim file for the shipped S2 model (relative to the source folder), its
// task, the model and its claims.
struct S2Claims {
  std::shared_ptr<const Task> task;
  Checkpoint ck;
  std::vector<Claim> claims;

  const Claim& named(const std::string& id) const {
    for (const Claim& c : claims)
      if (c.id == id) return c;
    throw std::runtime_error("no claim " + id);
  }
};

S2Claims s2_claims(const std::string& relative) {
  const std::string path = testing_util::source_dir() + "/" + relative;
  std::ifstream in(path);
  const ClaimFile file = parse_claim_file(json::parse(in), path);
  S2Claims out{claim_task(file), load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors"), {}};
  out.claims = parse_claims(file, *out.task, out.ck.model.config);
  return out;
}

TEST(CrossCheck, PyTorchAgreesOnFaithfulnessAndAttribution) {
  CIRCUITCHECK_REQUIRE_TOOL(testing_util::have_python_torch(),
                            "/usr/bin/python3 with torch (python3-torch) not found: no independent cross-check");
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const Config& config = ck.model.config;
  const std::shared_ptr<const Task> task = load_task("array_index");
  const json nodes = {{{"hook", "blocks.0.attn.hook_z"}, {"positions", {1, 2, 3, 6}}},
                      {{"hook", "blocks.1.attn.hook_z"}, {"positions", {7, 8, 9}}}};
  const json edges = {{{"sender", "embed"}, {"receiver", "L0H0.v"}}, {{"sender", "L0H0"}, {"receiver", "L1H0.k"}},
                      {{"sender", "L0H0"}, {"receiver", "L1H0.v"}}, {{"sender", "embed"}, {"receiver", "L1H0.v"}},
                      {{"sender", "L1H0"}, {"receiver", "logits"}}};
  const auto parse = [&](const json& claim) {
    return parse_claims(parse_claim_file(testing_util::system_claim_file("array_index", json::array({claim})), "c.json"),
                        *task, config)
        .at(0);
  };
  const Claim by_nodes = parse(claim_with("nodes", nodes)), by_edges = parse(claim_with("edges", edges));
  const RunContext context{*task, ck.model, Scale::kCpu, kNoSharedRuns, false};
  const CircuitAblation node_ablation = circuit_ablation(context, by_nodes);
  const CircuitAblation edge_ablation = circuit_ablation(context, by_edges);
  const double f_nodes = faithfulness(context, by_nodes, node_ablation);
  const double f_edges = faithfulness(context, by_edges, edge_ablation);
  std::vector<AttributionUnit> units = attribution_nodes(config, 11);
  attribute(context, by_nodes, node_ablation, 5, units);

  TensorMap file = ck.model.params;
  std::vector<at::Tensor> tokens, targets;
  for_each_slice(*task, by_nodes.domain, Scale::kCpu, kVerifyBatch, [&](const Batch& b) {
    tokens.push_back(b.tokens);
    targets.push_back(b.targets);
  });
  file["batch.tokens"] = at::cat(tokens);
  file["batch.targets"] = at::cat(targets);
  at::Tensor keep = at::zeros({config.n_layers, 11}, at::kBool);
  for (int64_t p : {1, 2, 3, 6}) keep[0][p] = true;
  for (int64_t p : {7, 8, 9}) keep[1][p] = true;
  file["keep.nodes"] = keep;
  file["keep.edges"] = edge_mask(config, spec_of<CircuitSpec>(by_edges.spec).edges);
  file["mean.embed"] = edge_ablation.values.at({HookType::kResidPre, 0}).mean(0, true);
  for (int l = 0; l < config.n_layers; ++l) {
    file["mean.z." + std::to_string(l)] = node_ablation.values.at({HookType::kZ, l}).mean(0, true);
    file["mean.result." + std::to_string(l)] = edge_ablation.values.at({HookType::kResult, l}).mean(0, true);
  }
  const json theirs = cross_check(file, "CrossCheck", config.attn_scale, "\"ig_steps\": 5, ");
  EXPECT_NEAR(f_nodes, theirs["f_nodes"].get<double>(), 1e-4);
  EXPECT_NEAR(f_edges, theirs["f_edges"].get<double>(), 1e-4);
  EXPECT_LT(theirs["f_edges_whole_is_model"].get<double>(), 1e-3) << "every edge kept is the model";
  EXPECT_GT(f_nodes, 0.5);  // measured, not a degenerate 0 or 1
  EXPECT_LT(f_edges, 0.99);
  for (const AttributionUnit& u : units) {
    if (u.head < 0) continue;
    const double expected = theirs["atp"][u.hook.layer][u.position].get<double>();
    EXPECT_NEAR(u.atp, expected, 1e-3 * std::fabs(expected) + 1e-3) << u.name();
    const double expected_ig = theirs["eap_ig"][u.hook.layer][u.position].get<double>();
    EXPECT_NEAR(u.eap_ig, expected_ig, 1e-3 * std::fabs(expected_ig) + 1e-3) << u.name();
    if (u.hook.layer == 0 && u.position == 6)  // elt: 5 steps are not one (-20.1 against -9.9)
      EXPECT_GT(std::fabs(u.eap_ig - u.atp), 1.0) << u.name();
  }
}

// S2's shipped path patching and scrubbing claims (claims/array_index.json):
// idx_reaches_layer1_keys (layer 0's head at elt into layer 1's key input
// alone) on the same examples and counterfactual inputs, and
// elt_output_depends_only_on_idx (that head at elt resampled from an example
// with the same idx) with donors the script draws itself, so its losses agree
// within the donors' sampling noise: the scrubbed and random losses are means
// of 2,000 examples' losses under other donors.
TEST(CrossCheck, PyTorchAgreesOnPathPatchingAndScrubbing) {
  CIRCUITCHECK_REQUIRE_TOOL(testing_util::have_python_torch(),
                            "/usr/bin/python3 with torch (python3-torch) not found: no independent cross-check");
  const S2Claims s2 = s2_claims("claims/array_index.json");
  const Task& task = *s2.task;
  const Checkpoint& ck = s2.ck;
  const Claim& path_claim = s2.named("idx_reaches_layer1_keys");
  const Claim& scrub_claim = s2.named("elt_output_depends_only_on_idx");
  const Outcome path_outcome = run_claim(task, path_claim, ck.model, "checkpoint");
  const Outcome scrub_outcome = run_claim(task, scrub_claim, ck.model, "checkpoint");

  TensorMap file = ck.model.params;
  std::vector<at::Tensor> tokens, cf_tokens, targets;
  const Counterfactual& counterfactual = spec_of<PathPatchingSpec>(path_claim.spec).counterfactual;
  for_each_slice(task, path_claim.domain, Scale::kCpu, kVerifyBatch, [&](const Batch& b) {
    tokens.push_back(b.tokens);
    cf_tokens.push_back(counterfactual_tokens(counterfactual, b));
    targets.push_back(b.targets);
  });
  file["path.tokens"] = at::cat(tokens);
  file["path.cf_tokens"] = at::cat(cf_tokens);
  file["path.targets"] = at::cat(targets);
  tokens.clear();
  targets.clear();
  std::vector<at::Tensor> idx;
  for_each_slice(task, scrub_claim.domain, Scale::kCpu, kVerifyBatch, [&](const Batch& b) {
    tokens.push_back(b.tokens);
    targets.push_back(b.targets);
    idx.push_back(b.classes.at("idx"));
  });
  file["scrub.tokens"] = at::cat(tokens);
  file["scrub.targets"] = at::cat(targets);
  file["scrub.idx"] = at::cat(idx);
  const json theirs = cross_check(file, "CrossCheckPaths", ck.model.config.attn_scale);
  const auto ours = [](const Outcome& o, const std::string& name) { return testing_util::check_named(o, name).value; };
  EXPECT_NEAR(ours(path_outcome, "path recovery"), theirs["path_recovery"].get<double>(), 1e-4);
  EXPECT_NEAR(ours(scrub_outcome, "loss model"), theirs["loss_model"].get<double>(), 1e-6);
  const double random = ours(scrub_outcome, "loss random");
  EXPECT_NEAR(random, theirs["loss_random"].get<double>(), 0.05 * random);
  EXPECT_NEAR(ours(scrub_outcome, "loss recovered"), theirs["loss_recovered"].get<double>(), 0.01);
  // Measured, not degenerate: the path carries the effect, and scrubbing by idx keeps the loss low.
  EXPECT_GT(theirs["path_recovery"].get<double>(), 0.9);
  EXPECT_GT(theirs["loss_random"].get<double>(), 1.0);
  EXPECT_GT(theirs["loss_recovered"].get<double>(), 0.9);
}

// Interchange intervention accuracy, on the worked example's S2 claim
// (examples/task_specs/claims/array_index.json, layer0_from_elt_on_holds_idx:
// layer 0's head at positions 6-10 patched from the task spec's new_idx
// input). The script gets the base and source inputs and computes the
// high-level answer itself (S2's rule with the source's idx), not from the
// spec's targets: the pair counts must be equal.
TEST(CrossCheck, PyTorchAgreesOnInterchangeAccuracy) {
  CIRCUITCHECK_REQUIRE_TOOL(testing_util::have_python_torch(),
                            "/usr/bin/python3 with torch (python3-torch) not found: no independent cross-check");
  const S2Claims s2 = s2_claims("examples/task_specs/claims/array_index.json");
  const Checkpoint& ck = s2.ck;
  const Claim& claim = s2.named("layer0_from_elt_on_holds_idx");
  const Outcome outcome = run_claim(*s2.task, claim, ck.model, "checkpoint");

  TensorMap file = ck.model.params;
  std::vector<at::Tensor> base, source;
  for_each_slice(*s2.task, claim.domain, Scale::kCpu, kVerifyBatch, [&](const Batch& b) {
    base.push_back(b.tokens);
    source.push_back(b.counterfactuals.at("new_idx"));
  });
  file["iia.tokens"] = at::cat(base);
  file["iia.source"] = at::cat(source);
  const json theirs = cross_check(file, "CrossCheckInterchange", ck.model.config.attn_scale);
  const Check& iia = testing_util::check_named(outcome, "interchange accuracy");
  const Check& unpatched = testing_util::check_named(outcome, "without the intervention");
  ASSERT_EQ(theirs["iia_n"].get<int64_t>(), iia.trials);
  EXPECT_EQ(theirs["iia_pairs"].get<int64_t>(), iia.successes);
  EXPECT_EQ(theirs["iia_unpatched"].get<int64_t>(), unpatched.successes);
  // Measured, not degenerate: the patch moves the answer on the pairs whose idx changed.
  EXPECT_GT(theirs["iia_pairs"].get<int64_t>(), theirs["iia_unpatched"].get<int64_t>() + 1000);
}

}  // namespace
}  // namespace circuitcheck
