// Reading `torch.save(model.state_dict(), path)` files without Python or
// torch::pickle_load (which cannot read OrderedDict roots or CUDA storages).
//
// Two container formats:
//   zip (PyTorch >= 1.6): `<archive>/data.pkl` (pickle protocol 2) and the raw
//     storages `<archive>/data/<key>`; `<archive>/version`; newer PyTorch
//     also writes `<archive>/byteorder` ("little" or "big").
//   legacy (`_use_new_zipfile_serialization=False`): pickled magic number,
//     protocol version, sys_info, the object pickle, the list of storage keys,
//     then per storage an i64 element count and its raw bytes.
// The object pickle is read by a restricted unpickler that accepts only the
// globals a state dict needs (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, the
// torch.*Storage types); any other global (os.system, builtins.eval, ...) is
// an InputError, so loading a file never executes code. Storages saved from
// any device (cpu, cuda:N, mps) load onto the CPU.
#pragma once

#include "circuits/formats/tensor_map.h"

#include <cstdint>
#include <string>

namespace circuitcheck {

// The most bytes (4 GiB) that one storage, and one tensor view of a storage
// as materialised (its elements times their size, whatever its strides), may
// hold in a torch.save file: a stride-0 view of one element can claim a
// terabyte, and a storage record of a sparse file can claim more memory than
// the machine has. Checked before anything is allocated; the tensors of the
// small transformers circuitcheck verifies are megabytes.
constexpr std::uint64_t kMaxTorchTensorBytes = std::uint64_t{4} << 30;

// Reads a torch.save'd state dict (zip or legacy format) into CPU tensors,
// keeping each tensor's dtype, shape and strides (views of a shared storage
// stay correct; tensors of one storage share its memory). The root must be a
// dict or collections.OrderedDict (its _metadata is ignored) of UTF-8 string keys to
// torch._utils._rebuild_tensor_v2 tensors, optionally wrapped in
// _rebuild_parameter; requires_grad, backward hooks and tensor metadata are
// ignored. Storage types: Float, Double, Half, BFloat16, Long, Int, Short,
// Char, Byte and Bool.
// A legacy file is mapped into memory (mapped_file.h), not read, and each
// storage copied out of it.
// Throws InputError("read_torch_state_dict: <path>: <what>") when: the file is
// not a regular file, cannot be looked up (a symlink loop, a name longer than
// the system allows) or is unreadable; it is neither a zip archive nor a legacy
// pickle; the zip is malformed or truncated (see zip_archive.h), has no or
// several `*/data.pkl`, a compressed record or a bad CRC; its
// `<archive>/byteorder` record says anything but "little" (older torch wrote
// none: such files are little-endian); the pickle is
// malformed or uses a forbidden global (see pickle.h); the legacy magic number,
// protocol version (1001) or little_endian flag is wrong; the root is not a
// dict of tensors, repeats a key or has a key that is not valid UTF-8 (the
// message shows it through quote() in error.h); a storage record is missing, has the wrong
// size, or one storage is used with two types or sizes; a legacy storage is
// truncated or uses a storage view (view_metadata); a Bool storage holds a byte
// other than 0 or 1; a storage holds more than kMaxTorchTensorBytes; a
// tensor's size, stride or offset is negative, its view does not fit in its
// storage (storage_offset + sum((size-1)*stride) < numel) or its elements
// take more than kMaxTorchTensorBytes.
TensorMap read_torch_state_dict(const std::string& path);

// True when the file starts like a torch.save file (zip local header "PK\x03\x04",
// or a pickle PROTO opcode 0x80 of protocol 2 to 5 as legacy files do), false
// otherwise (e.g. safetensors) and for a missing file or a directory. Never throws.
bool looks_like_torch_file(const std::string& path);

}  // namespace circuitcheck
