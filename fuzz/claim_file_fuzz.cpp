// Fuzz target: claim files (claims/claim.h): read_claim_file (strict JSON,
// the top level), the task the file names (claim_task: a built-in system, or
// a task file, which a fuzzed path rarely names) and every claim parsed and
// checked against that task and its CPU-scale config (parse_claims).
#include "circuits/claims/claim.h"
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace circuitcheck;
  return fuzz_file(data, size, ".json", [](const std::string& path) {
    const ClaimFile file = read_claim_file(path);
    const std::shared_ptr<const Task> task = claim_task(file);
    parse_claims(file, *task, task->config(Scale::kCpu));
  });
}
