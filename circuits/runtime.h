// Process-wide settings and build facts: threads, devices, versions.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace circuitcheck {

// Sets LibTorch's intra-op thread count (Debian's default is 1). n >= 1.
void set_threads(int n);

// Parses "cpu", "cuda" or "cuda:N". Throws InputError (prefixed by `where`)
// for anything else, or for CUDA when this LibTorch build has no usable GPU.
at::Device parse_device(const std::string& name, const std::string& where);

// "0.1.0", the git commit at configure time, and LibTorch's version ("1.13.1").
std::string circuitcheck_version();
std::string circuitcheck_git_commit();
std::string torch_version();

}  // namespace circuitcheck
