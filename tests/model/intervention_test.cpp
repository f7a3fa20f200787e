#include "circuits/formats/error.h"
#include "circuits/model/intervention.h"
#include "circuits/model/model.h"

#include <gtest/gtest.h>

namespace circuitcheck {
namespace {

// A hook_z-shaped activation [batch 2, pos 3, heads 2, d_head 2] holding 1..24.
at::Tensor z_activation() { return at::arange(1, 25, at::kFloat).view({2, 3, 2, 2}); }

struct KindCase {
  std::string name;
  InterventionKind kind;
  at::Tensor value;
  double factor;
  std::vector<int64_t> heads, positions, neurons;
  at::Tensor expected;  // computed by hand below
  int64_t elements;
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const KindCase& c, std::ostream* os) { *os << c.name; }

std::vector<KindCase> kind_cases() {
  at::Tensor x = z_activation();
  std::vector<KindCase> cases;
  cases.push_back({"zero_all", InterventionKind::kZero, {}, 1, {}, {}, {}, at::zeros_like(x), 24});
  at::Tensor head1 = x.clone();
  head1.select(2, 1).zero_();
  cases.push_back({"zero_head1", InterventionKind::kZero, {}, 1, {1}, {}, {}, head1, 12});
  at::Tensor pos2_neuron0 = x.clone();
  pos2_neuron0.select(1, 2).select(2, 0).mul_(3);
  cases.push_back({"scale_pos2_neuron0", InterventionKind::kScale, {}, 3, {}, {2}, {0}, pos2_neuron0, 4});
  cases.push_back({"add_broadcast", InterventionKind::kAdd, at::ones({2}), 1, {}, {}, {}, x + 1, 24});
  cases.push_back({"replace_scalar", InterventionKind::kReplace, at::full({}, 7.0), 1, {}, {}, {}, at::full_like(x, 7), 24});
  at::Tensor mean = x.mean(0, true).expand_as(x).contiguous();
  cases.push_back({"mean_over_reference", InterventionKind::kMean, x, 1, {}, {}, {}, mean, 24});
  at::Tensor other = x * -1;
  at::Tensor patched = x.clone();
  patched.select(1, 0).copy_(other.select(1, 0));
  cases.push_back({"patch_pos0", InterventionKind::kPatch, other, 1, {}, {0}, {}, patched, 8});
  return cases;
}

class InterventionKinds : public ::testing::TestWithParam<KindCase> {};

TEST_P(InterventionKinds, EditTheRegionOnlyAndRecordLiveness) {
  const KindCase& k = GetParam();
  Intervention iv;
  iv.hook = {HookType::kZ, 0};
  iv.kind = k.kind;
  iv.value = k.value;
  iv.factor = k.factor;
  iv.heads = k.heads;
  iv.positions = k.positions;
  iv.neurons = k.neurons;
  Liveness record;
  at::Tensor out = apply_intervention(iv, z_activation(), record);
  EXPECT_TRUE(at::allclose(out, k.expected)) << out << k.expected;
  EXPECT_EQ(record.fired, 1);
  EXPECT_EQ(record.elements, k.elements);
  EXPECT_NEAR(record.max_abs_change, (out - z_activation()).abs().max().item<double>(), 1e-6);
  EXPECT_TRUE(record.live());
}

INSTANTIATE_TEST_SUITE_P(Table, InterventionKinds, ::testing::ValuesIn(kind_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Intervention, ResampleIsSeededAndDrawsRowsOfTheSource) {
  at::Tensor source = at::arange(10, at::kFloat).view({10, 1}).expand({10, 3}).contiguous();
  Intervention iv;
  iv.hook = {HookType::kResidPre, 0};
  iv.kind = InterventionKind::kResample;
  iv.value = source.view({10, 1, 3});
  iv.seed = 5;
  Liveness a, b;
  at::Tensor x = at::full({6, 1, 3}, -1.0);
  at::Tensor first = apply_intervention(iv, x, a), second = apply_intervention(iv, x, b);
  EXPECT_TRUE(at::equal(first, second));
  EXPECT_GE(first.min().item<double>(), 0.0);
  iv.seed = 6;
  EXPECT_FALSE(at::equal(first, apply_intervention(iv, x, b)));
  // A row's donor depends on its index in the run, not on the forward pass it
  // falls in: rows 0-5 in one pass or in passes of 2 and 4 get the same donors.
  iv.seed = 5;
  Intervention tail = iv;
  tail.first_row = 2;
  const at::Tensor pieces = at::cat({apply_intervention(iv, x.narrow(0, 0, 2), b), apply_intervention(tail, x.narrow(0, 2, 4), b)});
  EXPECT_TRUE(at::equal(first, pieces));
  EXPECT_FALSE(at::equal(first.narrow(0, 0, 4), apply_intervention(tail, x.narrow(0, 2, 4), b)));
}

TEST(Intervention, ZeroOnZeroFiresButIsNotLive) {
  Intervention iv;
  iv.hook = {HookType::kResidPre, 0};
  Liveness record;
  apply_intervention(iv, at::zeros({2, 2, 4}), record);
  EXPECT_EQ(record.fired, 1);
  EXPECT_FALSE(record.live());
}

struct BadIntervention {
  std::string name;
  Intervention iv;
  std::string message;
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const BadIntervention& c, std::ostream* os) { *os << c.name; }

std::vector<BadIntervention> bad_interventions() {
  auto make = [](HookType type, InterventionKind kind) {
    Intervention iv;
    iv.hook = {type, 0};
    iv.kind = kind;
    return iv;
  };
  std::vector<BadIntervention> out;
  Intervention head_range = make(HookType::kZ, InterventionKind::kZero);
  head_range.heads = {2};
  out.push_back({"head_out_of_range", head_range, "head 2 out of range"});
  Intervention no_heads = make(HookType::kResidPre, InterventionKind::kZero);
  no_heads.heads = {0};
  out.push_back({"no_head_dimension", no_heads, "no head dimension"});
  Intervention position = make(HookType::kZ, InterventionKind::kZero);
  position.positions = {3};
  out.push_back({"position_out_of_range", position, "position 3 out of range"});
  Intervention neuron = make(HookType::kZ, InterventionKind::kZero);
  neuron.neurons = {-1};
  out.push_back({"negative_neuron", neuron, "neuron -1 out of range"});
  Intervention replace = make(HookType::kZ, InterventionKind::kReplace);
  replace.value = at::ones({5});
  out.push_back({"replace_shape", replace, "does not broadcast"});
  Intervention patch = make(HookType::kZ, InterventionKind::kPatch);
  patch.value = at::ones({2, 3, 2, 3});
  out.push_back({"patch_shape", patch, "patch value must have the activation's shape"});
  Intervention mean = make(HookType::kZ, InterventionKind::kMean);
  mean.value = at::ones({4, 3, 2});
  out.push_back({"mean_shape", mean, "value must be [n,"});
  Intervention missing = make(HookType::kZ, InterventionKind::kAdd);
  out.push_back({"missing_value", missing, "needs a value"});
  Intervention mask = make(HookType::kZ, InterventionKind::kZero);
  mask.mask = at::ones({3, 3}, at::kBool);
  out.push_back({"mask_shape", mask, "mask of shape"});
  return out;
}

class InterventionErrors : public ::testing::TestWithParam<BadIntervention> {};

TEST_P(InterventionErrors, NameTheHookAndTheProblem) {
  Liveness record;
  try {
    apply_intervention(GetParam().iv, z_activation(), record);
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(hook_name(GetParam().iv.hook)), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, InterventionErrors, ::testing::ValuesIn(bad_interventions()),
                         [](const auto& info) { return info.param.name; });

TEST(Intervention, RunRejectsHooksTheModelDoesNotHave) {
  Config c;
  c.n_layers = 1; c.d_model = 8; c.n_heads = 2; c.d_head = 4; c.d_vocab = 5; c.d_vocab_out = 5;
  c.n_ctx = 4; c.attn_only = true; c.normalization_type = Normalization::kNone; c.attn_scale = 2.0;
  HookedTransformer m = make_model(c, init_params(c, 1), "test");
  at::Tensor tokens = at::zeros({1, 4}, at::kLong);
  Intervention iv;
  iv.hook = {HookType::kMlpPost, 0};
  EXPECT_THROW(run(m, tokens, {{}, {iv}}), InputError);
  EXPECT_THROW(run(m, tokens, {{{HookType::kResidPre, 3}}, {}}), InputError);
  EXPECT_THROW(run(m, at::zeros({1, 5}, at::kLong), {}), InputError);       // longer than n_ctx
  EXPECT_THROW(run(m, at::full({1, 2}, 5, at::kLong), {}), InputError);     // out of vocabulary
  EXPECT_THROW(run(m, at::zeros({1, 2}, at::kFloat), {}), InputError);      // not int64
}

}  // namespace
}  // namespace circuitcheck
