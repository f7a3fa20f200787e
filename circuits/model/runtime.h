// Process-wide settings and build facts: threads, devices, versions.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

namespace circuitcheck {

// The name of the kernels OpenBLAS runs ("SkylakeX", "Haswell", "Prescott",
// ...: openblas_get_corename()); nullopt when the BLAS is not OpenBLAS.
std::optional<std::string> blas_core_name();

// The OpenBLAS core this CPU should use, when OpenBLAS fell back to its
// generic Prescott (SSE3) kernels because it does not know the CPU (Debian
// bookworm's OpenBLAS 0.3.21 does not know Intel's Sapphire and Emerald
// Rapids): "SkylakeX" with AVX-512 (F, BW, DQ, VL), "Haswell" with AVX2 and
// FMA. nullopt when OpenBLAS chose a core itself, OPENBLAS_CORETYPE is set,
// the CPU has neither, or the BLAS is not OpenBLAS. On an Emerald Rapids
// Xeon the main job took 87.8 s with Prescott's kernels and 41.2 s with
// SkylakeX's (2026-12-05, README.md "Speed").
std::optional<std::string> better_blas_core();

// OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded: when
// better_blas_core() names a core, sets the variable to it and executes this
// program again (/proc/self/exe, the same `argv`); returns only when there
// is none, or when the exec fails (the variable then still reaches any
// child process). Call first in main().
void restart_with_better_blas(char** argv);

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
