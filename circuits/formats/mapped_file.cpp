#include "circuits/formats/mapped_file.h"

#include "circuits/formats/error.h"
#include "circuits/formats/text_file.h"

#include <c10/util/accumulate.h>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace circuitcheck {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, const std::string& where) {
  const auto status = path_status(path, where + ": file");
  check(std::filesystem::exists(status), where, "file: does not exist");
  check(std::filesystem::is_regular_file(status), where, "file: not a regular file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, where, std::string("file: cannot open: ") + std::strerror(errno));
  struct stat st {};
  const bool stated = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const std::size_t size = stated ? static_cast<std::size_t>(st.st_size) : 0;
  void* data = stated && size > 0
                   ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0)
                   : nullptr;
  const int map_error = errno;
  ::close(fd);
  check(stated, where, "file: not a regular file");
  check(data != MAP_FAILED, where, std::string("file: cannot map it into memory: ") + std::strerror(map_error));
  return std::shared_ptr<const MappedFile>(new MappedFile(static_cast<char*>(data), size));
}

MappedFile::~MappedFile() {
  if (size_ > 0) ::munmap(data_, size_);
}

at::Tensor mapped_tensor(const std::shared_ptr<const MappedFile>& file, std::uint64_t offset, at::IntArrayRef shape,
                         at::ScalarType dtype, const std::string& where) {
  char* bytes = const_cast<char*>(file->bytes().data()) + offset;
  const auto options = at::TensorOptions().dtype(dtype);
  if (offset % at::elementSize(dtype) == 0 && !file->bytes().empty())
    return at::from_blob(bytes, shape, [file](void*) {}, options);
  const std::uint64_t size = static_cast<std::uint64_t>(c10::multiply_integers(shape)) * at::elementSize(dtype);
  check(size <= kMaxCopiedTensorBytes, where,
        "data_offsets: byte " + std::to_string(offset) + " of the file is not a multiple of the " +
            std::to_string(at::elementSize(dtype)) + "-byte element size, so the data would be copied: " +
            std::to_string(size) + " bytes, more than the limit of " + std::to_string(kMaxCopiedTensorBytes) +
            " bytes (kMaxCopiedTensorBytes); pad the header to a multiple of 8 bytes");
  at::Tensor tensor = at::empty(shape, options);
  if (tensor.nbytes() > 0) std::memcpy(tensor.data_ptr(), bytes, tensor.nbytes());
  return tensor;
}

}  // namespace circuitcheck
