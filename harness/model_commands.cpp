#include "harness/model_commands.h"

#include "circuits/model/checkpoint.h"
#include "circuits/model/model.h"
#include "circuits/formats/error.h"
#include "circuits/model/runtime.h"
#include "circuits/formats/safetensors.h"
#include "circuits/formats/sha256.h"
#include "harness/args.h"

#include <c10/core/InferenceMode.h>

#include <iostream>
#include <limits>
#include <sstream>

namespace circuitcheck {
namespace {

nlohmann::json tensor_table(const TensorMap& tensors) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, t] : tensors)
    out.push_back({{"name", name}, {"dtype", c10::toString(t.scalar_type())}, {"shape", t.sizes().vec()}});
  return out;
}

// What forward refuses to write by default (--max-output-bytes): 4 GiB.
constexpr std::int64_t kMaxOutputBytes = std::int64_t{4} << 30;

// The bytes of forward's output tensors: `tokens`, plus the logits and cached activations of the first
// sequence (run here, on one row) times the batch, as every output is [batch, ...]; saturates at INT64_MAX.
std::int64_t output_bytes(const HookedTransformer& model, const at::Tensor& tokens, const RunOptions& options) {
  if (tokens.size(0) == 0) return static_cast<std::int64_t>(tokens.nbytes());
  c10::InferenceMode guard;
  const RunResult row = run(model, tokens.slice(0, 0, 1), options);
  std::int64_t per_row = static_cast<std::int64_t>(row.logits.nbytes());
  for (const auto& [name, activation] : named(row.cache)) per_row += static_cast<std::int64_t>(activation.nbytes());
  std::int64_t total = 0;
  if (__builtin_mul_overflow(per_row, tokens.size(0), &total) ||
      __builtin_add_overflow(total, static_cast<std::int64_t>(tokens.nbytes()), &total))
    return std::numeric_limits<std::int64_t>::max();
  return total;
}

std::vector<HookPoint> parse_cache_list(const std::string& spec, const HookedTransformer& model) {
  if (spec == "all") return all_hooks(model);
  std::vector<HookPoint> hooks;
  std::stringstream ss(spec);
  std::string name;
  while (std::getline(ss, name, ','))
    if (!name.empty()) hooks.push_back(parse_hook(name, model.config));
  return hooks;
}

}  // namespace

int inspect_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "inspect", {"--config"}, {"--json"});
  expect_positionals(args, 1, 1, "circuitcheck inspect FILE [--config CFG] [--json]");
  const std::string path = args.positional[0];
  nlohmann::json report;
  Metadata metadata;
  std::string format;
  TensorMap tensors = read_tensors(path, format, metadata);
  report["file"] = printable(path);
  report["format"] = format;
  report["sha256"] = sha256_file(path);
  report["tensors"] = tensor_table(tensors);
  report["metadata"] = metadata;
  const bool has_config = args.get("--config") || metadata.count("config");
  const bool tl_state_dict = tensors.count("embed.W_E") && tensors.count("blocks.0.attn.W_Q");
  if (has_config || tl_state_dict) {
    try {
      Checkpoint ck = load_checkpoint(path, args.get("--config"));
      report["config"] = config_to_json(ck.model.config);
      report["config_source"] = ck.config_source;
      report["notes"] = ck.notes;
    } catch (const InputError&) {
      if (has_config) throw;
      InferredConfig inferred = infer_config(tensors, "inspect: " + path);
      report["inferred_config"] = inferred.fields;
      report["config_needs"] = inferred.needed;
      report["config_assumes"] = inferred.assumed;
    }
  }
  if (args.has("--json")) {
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::cout << "file:    " << path << "\nformat:  " << format << "\nsha256:  " << report["sha256"].get<std::string>() << "\n";
  if (report.contains("config"))
    std::cout << "config (" << report["config_source"].get<std::string>() << "): " << report["config"].dump() << "\n";
  if (report.contains("notes"))
    for (const auto& n : report["notes"]) std::cout << "  note: " << n.get<std::string>() << "\n";
  if (report.contains("inferred_config")) {
    std::cout << "config: none found; inferred from shapes: " << report["inferred_config"].dump() << "\n";
    for (const auto& n : report["config_needs"]) std::cout << "  needs --config for: " << n.get<std::string>() << "\n";
    for (const auto& n : report["config_assumes"]) std::cout << "  assumed: " << n.get<std::string>() << "\n";
  }
  for (const auto& [key, value] : metadata)
    if (key != "config") std::cout << "metadata " << terminal_text(key) << ": " << terminal_text(value.substr(0, 200)) << "\n";
  std::cout << tensors.size() << " tensors:\n";
  for (const auto& t : report["tensors"]) {
    const std::string name = t["name"].get<std::string>();
    std::cout << "  " << terminal_text(name) << "  " << t["dtype"].get<std::string>() << " "
              << shape_text(tensors.at(name).sizes()) << "\n";
  }
  return 0;
}

