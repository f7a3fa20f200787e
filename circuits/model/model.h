// HookedTransformer: a TransformerLens-compatible transformer in LibTorch.
//
// Parameters carry TL state-dict names and shapes:
//   embed.W_E [d_vocab, d_model]; pos_embed.W_pos [n_ctx, d_model] (standard, shortformer)
//   blocks.L.ln1.w|b, ln2.w|b [d_model] (LN only)
//   blocks.L.attn.W_Q|W_K|W_V [n_heads, d_model, d_head]; b_Q|b_K|b_V [n_heads, d_head]
//   blocks.L.attn.W_O [n_heads, d_head, d_model]; b_O [d_model]
//   blocks.L.mlp.W_in [d_model, d_mlp]; b_in [d_mlp]; W_out [d_mlp, d_model]; b_out [d_model]
//   ln_final.w|b [d_model] (LN only); unembed.W_U [d_model, d_vocab_out]; b_U [d_vocab_out]
// plus optional TL buffers: blocks.L.attn.mask (bool [n_ctx, n_ctx]),
// blocks.L.attn.IGNORE (0-d, the value masked scores take; -inf when absent)
// and blocks.L.attn.rotary_sin|rotary_cos ([n_ctx, rotary_dim]).
//
// The forward pass follows TL's operation order in fp32 (see
// ../shared/fixtures/README.md, "TL conventions"), so logits and every cached
// activation match TL within 1e-4. It works on any device the parameters are on.
#pragma once

#include "circuits/model/config.h"
#include "circuits/model/hooks.h"
#include "circuits/model/intervention.h"
#include "circuits/formats/tensor_map.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace circuitcheck {

struct HookedTransformer {
  Config config;
  TensorMap params;  // TL names; all on one device
};

// Name and shape of every parameter the config needs (buffers excluded).
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_params(const Config& config);

// True for TL buffer names (attn.mask, attn.IGNORE, attn.rotary_sin|cos).
bool is_buffer_name(const std::string& name);

// Builds a model after checking `params` against `config`: every expected
// parameter present with its shape and a floating dtype, no unknown names
// (TL buffers are allowed). Parameters are converted to float32.
// Throws InputError "<where>: <param>: ..." otherwise.
HookedTransformer make_model(Config config, TensorMap params, const std::string& where);

// TL's "gpt2" initialisation, seeded: weights ~ N(0, 0.8 / sqrt(d_model))
// (TL's initializer_range), biases 0, LN weights 1. Deterministic for a seed.
TensorMap init_params(const Config& config, uint64_t seed);

// Moves every parameter to `device`.
void to_device(HookedTransformer& model, const at::Device& device);
at::Device model_device(const HookedTransformer& model);

using ActivationCache = std::map<HookPoint, at::Tensor>;

// The cache under TL hook names.
TensorMap named(const ActivationCache& cache);

// The keys and values of a run's first positions [0, p), for later runs of
// the same tokens that differ only from position p on (RunOptions::prefix):
// what those positions give every later one, as the model is causal.
struct RunPrefix {
  // Per layer [batch, p, n_heads, d_head]; k after rotary (hook_rot_k). A run
  // that starts at a layer (RunOptions::start_resid) does not read an
  // earlier layer's, nor, starting at its hook_z (start_z), that layer's:
  // they may be undefined there.
  std::vector<at::Tensor> k, v;
  int64_t length = 0;  // p: the positions it holds (0: no prefix)
};

// The hooks a prefix is made of: each layer's hook_rot_k (rotary models) or
// hook_k, and its hook_v, from layer `first_layer` on.
std::vector<HookPoint> prefix_hooks(const Config& config, int first_layer = 0);

// The prefix [0, length) of a run that cached prefix_hooks(config,
// first_layer) (with whatever interventions it made there), copied so that
// it holds no more than its positions; the layers before first_layer
// undefined. InputError when a hook is missing or shorter; InternalError
// for a first_layer outside [0, n_layers].
RunPrefix run_prefix(const Config& config, const ActivationCache& cache, int64_t length, int first_layer = 0);

