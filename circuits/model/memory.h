// Where tensor memory comes from, and when it goes back to the system.
//
// A forward pass allocates the same large tensors again and again
// ([batch, pos, d_mlp] activations, [batch, head, pos, pos] patterns). Taken
// from glibc's heap, they are fast to reuse but leave it fragmented: a run
// over many checkpoints (a trajectory) kept the same live data as one
// checkpoint (heaptrack: 245 against 244 MB at the peak) and still peaked
// about 9 % higher in resident memory, because each checkpoint's large
// tensors landed on other pages of a heap that the previous ones had cut up.
// So large tensors get pages of their own (mmap), kept after they are freed
// for the next tensor of the same size, and handed back between units of work.
// Measured on 2026-12-06 (S1's 12 claims, 2 threads, a 2-core Intel Xeon,
// /usr/bin/time, back to back): 50 snapshots of a grokking run 150.9 s and
// 437.6 MB peak RSS against 147.9 s and 515.8 MB with glibc's heap alone;
// one grokked snapshot alone 7.8-8.0 s and 428 MB (glibc: 460-465 MB). Of
// the rest of the gap, later cut to 2.7 MB (examples/grokking/README.md,
// "Cost"), 1.4 MB are library code pages and 1.16 MB OpenBLAS's GEMM buffers,
// which a single run touches only after its peak; a smaller large size does
// not help (32 and 8 KiB: three snapshots 6.7 and 4.6 times slower, the
// same step). Keeping freed blocks
// longer (256 large allocations) was faster (36 against 40 s for ten
// snapshots) and took 60 MB more.
// A fresh mapping is paid for in page faults, one per 4 KiB page touched, and
// each unit of work starts with fresh ones. So a mapping of 2 MiB or more
// starts at a 2 MiB boundary and asks for transparent huge pages
// (madvise(MADV_HUGEPAGE), which a kernel whose transparent_hugepage setting
// is "madvise", as here, or "always" honours; under "never" nothing changes):
// one fault per 2 MiB. Measured on 2026-12-07 (the main job, 40
// claims, 2 threads, an idle 2-core AMD EPYC, /usr/bin/time, back to back):
// 92.2 and 89.9 s with 4 KiB pages, 64.4-71.7 s with huge pages inside
// unaligned mappings, 58.3 and 61.5 s aligned; 787-788 MB peak RSS each time,
// every value of the five reports the same to 1e-9 (`circuitcheck diff`).
#pragma once

#include <cstddef>

namespace circuitcheck {

// Tensors of at least this many bytes (128 KiB) are large blocks.
inline constexpr std::size_t kLargeBlockBytes = std::size_t{1} << 17;

// Installs LibTorch's CPU allocator for this process: a tensor of at least
// kLargeBlockBytes gets its own mapping, rounded up to whole pages (from
// 2 MiB on, aligned to 2 MiB and advised for huge pages); when it is
// freed, the mapping is kept for the next tensor of the same rounded size
// (the most recently freed first), until release_free_memory, or until
// another size is asked for after 64 large allocations that did not reuse it
// (a batch size that changed). When a mapping fails, the kept ones are handed
// back and it is tried once more. Smaller tensors come from glibc's heap
// (c10::alloc_cpu), which is told to keep freed memory (no trimming, no mmap
// of its own), so that they are not page-faulted in again on every pass.
// Every block but an empty one (nullptr) carries a 64-byte header before its
// data (the mapping's size, 0 for the heap's), which keeps the data 64-byte
// aligned and lets LibTorch's raw_allocate/raw_deallocate work (its gelu
// kernel uses them). Call once at start-up (glibc only), before any thread
// starts and before any tensor is allocated: a block taken from LibTorch's
// own allocator before must not be given back through raw_deallocate after.
// Further calls do nothing.
void tune_allocator();

// Hands the memory freed since the last call back to the system: every
// large block not in use (munmap) and glibc's free heap pages (malloc_trim).
// Call between units of work (a claim's run on one model, a checkpoint of a
// trajectory), so that each starts with the resident memory a fresh process
// would have. Does nothing for memory that is still in use.
void release_free_memory();

// The large blocks held now, in bytes of their mappings: in use by tensors,
// and freed and kept for reuse (both 0 before tune_allocator).
struct LargeBlocks {
  std::size_t in_use = 0;
  std::size_t kept = 0;
};
LargeBlocks large_blocks();

}  // namespace circuitcheck
