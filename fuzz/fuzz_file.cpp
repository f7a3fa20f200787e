#include "fuzz/fuzz_file.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace circuitcheck {
namespace {

// This process's scratch folder, removed when the process exits normally.
struct ScratchFolder {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("circuitcheck-fuzz-" + std::to_string(getpid()));
  ScratchFolder() { std::filesystem::create_directories(path); }
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

std::string write_fuzz_input(const std::uint8_t* data, std::size_t size, const std::string& extension) {
  static const ScratchFolder folder;
  const std::string path = (folder.path / ("input" + extension)).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "write_fuzz_input: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace circuitcheck
