// Properties of the forward pass, hooks and interventions over random configs,
// weights and inputs (RapidCheck).
#include "circuits/model/decompose.h"
#include "circuits/formats/error.h"
#include "circuits/model/model.h"
#include "tests/test_util.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace circuitcheck {
namespace {

Config gen_config(int min_layers = 1) {
  Config c;
  c.n_layers = *rc::gen::inRange(min_layers, 4);
  c.n_heads = *rc::gen::inRange(1, 4);
  c.d_head = *rc::gen::element(4, 8);
  c.d_model = *rc::gen::element(8, 16);
  c.attn_only = *rc::gen::arbitrary<bool>();
  c.d_mlp = c.attn_only ? 0 : *rc::gen::element(8, 24);
  c.act_fn = c.attn_only ? ActFn::kNone
                         : *rc::gen::element(ActFn::kRelu, ActFn::kGelu, ActFn::kGeluNew, ActFn::kSilu);
  c.normalization_type = *rc::gen::element(Normalization::kNone, Normalization::kLN, Normalization::kLNPre);
  c.positional_embedding_type = *rc::gen::element(PositionalEmbedding::kStandard,
                                                  PositionalEmbedding::kShortformer, PositionalEmbedding::kRotary);
  c.rotary_dim = *rc::gen::element(2, c.d_head);
  c.attention_dir = *rc::gen::element(AttentionDir::kCausal, AttentionDir::kBidirectional);
  c.d_vocab = *rc::gen::inRange(3, 20);
  c.d_vocab_out = *rc::gen::inRange(2, 12);
  c.n_ctx = *rc::gen::inRange(2, 9);
  c.attn_scale = std::sqrt(static_cast<double>(c.d_head));
  c.use_split_qkv_input = *rc::gen::arbitrary<bool>();
  return c;
}

// Every parameter random (biases and LN weights too), so no term hides behind
// a zero. Properties that compare two ways of computing the same thing (other
// shapes, orders or starts) take double weights and a tolerance of 1e-9:
// float32's rounding alone moves the logits of a random model without
// normalization by 1-2e-5 of their scale (CI once failed such a property at
// 1e-5: 4.2e-3 of 338, three layers), while double runs agree to 1e-12.
HookedTransformer gen_model(const Config& c, at::ScalarType dtype = at::kFloat) {
  const uint64_t seed = *rc::gen::inRange<uint64_t>(0, 1u << 30);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap params;
  for (const auto& [name, shape] : expected_params(c)) params[name] = at::normal(0.0, 0.5, shape, gen, at::kFloat);
  HookedTransformer m = make_model(c, params, "gen_model");  // which keeps float32
  for (auto& [name, t] : m.params) t = t.to(dtype);
  return m;
}

at::Tensor gen_tokens(const Config& c, int64_t batch, int64_t pos) {
  const uint64_t seed = *rc::gen::inRange<uint64_t>(0, 1u << 30);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(c.d_vocab, {batch, pos}, gen, at::kLong);
}

at::Tensor gen_random_tokens(const Config& c) {
  const int64_t batch = *rc::gen::inRange(1, 5);
  const int64_t pos = *rc::gen::inRange(1, c.n_ctx + 1);
  return gen_tokens(c, batch, pos);
}

// A causal model (random config into `c`) with double weights.
HookedTransformer gen_causal_double_model(Config& c) {
  c = gen_config();
  c.attention_dir = AttentionDir::kCausal;
  return gen_model(c, at::kDouble);
}

bool close(const at::Tensor& a, const at::Tensor& b, double tol) {
  return a.sizes() == b.sizes() && (a - b).abs().max().item<double>() <= tol * (1.0 + b.abs().max().item<double>());
}

RC_GTEST_PROP(ModelProperties, ResidPostOfLayerIsResidPreOfNext, ()) {
  Config c = gen_config(2);
  HookedTransformer m = gen_model(c);
  RunResult r = run(m, gen_random_tokens(c), {all_hooks(m), {}});
  for (int l = 0; l + 1 < c.n_layers; ++l)
    RC_ASSERT(at::equal(r.cache.at({HookType::kResidPost, l}), r.cache.at({HookType::kResidPre, l + 1})));
}

RC_GTEST_PROP(ModelProperties, DecompositionSumsToTheResidualAndLogits, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  Decomposition d = run_decomposition(m, gen_random_tokens(c));
  RC_ASSERT(close(d.components.sum(0), d.resid_final, 1e-9));
  RC_ASSERT(close(direct_logit_attribution(m, d).sum(0), d.logits, 1e-9));
  RC_ASSERT(static_cast<int64_t>(d.labels.size()) == d.components.size(0));
}

// Edits a random hook of `tokens`' run with `kind`, whose value is that same
// run's activation; returns the clean and the edited run.
std::pair<RunResult, RunResult> self_edit(const HookedTransformer& m, const at::Tensor& tokens, InterventionKind kind) {
  auto hooks = all_hooks(m);
  HookPoint hook = *rc::gen::elementOf(hooks);
  RC_PRE(hook.type != HookType::kTokens);
  RunResult clean = run(m, tokens, {{hook}, {}});
  Intervention iv;
  iv.hook = hook;
  iv.kind = kind;
  iv.value = clean.cache.at(hook);
  return {clean, run(m, tokens, {{}, {iv}})};
}

RC_GTEST_PROP(ModelProperties, PatchingWithItsOwnCacheChangesNothing, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c);
  auto [clean, patched] = self_edit(m, gen_random_tokens(c), InterventionKind::kPatch);
  RC_ASSERT(at::equal(patched.logits, clean.logits));
  RC_ASSERT(patched.liveness[0].fired >= 1);
  RC_ASSERT(patched.liveness[0].max_abs_change == 0.0);
}

