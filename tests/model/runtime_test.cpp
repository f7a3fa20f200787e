// The runtime: OpenBLAS runs kernels made for this CPU (every test binary's
// main() restarts itself with them, as the CLI's does).
#include "circuits/model/runtime.h"

#include <gtest/gtest.h>

#include <strings.h>

namespace circuitcheck {
namespace {

// On a CPU that Debian's OpenBLAS does not know (an Emerald Rapids Xeon, say)
// OpenBLAS starts with its generic Prescott kernels, about half as fast;
// after restart_with_better_blas it runs SkylakeX's or Haswell's, and
// better_blas_core has nothing left to change.
TEST(Runtime, OpenBlasRunsKernelsForThisCpu) {
  const std::optional<std::string> core = blas_core_name();
  ASSERT_TRUE(core.has_value()) << "the BLAS is not OpenBLAS (.ci/setup installs libopenblas0-openmp)";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    EXPECT_NE(strcasecmp(core->c_str(), "prescott"), 0) << "OpenBLAS runs its generic Prescott kernels";
  EXPECT_FALSE(better_blas_core().has_value()) << *better_blas_core();
}

}  // namespace
}  // namespace circuitcheck
