// Shards of a verify run: `verify ... --shard I/N --shard-report FILE` runs a
// deterministic share of the run's work and writes it as a shard report;
// `merge` checks that the shards belong together and rebuilds the reports a
// single run writes (identical apart from timings).
//
// The work of a run is its units: each (checkpoint, claim) pair, numbered
// k = 0, 1, ... in run order (claim files, then their checkpoints in step or
// given order, then the claims of each). Unit k belongs to shard k mod N + 1,
// so that every shard gets a share of every checkpoint. Schema
// "circuitcheck.shard/1":
//
//   { "schema": "circuitcheck.shard/1", "shard": {"index": I, "count": N},
//     "run": {...what defines the run: claim files, their task files and
//             checkpoints with their SHA-256, each model's config, the
//             options that change results, the build (version, commit and
//             the executable's SHA-256)...},
//     "units": <the run's number of units>,
//     "results": [ {"unit": k, "file": <index of the (claim file,
//                   checkpoint) pair>, "claim": <index in the file>,
//                   "date": "...", "seconds": s,
//                   "result": result_record (claims/result_record.h)} ] }
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kShardSchema = "circuitcheck.shard/1";

struct ShardUnit {
  std::size_t unit = 0;
  std::size_t file = 0;   // the (claim file, checkpoint) pair, in run order
  std::size_t claim = 0;  // the claim's index in its file (after --only)
  std::string date;       // when the claim started, UTC (utc_now)
  double seconds = 0.0;
  nlohmann::json record;  // result_record
};

struct ShardReport {
  std::string path;  // where it was read from ("" when made here)
  int index = 1;     // 1-based
  int count = 1;
  nlohmann::json run;
  std::size_t units = 0;
  std::vector<ShardUnit> results;
};

// The shard of unit `unit` among `count`: unit mod count + 1.
int shard_of(std::size_t unit, int count);

// Parses "I/N" (1 <= I <= N <= 100000) into index and count; InputError
// naming `where` otherwise.
void parse_shard(const std::string& text, const std::string& where, int& index, int& count);

nlohmann::json shard_json(const ShardReport& shard);

// The first JSON pointer, below `pointer`, at which `a` and `b` differ (a key
// in one only, an array of another length, another value); "" when equal.
std::string first_differing_pointer(const nlohmann::json& a, const nlohmann::json& b, const std::string& pointer);

// Reads a shard report; InputError naming the file and the JSON pointer of
// the first bad field (results whose unit is not the shard's, or out of range,
// included). Records are checked when merge reads them (result_from_record).
ShardReport read_shard(const std::string& path);

// Checks that `shards` are the whole of one run: the same "run" and count,
// each index once. InputError naming the files: a shard from another run (the
// first field of "run" that differs), two reports of one shard, missing
// shards (listed).
void check_shards(const std::vector<ShardReport>& shards);

}  // namespace circuitcheck
