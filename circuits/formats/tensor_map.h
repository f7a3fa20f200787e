// Named tensors, the currency of checkpoints and activation caches.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace circuitcheck {

// Tensors by name (a state dict, a cache, a safetensors file), sorted by name.
using TensorMap = std::map<std::string, at::Tensor>;

// String metadata, as stored in a safetensors `__metadata__` block.
using Metadata = std::map<std::string, std::string>;

}  // namespace circuitcheck
