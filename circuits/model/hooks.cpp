#include "circuits/model/hooks.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <utility>

namespace circuitcheck {
namespace {

const char* type_suffix(HookType type) {
  switch (type) {
    case HookType::kTokens: return "hook_tokens";
    case HookType::kEmbed: return "hook_embed";
    case HookType::kPosEmbed: return "hook_pos_embed";
    case HookType::kLnFinalScale: return "ln_final.hook_scale";
    case HookType::kLnFinalNormalized: return "ln_final.hook_normalized";
    case HookType::kResidPre: return "hook_resid_pre";
    case HookType::kQInput: return "hook_q_input";
    case HookType::kKInput: return "hook_k_input";
    case HookType::kVInput: return "hook_v_input";
    case HookType::kLn1Scale: return "ln1.hook_scale";
    case HookType::kLn1Normalized: return "ln1.hook_normalized";
    case HookType::kQ: return "attn.hook_q";
    case HookType::kK: return "attn.hook_k";
    case HookType::kV: return "attn.hook_v";
    case HookType::kRotQ: return "attn.hook_rot_q";
    case HookType::kRotK: return "attn.hook_rot_k";
    case HookType::kAttnScores: return "attn.hook_attn_scores";
    case HookType::kPattern: return "attn.hook_pattern";
    case HookType::kZ: return "attn.hook_z";
    case HookType::kResult: return "attn.hook_result";
    case HookType::kAttnOut: return "hook_attn_out";
    case HookType::kResidMid: return "hook_resid_mid";
    case HookType::kAttnIn: return "hook_attn_in";
    case HookType::kMlpIn: return "hook_mlp_in";
    case HookType::kLn2Scale: return "ln2.hook_scale";
    case HookType::kLn2Normalized: return "ln2.hook_normalized";
    case HookType::kMlpPre: return "mlp.hook_pre";
    case HookType::kMlpPost: return "mlp.hook_post";
    case HookType::kMlpOut: return "hook_mlp_out";
    case HookType::kResidPost: return "hook_resid_post";
  }
  return "";
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

bool is_layer_hook(HookType type) { return static_cast<int>(type) >= kNumModelHookTypes; }

std::string hook_name(const HookPoint& hook) {
  if (!is_layer_hook(hook.type)) return type_suffix(hook.type);
  return "blocks." + std::to_string(hook.layer) + "." + type_suffix(hook.type);
}

std::vector<HookPoint> hook_points(const Config& c) {
  const bool norm = c.normalization_type != Normalization::kNone;
  std::vector<HookPoint> out;
  auto add = [&](HookType t, int layer = -1) { out.push_back({t, layer}); };
  if (c.use_hook_tokens) add(HookType::kTokens);
  add(HookType::kEmbed);
  if (c.positional_embedding_type != PositionalEmbedding::kRotary) add(HookType::kPosEmbed);
  for (int l = 0; l < c.n_layers; ++l) {
    add(HookType::kResidPre, l);
    if (c.use_attn_in) add(HookType::kAttnIn, l);
    if (c.use_split_qkv_input) {
      add(HookType::kQInput, l);
      add(HookType::kKInput, l);
      add(HookType::kVInput, l);
    }
    if (norm) {
      add(HookType::kLn1Scale, l);
      add(HookType::kLn1Normalized, l);
    }
    add(HookType::kQ, l);
    add(HookType::kK, l);
    add(HookType::kV, l);
    if (c.positional_embedding_type == PositionalEmbedding::kRotary) {
      add(HookType::kRotQ, l);
      add(HookType::kRotK, l);
    }
    add(HookType::kAttnScores, l);
    add(HookType::kPattern, l);
    add(HookType::kZ, l);
    add(HookType::kResult, l);
    add(HookType::kAttnOut, l);
    if (!c.attn_only) {
      add(HookType::kResidMid, l);
      if (c.use_hook_mlp_in) add(HookType::kMlpIn, l);
      if (norm) {
        add(HookType::kLn2Scale, l);
        add(HookType::kLn2Normalized, l);
      }
      add(HookType::kMlpPre, l);
      add(HookType::kMlpPost, l);
      add(HookType::kMlpOut, l);
    }
    add(HookType::kResidPost, l);
  }
  if (norm) {
    add(HookType::kLnFinalScale);
    add(HookType::kLnFinalNormalized);
  }
  return out;
}

HookPoint parse_hook(const std::string& name, const Config& config) {
  auto points = hook_points(config);
  for (const auto& p : points)
    if (hook_name(p) == name) return p;
  std::vector<std::pair<std::size_t, std::string>> ranked;
  for (const auto& p : points) {
    std::string candidate = hook_name(p);
    ranked.emplace_back(edit_distance(name, candidate), candidate);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string closest;
  for (std::size_t i = 0; i < std::min<std::size_t>(3, ranked.size()); ++i)
    closest += (i ? ", " : "") + ranked[i].second;
  fail("parse_hook", "unknown hook " + quote(name) + " for this model (" +
                         std::to_string(config.n_layers) + " layers); closest: " + closest);
}

int hook_slot(const HookPoint& hook) {
  int type = static_cast<int>(hook.type);
  if (!is_layer_hook(hook.type)) return type;
  return kNumModelHookTypes + hook.layer * kNumLayerHookTypes + (type - kNumModelHookTypes);
}

int hook_slot_count(const Config& config) {
  return kNumModelHookTypes + config.n_layers * kNumLayerHookTypes;
}

int head_dim(HookType type) {
  switch (type) {
    case HookType::kAttnIn: case HookType::kQInput: case HookType::kKInput: case HookType::kVInput:
    case HookType::kQ: case HookType::kK: case HookType::kV:
    case HookType::kRotQ: case HookType::kRotK:
    case HookType::kZ: case HookType::kResult:
      return 2;
    case HookType::kAttnScores: case HookType::kPattern:
      return 1;
    default:
      return -1;
  }
}

int position_dim(HookType type) {
  return (type == HookType::kAttnScores || type == HookType::kPattern) ? 2 : 1;
}

}  // namespace circuitcheck
