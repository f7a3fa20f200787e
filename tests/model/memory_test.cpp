// Tensor memory: large tensors get mappings of their own, reused by size and
// handed back by release_free_memory (every test binary's main() calls
// tune_allocator, as the CLI's does).
#include "circuits/model/memory.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace circuitcheck {
namespace {

constexpr int64_t kFloats = 1 << 20;  // 4 MiB of float
// The mapping of n floats: a 64-byte header, rounded up to whole pages.
std::size_t mapped(int64_t n) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (static_cast<std::size_t>(n) * 4 + 64 + page - 1) / page * page;
}

TEST(Memory, ALargeTensorIsKeptWhenFreedAndReusedBySize) {
  release_free_memory();
  const LargeBlocks before = large_blocks();
  void* data = nullptr;
  {
    at::Tensor t = at::empty({kFloats});
    data = t.data_ptr();
    EXPECT_EQ(large_blocks().in_use, before.in_use + mapped(kFloats));
  }
  EXPECT_EQ(large_blocks().in_use, before.in_use);
  EXPECT_EQ(large_blocks().kept, mapped(kFloats));
  at::Tensor again = at::ones({kFloats});
  EXPECT_EQ(again.data_ptr(), data) << "the freed block of the same size is reused";
  EXPECT_EQ(large_blocks().kept, 0u);
  EXPECT_EQ(again.sum().item<float>(), static_cast<float>(kFloats));
}

TEST(Memory, ReleaseHandsBackEveryFreeBlockAndKeepsThoseInUse) {
  release_free_memory();
  at::Tensor kept_alive = at::zeros({kFloats});
  { at::Tensor freed = at::zeros({2 * kFloats}); }
  EXPECT_EQ(large_blocks().kept, mapped(2 * kFloats));
  release_free_memory();
  EXPECT_EQ(large_blocks().kept, 0u);
  EXPECT_GE(large_blocks().in_use, mapped(kFloats));
  EXPECT_EQ(kept_alive.sum().item<float>(), 0.0f);
}

// A batch size that changed: a freed block of the old size stays for the
// next few allocations, and is dropped once 64 of another size have passed.
TEST(Memory, AFreedBlockNoSizeReusesIsDroppedOnceOtherSizesAreAskedFor) {
  release_free_memory();
  { at::Tensor old_size = at::empty({3 * kFloats}); }
  std::vector<at::Tensor> alive;  // each a new block of another size
  for (int i = 0; i < 60; ++i) alive.push_back(at::empty({kFloats}));
  EXPECT_EQ(large_blocks().kept, mapped(3 * kFloats));
  for (int i = 0; i < 8; ++i) alive.push_back(at::empty({kFloats}));
  EXPECT_EQ(large_blocks().kept, 0u);
}

// A mapping of 2 MiB or more starts at a 2 MiB boundary (its 64-byte header
// first) and, where the kernel has transparent huge pages, is advised for
// them: /proc/self/smaps lists its mapping with the "hg" flag.
TEST(Memory, ABlockOfTwoMebibytesOrMoreIsAlignedForHugePages) {
  release_free_memory();
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  at::Tensor large = at::ones({3 * kFloats});
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(large.data_ptr()) - 64;
  EXPECT_EQ(start % kHuge, 0u);
  EXPECT_EQ(large_blocks().in_use, mapped(3 * kFloats));
  EXPECT_EQ(large.sum().item<float>(), static_cast<float>(3 * kFloats));
  if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled")) return;  // no THP in this kernel
  std::ifstream smaps("/proc/self/smaps");
  std::string line, flags;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t from = 0, to = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &from, &to) == 2 && line.find(' ') < line.size() &&
        line.find('-') < line.find(' '))
      inside = from == start;
    else if (inside && line.rfind("VmFlags:", 0) == 0)
      flags = line;
  }
  EXPECT_NE(flags.find(" hg"), std::string::npos) << "VmFlags of the block's mapping: " << flags;
}

TEST(Memory, EmptyAndSmallTensorsDoNotTakeLargeBlocks) {
  release_free_memory();
  const LargeBlocks before = large_blocks();
  at::Tensor small = at::ones({static_cast<int64_t>(kLargeBlockBytes / 4) - 1});
  at::Tensor empty = at::empty({0, 3});
  EXPECT_EQ(large_blocks().in_use, before.in_use);
  EXPECT_EQ(large_blocks().kept, before.kept);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.data_ptr()) % 64, 0u);
  EXPECT_EQ(small.sum().item<float>(), static_cast<float>(small.numel()));
  EXPECT_EQ(empty.data_ptr(), nullptr);
}

}  // namespace
}  // namespace circuitcheck
