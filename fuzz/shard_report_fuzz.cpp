// Fuzz target: shard reports (reports/shard.h), the input of `merge`:
// read_shard (strict JSON, the shard, its run and every result's place), then
// every result's record as merge reads it (result_from_record).
#include "circuits/claims/result_record.h"
#include "circuits/reports/shard.h"
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace circuitcheck;
  return fuzz_file(data, size, ".json", [](const std::string& path) {
    const ShardReport shard = read_shard(path);
    for (std::size_t i = 0; i < shard.results.size(); ++i)
      result_from_record(shard.results[i].record, Claim{}, At{path, "/results/" + std::to_string(i) + "/result"});
  });
}