RC_GTEST_PROP(ModelProperties, ZeroAblatingAHeadRemovesItsTermFromAttnOut, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  at::Tensor tokens = gen_random_tokens(c);
  const int layer = *rc::gen::inRange(0, c.n_layers);
  const int head = *rc::gen::inRange(0, c.n_heads);
  const HookPoint out{HookType::kAttnOut, layer}, result{HookType::kResult, layer};
  RunResult clean = run(m, tokens, {{out, result}, {}});
  Intervention iv;
  iv.hook = {HookType::kZ, layer};
  iv.kind = InterventionKind::kZero;
  iv.heads = {head};
  RunResult ablated = run(m, tokens, {{out}, {iv}});
  at::Tensor expected = clean.cache.at(out) - clean.cache.at(result).select(2, head);
  RC_ASSERT(close(ablated.cache.at(out), expected, 1e-9));
}

RC_GTEST_PROP(ModelProperties, MeanAblationOverIdenticalInputsChangesNothing, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  at::Tensor one = gen_tokens(c, 1, *rc::gen::inRange(1, c.n_ctx + 1));
  at::Tensor tokens = one.expand({*rc::gen::inRange(2, 6), one.size(1)}).contiguous();
  auto [clean, ablated] = self_edit(m, tokens, InterventionKind::kMean);
  RC_ASSERT(close(ablated.logits, clean.logits, 1e-9));
}

RC_GTEST_PROP(ModelProperties, CausalOutputsIgnoreLaterTokens, ()) {
  Config c = gen_config();
  c.attention_dir = AttentionDir::kCausal;
  HookedTransformer m = gen_model(c, at::kDouble);
  at::Tensor tokens = gen_tokens(c, *rc::gen::inRange(1, 4), c.n_ctx);
  const int64_t p = *rc::gen::inRange<int64_t>(0, c.n_ctx - 1);
  at::Tensor changed = tokens.clone();
  changed.slice(1, p + 1) = gen_tokens(c, tokens.size(0), c.n_ctx - p - 1);
  at::Tensor a = forward(m, tokens).slice(1, 0, p + 1), b = forward(m, changed).slice(1, 0, p + 1);
  RC_ASSERT(close(a, b, 1e-9));
}

RC_GTEST_PROP(ModelProperties, FromPositionGivesTheSameLogitsForTheLaterPositions, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  at::Tensor tokens = gen_random_tokens(c);
  RunOptions options;
  options.from_position = *rc::gen::inRange<int64_t>(0, tokens.size(1));
  at::Tensor partial = run(m, tokens, options).logits;
  RC_ASSERT(close(partial, forward(m, tokens).slice(1, options.from_position), 1e-9));
}

