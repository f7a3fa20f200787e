// The main() of every benchmark binary: OpenBLAS's best kernels for this CPU
// (restart_with_better_blas), circuitcheck's allocator settings, then Google
// Benchmark.
#include "circuits/model/memory.h"
#include "circuits/model/runtime.h"

#include <benchmark/benchmark.h>

int main(int argc, char** argv) {
  circuitcheck::restart_with_better_blas(argv);
  circuitcheck::tune_allocator();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
