// safetensors reader and writer (https://github.com/huggingface/safetensors).
//
// Layout: u64 little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "string value", ...}}, then the raw little-endian,
// C-contiguous tensor bytes; offsets are relative to the end of the header.
//
// Supported dtypes: F32, F16, BF16, F64, I64, I32, U8, BOOL.
#pragma once

#include "circuits/formats/mapped_file.h"
#include "circuits/formats/tensor_map.h"

#include <cstddef>
#include <string>

namespace circuitcheck {

struct Safetensors {
  TensorMap tensors;  // CPU, contiguous, in their stored dtype (see read_safetensors for their memory)
  Metadata metadata;  // the `__metadata__` block (string values only)
};

// The most tensors read_safetensors accepts in one file by default. A header of
// n entries is parsed in O(n log n), but each tensor costs an allocation; the
// largest real checkpoints hold a few thousand. A caller raises it with
// read_safetensors' `max_tensors`.
constexpr std::size_t kMaxSafetensorsTensors = 100'000;

// Reads a safetensors file. The file is mapped into memory (MappedFile in
// mapped_file.h), not read: each tensor whose offset is a multiple of its
// element size (every tensor of a file write_safetensors or the Python
// library wrote) is the mapped memory itself, so memory follows the pages
// used, whatever size the file gives (a 64 GiB sparse file costs nothing up
// front); any other tensor is a copy, refused above kMaxCopiedTensorBytes
// (4 GiB). Writing to a tensor never changes the file.
// Validates, with an InputError
// "read_safetensors: <path>: <field or tensor name>: <what is wrong>":
//   the file exists, is a regular file and can be looked up (no symlink loop,
//   no name longer than the system allows) and mapped; it is at least 8 bytes; the header
//   length lies within the file and is at most 100 MB (100'000'000 bytes); the
//   header is strict JSON (see parse_json in json_input.h: no NUL byte, nothing
//   but whitespace after the object, such as the spaces that pad it, at most
//   128 levels deep, no key twice, so no tensor named twice) and an object; it
//   lists at most `max_tensors` tensors; each entry has a known dtype, a shape
//   of non-negative integers whose product (zero sizes counted as 1) fits in
//   int64 and whose byte count fits in 64 bits, and two non-negative integer
//   offsets with begin <= end <= data size; end - begin == numel * dtype size;
//   the non-empty tensors cover the data section exactly, from its first byte
//   to the end of the file, with no gap, overlap or trailing byte (an empty
//   tensor may sit at any offset up to the data size); a tensor that would be
//   copied takes at most kMaxCopiedTensorBytes; BOOL bytes are 0 or 1;
//   `__metadata__` is an object of strings.
Safetensors read_safetensors(const std::string& path, std::size_t max_tensors = kMaxSafetensorsTensors);

// Writes tensors (any device; copied to CPU, contiguous) and metadata to `path`
// atomically: "<path>.tmp.<pid>" in the same folder, then a rename over `path`.
// Tensors are written sorted by name, back to back, header padded with spaces to a
// multiple of 8; `__metadata__` is written only when `metadata` is not empty.
// Throws InputError "write_safetensors: <path>: <field or tensor name>: <what>"
// for an undefined tensor, an unsupported dtype, a tensor named `__metadata__`,
// a `path` that is not a regular file (check_replaceable in text_file.h),
// names or metadata that are not valid UTF-8, or a file that cannot be written
// (the temporary file, temporary_path in text_file.h, is removed).
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const Metadata& metadata = {});

}  // namespace circuitcheck