// An edit at one position of the last layer's ln1 hooks, given relative to
// hook_first_position, edits what the full run's edit there does, in models
// with split q/k/v inputs too (where ln1 fires for q, k and v: review of
// issue 20, q's firing covered fewer positions than the others').
RC_GTEST_PROP(ModelProperties, AnEditFromAPositionEqualsTheFullRunsEdit, ()) {
  Config c = gen_config();
  RC_PRE(c.normalization_type != Normalization::kNone);
  HookedTransformer m = gen_model(c, at::kDouble);
  at::Tensor tokens = gen_random_tokens(c);
  const int64_t pos = tokens.size(1);
  RunOptions full, from;
  from.from_position = *rc::gen::inRange<int64_t>(0, pos);
  const int64_t at = *rc::gen::inRange<int64_t>(from.from_position, pos);
  const HookType type = *rc::gen::element(HookType::kLn1Scale, HookType::kLn1Normalized);
  const HookPoint hook{type, c.n_layers - 1};
  Intervention edit{hook, InterventionKind::kScale};
  edit.factor = 1.7;
  edit.positions = {at};
  full.interventions = {edit};
  edit.positions = {at - hook_first_position(c, hook, from.from_position)};
  from.interventions = {edit};
  RC_LOG() << hook_name(hook) << " at " << at << " from " << from.from_position << "\n";
  RC_ASSERT(close(run(m, tokens, from).logits, run(m, tokens, full).logits.slice(1, from.from_position), 1e-9));
}

// Every hook of a run from a position covers the positions hook_first_position
// says, along its position dimension, and equals the full run's there.
RC_GTEST_PROP(ModelProperties, HookFirstPositionIsWhereARunFromAPositionCoversEachHook, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  at::Tensor tokens = gen_random_tokens(c);
  RunOptions full, from;
  full.cache = from.cache = all_hooks(m);
  from.from_position = *rc::gen::inRange<int64_t>(0, tokens.size(1));
  const RunResult all = run(m, tokens, full), part = run(m, tokens, from);
  for (const HookPoint& hook : from.cache) {
    if (hook.type == HookType::kTokens) continue;
    const int dim = position_dim(hook.type);
    const int64_t first = hook_first_position(c, hook, from.from_position);
    RC_LOG() << hook_name(hook) << " from " << from.from_position << ": " << part.cache.at(hook).sizes() << "\n";
    RC_ASSERT(part.cache.at(hook).size(dim) == tokens.size(1) - first);
    if (hook.type == HookType::kAttnScores) continue;  // masked scores are -inf: the pattern stands for them
    RC_ASSERT(close(part.cache.at(hook), all.cache.at(hook).slice(dim, first), 1e-9));
  }
}

// A run from a prefix (RunOptions::prefix) that a run of the first p
// positions made, with the same edit there, equals the full run from p on:
// every hook where hook_first_position says, and the logits.
RC_GTEST_PROP(ModelProperties, ARunFromAPrefixEqualsTheFullRunFromThere, ()) {
  Config c;
  const HookedTransformer m = gen_causal_double_model(c);
  const int64_t pos = *rc::gen::inRange<int64_t>(2, c.n_ctx + 1);
  const at::Tensor tokens = gen_tokens(c, *rc::gen::inRange(1, 4), pos);
  const int64_t p = *rc::gen::inRange<int64_t>(1, pos);
  Intervention edit;
  edit.hook = *rc::gen::elementOf(all_hooks(m));
  RC_PRE(edit.hook.type != HookType::kTokens);
  edit.kind = InterventionKind::kScale;
  edit.factor = 0.5;
  RunOptions full, head, tail;
  full.cache = tail.cache = all_hooks(m);
  full.interventions = head.interventions = tail.interventions = {edit};
  full.from_position = tail.from_position = *rc::gen::inRange<int64_t>(0, pos);
  head.cache = prefix_hooks(c);
  head.logits = false;
  tail.prefix = run_prefix(c, run(m, tokens.slice(1, 0, p), head).cache, p);
  const RunResult all = run(m, tokens, full), part = run(m, tokens, tail);
  const int64_t from = full.from_position;
  RC_ASSERT(close(part.logits, all.logits.slice(1, std::max(from, p) - from), 1e-9));
  for (const HookPoint& hook : tail.cache) {
    if (hook.type == HookType::kTokens || hook.type == HookType::kAttnScores) continue;  // scores: as above
    const int dim = position_dim(hook.type);
    const int64_t first = hook_first_position(c, hook, from, p);
    RC_LOG() << hook_name(hook) << " prefix " << p << " from " << from << ": " << part.cache.at(hook).sizes() << "\n";
    RC_ASSERT(part.cache.at(hook).size(dim) == pos - first);
    RC_ASSERT(close(part.cache.at(hook), all.cache.at(hook).slice(dim, first - hook_first_position(c, hook, from)), 1e-9));
  }
}

