// Forward-pass speed: full activation cache over the whole S1 domain, and the
// per-call overhead of a batch of one on the S2 config.
#include "circuits/tasks/evaluate.h"
#include "circuits/model/model.h"
#include "circuits/tasks/builtin/modular_addition.h"
#include "circuits/training/optimizer.h"
#include "circuits/claims/patching.h"
#include "circuits/model/runtime.h"
#include "circuits/tasks/task.h"
#include "circuits/training/trainer.h"

#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>

namespace circuitcheck {
namespace {

Config s1_config() {
  Config c;
  c.n_layers = 1; c.d_model = 128; c.n_heads = 4; c.d_head = 32; c.d_mlp = 512;
  c.d_vocab = 114; c.d_vocab_out = 113; c.n_ctx = 3; c.act_fn = ActFn::kRelu;
  c.normalization_type = Normalization::kNone; c.attn_scale = std::sqrt(32.0);
  return c;
}

Config s2_config() {
  Config c;
  c.n_layers = 2; c.d_model = 128; c.n_heads = 1; c.d_head = 128; c.attn_only = true;
  c.d_vocab = 52; c.d_vocab_out = 50; c.n_ctx = 11; c.normalization_type = Normalization::kNone;
  c.positional_embedding_type = PositionalEmbedding::kShortformer; c.attn_scale = std::sqrt(128.0);
  return c;
}

// All 12,769 pairs [a, b, =].
at::Tensor s1_domain() {
  at::Tensor a = at::arange(113, at::kLong).repeat_interleave(113);
  at::Tensor b = at::arange(113, at::kLong).repeat(113);
  return at::stack({a, b, at::full_like(a, 113)}, 1);
}

void BM_S1FullCacheAllPairs(benchmark::State& state) {
  set_threads(static_cast<int>(state.range(0)));
  c10::InferenceMode guard;
  HookedTransformer m = make_model(s1_config(), init_params(s1_config(), 0), "bench");
  at::Tensor tokens = s1_domain();
  RunOptions options{all_hooks(m), {}};
  for (auto _ : state) benchmark::DoNotOptimize(run(m, tokens, options).logits);
  state.SetItemsProcessed(state.iterations() * tokens.size(0));
}
BENCHMARK(BM_S1FullCacheAllPairs)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_S1LogitsOnlyAllPairs(benchmark::State& state) {
  set_threads(2);
  c10::InferenceMode guard;
  HookedTransformer m = make_model(s1_config(), init_params(s1_config(), 0), "bench");
  at::Tensor tokens = s1_domain();
  for (auto _ : state) benchmark::DoNotOptimize(forward(m, tokens));
}
BENCHMARK(BM_S1LogitsOnlyAllPairs)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_S2BatchOneFullCache(benchmark::State& state) {
  set_threads(static_cast<int>(state.range(0)));
  c10::InferenceMode guard;
  HookedTransformer m = make_model(s2_config(), init_params(s2_config(), 0), "bench");
  at::Tensor tokens = at::randint(50, {1, 11}, at::kLong);
  RunOptions options{all_hooks(m), {}};
  for (auto _ : state) benchmark::DoNotOptimize(run(m, tokens, options).logits);
}
BENCHMARK(BM_S2BatchOneFullCache)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// An activation-patching sweep of hook_resid_pre over S2's 2 layers x 11
// positions for 64 prompts (a counterfactual idx), metric the clean targets'
// log-probability. Arg 0: one patched run per (layer, position), as
// TransformerLens' get_act_patch_resid_pre does (about 85 ms there); arg 1:
// patching_sweep (batched, reusing the corrupt run's earlier layers).
void BM_S2PatchingSweepResidPre(benchmark::State& state) {
  set_threads(2);
  c10::InferenceMode guard;
  HookedTransformer m = make_model(s2_config(), init_params(s2_config(), 0), "bench");
  Batch b = find_task("array_index").sample(64, 1, Scale::kCpu);
  at::Tensor corrupt = counterfactual_tokens(b, "idx");
  auto metric = [&](const at::Tensor& logits) { return target_log_prob(logits, b.targets, 7); };
  std::vector<HookPoint> hooks = {{HookType::kResidPre, 0}, {HookType::kResidPre, 1}};
  for (auto _ : state) {
    if (state.range(0) == 1) {
      benchmark::DoNotOptimize(patching_sweep(m, b.tokens, corrupt, HookType::kResidPre, metric, 7).patched);
      continue;
    }
    RunResult clean = run(m, b.tokens, {hooks, {}});
    at::Tensor out = at::empty({2, 11});
    for (int l = 0; l < 2; ++l) {
      for (int64_t p = 0; p < 11; ++p) {
        Intervention iv;
        iv.hook = hooks[l];
        iv.kind = InterventionKind::kPatch;
        iv.value = clean.cache.at(iv.hook);
        iv.positions = {p};
        out[l][p] = metric(run(m, corrupt, {{}, {iv}}).logits.slice(1, 7)).mean();
      }
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_S2PatchingSweepResidPre)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// One S1 training step (full batch of the 30 % split: forward, loss, backward,
// AdamW). Arg 1: the last layer only at the scored position (what the trainer
// does); arg 0: every position through the MLP and unembedding, as a plain loop.
void BM_S1TrainStep(benchmark::State& state) {
  set_threads(2);
  TrainRecipe recipe = default_recipe(find_task("modular_addition"), Scale::kCpu);
  HookedTransformer m = make_model(s1_config(), init_params(s1_config(), 0), "bench");
  for (auto& [name, p] : m.params) p.requires_grad_(true);
  Batch batch = modular_addition_batch(train_indices(1));
  const int64_t from = state.range(0) ? 2 : 0;
  AdamWState opt;
  for (auto _ : state) {
    RunOptions options;
    options.from_position = from;
    at::Tensor loss = scored_loss(run(m, batch.tokens, options).logits, batch.targets, from);
    loss.backward();
    adamw_step(m.params, opt, recipe.adamw, 1e-3);
    for (auto& [name, p] : m.params) p.mutable_grad() = at::Tensor();
  }
}
BENCHMARK(BM_S1TrainStep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace circuitcheck

