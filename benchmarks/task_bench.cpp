// Example generation against the forward pass, on S2 batches of 4,096
// (kVerifyBatch): the built-in generator, the same task as a task spec
// (examples/task_specs/array_index.json), and the model's logits on them.
// A spec must cost far less than the forward pass it feeds.
#include "circuits/model/model.h"
#include "circuits/model/runtime.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/evaluate.h"
#include "circuits/tasks/task_spec.h"

#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>

namespace circuitcheck {
namespace {

const Task& s2_spec() {
  static const Task task = read_task_spec(std::string(CIRCUITCHECK_SOURCE_DIR) + "/examples/task_specs/array_index.json", "s2_spec");
  return task;
}

// Arg 0: the built-in S2 generator; 1: the S2 task spec.
void BM_S2Examples(benchmark::State& state) {
  const Task& task = state.range(0) ? s2_spec() : find_task("S2");
  uint64_t seed = 0;
  for (auto _ : state) benchmark::DoNotOptimize(task.sample(kVerifyBatch, seed++, Scale::kCpu).tokens);
  state.SetItemsProcessed(state.iterations() * kVerifyBatch);
}
BENCHMARK(BM_S2Examples)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The shipped S2 model's logits on a batch, 2 threads.
void BM_S2ForwardLogits(benchmark::State& state) {
  set_threads(2);
  c10::InferenceMode guard;
  const Checkpoint ck = load_checkpoint(std::string(CIRCUITCHECK_SOURCE_DIR) + "/checkpoints/array_index.safetensors");
  const at::Tensor tokens = find_task("S2").sample(kVerifyBatch, 0, Scale::kCpu).tokens;
  for (auto _ : state) benchmark::DoNotOptimize(forward(ck.model, tokens));
  state.SetItemsProcessed(state.iterations() * kVerifyBatch);
}
BENCHMARK(BM_S2ForwardLogits)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace circuitcheck