TEST(ModelProperties, APrefixThatDoesNotFitIsRefused) {
  const Config c = testing_util::small_mlp_config();
  HookedTransformer m = make_model(c, init_params(c, 0), "test");
  const at::Tensor tokens = at::zeros({2, 4}, at::kLong);
  RunOptions head;
  head.cache = prefix_hooks(c);
  const RunPrefix prefix = run_prefix(c, run(m, tokens.slice(1, 0, 2), head).cache, 2);
  RunOptions options;
  options.prefix = prefix;
  EXPECT_NO_THROW(run(m, tokens, options));
  options.prefix.k.pop_back();
  EXPECT_THROW(run(m, tokens, options), InputError);  // a layer short
  options.prefix = prefix;
  EXPECT_THROW(run(m, tokens.slice(1, 0, 2), options), InputError);  // nothing left to run
  EXPECT_THROW(run(m, tokens.slice(0, 0, 1), options), InputError);  // another batch
  EXPECT_THROW(run_prefix(c, run(m, tokens.slice(1, 0, 2), head).cache, 3), InputError);  // too short
  RunOptions resumed = options;
  resumed.start_resid = at::zeros({2, 4, c.d_model});
  resumed.start_layer = 1;
  resumed.prefix.k[0] = resumed.prefix.v[0] = at::Tensor();
  EXPECT_NO_THROW(run(m, tokens, resumed));  // a start at layer 1 reads no keys and values of layer 0
  resumed.start_layer = 0;
  EXPECT_THROW(run(m, tokens, resumed), InputError);  // one at layer 0 does
  resumed.prefix = prefix;
  RunOptions at_mlp = resumed, mixed = resumed;
  at_mlp.start_at_mlp = true;
  EXPECT_THROW(run(m, tokens, at_mlp), InputError);  // a prefix and start_at_mlp
  mixed.start_base = at::zeros({2, 4, c.d_model});
  mixed.start_mask = at::zeros({1, 2, 4}, at::kBool);
  EXPECT_THROW(run(m, tokens, mixed), InputError);  // a prefix and a mixed start
  EXPECT_NO_THROW(run(m, tokens, resumed));  // a start at layer 0's hook_resid_pre with its keys and values
  resumed.start_z = at::zeros({2, 4, c.n_heads, c.d_head});
  EXPECT_NO_THROW(run(m, tokens, resumed));  // and at its hook_z
  resumed.prefix.k[0] = resumed.prefix.v[0] = at::Tensor();
  EXPECT_NO_THROW(run(m, tokens, resumed));  // which does not read the start layer's keys and values
  options.prefix.k[0] = options.prefix.v[0] = at::Tensor();
  EXPECT_THROW(run(m, tokens, options), InputError);  // but a run from the embeddings does
  resumed.prefix = prefix;
  resumed.prefix.v[1] = at::Tensor();
  EXPECT_THROW(run(m, tokens, resumed), InputError);  // nor a layer after the start
  EXPECT_EQ(run_prefix(c, run(m, tokens.slice(1, 0, 2), head).cache, 2, 1).length, 2);
  Config both_ways = c;
  both_ways.attention_dir = AttentionDir::kBidirectional;
  EXPECT_THROW(run(make_model(both_ways, init_params(both_ways, 0), "test"), tokens, options), InputError);
}

RC_GTEST_PROP(ModelProperties, RunsWithoutLogitsStopAfterTheLastNeededLayer, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c);
  at::Tensor tokens = gen_random_tokens(c);
  const std::vector<HookPoint> points = hook_points(c);
  const HookPoint hook = *rc::gen::elementOf(points);
  RunOptions options;
  options.cache = {hook};
  const at::Tensor full = run(m, tokens, options).cache.at(hook);
  options.logits = false;
  const RunResult partial = run(m, tokens, options);
  RC_ASSERT(at::equal(partial.cache.at(hook), full));
  const bool ln_final = hook.type == HookType::kLnFinalScale || hook.type == HookType::kLnFinalNormalized;
  RC_ASSERT(partial.logits.defined() == ln_final);
}

