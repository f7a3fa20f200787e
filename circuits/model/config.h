// Model configuration with TransformerLens `HookedTransformerConfig` field names.
//
// JSON in and out uses TL's names and values ("LN", "LNPre", null for no
// normalization; "standard", "shortformer", "rotary"; "causal",
// "bidirectional"; "relu", "gelu", "gelu_new", "silu"). TL's defaults apply to
// omitted fields, including TL's trap: an omitted `normalization_type` means
// "LN", while an explicit null means no normalization.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace circuitcheck {

enum class ActFn { kNone, kRelu, kGelu, kGeluNew, kSilu };
enum class Normalization { kNone, kLN, kLNPre };
enum class PositionalEmbedding { kStandard, kShortformer, kRotary };
enum class AttentionDir { kCausal, kBidirectional };

struct Config {
  int n_layers = 0;
  int d_model = 0;
  int n_heads = 0;
  int d_head = 0;
  int d_mlp = 0;  // 0 when attn_only
  int d_vocab = 0;
  int d_vocab_out = 0;
  int n_ctx = 0;
  ActFn act_fn = ActFn::kNone;  // kNone only when attn_only
  Normalization normalization_type = Normalization::kLN;
  bool attn_only = false;
  PositionalEmbedding positional_embedding_type = PositionalEmbedding::kStandard;
  int rotary_dim = 0;  // used when rotary; 0 < rotary_dim <= d_head, even
  double rotary_base = 10000.0;
  AttentionDir attention_dir = AttentionDir::kCausal;
  double eps = 1e-5;
  double attn_scale = 0.0;  // divisor of q.k; sqrt(d_head) if omitted, null or -1 (TL's default); 1 if !use_attn_scale
  bool use_attn_result = false;      // TL flag: cache hook_result (circuitcheck computes it on request anyway)
  bool use_split_qkv_input = false;  // TL flag: per-head copies of the attention input (hook_q_input, ...)
  bool use_hook_tokens = false;      // TL flag: a hook_tokens hook point
  bool use_attn_in = false;          // TL flag: a hook_attn_in hook point (per-head attention input)
  bool use_hook_mlp_in = false;      // TL flag: a hook_mlp_in hook point (the MLP's input alone)

  bool operator==(const Config& other) const;
  bool operator!=(const Config& other) const { return !(*this == other); }
};

// Parses a config object. `where` prefixes errors, e.g. "read_config: cfg.json".
// Throws InputError naming the field for: a missing required field (n_layers,
// d_model, d_head, n_ctx, d_vocab), a wrong JSON type, an unknown enum value,
// an inconsistent value (see validate_config), or a TL feature circuitcheck
// does not implement (gated_mlp, parallel_attn_mlp, final_rms,
// n_key_value_heads, use_local_attn, post_embedding_ln, soft caps,
// scale_attn_by_inverse_layer_idx, rotary_adjacent_pairs). Other keys (TL's
// bookkeeping such as init_mode or seed) are ignored.
Config config_from_json(const nlohmann::json& j, const std::string& where);

// The config as TL-named JSON (every field written, null for "none").
nlohmann::json config_to_json(const Config& config);

// Config files and side files larger than this are refused (16 MiB).
constexpr std::size_t kMaxConfigBytes = std::size_t{16} << 20;

// Reads a JSON file holding a config, or an object whose "config" key holds one
// (the `.json` beside a reference checkpoint). Throws InputError
// "read_config: <path>: ..." when the file is missing, larger than
// kMaxConfigBytes or not a regular file
// (a FIFO, a folder, a device: checked before it is opened), is not strict
// JSON (see parse_json in circuits/formats/json_input.h), or holds a bad config
// (as config_from_json).
Config read_config(const std::string& path);

// Throws InputError (prefixed by `where`) unless every dimension is positive,
// d_mlp > 0 and act_fn set unless attn_only, rotary_dim is even and within
// d_head for rotary models, eps is positive and attn_scale positive and
// finite (so a config's attn_scale of 0, -2 or 1e999 is an error, not the
// default).
void validate_config(const Config& config, const std::string& where);

// TL names of the enum values ("LN", "rotary", "gelu_new", ...; "none" for kNone).
std::string to_string(ActFn value);
std::string to_string(Normalization value);
std::string to_string(PositionalEmbedding value);
std::string to_string(AttentionDir value);

}  // namespace circuitcheck
