// Fuzz target: the safetensors reader (read_safetensors, formats/safetensors.h).
#include "circuits/formats/safetensors.h"
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace circuitcheck;
  return fuzz_file(data, size, ".safetensors", [](const std::string& path) { read_safetensors(path); });
}
