#include "circuits/model/config.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/text_file.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr double kUnsetAttnScale = -1.0;  // TL's default: sqrt(d_head)

std::string field(const std::string& where, const std::string& key) { return where + ": /" + key; }

std::optional<int> get_int(const json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  bool integral = v.is_number_integer() ||
                  (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  check(integral, field(where, key), "expected an integer, got " + json_excerpt(v));
  double d = v.get<double>();
  check(d >= -2147483648.0 && d <= 2147483647.0, field(where, key), "out of range: " + json_excerpt(v));
  return static_cast<int>(d);
}

int require_int(const json& j, const std::string& key, const std::string& where) {
  auto v = get_int(j, key, where);
  check(v.has_value(), field(where, key), "required field is missing");
  return *v;
}

std::optional<double> get_double(const json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  check(j[key].is_number(), field(where, key), "expected a number, got " + json_excerpt(j[key]));
  return j[key].get<double>();
}

std::optional<bool> get_bool(const json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  check(j[key].is_boolean(), field(where, key), "expected true or false, got " + json_excerpt(j[key]));
  return j[key].get<bool>();
}

template <typename Enum>
Enum get_enum(const json& j, const std::string& key, const std::string& where,
              const std::vector<std::pair<std::string, Enum>>& names, Enum if_missing,
              Enum if_null) {
  if (!j.contains(key)) return if_missing;
  const json& v = j[key];
  if (v.is_null()) return if_null;
  check(v.is_string(), field(where, key), "expected a string, got " + json_excerpt(v));
  std::string valid;
  for (const auto& [name, value] : names) {
    if (name == v.get<std::string>()) return value;
    valid += (valid.empty() ? "" : ", ") + name;
  }
  fail(field(where, key), "unknown value " + json_excerpt(v) + " (valid: " + valid + ")");
}

const std::vector<std::pair<std::string, ActFn>> kActFns = {
    {"relu", ActFn::kRelu}, {"gelu", ActFn::kGelu}, {"gelu_new", ActFn::kGeluNew},
    {"silu", ActFn::kSilu}};
const std::vector<std::pair<std::string, Normalization>> kNormalizations = {
    {"LN", Normalization::kLN}, {"LNPre", Normalization::kLNPre}};
const std::vector<std::pair<std::string, PositionalEmbedding>> kPositionals = {
    {"standard", PositionalEmbedding::kStandard},
    {"shortformer", PositionalEmbedding::kShortformer},
    {"rotary", PositionalEmbedding::kRotary}};
const std::vector<std::pair<std::string, AttentionDir>> kAttentionDirs = {
    {"causal", AttentionDir::kCausal}, {"bidirectional", AttentionDir::kBidirectional}};

template <typename Enum>
std::string name_of(Enum value, const std::vector<std::pair<std::string, Enum>>& names) {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  return "none";
}

// TL features circuitcheck does not implement, with the value that means "off".
void reject_unsupported(const json& j, const std::string& where) {
  const std::vector<std::pair<std::string, json>> off = {
      {"gated_mlp", false},        {"parallel_attn_mlp", false},
      {"final_rms", false},        {"use_local_attn", false},
      {"post_embedding_ln", false}, {"scale_attn_by_inverse_layer_idx", false},
      {"rotary_adjacent_pairs", false}, {"attn_scores_soft_cap", -1.0},
      {"output_logits_soft_cap", -1.0}, {"n_key_value_heads", nullptr}};
  for (const auto& [key, value] : off) {
    if (!j.contains(key) || j[key].is_null() || j[key] == value) continue;
    fail(field(where, key), "value " + json_excerpt(j[key]) + " is not supported by circuitcheck (only " +
                                value.dump() + ")");
  }
}

}  // namespace

bool Config::operator==(const Config& o) const {
  return config_to_json(*this) == config_to_json(o);
}

Config config_from_json(const json& j, const std::string& where) {
  check(j.is_object(), where, "a config must be a JSON object, got " + std::string(j.type_name()));
  reject_unsupported(j, where);
  Config c;
  c.n_layers = require_int(j, "n_layers", where);
  c.d_model = require_int(j, "d_model", where);
  c.d_head = require_int(j, "d_head", where);
  c.n_ctx = require_int(j, "n_ctx", where);
  c.d_vocab = require_int(j, "d_vocab", where);
  auto n_heads = get_int(j, "n_heads", where);
  c.n_heads = n_heads && *n_heads > 0 ? *n_heads : (c.d_head > 0 ? c.d_model / c.d_head : 0);
  auto d_vocab_out = get_int(j, "d_vocab_out", where);
  c.d_vocab_out = d_vocab_out && *d_vocab_out > 0 ? *d_vocab_out : c.d_vocab;
  c.attn_only = get_bool(j, "attn_only", where).value_or(false);
  auto d_mlp = get_int(j, "d_mlp", where);
  c.d_mlp = c.attn_only ? 0 : d_mlp.value_or(4 * c.d_model);
  c.act_fn = get_enum(j, "act_fn", where, kActFns, ActFn::kNone, ActFn::kNone);
  if (c.attn_only) c.act_fn = ActFn::kNone;
  c.normalization_type =
      get_enum(j, "normalization_type", where, kNormalizations, Normalization::kLN, Normalization::kNone);
  c.positional_embedding_type = get_enum(j, "positional_embedding_type", where, kPositionals,
                                         PositionalEmbedding::kStandard, PositionalEmbedding::kStandard);
  c.attention_dir = get_enum(j, "attention_dir", where, kAttentionDirs, AttentionDir::kCausal,
                             AttentionDir::kCausal);
  c.rotary_dim = get_int(j, "rotary_dim", where).value_or(0);
  c.rotary_base = get_double(j, "rotary_base", where).value_or(10000.0);
  c.eps = get_double(j, "eps", where).value_or(1e-5);
  bool use_attn_scale = get_bool(j, "use_attn_scale", where).value_or(true);
  auto attn_scale = get_double(j, "attn_scale", where);
  if (attn_scale == kUnsetAttnScale) attn_scale.reset();
  c.attn_scale = !use_attn_scale ? 1.0 : attn_scale.value_or(std::sqrt(static_cast<double>(c.d_head)));
  c.use_attn_result = get_bool(j, "use_attn_result", where).value_or(false);
  c.use_split_qkv_input = get_bool(j, "use_split_qkv_input", where).value_or(false);
  c.use_hook_tokens = get_bool(j, "use_hook_tokens", where).value_or(false);
  c.use_hook_mlp_in = get_bool(j, "use_hook_mlp_in", where).value_or(false);
  c.use_attn_in = get_bool(j, "use_attn_in", where).value_or(false);
  validate_config(c, where);
  return c;
}

