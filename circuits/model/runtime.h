// Process-wide settings and build facts: threads, devices, versions.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace circuitcheck {

// Sets LibTorch's intra-op thread count (Debian's default is 1). n >= 1.
void set_threads(int n);

// Keeps freed memory inside the process (glibc: no mmap for large blocks, no
// trimming), so that the large tensors a forward pass allocates again and
// again are not page-faulted in each time: about 25 % faster full-cache runs
// over big batches. The process's peak memory is then kept until it exits.
// Call once at start-up, before large allocations.
void tune_allocator();

// Parses "cpu", "cuda" or "cuda:N". Throws InputError (prefixed by `where`)
// for anything else, or for CUDA when this LibTorch build has no usable GPU.
at::Device parse_device(const std::string& name, const std::string& where);

// "0.1.0", the git commit at configure time, and LibTorch's version ("1.13.1").
std::string circuitcheck_version();
std::string circuitcheck_git_commit();
std::string torch_version();

}  // namespace circuitcheck
