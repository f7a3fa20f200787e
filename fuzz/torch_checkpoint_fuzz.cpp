// Fuzz target: the torch.save reader (read_torch_state_dict and
// looks_like_torch_file, formats/torch_checkpoint.h): the zip archive, the
// legacy container and the restricted unpickler. Each tensor read of up to
// 2^20 elements is copied out of its storage, so that a view reaching past
// its storage is a sanitizer report (bigger views are left alone:
// materialising them is a question of memory, not of the reader).
#include "circuits/formats/torch_checkpoint.h"
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace circuitcheck;
  return fuzz_file(data, size, ".pt", [](const std::string& path) {
    looks_like_torch_file(path);
    for (const auto& [name, tensor] : read_torch_state_dict(path))
      if (tensor.numel() <= (int64_t{1} << 20)) tensor.contiguous();
  });
}