int convert_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "convert", {"--config"});
  expect_positionals(args, 2, 2, "circuitcheck convert IN OUT.safetensors [--config CFG]");
  Checkpoint ck = load_checkpoint(args.positional[0], args.get("--config"));
  for (const auto& note : ck.notes) std::cerr << "note: " << note << "\n";
  save_checkpoint(args.positional[1], ck.model,
                  {{"source_file", printable(ck.path)}, {"source_sha256", ck.sha256}, {"source_format", ck.format},
                   {"config_source", ck.config_source}});
  std::cout << "wrote " << args.positional[1] << " (" << ck.model.params.size() << " tensors, config from "
            << ck.config_source << ")\n";
  return 0;
}

int forward_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "forward",
                         {"--config", "--tokens", "--cache", "--device", "--out", "--threads", "--max-output-bytes"});
  const std::string usage =
      "circuitcheck forward CHECKPOINT --tokens TOKENS.safetensors --out OUT.safetensors [--config CFG] "
      "[--cache all|HOOK,...] [--device cpu|cuda] [--threads N] [--max-output-bytes N]";
  expect_positionals(args, 1, 1, usage);
  check(args.has("--tokens") && args.has("--out"), "forward", "--tokens and --out are required: " + usage);
  set_threads(args.get_int("--threads", 2, 1, 1024));
  const std::int64_t max_output_bytes =
      args.get_int64("--max-output-bytes", kMaxOutputBytes, 1, std::numeric_limits<std::int64_t>::max());
  at::Device device = parse_device(args.get_or("--device", "cpu"), "forward --device");
  Checkpoint ck = load_checkpoint(args.positional[0], args.get("--config"));
  const std::string tokens_path = *args.get("--tokens");
  Safetensors tokens_file = read_safetensors(tokens_path);
  check(tokens_file.tensors.count("tokens") > 0, "forward: " + tokens_path, "no tensor named 'tokens'");
  at::Tensor tokens = tokens_file.tensors.at("tokens");
  check_tokens(ck.model.config, tokens, "forward: " + tokens_path + ": tokens");
  RunOptions options;
  if (auto spec = args.get("--cache")) options.cache = parse_cache_list(*spec, ck.model);
  const std::int64_t bytes = output_bytes(ck.model, tokens, options);
  check(bytes <= max_output_bytes, "forward: " + tokens_path + ": tokens",
        c10::str(tokens.sizes()) + " tokens would give " + std::to_string(bytes) + " bytes of logits" +
            (options.cache.empty() ? "" : " and " + std::to_string(options.cache.size()) + " cached activations") +
            ", more than the limit of " + std::to_string(max_output_bytes) +
            " bytes; raise it with --max-output-bytes, or pass fewer tokens or fewer --cache hooks");
  to_device(ck.model, device);
  c10::InferenceMode guard;
  RunResult result = run(ck.model, tokens, options);
  TensorMap out = named(result.cache);
  out["logits"] = result.logits;
  out["tokens"] = tokens;
  write_safetensors(*args.get("--out"), out,
                    {{"checkpoint", printable(ck.path)}, {"checkpoint_sha256", ck.sha256},
                     {"circuitcheck_version", circuitcheck_version()}, {"device", device.str()}});
  std::cout << "wrote " << *args.get("--out") << ": logits " << c10::str(result.logits.sizes()) << " and "
            << result.cache.size() << " activations\n";
  return 0;
}

}  // namespace circuitcheck
