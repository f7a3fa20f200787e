#include "circuits/training/snapshot.h"

#include "circuits/formats/error.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace circuitcheck {
namespace {

std::string number_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

std::optional<double> read_loss(const Metadata& metadata, const std::string& key, const std::string& where) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  char* end = nullptr;
  const double x = std::strtod(it->second.c_str(), &end);
  check(!it->second.empty() && *end == '\0' && std::isfinite(x), where + ": metadata \"" + key + "\"",
        quote(it->second) + " is not a finite number");
  return x;
}

}  // namespace

std::string snapshot_path(const std::string& dir, int64_t step) {
  char name[48];
  std::snprintf(name, sizeof name, "step_%08lld.safetensors", static_cast<long long>(step));
  return dir + "/" + name;
}

std::string snapshot_dir_for(const std::string& out) {
  const std::string suffix = ".safetensors";
  const bool has_suffix = out.size() > suffix.size() && out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0;
  return (has_suffix ? out.substr(0, out.size() - suffix.size()) : out) + "_snapshots";
}

Metadata snapshot_metadata(const TrainState& state, const TrainProgress& progress) {
  nlohmann::json training = {{"recipe", state.recipe.to_json()}};
  if (!state.amendments.empty()) training["amendments"] = state.amendments;
  Metadata m = {{"system", state.recipe.system},
                {"seed", std::to_string(state.recipe.seed)},
                {"step", std::to_string(state.step)},
                {"train_loss", number_text(progress.loss)},
                {"training", training.dump()}};
  if (progress.test_loss >= 0) m["test_loss"] = number_text(progress.test_loss);
  return m;
}

std::optional<SnapshotInfo> snapshot_info(const Metadata& metadata, const std::string& where) {
  const auto step = metadata.find("step");
  if (step == metadata.end()) return std::nullopt;
  const std::string& text = step->second;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  check(!text.empty() && *end == '\0' && errno == 0 && value >= 0 && text.find_first_not_of("0123456789") == std::string::npos,
        where + ": metadata \"step\"", quote(text) + " is not a non-negative integer");
  return SnapshotInfo{value, read_loss(metadata, "train_loss", where), read_loss(metadata, "test_loss", where)};
}

}  // namespace circuitcheck
