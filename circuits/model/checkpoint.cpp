#include "circuits/model/checkpoint.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/text_file.h"
#include "circuits/formats/safetensors.h"
#include "circuits/formats/sha256.h"
#include "circuits/formats/torch_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace circuitcheck {
namespace {

namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

fs::path stem_json(const std::string& path) {
  fs::path p(path);
  return p.parent_path() / (p.stem().string() + ".json");
}

// `file` when it exists; an InputError when it is not a regular file (a FIFO would block the read).
std::optional<std::string> side_file(const fs::path& file, const std::string& where) {
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (!fs::exists(status)) return std::nullopt;
  check(fs::is_regular_file(status), where, "side file " + file.string() + ": not a regular file");
  return file.string();
}

// The "system" string of the side `<stem>.json`, or "".
std::string side_system(const std::string& path, const std::string& where) {
  const std::optional<std::string> file = side_file(stem_json(path), where);
  if (!file) return "";
  const auto j = parse_json(read_text_file(*file, where + ": side file", kMaxConfigBytes), where + ": side file " + *file);
  return j.is_object() && j.contains("system") && j["system"].is_string() ? j["system"].get<std::string>() : "";
}

std::optional<std::string> side_config(const std::string& path, const std::string& where) {
  if (auto file = side_file(stem_json(path), where)) return file;
  return side_file(fs::path(path).parent_path() / "config.json", where);
}

}  // namespace

InferredConfig infer_config(const TensorMap& params, const std::string& where) {
  auto get = [&](const std::string& name) -> const at::Tensor* {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  };
  const at::Tensor* W_E = get("embed.W_E");
  const at::Tensor* W_Q = get("blocks.0.attn.W_Q");
  const at::Tensor* W_U = get("unembed.W_U");
  check(W_E && W_E->dim() == 2 && W_Q && W_Q->dim() == 3 && W_U && W_U->dim() == 2, where,
        "not a TransformerLens state dict (needs embed.W_E, blocks.0.attn.W_Q and unembed.W_U)");
  InferredConfig out;
  auto& f = out.fields;
  int n_layers = 0;
  while (get("blocks." + std::to_string(n_layers) + ".attn.W_Q")) ++n_layers;
  f["n_layers"] = n_layers;
  f["d_vocab"] = W_E->size(0);
  f["d_model"] = W_E->size(1);
  f["n_heads"] = W_Q->size(0);
  f["d_head"] = W_Q->size(2);
  f["d_vocab_out"] = W_U->size(1);
  const at::Tensor* W_in = get("blocks.0.mlp.W_in");
  f["attn_only"] = W_in == nullptr;
  if (W_in) {
    f["d_mlp"] = W_in->size(1);
    out.needed.push_back("act_fn (relu, gelu, gelu_new or silu: weights do not tell)");
  }
  f["normalization_type"] = get("blocks.0.ln1.w") ? nlohmann::json("LN") : nlohmann::json(nullptr);
  if (!get("blocks.0.ln1.w"))
    out.assumed.push_back("normalization_type null (no LN weights; an LNPre model looks the same)");
  const at::Tensor* W_pos = get("pos_embed.W_pos");
  const at::Tensor* rot = get("blocks.0.attn.rotary_sin");
  const at::Tensor* mask = get("blocks.0.attn.mask");
  if (W_pos) {
    f["n_ctx"] = W_pos->size(0);
    f["positional_embedding_type"] = "standard";
    out.assumed.push_back("positional_embedding_type standard (a shortformer model has the same weights)");
  } else if (rot) {
    f["positional_embedding_type"] = "rotary";
    f["n_ctx"] = rot->size(0);
    f["rotary_dim"] = rot->size(1);
    out.needed.push_back("rotary_base (not stored in the weights)");
  } else {
    out.needed.push_back("positional_embedding_type and n_ctx (no pos_embed.W_pos nor rotary buffers)");
  }
  if (mask && !f.contains("n_ctx")) f["n_ctx"] = mask->size(0);
  f["attention_dir"] = "causal";
  out.assumed.push_back("attention_dir causal (the stored mask is lower-triangular for both)");
  return out;
}

TensorMap read_tensors(const std::string& path, std::string& format, Metadata& metadata) {
  const std::string where = "read_tensors: " + path;
  const fs::file_status status = path_status(path, where);
  check(fs::exists(status), where, "no such file");
  check(fs::is_regular_file(status), where, "not a regular file");
  if (looks_like_torch_file(path)) {
    std::ifstream in(path, std::ios::binary);
    char magic[2] = {0, 0};
    in.read(magic, 2);
    format = (magic[0] == 'P' && magic[1] == 'K') ? "torch-zip" : "torch-legacy";
    return read_torch_state_dict(path);
  }
  format = "safetensors";
  Safetensors st = read_safetensors(path);
  metadata = std::move(st.metadata);
  return std::move(st.tensors);
}

Checkpoint load_checkpoint(const std::string& path, const std::optional<std::string>& config_path) {
  const std::string where = "load_checkpoint: " + path;
  Checkpoint ck;
  ck.path = path;
  TensorMap tensors = read_tensors(path, ck.format, ck.metadata);
  ck.sha256 = sha256_file(path);
  Config config;
  if (config_path) {
    config = read_config(*config_path);
    ck.config_source = "--config " + printable(*config_path);
  } else if (ck.metadata.count("config")) {
    const auto j = parse_json(ck.metadata.at("config"), where + ": __metadata__/config");
    config = config_from_json(j, where + ": __metadata__/config");
    ck.config_source = "metadata";
  } else if (auto side = side_config(path, where)) {
    config = read_config(*side);
    ck.config_source = "side file " + printable(*side);
  } else {
    InferredConfig inferred = infer_config(tensors, where);
    check(inferred.needed.empty(), where,
          "no config found (no --config, no metadata, no side .json) and the shapes do not determine: " +
              join(inferred.needed, "; ") + ". Pass --config CFG.json");
    config = config_from_json(inferred.fields, where + ": inferred config");
    ck.config_source = "inferred";
    ck.notes.push_back("inferred from shapes: " + inferred.fields.dump());
    for (const auto& a : inferred.assumed) ck.notes.push_back("assumed " + a);
  }
  ck.model = make_model(config, std::move(tensors), where);
  ck.system = ck.metadata.count("system") ? ck.metadata.at("system") : side_system(path, where);
  return ck;
}

void save_checkpoint(const std::string& path, const HookedTransformer& model, Metadata extra) {
  extra["config"] = config_to_json(model.config).dump();
  extra["format"] = "pt";
  write_safetensors(path, model.params, extra);
}

}  // namespace circuitcheck
