// Fuzz target: datasets (read_dataset, tasks/dataset.h), then the task made of
// the dataset (dataset_task) and its first row written as text and read back.
// Built twice (fuzz/CMakeLists.txt): CIRCUITCHECK_FUZZ_DATASET_EXTENSION is
// ".jsonl" (JSON Lines, fuzz_dataset_lines) or ".safetensors"
// (fuzz_dataset_safetensors).
#include "circuits/tasks/dataset.h"
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace circuitcheck;
  return fuzz_file(data, size, CIRCUITCHECK_FUZZ_DATASET_EXTENSION, [](const std::string& path) {
    const Task task = dataset_task(read_dataset(path), "fuzz");
    task.tokenize(task.detokenize(task.domain_batch(0, 1).tokens[0]));
  });
}
