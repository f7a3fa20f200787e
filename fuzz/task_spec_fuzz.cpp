// Fuzz target: task specs (read_task_spec, tasks/task_spec.h): the spec, its
// expressions and its first example (generated at load), then four examples
// drawn with a fixed seed and the first of its finite domain.
#include "circuits/tasks/task_spec.h"
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace circuitcheck;
  return fuzz_file(data, size, ".json", [](const std::string& path) {
    const Task task = read_task_spec(path, "fuzz");
    task.sample(4, 1, Scale::kCpu);
    if (task.domain_size) task.domain_batch(0, 1);
  });
}
