// Files mapped into memory (mmap), so that what a reader holds in memory
// follows the pages it really touches, never the size a file claims: a 64 GiB
// sparse file costs nothing until its bytes are read.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace circuitcheck {

// A regular file mapped private and copy-on-write: writing to the memory
// copies the page written and never changes the file. No swap is reserved
// for the mapping (MAP_NORESERVE), so a file larger than memory maps. The mapping lives as
// long as the last shared_ptr to it, including those that mapped_tensor gives
// its tensors. A file changed or truncated by another process while it is
// mapped is not supported (reading a page past its new end raises SIGBUS).
class MappedFile {
 public:
  // Maps the regular file at `path`. Throws InputError "<where>: file: ..."
  // when it does not exist, is not a regular file, cannot be looked up
  // (path_status in text_file.h) or cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path, const std::string& where);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // All the bytes of the file (empty for an empty file).
  std::string_view bytes() const { return {data_, size_}; }

 private:
  MappedFile(char* data, std::size_t size) : data_(data), size_(size) {}

  char* data_;
  std::size_t size_;
};

// The most bytes mapped_tensor copies for one tensor (4 GiB): a copy takes
// its memory up front, whatever the file's pages really hold.
constexpr std::uint64_t kMaxCopiedTensorBytes = std::uint64_t{4} << 30;

// A CPU tensor of `shape` and `dtype` over bytes [offset, offset + numel *
// element size) of `file`, which the caller has checked lie in the file. When
// `offset` is a multiple of the element size the tensor is the mapped memory
// itself (zero-copy; it keeps the mapping alive); otherwise it is a copy, and
// a copy of more than kMaxCopiedTensorBytes is refused before it is allocated
// with InputError "<where>: data_offsets: ...".
at::Tensor mapped_tensor(const std::shared_ptr<const MappedFile>& file, std::uint64_t offset, at::IntArrayRef shape,
                         at::ScalarType dtype, const std::string& where);

}  // namespace circuitcheck