// A mixed start (start_resid/start_base/start_mask) equals starting from the
// mixed residual itself, with or without a start-layer hook that forces the
// mix to be materialised, and with a per-prompt or shared mask.
RC_GTEST_PROP(ModelProperties, MixedStartEqualsTheMaterialisedMix, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  const int64_t b = *rc::gen::inRange(1, 4), pos = *rc::gen::inRange(1, c.n_ctx + 1), n = *rc::gen::inRange(1, 4);
  const at::Tensor tokens = gen_tokens(c, n * b, pos);
  const int layer = *rc::gen::inRange(0, c.n_layers);
  RunOptions cache_all;
  cache_all.cache = {{HookType::kResidPre, layer}};
  const at::Tensor patched = run(m, gen_tokens(c, b, pos), cache_all).cache.at({HookType::kResidPre, layer});
  const at::Tensor base = run(m, gen_tokens(c, b, pos), cache_all).cache.at({HookType::kResidPre, layer});
  const int64_t mask_rows = *rc::gen::element<int64_t>(1, b);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(*rc::gen::inRange<uint64_t>(0, 1u << 30));
  const at::Tensor mask = at::rand({n, mask_rows, pos}, gen) < 0.3;  // [n, b or 1, pos]

  RunOptions mixed;
  mixed.start_layer = layer;
  mixed.start_resid = patched;
  mixed.start_base = base;
  mixed.start_mask = mask;
  mixed.from_position = *rc::gen::inRange<int64_t>(0, pos);
  if (*rc::gen::arbitrary<bool>()) mixed.cache = {{*rc::gen::element(HookType::kResidPre, HookType::kQ, HookType::kV), layer}};
  RunOptions plain = mixed;
  plain.start_base = at::Tensor();
  plain.start_mask = at::Tensor();
  plain.start_resid = at::where(mask.unsqueeze(-1), patched.unsqueeze(0), base.unsqueeze(0)).flatten(0, 1);
  const RunResult a = run(m, tokens, mixed), want = run(m, tokens, plain);
  RC_ASSERT(close(a.logits, want.logits, 1e-9));
  for (const auto& [hook, t] : want.cache) RC_ASSERT(close(a.cache.at(hook), t, 1e-9));
}

// A run that starts after a layer's attention (start_at_mlp) or after the
// last layer (start_layer n_layers) equals the full run from there on.
RC_GTEST_PROP(ModelProperties, StartsAtAnMlpOrAtTheUnembeddingEqualTheFullRun, ()) {
  Config c = gen_config();
  HookedTransformer m = gen_model(c, at::kDouble);
  const at::Tensor tokens = gen_random_tokens(c);
  const int last = c.n_layers - 1, layer = *rc::gen::inRange(0, c.n_layers);
  RunOptions full;
  full.from_position = *rc::gen::inRange<int64_t>(0, tokens.size(1));
  full.cache = {{HookType::kResidPost, last}};
  if (!c.attn_only) full.cache.push_back({HookType::kResidMid, layer});
  // The full run without from_position, for the residual streams a start takes.
  RunOptions whole;
  whole.cache = full.cache;
  const RunResult want = run(m, tokens, full), start = run(m, tokens, whole);
  RunOptions after;
  after.from_position = full.from_position;
  after.start_layer = c.n_layers;
  after.start_resid = start.cache.at({HookType::kResidPost, last});
  RC_ASSERT(close(run(m, tokens, after).logits, want.logits, 1e-9));
  if (c.attn_only) return;
  RunOptions mlp;
  mlp.from_position = full.from_position;
  mlp.start_layer = layer;
  mlp.start_at_mlp = true;
  mlp.start_resid = start.cache.at({HookType::kResidMid, layer});
  mlp.cache = {{HookType::kResidPost, last}};
  const RunResult got = run(m, tokens, mlp);
  RC_ASSERT(close(got.logits, want.logits, 1e-9));
  RC_ASSERT(close(got.cache.at({HookType::kResidPost, last}), want.cache.at({HookType::kResidPost, last}), 1e-9));
}