struct RunOptions {
  std::vector<HookPoint> cache;             // activations to keep; nothing else is kept
  std::vector<Intervention> interventions;  // applied in order at their hooks
  // The last layer computes attention queries, its MLP and the logits only at
  // positions >= from_position (what training scores); the last layer's hooks,
  // ln_final's and the logits then cover [from_position, pos).
  int64_t from_position = 0;
  // When set, the run starts at blocks.<start_layer>.hook_resid_pre with this
  // residual [batch, pos, d_model] instead of embedding the tokens (which then
  // only give batch and pos); hooks before it do not fire. Activation patching
  // sweeps use it to reuse a run's earlier layers.
  // start_layer may be n_layers: start_resid is then the final residual
  // stream and the run computes only ln_final and the logits. A cached hook
  // before a run's start is absent from RunResult::cache.
  at::Tensor start_resid;
  int start_layer = 0;
  // With start_resid (not a mixed start), true: the run starts at
  // blocks.<start_layer>.hook_resid_mid, after that layer's attention, with
  // start_resid as the residual stream there (models with an MLP only); the
  // layer's earlier hooks do not fire. Edge runs (claims/edges.h) use it to
  // run an MLP on its own edited input.
  bool start_at_mlp = false;
  // Optional, with start_resid (not a mixed start, nor start_at_mlp): the run
  // starts at blocks.<start_layer>.attn.hook_z with start_z [batch, pos,
  // n_heads, d_head] as the heads' outputs there (before the hook's
  // interventions) and start_resid as the layer's hook_resid_pre; the
  // layer's hooks before hook_z do not fire, nor is its attention computed.
  // With a prefix, the prefix's keys and values of start_layer and before
  // are not read, and may be undefined. Circuit runs use it to share layer
  // 0's attention, which no node changes.
  at::Tensor start_z;
  // Optional, with start_resid: a mixed start. The run's batch is then n
  // copies of b prompts (tokens [n * b, pos]); row j of copy i starts from
  // start_resid[j] at the positions where start_mask[i][j] is true and from
  // start_base[j] elsewhere. start_resid and start_base [b, pos, d_model],
  // start_mask bool [n, b or 1, pos]. The result equals passing the mixed
  // residual as start_resid, but when no hook of the start layer up to its
  // attention pattern is cached or edited, ln1 and the q/k/v projections run
  // on the 2b sources only and each prompt's n copies share one attention
  // matrix over both sources' keys (a patching sweep's n sites share them).
  at::Tensor start_base;
  at::Tensor start_mask;
  // False: the run stops after the last hook that a cached hook or an
  // intervention needs (runs that only read activations, e.g. a probe on
  // blocks.0.hook_resid_post, skip the later layers): after the last such
  // layer, or after its attention when none of them is in its MLP part
  // (hook_resid_mid onwards), or at its hook_resid_pre when that is all it
  // needs of the layer (the embeddings of an edge run); RunResult::logits is
  // then undefined unless a
  // ln_final hook needed every layer.
  bool logits = true;
  // Optional (causal models; not with a mixed start nor start_at_mlp): the run computes
  // positions [p, pos) only, p = prefix.length < pos, its keys and values
  // at [0, p) taken from `prefix` (a run of the same tokens' first p
  // positions). Every hook then covers [p, pos) along its position dimension
  // (keys and values too; attention scores and patterns along their queries,
  // with all pos keys), as do the logits, and hook_first_position with
  // `prefix` gives each hook's first position. Equal to the full run there
  // when the prefix run made the same edits at positions below p. With
  // start_resid, start_resid (and start_z) still cover every position and
  // the run reads [p, pos) of them. Circuit runs use it to share the
  // positions before their first node, item patching (from a layer's
  // hook_resid_pre) the positions before an item.
  RunPrefix prefix;
};

struct RunResult {
  at::Tensor logits;                // [batch, pos - max(from_position, prefix), d_vocab_out]
  ActivationCache cache;            // the requested hooks, after interventions
  std::vector<Liveness> liveness;   // one per intervention, in order
};

// Every hook point of the model, for `cache` ("all").
std::vector<HookPoint> all_hooks(const HookedTransformer& model);

// Checks tokens: int64, [batch, pos] with 0 < pos <= n_ctx, every id in
// [0, d_vocab). Throws InputError prefixed by `where`.
void check_tokens(const Config& config, const at::Tensor& tokens, const std::string& where);

// Runs the model on tokens [batch, pos] (moved to the model's device).
// Throws InputError for bad tokens, a hook the model does not have, an
// intervention that does not fit its target, or one whose hook was never
// reached. Gradients flow when parameters require them.
RunResult run(const HookedTransformer& model, const at::Tensor& tokens,
              const RunOptions& options = {});

// The first position `hook` covers in a run with RunOptions::from_position
// `from_position` and a prefix of `prefix` positions: from_position for the
// last layer's hooks from its queries on (hook_q_input, hook_q, hook_rot_q,
// the attention scores and pattern along their query position, hook_z,
// hook_result, hook_attn_out, hook_resid_mid, ln2's, the MLP's,
// hook_resid_post) and for ln_final's; 0 for every other hook, which covers
// every position; never below `prefix`.
int64_t hook_first_position(const Config& config, const HookPoint& hook, int64_t from_position, int64_t prefix = 0);

// A shape for messages: "[113, 128]"; one of more than 8 dimensions (a
// hostile file's) as its first 8 and their count, "[1, 1, 1, 1, 1, 1, 1, 1,
// ...] (100000 dimensions)".
std::string shape_text(at::IntArrayRef shape);

// Logits only: [batch, pos, d_vocab_out].
at::Tensor forward(const HookedTransformer& model, const at::Tensor& tokens);

}  // namespace circuitcheck
