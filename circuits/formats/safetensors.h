// safetensors reader and writer (https://github.com/huggingface/safetensors).
//
// Layout: u64 little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "string value", ...}}, then the raw little-endian,
// C-contiguous tensor bytes; offsets are relative to the end of the header.
//
// Supported dtypes: F32, F16, BF16, F64, I64, I32, U8, BOOL.
#pragma once

#include "circuits/formats/tensor_map.h"

#include <string>

namespace circuitcheck {

struct Safetensors {
  TensorMap tensors;  // CPU, contiguous, in their stored dtype
  Metadata metadata;  // the `__metadata__` block (string values only)
};

// Reads a safetensors file; the data section is read in one go.
// Validates, with an InputError
// "read_safetensors: <path>: <field or tensor name>: <what is wrong>":
//   the file exists and is a regular file; it is at least 8 bytes; the header
//   length lies within the file and is at most 100 MB (100'000'000 bytes); the
//   header is a JSON object nested at most 128 levels deep; each entry has a
//   known dtype, a shape of non-negative integers whose product (zero sizes
//   counted as 1) fits in int64 and whose byte count fits in 64 bits, and two
//   non-negative integer offsets with begin <= end <= data size;
//   end - begin == numel * dtype size; no two non-empty tensors overlap (gaps are
//   allowed); BOOL bytes are 0 or 1; `__metadata__` is an object of strings.
Safetensors read_safetensors(const std::string& path);

// Writes tensors (any device; copied to CPU, contiguous) and metadata to `path`
// atomically: "<path>.tmp.<pid>" in the same folder, then a rename over `path`.
// Tensors are written sorted by name, back to back, header padded with spaces to a
// multiple of 8; `__metadata__` is written only when `metadata` is not empty.
// Throws InputError "write_safetensors: <path>: <field or tensor name>: <what>"
// for an undefined tensor, an unsupported dtype, a tensor named `__metadata__`,
// names or metadata that are not valid UTF-8, or a file that cannot be written
// (the temporary file is removed).
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const Metadata& metadata = {});

}  // namespace circuitcheck