// A run that starts at a layer's hook_z (start_z) or hook_resid_pre
// (start_resid, or the final residual stream at the unembedding) equals the
// full run. At hook_z, start_z is that hook's output in a run that scales it
// (so a start that recomputed the layer's attention would miss the scaling)
// and start_resid the layer's hook_resid_pre; at hook_resid_pre the started
// run makes the scaling itself. A further edit from the start on is made by
// both. With a prefix too, whose keys and values before the start layer (and
// of it, at hook_z) it does not read.
RC_GTEST_PROP(ModelProperties, AStartAtALayerEqualsTheFullRun, ()) {
  Config c;
  const HookedTransformer m = gen_causal_double_model(c);
  const int64_t pos = *rc::gen::inRange<int64_t>(1, c.n_ctx + 1);
  const at::Tensor tokens = gen_tokens(c, *rc::gen::inRange(1, 4), pos);
  const bool at_z = *rc::gen::arbitrary<bool>();
  const int layer = *rc::gen::inRange(0, at_z ? c.n_layers : c.n_layers + 1);
  const HookType first_hook = at_z ? HookType::kZ : HookType::kResidPre;
  std::vector<HookPoint> after;  // the first hook of `layer` the run computes and every hook after it
  for (const HookPoint& h : all_hooks(m))
    if ((is_layer_hook(h.type) && (h.layer > layer || (h.layer == layer && h.type >= first_hook))) ||
        h.type == HookType::kLnFinalScale || h.type == HookType::kLnFinalNormalized)
      after.push_back(h);
  RC_PRE(!after.empty());  // a start at the unembedding of a model without ln_final
  Intervention scale_z, edit;
  scale_z.hook = {HookType::kZ, std::min(layer, c.n_layers - 1)};
  scale_z.kind = edit.kind = InterventionKind::kScale;
  scale_z.factor = 2.0;
  edit.hook = *rc::gen::elementOf(after);
  edit.factor = 0.5;
  RunOptions full;
  full.interventions = {scale_z, edit};
  full.from_position = *rc::gen::inRange<int64_t>(0, pos);
  RunOptions scaled;
  scaled.cache = {layer < c.n_layers ? HookPoint{HookType::kResidPre, layer} : HookPoint{HookType::kResidPost, layer - 1}};
  if (at_z) scaled.cache.push_back({HookType::kZ, layer});
  scaled.interventions = {scale_z};
  const ActivationCache start = run(m, tokens, scaled).cache;
  RunOptions started = full;
  started.interventions = at_z || layer == c.n_layers ? std::vector<Intervention>{edit} : full.interventions;
  started.start_layer = layer;
  started.start_resid = start.at(scaled.cache[0]);
  if (at_z) started.start_z = start.at({HookType::kZ, layer});
  const int64_t p = pos > 1 && *rc::gen::arbitrary<bool>() ? *rc::gen::inRange<int64_t>(1, pos) : 0;
  // The prefix's keys and values before the start layer (and of it, at
  // hook_z) are not read: set to 1e6, or left undefined (every layer may be:
  // the prefix holds its length).
  const int unread = at_z ? layer : layer - 1;
  const bool undefined = unread >= 0 && *rc::gen::arbitrary<bool>();
  if (p > 0) {
    const int first = undefined ? unread + 1 : 0;
    RunOptions head;
    head.cache = prefix_hooks(c, first);
    head.logits = false;
    head.interventions = full.interventions;
    started.prefix = run_prefix(c, run(m, tokens.slice(1, 0, p), head).cache, p, first);
    for (int l = first; l <= unread; ++l)
      for (at::Tensor* t : {&started.prefix.k[l], &started.prefix.v[l]}) *t = at::full_like(*t, 1e6);
  }
  const int64_t from = full.from_position;
  RC_LOG() << hook_name(edit.hook) << " start layer " << layer << (at_z ? " at hook_z" : " at hook_resid_pre")
           << " prefix " << p << (undefined ? " (undefined up to it)" : "") << " from " << from << "\n";
  RC_ASSERT(close(run(m, tokens, started).logits, run(m, tokens, full).logits.slice(1, std::max(from, p) - from), 1e-9));
}

