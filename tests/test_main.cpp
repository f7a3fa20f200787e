#include "tests/test_util.h"

#include "circuits/model/memory.h"
#include "circuits/model/runtime.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace circuitcheck::testing_util {

std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(CIRCUITCHECK_BINARY_DIR) / "test_scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string expand(std::string text, const std::vector<std::pair<std::string, std::string>>& vars) {
  for (const auto& [key, value] : vars)
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
      text.replace(pos, key.size(), value);
  return text;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool have_python_torch() {
  return std::filesystem::exists("/usr/bin/python3") &&
         std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

bool strict() {
  const char* value = std::getenv("CIRCUITCHECK_STRICT");
  return value && std::string(value) != "0" && std::string(value) != "";
}

}  // namespace circuitcheck::testing_util

int main(int argc, char** argv) {
  circuitcheck::restart_with_better_blas(argv);
  circuitcheck::tune_allocator();
  at::set_num_threads(2);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
