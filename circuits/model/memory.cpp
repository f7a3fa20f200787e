#include "circuits/model/memory.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <mutex>

namespace circuitcheck {
namespace {

constexpr std::uint64_t kStaleAfter = 64;  // large allocations
// Every block starts with a header: its mapping's size, or 0 for a block
// from the heap. 64 bytes keep the tensor's data 64-byte aligned.
constexpr std::size_t kHeader = 64;

std::size_t& header(void* data) { return *reinterpret_cast<std::size_t*>(static_cast<char*>(data) - kHeader); }

class LargeBlockAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    char* base = nullptr;
    std::size_t size = 0;
    if (n < kLargeBlockBytes) {
      base = static_cast<char*>(c10::alloc_cpu(n + kHeader));
    } else {
      size = round_to_pages(n + kHeader);
      base = static_cast<char*>(take(size));
    }
    void* data = base + kHeader;
    header(data) = size;
    return {data, data, &give_back, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &give_back; }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, block] : free_) munmap(block.base, size);
    free_.clear();
  }

  LargeBlocks held() const {
    std::lock_guard<std::mutex> lock(mutex_);
    LargeBlocks b;
    b.in_use = in_use_;
    for (const auto& [size, block] : free_) b.kept += size;
    return b;
  }

 private:
  struct FreeBlock {
    void* base;
    std::uint64_t freed_at;  // allocations_ when it was freed
  };

  static std::size_t round_to_pages(std::size_t n) {
    static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return (n + page - 1) / page * page;
  }

  void* take(std::size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    ++allocations_;
    in_use_ += size;
    if (auto it = free_.find(size); it != free_.end()) {
      void* base = it->second.base;
      free_.erase(it);
      return base;
    }
    drop_stale();
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TORCH_CHECK(base != MAP_FAILED, "circuitcheck: out of memory: cannot map ", size, " bytes for a tensor");
    return base;
  }

  void drop_stale() const {
    for (auto it = free_.begin(); it != free_.end();)
      if (it->second.freed_at + kStaleAfter < allocations_) {
        munmap(it->second.base, it->first);
        it = free_.erase(it);
      } else {
        ++it;
      }
  }

  static void give_back(void* data);

  mutable std::mutex mutex_;
  mutable std::uint64_t allocations_ = 0;
  mutable std::size_t in_use_ = 0;                     // bytes of large blocks in use
  mutable std::multimap<std::size_t, FreeBlock> free_;  // size -> block
};

// Never destroyed: tensors may outlive every static object.
LargeBlockAllocator* installed = nullptr;

void LargeBlockAllocator::give_back(void* data) {
  const std::size_t size = header(data);
  char* base = static_cast<char*>(data) - kHeader;
  if (size == 0) return c10::free_cpu(base);
  LargeBlockAllocator& a = *installed;
  std::lock_guard<std::mutex> lock(a.mutex_);
  a.in_use_ -= size;
  a.free_.emplace(size, FreeBlock{base, a.allocations_});
}

}  // namespace

void tune_allocator() {
  if (installed) return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);
  installed = new LargeBlockAllocator();
  c10::SetCPUAllocator(installed, /*priority=*/1);
}

void release_free_memory() {
  if (installed) installed->release();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

LargeBlocks large_blocks() { return installed ? installed->held() : LargeBlocks{}; }

}  // namespace circuitcheck
