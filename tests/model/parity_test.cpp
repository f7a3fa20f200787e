// Parity with TransformerLens: every fixture's logits, cached activations and
// intervention results match the goldens in ../shared/fixtures.
#include "circuits/model/checkpoint.h"
#include "circuits/formats/safetensors.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace circuitcheck {
namespace {

using testing_util::fixture;

struct ParityCase {
  std::string name;       // folder under fixtures/
  double tolerance;       // see Compare
  bool tensor_scaled;     // external/: |x - g| <= t (1 + max|g|); tl/: |x - g| <= t + t |g|
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.name; }

std::vector<ParityCase> all_fixtures() {
  std::vector<ParityCase> cases;
  for (const char* group : {"tl", "external"}) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(fixture(group)))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) cases.push_back({std::string(group) + "/" + n, 1e-4, group == std::string("external")});
  }
  return cases;
}

// The fixtures that ship full-length logits (golden_logits.safetensors).
std::vector<ParityCase> fixtures_with_full_logits() {
  std::vector<ParityCase> cases;
  for (const ParityCase& c : all_fixtures())
    if (std::filesystem::exists(fixture(c.name + "/golden_logits.safetensors"))) cases.push_back(c);
  return cases;
}

// Compares an activation with its golden. Masked (non-finite or <= -1e4)
// golden entries must be masked in ours too.
::testing::AssertionResult matches(const std::string& what, const at::Tensor& ours, const at::Tensor& golden,
                                   const ParityCase& c) {
  if (ours.sizes() != golden.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << ours.sizes() << " vs golden " << golden.sizes();
  if (golden.scalar_type() == at::kLong) {
    if (at::equal(ours.to(at::kLong), golden)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": integer tensors differ";
  }
  at::Tensor g = golden.to(at::kDouble), x = ours.to(at::kDouble).cpu();
  at::Tensor masked = ~at::isfinite(g) | (g <= -1e4);
  if (!at::equal(masked, ~at::isfinite(x) | (x <= -1e4)))
    return ::testing::AssertionFailure() << what << ": masked entries differ";
  at::Tensor diff = at::where(masked, at::zeros_like(g), (x - g).abs());
  at::Tensor gf = at::where(masked, at::zeros_like(g), g);
  at::Tensor bound = c.tensor_scaled ? at::full_like(g, c.tolerance * (1.0 + gf.abs().max().item<double>()))
                                     : c.tolerance + c.tolerance * gf.abs();
  at::Tensor excess = diff - bound;
  if (excess.max().item<double>() <= 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": max |diff| " << diff.max().item<double>()
                                       << " exceeds the tolerance";
}

class Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Parity, LogitsAndEveryCachedActivation) {
  const ParityCase& c = GetParam();
  Checkpoint ck = load_checkpoint(fixture(c.name + "/model.pt"));
  Safetensors golden = read_safetensors(fixture(c.name + "/golden.safetensors"));
  RunResult r = run(ck.model, golden.tensors.at("tokens"), {all_hooks(ck.model), {}});
  TensorMap ours = named(r.cache);
  EXPECT_TRUE(matches("logits", r.logits, golden.tensors.at("logits"), c));
  int compared = 0;
  for (const auto& [name, tensor] : golden.tensors) {
    if (name == "tokens" || name == "logits") continue;
    ASSERT_TRUE(ours.count(name)) << c.name << ": hook " << name << " not produced";
    EXPECT_TRUE(matches(name, ours.at(name), tensor, c)) << c.name;
    ++compared;
  }
  EXPECT_GT(compared, 10) << c.name;
}

class FullLengthParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(FullLengthParity, Logits) {
  const ParityCase& c = GetParam();
  const std::string path = fixture(c.name + "/golden_logits.safetensors");
  Checkpoint ck = load_checkpoint(fixture(c.name + "/model.pt"));
  Safetensors golden = read_safetensors(path);
  EXPECT_TRUE(matches("logits", forward(ck.model, golden.tensors.at("tokens")), golden.tensors.at("logits"), c));
}

std::string case_name(const ::testing::TestParamInfo<ParityCase>& info) {
  std::string n = info.param.name;
  std::replace(n.begin(), n.end(), '/', '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::ValuesIn(all_fixtures()), case_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, FullLengthParity, ::testing::ValuesIn(fixtures_with_full_logits()), case_name);

// Parity of the per-receiver input hooks with TransformerLens' own:
// tests/model/goldens/<name>.safetensors, made by make_goldens.py beside
// them with TL 2.12.0 on tl/ fixtures (LN and not, shortformer, LNPre with
// gelu_new and bidirectional attention, attention-only, rotary) and on the
// reference S2 model (trained, shortformer: its patches move the logits by
// 40-70). With
// use_split_qkv_input and use_hook_mlp_in: every hook_q|k|v_input,
// hook_mlp_in and attn.hook_result, and the logits; with use_attn_in: every
// hook_attn_in and the logits; and the logits with one head's input (or the
// MLP's) patched from a run on other tokens, as edge runs and path patching
// patch them.
struct SplitInputCase {
  std::string golden;      // tests/model/goldens/<golden>.safetensors
  std::string checkpoint;  // under ../shared
};
void PrintTo(const SplitInputCase& c, std::ostream* os) { *os << c.golden; }

class SplitInputParity : public ::testing::TestWithParam<SplitInputCase> {};

TEST_P(SplitInputParity, InputHooksLogitsAndPatchedInputs) {
  const ParityCase c{GetParam().golden, 1e-4, false};
  const Checkpoint ck = load_checkpoint(testing_util::shared_dir() + "/" + GetParam().checkpoint);
  const TensorMap golden =
      read_safetensors(testing_util::source_dir() + "/tests/model/goldens/" + c.name + ".safetensors").tensors;
  HookedTransformer split = ck.model, attn_in = ck.model;
  split.config.use_split_qkv_input = true;
  split.config.use_hook_mlp_in = !split.config.attn_only;
  attn_in.config.use_attn_in = true;
  const at::Tensor& tokens = golden.at("tokens");
  int compared = 0;
  for (const auto& [prefix, model] : {std::pair<std::string, const HookedTransformer&>{"split.", split}, {"attn_in.", attn_in}}) {
    const RunResult r = run(model, tokens, {all_hooks(model), {}});
    const TensorMap ours = named(r.cache);
    EXPECT_TRUE(matches(prefix + "logits", r.logits, golden.at(prefix + "logits"), c));
    for (const auto& [name, tensor] : golden) {
      if (name.rfind(prefix + "blocks.", 0) != 0) continue;
      const std::string hook = name.substr(prefix.size());
      ASSERT_TRUE(ours.count(hook)) << c.name << ": hook " << hook << " not produced";
      EXPECT_TRUE(matches(name, ours.at(hook), tensor, c));
      ++compared;
    }
  }
  // Per layer: hook_q|k|v_input, hook_result and (with an MLP) hook_mlp_in; hook_attn_in.
  EXPECT_EQ(compared, (split.config.attn_only ? 5 : 6) * split.config.n_layers) << c.name;
  int patched = 0;
  for (const auto& [name, logits] : golden) {
    const std::string front = "patched.", back = ".logits";
    if (name.rfind(front, 0) != 0 || name.size() < back.size() || name.substr(name.size() - back.size()) != back) continue;
    const std::string hook_name = name.substr(front.size(), name.size() - front.size() - back.size());
    const HookedTransformer& model = hook_name.find("attn_in") != std::string::npos ? attn_in : split;
    const TensorMap theirs = named(run(model, golden.at("other"), {all_hooks(model), {}}).cache);
    Intervention iv;
    iv.hook = parse_hook(hook_name, model.config);
    iv.kind = InterventionKind::kPatch;
    iv.value = theirs.at(hook_name);
    const int64_t head = golden.at("patched." + hook_name + ".head").item<int64_t>();
    if (head >= 0) iv.heads = {head};
    const RunResult r = run(model, tokens, {{}, {iv}});
    EXPECT_TRUE(matches(name, r.logits, logits, c));
    EXPECT_FALSE(matches(name, golden.at("split.logits"), logits, c)) << "the patch is within the tolerance";
    ++patched;
  }
  EXPECT_EQ(patched, split.config.attn_only ? 4 : 5) << c.name;  // q, k, v, attn_in (and the MLP's input)
}

INSTANTIATE_TEST_SUITE_P(
    Goldens, SplitInputParity,
    ::testing::Values(SplitInputCase{"random_biases", "fixtures/tl/random_biases/model.pt"},
                      SplitInputCase{"array_index", "fixtures/tl/array_index/model.pt"},
                      SplitInputCase{"lnpre_gelunew_bidir", "fixtures/tl/lnpre_gelunew_bidir/model.pt"},
                      SplitInputCase{"attnonly_ln", "fixtures/tl/attnonly_ln/model.pt"},
                      SplitInputCase{"var_rename", "fixtures/tl/var_rename/model.pt"},
                      SplitInputCase{"array_index_reference", "reference/array_index_seed1.pt"}),
    [](const ::testing::TestParamInfo<SplitInputCase>& info) { return info.param.golden; });

TEST(ParityLegacy, LegacyFormatGivesTheSameForward) {
  Checkpoint zip = load_checkpoint(fixture("tl/array_index/model.pt"));
  Checkpoint legacy = load_checkpoint(fixture("tl/array_index/model_legacy.pt"));
  EXPECT_EQ(legacy.format, "torch-legacy");
  Safetensors golden = read_safetensors(fixture("tl/array_index/golden.safetensors"));
  at::Tensor tokens = golden.tensors.at("tokens");
  EXPECT_TRUE(at::equal(forward(zip.model, tokens), forward(legacy.model, tokens)));
}

// ARENA's brackets model runs with permanent hooks that set attention scores
// to -1e5 at [pad] keys; as an intervention with an element mask.
TEST(ParityInterventions, BracketsPadMask) {
  const ParityCase c{"external/arena_brackets", 1e-4, true};
  Checkpoint ck = load_checkpoint(fixture(c.name + "/model.pt"));
  Safetensors golden = read_safetensors(fixture(c.name + "/golden_padmask.safetensors"));
  at::Tensor tokens = golden.tensors.at("tokens");
  at::Tensor pad = (tokens == 1).view({tokens.size(0), 1, 1, tokens.size(1)});  // [batch, 1, 1, key]
  RunOptions options{all_hooks(ck.model), {}};
  for (int l = 0; l < ck.model.config.n_layers; ++l) {
    Intervention iv;
    iv.hook = {HookType::kAttnScores, l};
    iv.kind = InterventionKind::kReplace;
    iv.value = at::full({}, -1e5, at::kFloat);
    iv.mask = pad;
    options.interventions.push_back(iv);
  }
  RunResult r = run(ck.model, tokens, options);
  EXPECT_TRUE(matches("logits", r.logits, golden.tensors.at("logits"), c));
  TensorMap ours = named(r.cache);
  for (const auto& [name, tensor] : golden.tensors)
    if (name != "tokens" && name != "logits") EXPECT_TRUE(matches(name, ours.at(name), tensor, c));
  for (const auto& l : r.liveness) EXPECT_TRUE(l.live()) << l.describe();
}

class ModaddInterventions : public ::testing::Test {
 protected:
  void SetUp() override {
    ck_ = load_checkpoint(fixture("tl/modadd/model.pt"));
    golden_ = read_safetensors(fixture("tl/modadd/golden_interventions.safetensors")).tensors;
  }
  // Mean over the batch of the correct answer's logit at the last position.
  double metric(const at::Tensor& logits) const {
    at::Tensor last = logits.select(1, logits.size(1) - 1);
    return last.gather(1, golden_.at("answers").unsqueeze(1)).mean().item<double>();
  }
  const ParityCase tl_{"tl/modadd", 1e-4, false};
  Checkpoint ck_;
  TensorMap golden_;
};

TEST_F(ModaddInterventions, ZeroAblateHead) {
  Intervention iv;
  iv.hook = {HookType::kZ, 0};
  iv.kind = InterventionKind::kZero;
  iv.heads = {2};
  RunResult r = run(ck_.model, golden_.at("clean_tokens"), {{}, {iv}});
  EXPECT_TRUE(matches("zero_ablate_L0H2_logits", r.logits, golden_.at("zero_ablate_L0H2_logits"), tl_));
  ASSERT_EQ(r.liveness.size(), 1u);
  EXPECT_TRUE(r.liveness[0].live()) << r.liveness[0].describe();
  EXPECT_EQ(r.liveness[0].elements, 16 * 3 * 32);
}

TEST_F(ModaddInterventions, MeanAblateMlpPost) {
  const HookPoint post{HookType::kMlpPost, 0};
  RunResult clean = run(ck_.model, golden_.at("clean_tokens"), {{post}, {}});
  EXPECT_TRUE(matches("clean_logits", clean.logits, golden_.at("clean_logits"), tl_));
  Intervention iv;
  iv.hook = post;
  iv.kind = InterventionKind::kMean;
  iv.value = clean.cache.at(post);
  RunResult r = run(ck_.model, golden_.at("clean_tokens"), {{}, {iv}});
  EXPECT_TRUE(matches("mean_ablate_L0_mlp_post_logits", r.logits, golden_.at("mean_ablate_L0_mlp_post_logits"), tl_));
}

TEST_F(ModaddInterventions, ActivationPatchingResidPre) {
  std::vector<HookPoint> hooks;
  for (int l = 0; l < ck_.model.config.n_layers; ++l) hooks.push_back({HookType::kResidPre, l});
  RunResult clean = run(ck_.model, golden_.at("clean_tokens"), {hooks, {}});
  RunResult corrupted = run(ck_.model, golden_.at("corrupted_tokens"));
  EXPECT_NEAR(metric(clean.logits), golden_.at("clean_metric").item<double>(), 1e-4);
  EXPECT_NEAR(metric(corrupted.logits), golden_.at("corrupted_metric").item<double>(), 1e-4);
  at::Tensor expected = golden_.at("act_patch_resid_pre");
  for (int l = 0; l < expected.size(0); ++l) {
    for (int p = 0; p < expected.size(1); ++p) {
      Intervention iv;
      iv.hook = {HookType::kResidPre, l};
      iv.kind = InterventionKind::kPatch;
      iv.value = clean.cache.at(iv.hook);
      iv.positions = {p};
      RunResult r = run(ck_.model, golden_.at("corrupted_tokens"), {{}, {iv}});
      EXPECT_NEAR(metric(r.logits), expected[l][p].item<double>(), 1e-4) << "layer " << l << " pos " << p;
    }
  }
}

}  // namespace
}  // namespace circuitcheck
