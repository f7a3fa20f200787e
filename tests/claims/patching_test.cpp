// Activation patching: counterfactual inputs and the batched (layer, position)
// sweep, checked against one patched run per site.
#include "circuits/model/checkpoint.h"
#include "circuits/formats/error.h"
#include "circuits/formats/safetensors.h"
#include "circuits/claims/patching.h"
#include "circuits/tasks/task.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

namespace circuitcheck {
namespace {

TEST(Counterfactual, ChangesOnlyTheRoleFromTheNextExample) {
  const Task& task = find_task("array_index");
  Batch b = task.sample(8, 3, Scale::kCpu);
  at::Tensor cf = counterfactual_tokens(b, "idx");
  at::Tensor idx = b.roles.at("idx");
  for (int64_t i = 0; i < 8; ++i) {
    const int64_t p = idx[i].item<int64_t>();
    EXPECT_EQ(cf[i][p].item<int64_t>(), b.tokens[(i + 7) % 8][p].item<int64_t>());
    at::Tensor others = at::ones({b.tokens.size(1)}, at::kBool);
    others[p] = false;
    EXPECT_TRUE(at::equal(cf[i].masked_select(others), b.tokens[i].masked_select(others)));
  }
  EXPECT_THROW(counterfactual_tokens(b, "nope"), InputError);
  EXPECT_THROW(counterfactual_tokens(task.sample(1, 0, Scale::kCpu), "idx"), InputError);
}

TEST(Counterfactual, ReadsEachExamplesRolePosition) {
  const Task& task = find_task("tree_path");
  Batch b = task.sample(4, 1, Scale::kCpu);
  at::Tensor cf = counterfactual_tokens(b, "goal");
  at::Tensor goal = b.roles.at("goal");
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_EQ(cf[i][goal[i].item<int64_t>()].item<int64_t>(),
              b.tokens[(i + 3) % 4][goal[(i + 3) % 4].item<int64_t>()].item<int64_t>());
}

// A role site's donor value: each example's activation at its role positions
// is its donor's at the donor's own role positions, item by item; elsewhere,
// and where either lacks the item (-1), its own. Rows of 5 positions with
// activation 10 * example + position, so every value says where it came from.
TEST(DonorValues, TakeTheDonorsActivationAtTheDonorsRolePositions) {
  struct Case {
    std::string name;
    std::vector<int64_t> role;  // [4] or [4, 2] positions, -1 none
    std::vector<int64_t> shape;
    std::vector<int64_t> expected;  // [4, 5]: the source value at each position
  };
  const std::vector<int64_t> from = {2, 0, 3, 1};
  const std::vector<Case> cases = {
      {"one position each", {1, 3, 0, 4}, {4},
       {0, 20, 2, 3, 4, 10, 11, 12, 1, 14, 34, 21, 22, 23, 24, 30, 31, 32, 33, 13}},
      {"two items, some absent", {1, 2, 3, -1, -1, 0, 4, 2}, {4, 2},
       {0, 1, 20, 3, 4, 10, 11, 12, 1, 14, 32, 21, 22, 23, 24, 30, 31, 32, 33, 13}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Batch b;
    b.tokens = at::zeros({4, 5}, at::kLong);
    b.roles["r"] = to_tensor(c.role, c.shape);
    const at::Tensor activation = (at::arange(4).unsqueeze(1) * 10 + at::arange(5).unsqueeze(0)).to(at::kFloat).unsqueeze(2);
    const at::Tensor out = donor_values(activation, to_tensor(from, {4}), b, "r");
    EXPECT_TRUE(at::equal(out.squeeze(2), to_tensor(c.expected, {4, 5}).to(at::kFloat))) << out.squeeze(2);
  }
}

TEST(Counterfactual, ChangesOneItemOfARole) {
  const Task& task = find_task("variable_renaming");
  Batch b = task.sample(6, 2, Scale::kCpu);
  at::Tensor cf = counterfactual_tokens(b, "x", 0);
  at::Tensor changed = cf != b.tokens;  // only position 0 (the first digit) may change
  EXPECT_FALSE(changed.slice(1, 1).any().item<bool>());
  EXPECT_TRUE(at::equal(cf.select(1, 0), at::roll(b.tokens.select(1, 0), 1, 0)));
  EXPECT_THROW(counterfactual_tokens(b, "x", 16), InputError);
}

struct SweepCase {
  HookType type;
  std::string system;  // a shipped checkpoint
  std::string role;    // the counterfactual changes it
  int64_t from;        // the first scored position
};
void PrintTo(const SweepCase& c, std::ostream* os) { *os << c.system << " " << hook_name({c.type, 0}); }

class SweepMatchesOneRunPerSite : public ::testing::TestWithParam<SweepCase> {};

TEST_P(SweepMatchesOneRunPerSite, OnAShippedModel) {
  const SweepCase& c = GetParam();
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/" + c.system + ".safetensors");
  const Task& task = find_task(c.system);
  Batch b = task.sample(16, 5, Scale::kCpu);
  at::Tensor corrupt = counterfactual_tokens(b, c.role);
  const int64_t from = c.from;
  auto metric = [&](const at::Tensor& logits) { return target_log_prob(logits, b.targets, from); };
  const HookType type = c.type;
  PatchingSweep s = patching_sweep(ck.model, b.tokens, corrupt, type, metric, from);
  const int n_layers = ck.model.config.n_layers;
  const int64_t pos = b.tokens.size(1);
  ASSERT_EQ(s.patched.sizes(), at::IntArrayRef({n_layers, pos, 16}));
  RunOptions cached;
  for (int l = 0; l < n_layers; ++l) cached.cache.push_back({type, l});
  RunResult clean = run(ck.model, b.tokens, cached);
  for (int l = 0; l < n_layers; ++l) {
    for (int64_t p = 0; p < pos; ++p) {
      Intervention iv;
      iv.hook = {type, l};
      iv.kind = InterventionKind::kPatch;
      iv.value = clean.cache.at(iv.hook);
      iv.positions = {p};
      RunResult r = run(ck.model, corrupt, {{}, {iv}});
      at::Tensor expected = target_log_prob(r.logits.slice(1, from), b.targets, from);
      EXPECT_TRUE(at::allclose(s.patched[l][p], expected, 1e-4, 1e-4)) << "layer " << l << " position " << p;
    }
  }
  EXPECT_GT((s.clean - s.corrupt).sum().item<double>(), 1.0);  // the changed role matters to the trained model
}

INSTANTIATE_TEST_SUITE_P(Types, SweepMatchesOneRunPerSite,
                         ::testing::Values(SweepCase{HookType::kResidPre, "array_index", "idx", 7},
                                           SweepCase{HookType::kResidPost, "array_index", "idx", 7},
                                           SweepCase{HookType::kAttnOut, "array_index", "idx", 7},
                                           SweepCase{HookType::kResidPre, "modular_addition", "b", 2},
                                           SweepCase{HookType::kResidMid, "modular_addition", "b", 2},
                                           SweepCase{HookType::kMlpOut, "modular_addition", "b", 2}));

// The batched sweep gives TransformerLens' get_act_patch_resid_pre on the
// fixture's golden (the per-site loop is checked against the same golden in
// tests/model/parity_test.cpp).
TEST(PatchingSweep, MatchesTransformerLens) {
  Checkpoint ck = load_checkpoint(testing_util::fixture("tl/modadd/model.pt"));
  TensorMap golden = read_safetensors(testing_util::fixture("tl/modadd/golden_interventions.safetensors")).tensors;
  const at::Tensor answers = golden.at("answers");
  auto last_answer_logit = [&](const at::Tensor& logits) {
    return logits.select(1, logits.size(1) - 1).gather(1, answers.unsqueeze(1)).squeeze(1);
  };
  PatchingSweep s = patching_sweep(ck.model, golden.at("clean_tokens"), golden.at("corrupted_tokens"),
                                   HookType::kResidPre, last_answer_logit, 2);
  EXPECT_NEAR(s.clean.mean().item<double>(), golden.at("clean_metric").item<double>(), 1e-4);
  EXPECT_NEAR(s.corrupt.mean().item<double>(), golden.at("corrupted_metric").item<double>(), 1e-4);
  EXPECT_TRUE(at::allclose(s.patched.mean(-1), golden.at("act_patch_resid_pre"), 1e-4, 1e-4))
      << s.patched.mean(-1) << golden.at("act_patch_resid_pre");
}

TEST(PatchingSweep, RejectsBadInput) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  at::Tensor tokens = find_task("array_index").sample(2, 0, Scale::kCpu).tokens;
  auto metric = [](const at::Tensor& logits) { return logits.sum({1, 2}); };
  EXPECT_THROW(patching_sweep(ck.model, tokens, tokens, HookType::kPattern, metric), InputError);
  EXPECT_THROW(patching_sweep(ck.model, tokens, tokens.slice(1, 1), HookType::kResidPre, metric), InputError);
  EXPECT_THROW(patching_sweep(ck.model, tokens, tokens, HookType::kResidPre, metric, 11), InputError);
  EXPECT_THROW(patching_sweep(ck.model, tokens, tokens, HookType::kMlpOut, metric), InputError);  // attn_only
}

}  // namespace
}  // namespace circuitcheck
