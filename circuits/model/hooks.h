// Hook points: the named activations of a HookedTransformer, with
// TransformerLens names ("hook_embed", "blocks.1.attn.hook_pattern", ...).
//
// A HookPoint is typed (a HookType and a layer); hook_name / parse_hook convert
// to and from TL names. Shapes ([batch, pos, ...]):
//   hook_tokens            [batch, pos] (int64)
//   hook_embed, hook_pos_embed, resid_pre|mid|post, attn_out, mlp_out,
//   ln*.hook_normalized     [batch, pos, d_model]
//   ln*.hook_scale          [batch, pos, 1]
//   (with use_split_qkv_input, ln1 hooks are [batch, pos, n_heads, 1 | d_model]
//    and hook_q|k|v_input are [batch, pos, n_heads, d_model]; with use_attn_in,
//    ln1 hooks too and hook_attn_in [batch, pos, n_heads, d_model], what each
//    head's query, key and value read together)
//   attn.hook_q|k|v|z|rot_q|rot_k  [batch, pos, n_heads, d_head]
//   attn.hook_attn_scores|pattern  [batch, n_heads, query_pos, key_pos]
//   attn.hook_result        [batch, pos, n_heads, d_model] (per head, without b_O)
//   hook_mlp_in             [batch, pos, d_model] (with use_hook_mlp_in: what ln2 and the MLP
//                           read; editing it leaves the residual stream's resid_mid as it is)
//   mlp.hook_pre|post       [batch, pos, d_mlp]
#pragma once

#include "circuits/model/config.h"

#include <string>
#include <vector>

namespace circuitcheck {

enum class HookType {
  // Model-level hooks (layer -1).
  kTokens,
  kEmbed,
  kPosEmbed,
  kLnFinalScale,
  kLnFinalNormalized,
  // Per-layer hooks, in execution order within a block.
  kResidPre,
  kAttnIn,  // with use_attn_in: each head's copy of resid_pre, its q, k and v input at once
  kQInput,
  kKInput,
  kVInput,
  kLn1Scale,
  kLn1Normalized,
  kQ,
  kK,
  kV,
  kRotQ,
  kRotK,
  kAttnScores,
  kPattern,
  kZ,
  kResult,
  kAttnOut,
  kResidMid,
  kMlpIn,  // with use_hook_mlp_in: the MLP's own copy of resid_mid
  kLn2Scale,
  kLn2Normalized,
  kMlpPre,
  kMlpPost,
  kMlpOut,
  kResidPost,
};

constexpr int kNumModelHookTypes = 5;
constexpr int kNumLayerHookTypes = static_cast<int>(HookType::kResidPost) + 1 - kNumModelHookTypes;

struct HookPoint {
  HookType type = HookType::kEmbed;
  int layer = -1;  // -1 for model-level hooks

  bool operator==(const HookPoint& o) const { return type == o.type && layer == o.layer; }
  bool operator!=(const HookPoint& o) const { return !(*this == o); }
  bool operator<(const HookPoint& o) const {
    return layer != o.layer ? layer < o.layer : type < o.type;
  }
};

// True for hook types that belong to a block (blocks.L.*).
bool is_layer_hook(HookType type);

// The TL name, e.g. "blocks.0.attn.hook_z".
std::string hook_name(const HookPoint& hook);

// Every hook point this config's model fires, in TL execution order.
std::vector<HookPoint> hook_points(const Config& config);

// Parses a TL hook name for this config. Throws InputError
// "parse_hook: unknown hook 'blocks.0.hook_resid_pree'; closest: blocks.0.hook_resid_pre, ..."
// listing the closest valid names (edit distance) when the name is not a hook
// of this model (a typo, a layer out of range, an MLP hook of an attn-only
// model, an LN hook of a model without LN).
HookPoint parse_hook(const std::string& name, const Config& config);

// A dense index in [0, hook_slot_count(config)) for fast per-hook tables.
int hook_slot(const HookPoint& hook);
int hook_slot_count(const Config& config);

// The dimension that indexes heads (attention hooks), query/key positions and
// the last ("neuron") dimension for a hook's activation; -1 when it has none.
int head_dim(HookType type);
int position_dim(HookType type);  // the query position for scores and patterns

}  // namespace circuitcheck
