// Checkpoints: a model's parameters plus the config that gives them meaning.
//
// Formats read: safetensors (config in `__metadata__["config"]`, as
// circuitcheck writes them) and torch.save state dicts (zip or legacy).
// Where the config comes from, in order:
//   1. an explicit config file (--config);
//   2. safetensors metadata "config";
//   3. a side file: `<stem>.json` beside the checkpoint (its "config" key, or
//      the whole object), else `config.json` in the same folder;
//   4. inference from tensor shapes, where unambiguous (see infer_config).
// Formats written: safetensors only, with the config as JSON in metadata.
#pragma once

#include "circuits/model/config.h"
#include "circuits/model/model.h"
#include "circuits/formats/tensor_map.h"

#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

// What could be read off a state dict's shapes.
struct InferredConfig {
  nlohmann::json fields;             // TL-named fields that the shapes determine
  std::vector<std::string> needed;   // fields the shapes cannot determine, each with why
  std::vector<std::string> assumed;  // fields set to TL's default without evidence
};

// Reads n_layers, d_model, n_heads, d_head, d_mlp, d_vocab, d_vocab_out,
// n_ctx, attn_only, normalization (LN when ln weights exist), rotary (from
// rotary buffers) and the IGNORE-bearing attention mask off the tensors.
// act_fn cannot be read off weights; standard versus shortformer positions
// and causal versus bidirectional attention cannot either. Throws InputError
// (prefixed by `where`) when the tensors are not a TL state dict (no
// embed.W_E, no blocks.0).
InferredConfig infer_config(const TensorMap& params, const std::string& where);

struct Checkpoint {
  std::string path;
  std::string format;         // "safetensors", "torch-zip" or "torch-legacy"
  std::string sha256;         // of the file
  std::string config_source;  // "--config cfg.json", "metadata", "side file x.json", "inferred" (paths printable(), error.h)
  std::string system;         // task name from metadata "system" or the side `<stem>.json`'s "system"; "" if unknown
  std::vector<std::string> notes;  // what was inferred or assumed, for the CLI to print
  Metadata metadata;          // safetensors metadata (empty for torch files)
  HookedTransformer model;    // parameters checked against the config, on the CPU
};

// Reads a checkpoint in any supported format and resolves its config as above.
// Throws InputError naming the file: unreadable or malformed file, a config
// that contradicts a tensor's shape, a missing tensor, or a config that can
// only be partly inferred (the message lists the fields needed via --config);
// a side file (`<stem>.json`, `config.json`) that exists but is not a regular
// file (a FIFO would block: checked before it is opened); a metadata config or
// side file that is not strict JSON (see parse_json in
// circuits/formats/json_input.h).
Checkpoint load_checkpoint(const std::string& path,
                           const std::optional<std::string>& config_path = std::nullopt);

// Reads tensors and metadata of any supported format without a config.
// `format` is set to the detected format.
TensorMap read_tensors(const std::string& path, std::string& format, Metadata& metadata);

// Writes the model as safetensors with metadata["config"] = the config JSON,
// plus `extra` metadata. Atomic (temporary file, then rename).
void save_checkpoint(const std::string& path, const HookedTransformer& model, Metadata extra = {});

}  // namespace circuitcheck
