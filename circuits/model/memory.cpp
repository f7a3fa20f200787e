#include "circuits/model/memory.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>

namespace circuitcheck {
namespace {

constexpr std::uint64_t kStaleAfter = 64;
constexpr std::size_t kHeader = 64;
constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

std::size_t& header(void* data) { return *reinterpret_cast<std::size_t*>(static_cast<char*>(data) - kHeader); }

// A mapping of `size` bytes; from kHugePageBytes on, aligned to them and
// marked for transparent huge pages (madvise), MAP_FAILED when it fails.
void* map(std::size_t size) {
  if (size < kHugePageBytes) return mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* raw = mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return raw;
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  if (aligned > start) munmap(raw, aligned - start);
  const std::uintptr_t end = aligned + size, raw_end = start + size + kHugePageBytes;
  if (raw_end > end) munmap(reinterpret_cast<void*>(end), raw_end - end);
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

std::size_t round_to_pages(std::size_t n) {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

class LargeBlockAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &give_back, c10::Device(c10::DeviceType::CPU)};
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

  void release() const {
    std::lock_guard<std::mutex> lock(mutex_);
    unmap_kept();
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
    std::uint64_t freed_at;
  };

  void* take(std::size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    ++allocations_;
    auto [first, last] = free_.equal_range(size);
    if (first != last) {
      const auto newest = std::prev(last);
      void* base = newest->second.base;
      free_.erase(newest);
      in_use_ += size;
      return base;
    }
    drop_stale();
    void* base = map(size);
    if (base == MAP_FAILED) {
      unmap_kept();
      base = map(size);
    }
    TORCH_CHECK(base != MAP_FAILED, "circuitcheck: out of memory: cannot map ", size, " bytes for a tensor");
    in_use_ += size;
    return base;
  }

  void unmap_kept() const {
    for (auto& [size, block] : free_) munmap(block.base, size);
    free_.clear();
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
  mutable std::size_t in_use_ = 0;
  mutable std::multimap<std::size_t, FreeBlock> free_;
};

LargeBlockAllocator* installed = nullptr;

void LargeBlockAllocator::give_back(void* data) {
  if (!data) return;
  const std::size_t size = header(data);
  char* base = static_cast<char*>(data) - kHeader;
  if (size == 0) return c10::free_cpu(base);
  std::lock_guard<std::mutex> lock(installed->mutex_);
  installed->in_use_ -= size;
  installed->free_.emplace(size, FreeBlock{base, installed->allocations_});
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
  malloc_trim(0);
}

LargeBlocks large_blocks() { return installed ? installed->held() : LargeBlocks{}; }

}  // namespace circuitcheck