TEST(ModelProperties, BadStartsAreRefused) {
  Config c;
  c.n_layers = 1; c.d_model = 8; c.n_heads = 1; c.d_head = 8; c.d_vocab = 5; c.d_vocab_out = 5;
  c.n_ctx = 4; c.attn_only = true; c.normalization_type = Normalization::kNone; c.attn_scale = std::sqrt(8.0);
  HookedTransformer m = make_model(c, init_params(c, 3), "test");
  const at::Tensor tokens = at::zeros({6, 4}, at::kLong);  // n = 3 copies of b = 2
  const at::Tensor resid = at::zeros({2, 4, 8});
  const at::Tensor mask = at::zeros({3, 1, 4}, at::kBool);
  struct Case {
    at::Tensor start_resid, start_base, start_mask;
    std::string error;
    bool at_mlp = false;
    int layer = 0;
    at::Tensor start_z;
  } cases[] = {
      {resid, {}, {}, "start_at_mlp needs start_resid, no start_mask, a layer below n_layers and a model with an MLP", true},
      {{}, {}, {}, "start_at_mlp needs start_resid", true},
      {resid, resid, mask, "start_layer 1 out of range [0, 0]", false, 1},
      {resid, {}, {}, "start_layer 2 out of range [0, 1]", false, 2},
      {at::zeros({6, 4, 8}), {}, {}, "intervention on blocks.0.attn.hook_z never fired", false, 1},
      {resid, resid, {}, "start_base is set without start_mask"},
      {{}, resid, mask, "start_mask is set without start_resid"},
      {resid, resid, mask.to(at::kFloat), "expected bool [n, b or 1, 4]"},
      {resid, resid, at::zeros({4, 1, 4}, at::kBool), "with n dividing the 6 token rows"},
      {resid, resid, at::zeros({3, 1, 3}, at::kBool), "expected bool [n, b or 1, 4]"},
      {resid, resid, at::zeros({3, 3, 4}, at::kBool), "expected [3, 2 or 1, 4]"},
      {resid, {}, mask, "start_base must have start_resid's shape [2, 4, 8]"},
      {resid, at::zeros({2, 3, 8}), mask, "start_base must have start_resid's shape [2, 4, 8]"},
      {at::zeros({6, 4, 8}), at::zeros({6, 4, 8}), mask, "start_resid has shape [6, 4, 8], expected [2, 4, 8]"},
      {{}, {}, {}, "start_z needs start_resid", false, 0, at::zeros({6, 4, 1, 8})},
      {at::zeros({6, 4, 8}), {}, {}, "start_z needs a start_layer below n_layers (1)", false, 1, at::zeros({6, 4, 1, 8})},
      {resid, resid, mask, "start_z goes with neither start_mask nor start_at_mlp", false, 0, at::zeros({6, 4, 1, 8})},
      {at::zeros({6, 4, 8}), {}, {}, "start_z has shape [6, 3, 1, 8], expected [6, 4, 1, 8]", false, 0,
       at::zeros({6, 3, 1, 8})},
  };
  for (const Case& k : cases) {
    RunOptions o;
    o.start_resid = k.start_resid;
    o.start_base = k.start_base;
    o.start_mask = k.start_mask;
    o.start_at_mlp = k.at_mlp;
    o.start_layer = k.layer;
    o.start_z = k.start_z;
    if (k.layer == c.n_layers && !k.start_mask.defined()) {  // a hook before the start never fires
      Intervention zero;
      zero.hook = {HookType::kZ, 0};
      o.interventions = {zero};
    }
    try {
      run(m, tokens, o);
      ADD_FAILURE() << "accepted; wanted: " << k.error;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(k.error), std::string::npos) << e.what();
    }
  }
}

TEST(ModelProperties, BidirectionalOutputsDoDependOnLaterTokens) {
  Config c;
  c.n_layers = 1; c.d_model = 8; c.n_heads = 1; c.d_head = 8; c.d_vocab = 5; c.d_vocab_out = 5;
  c.n_ctx = 4; c.attn_only = true; c.normalization_type = Normalization::kNone;
  c.attention_dir = AttentionDir::kBidirectional; c.attn_scale = std::sqrt(8.0);
  HookedTransformer m = make_model(c, init_params(c, 3), "test");
  at::Tensor a = at::tensor({0, 1, 2, 3}, at::kLong).view({1, 4});
  at::Tensor b = at::tensor({0, 1, 2, 4}, at::kLong).view({1, 4});
  EXPECT_FALSE(at::allclose(forward(m, a).select(1, 0), forward(m, b).select(1, 0)));
}