json config_to_json(const Config& c) {
  json j;
  j["n_layers"] = c.n_layers;
  j["d_model"] = c.d_model;
  j["n_heads"] = c.n_heads;
  j["d_head"] = c.d_head;
  j["d_mlp"] = c.attn_only ? json(nullptr) : json(c.d_mlp);
  j["d_vocab"] = c.d_vocab;
  j["d_vocab_out"] = c.d_vocab_out;
  j["n_ctx"] = c.n_ctx;
  j["act_fn"] = c.act_fn == ActFn::kNone ? json(nullptr) : json(to_string(c.act_fn));
  j["normalization_type"] =
      c.normalization_type == Normalization::kNone ? json(nullptr) : json(to_string(c.normalization_type));
  j["attn_only"] = c.attn_only;
  j["positional_embedding_type"] = to_string(c.positional_embedding_type);
  j["rotary_dim"] = c.positional_embedding_type == PositionalEmbedding::kRotary ? json(c.rotary_dim)
                                                                                 : json(nullptr);
  j["rotary_base"] = c.rotary_base;
  j["attention_dir"] = to_string(c.attention_dir);
  j["eps"] = c.eps;
  j["use_attn_scale"] = true;
  j["attn_scale"] = c.attn_scale;
  j["use_attn_result"] = c.use_attn_result;
  j["use_split_qkv_input"] = c.use_split_qkv_input;
  j["use_hook_tokens"] = c.use_hook_tokens;
  j["use_hook_mlp_in"] = c.use_hook_mlp_in;
  j["use_attn_in"] = c.use_attn_in;
  return j;
}

Config read_config(const std::string& path) {
  const std::string where = "read_config: " + path;
  const json j = parse_json(read_text_file(path, "read_config", kMaxConfigBytes), where);
  if (j.is_object() && j.contains("config") && j["config"].is_object())
    return config_from_json(j["config"], where + ": /config");
  return config_from_json(j, where);
}

void validate_config(const Config& c, const std::string& where) {
  const std::vector<std::pair<std::string, int>> positive = {
      {"n_layers", c.n_layers}, {"d_model", c.d_model}, {"n_heads", c.n_heads},
      {"d_head", c.d_head},     {"d_vocab", c.d_vocab}, {"d_vocab_out", c.d_vocab_out},
      {"n_ctx", c.n_ctx}};
  for (const auto& [key, value] : positive)
    check(value > 0, field(where, key), "must be positive, got " + std::to_string(value));
  if (!c.attn_only) {
    check(c.d_mlp > 0, field(where, "d_mlp"), "must be positive unless attn_only, got " + std::to_string(c.d_mlp));
    check(c.act_fn != ActFn::kNone, field(where, "act_fn"), "required unless attn_only");
  }
  if (c.positional_embedding_type == PositionalEmbedding::kRotary) {
    check(c.rotary_dim > 0 && c.rotary_dim % 2 == 0 && c.rotary_dim <= c.d_head,
          field(where, "rotary_dim"),
          "must be even and in (0, d_head=" + std::to_string(c.d_head) + "], got " +
              std::to_string(c.rotary_dim));
    check(c.rotary_base > 0, field(where, "rotary_base"), "must be positive");
  }
  check(c.eps > 0, field(where, "eps"), "must be positive");
  check(!(c.use_attn_in && c.use_split_qkv_input), field(where, "use_attn_in"),
        "use_attn_in and use_split_qkv_input exclude each other (TransformerLens allows one)");
  if (!(std::isfinite(c.attn_scale) && c.attn_scale > 0)) {
    std::ostringstream value;
    value << c.attn_scale;
    fail(field(where, "attn_scale"), "must be positive and finite, got " + value.str());
  }
}

std::string to_string(ActFn v) { return name_of(v, kActFns); }
std::string to_string(Normalization v) { return name_of(v, kNormalizations); }
std::string to_string(PositionalEmbedding v) { return name_of(v, kPositionals); }
std::string to_string(AttentionDir v) { return name_of(v, kAttentionDirs); }

}  // namespace circuitcheck
