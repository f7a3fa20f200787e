#include "circuits/model/runtime.h"

#include "circuits/formats/error.h"
#include "git_commit.h"  // generated: CIRCUITCHECK_GIT_COMMIT

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <c10/core/Device.h>
#include <torch/version.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <strings.h>

namespace circuitcheck {

std::optional<std::string> blas_core_name() {
  using CoreName = char* (*)();
  const auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!corename) return std::nullopt;
  return std::string(corename());
}

std::optional<std::string> better_blas_core() {
  if (std::getenv("OPENBLAS_CORETYPE")) return std::nullopt;
  const std::optional<std::string> core = blas_core_name();
  if (!core || strcasecmp(core->c_str(), "prescott") != 0) return std::nullopt;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return std::nullopt;
}

void restart_with_better_blas(char** argv) {
  const std::optional<std::string> core = better_blas_core();
  if (!core) return;
  setenv("OPENBLAS_CORETYPE", core->c_str(), 1);
  execv("/proc/self/exe", argv);
}

void set_threads(int n) {
  check(n >= 1, "set_threads", "thread count must be at least 1, got " + std::to_string(n));
  at::set_num_threads(n);
}

at::Device parse_device(const std::string& name, const std::string& where) {
  check(name == "cpu" || name == "cuda" || name.rfind("cuda:", 0) == 0, where,
        "unknown device " + quote(name) + " (valid: cpu, cuda, cuda:N)");
  if (name == "cpu") return at::Device(at::kCPU);
  check(at::hasCUDA(), where, "device " + quote(name) + " requested but this LibTorch has no usable CUDA GPU");
  try {
    return at::Device(name);
  } catch (const std::exception&) {
    fail(where, "malformed device " + quote(name));
  }
}

std::string circuitcheck_version() { return CIRCUITCHECK_VERSION; }
std::string circuitcheck_git_commit() { return CIRCUITCHECK_GIT_COMMIT; }
std::string torch_version() { return TORCH_VERSION; }

}  // namespace circuitcheck