// hook_mlp_in (TL's use_hook_mlp_in) is the MLP's own copy of resid_mid: it
// holds resid_mid's value and changes nothing when left alone; editing it
// changes what the MLP reads and writes, while resid_mid (which the residual
// stream carries on) stays as it was: resid_post = resid_mid + mlp_out.
TEST(ModelProperties, HookMlpInFeedsTheMlpAlone) {
  Config c = testing_util::small_mlp_config();
  const TensorMap params = init_params(c, 11);
  const HookedTransformer plain = make_model(c, params, "test");
  c.use_hook_mlp_in = true;
  const HookedTransformer hooked = make_model(c, params, "test");
  const at::Tensor tokens = at::randint(7, {3, 5}, at::kLong);
  const HookPoint mid{HookType::kResidMid, 1}, in{HookType::kMlpIn, 1}, out{HookType::kMlpOut, 1},
      post{HookType::kResidPost, 1};
  EXPECT_THROW(parse_hook("blocks.1.hook_mlp_in", plain.config), InputError);
  EXPECT_EQ(parse_hook("blocks.1.hook_mlp_in", c), in);
  RunOptions cached;
  cached.cache = {mid, in, out, post};
  const RunResult clean = run(hooked, tokens, cached);
  EXPECT_TRUE(at::equal(clean.logits, forward(plain, tokens)));
  EXPECT_TRUE(at::equal(clean.cache.at(in), clean.cache.at(mid)));
  RunOptions edited = cached;
  Intervention zero;
  zero.hook = in;
  edited.interventions = {zero};
  const RunResult r = run(hooked, tokens, edited);
  EXPECT_TRUE(at::equal(r.cache.at(mid), clean.cache.at(mid)));
  EXPECT_FALSE(at::allclose(r.cache.at(out), clean.cache.at(out)));
  EXPECT_TRUE(at::allclose(r.cache.at(post), r.cache.at(mid) + r.cache.at(out), 1e-6, 1e-6));
  // The same edit at resid_mid reaches the residual stream too.
  Intervention at_mid = zero;
  at_mid.hook = mid;
  edited.interventions = {at_mid};
  EXPECT_TRUE(at::allclose(run(hooked, tokens, edited).cache.at(post), r.cache.at(out), 1e-6, 1e-6));
}

// hook_attn_in (TL's use_attn_in) is each head's copy of resid_pre, read by
// its query, key and value at once: left alone it changes nothing; an edit of
// one head's copy moves that head only, and equals the same edit made to the
// head's q, k and v inputs (use_split_qkv_input). The two flags exclude
// each other, as in TL.
TEST(ModelProperties, HookAttnInIsEachHeadsInput) {
  Config c = testing_util::small_mlp_config();
  const TensorMap params = init_params(c, 12);
  const HookedTransformer plain = make_model(c, params, "test");
  Config attn_in = c, split = c;
  attn_in.use_attn_in = true;
  split.use_split_qkv_input = true;
  const HookedTransformer a = make_model(attn_in, params, "test"), s = make_model(split, params, "test");
  const at::Tensor tokens = at::randint(7, {3, 5}, at::kLong);
  const HookPoint in{HookType::kAttnIn, 1}, z{HookType::kZ, 1}, pre{HookType::kResidPre, 1};
  RunOptions cached;
  cached.cache = {in, z, pre};
  const RunResult clean = run(a, tokens, cached);
  // The same arithmetic per head, but BLAS may round a per-head product
  // differently from the whole matrix's on some CPUs.
  EXPECT_TRUE(at::allclose(clean.logits, forward(plain, tokens), 1e-6, 1e-6));
  EXPECT_TRUE(at::equal(clean.cache.at(in).select(2, 1), clean.cache.at(pre)));
  Intervention zero;
  zero.hook = in;
  zero.heads = {1};
  RunOptions edited = cached;
  edited.interventions = {zero};
  const RunResult r = run(a, tokens, edited);
  EXPECT_TRUE(at::equal(r.cache.at(z).select(2, 0), clean.cache.at(z).select(2, 0)));
  EXPECT_FALSE(at::allclose(r.cache.at(z).select(2, 1), clean.cache.at(z).select(2, 1)));
  RunOptions same;
  for (HookType t : {HookType::kQInput, HookType::kKInput, HookType::kVInput}) {
    Intervention iv = zero;
    iv.hook = {t, 1};
    same.interventions.push_back(iv);
  }
  EXPECT_TRUE(at::allclose(run(s, tokens, same).logits, r.logits, 1e-6, 1e-6));
  Config both = attn_in;
  both.use_split_qkv_input = true;
  EXPECT_THROW(validate_config(both, "test"), InputError);
}

}  // namespace
}  // namespace circuitcheck
