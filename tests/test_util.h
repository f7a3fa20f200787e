// Paths and small helpers shared by the tests.
#pragma once

#include "circuits/model/config.h"

#include <string>
#include <utility>
#include <vector>

namespace circuitcheck::testing_util {

// The shared/ folder (fixtures, reference checkpoints), read-only.
inline std::string shared_dir() { return CIRCUITCHECK_SHARED_DIR; }
inline std::string fixture(const std::string& rel) { return shared_dir() + "/fixtures/" + rel; }
inline std::string source_dir() { return CIRCUITCHECK_SOURCE_DIR; }

// A fresh, empty scratch folder under the build tree, unique per test name.
std::string scratch_dir(const std::string& name);

// Writes `bytes` to `path` (binary), creating or truncating it.
void write_file(const std::string& path, const std::string& bytes);

// Reads a whole file (binary).
std::string read_file(const std::string& path);

// `text` with every "{key}" of `vars` replaced by its value.
std::string expand(std::string text, const std::vector<std::pair<std::string, std::string>>& vars);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command and captures its output and exit code.
CommandResult run_command(const std::string& command);

// A 2-layer config with LayerNorm and a GELU MLP (d_model 8, 2 heads of 4,
// d_mlp 16, vocabulary 7, 5 positions) for tests that need every hook.
inline Config small_mlp_config() {
  Config c;
  c.n_layers = 2; c.d_model = 8; c.n_heads = 2; c.d_head = 4; c.d_mlp = 16; c.d_vocab = 7; c.d_vocab_out = 7;
  c.n_ctx = 5; c.act_fn = ActFn::kGelu; c.normalization_type = Normalization::kLN; c.attn_scale = 2.0;
  return c;
}

// Whether /usr/bin/python3 imports torch (Debian's python3-torch), the
// independent computation some tests compare with.
bool have_python_torch();

// Whether every test must run: CIRCUITCHECK_STRICT is set (to anything but
// "0"), as .ci/run sets it. Then a test whose tool is missing fails instead of
// being skipped, so a run cannot go green by skipping what .ci/setup installs.
bool strict();

}  // namespace circuitcheck::testing_util

// Skips the test with `why` unless `have` holds; in a strict run (see
// strict()) it fails instead.
#define CIRCUITCHECK_REQUIRE_TOOL(have, why)                                  \
  if (!(have)) {                                                             \
    if (::circuitcheck::testing_util::strict()) GTEST_FAIL() << (why);      \
    GTEST_SKIP() << (why) << " (CIRCUITCHECK_STRICT=1 makes this a failure)"; \
  }
