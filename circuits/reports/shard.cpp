#include "circuits/reports/shard.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/text_file.h"

#include <cstdlib>
#include <limits>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr int kMaxShards = 100000;
constexpr std::size_t kMaxShardBytes = std::size_t{1} << 30;

}  // namespace

std::string first_differing_pointer(const json& a, const json& b, const std::string& pointer) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      if (!b.contains(key)) return pointer + "/" + key;
      const std::string inner = first_differing_pointer(value, b[key], pointer + "/" + key);
      if (!inner.empty()) return inner;
    }
    for (const auto& [key, value] : b.items())
      if (!a.contains(key)) return pointer + "/" + key;
    return "";
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string inner = first_differing_pointer(a[i], b[i], pointer + "/" + std::to_string(i));
      if (!inner.empty()) return inner;
    }
    return "";
  }
  return a == b ? "" : pointer;
}

int shard_of(std::size_t unit, int count) { return static_cast<int>(unit % static_cast<std::size_t>(count)) + 1; }

void parse_shard(const std::string& text, const std::string& where, int& index, int& count) {
  const std::size_t slash = text.find('/');
  const auto read = [&](const std::string& part, long& out) {
    char* end = nullptr;
    out = part.empty() || part.find_first_not_of("0123456789") != std::string::npos ? -1 : std::strtol(part.c_str(), &end, 10);
    return out >= 1 && out <= kMaxShards;
  };
  long i = 0, n = 0;
  check(slash != std::string::npos && read(text.substr(0, slash), i) && read(text.substr(slash + 1), n) && i <= n, where,
        "expected I/N with 1 <= I <= N <= " + std::to_string(kMaxShards) + ", got " + quote(text));
  index = static_cast<int>(i);
  count = static_cast<int>(n);
}

json shard_json(const ShardReport& shard) {
  json results = json::array();
  for (const auto& u : shard.results)
    results.push_back({{"unit", u.unit}, {"file", u.file}, {"claim", u.claim}, {"date", u.date}, {"seconds", u.seconds},
                       {"result", u.record}});
  return {{"schema", kShardSchema},
          {"shard", {{"index", shard.index}, {"count", shard.count}}},
          {"run", shard.run},
          {"units", shard.units},
          {"results", results}};
}

ShardReport read_shard(const std::string& path) {
  const json doc = parse_json(read_text_file(path, "merge", kMaxShardBytes), path);
  const At at{path, ""};
  check_object(doc, at, {"schema", "shard", "run", "units", "results"}, {"schema", "shard", "run", "units", "results"});
  const std::string schema = string_at(doc["schema"], at / "schema");
  if (schema != kShardSchema) (at / "schema").fail("expected " + std::string(kShardSchema) + ", got " + quote(schema));
  ShardReport s;
  s.path = path;
  check_object(doc["shard"], at / "shard", {"index", "count"}, {"index", "count"});
  s.count = static_cast<int>(integer_at(doc["shard"]["count"], at / "shard" / "count", 1, kMaxShards));
  s.index = static_cast<int>(integer_at(doc["shard"]["index"], at / "shard" / "index", 1, s.count));
  s.run = object_at(doc["run"], at / "run");
  s.units = static_cast<std::size_t>(integer_at(doc["units"], at / "units", 0, std::numeric_limits<int32_t>::max()));
  const json& results = list_at(doc["results"], at / "results");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const At r = at / "results" / i;
    check_object(results[i], r, {"unit", "file", "claim", "date", "seconds", "result"},
                 {"unit", "file", "claim", "date", "seconds", "result"});
    ShardUnit u;
    u.unit = static_cast<std::size_t>(integer_at(results[i]["unit"], r / "unit", 0, static_cast<int64_t>(s.units) - 1));
    if (shard_of(u.unit, s.count) != s.index)
      (r / "unit").fail("unit " + std::to_string(u.unit) + " belongs to shard " + std::to_string(shard_of(u.unit, s.count)) +
                        ", not " + std::to_string(s.index));
    if (i > 0 && u.unit <= s.results.back().unit) (r / "unit").fail("units must increase");
    u.file = static_cast<std::size_t>(integer_at(results[i]["file"], r / "file", 0, std::numeric_limits<int32_t>::max()));
    u.claim = static_cast<std::size_t>(integer_at(results[i]["claim"], r / "claim", 0, std::numeric_limits<int32_t>::max()));
    u.date = string_at(results[i]["date"], r / "date");
    u.seconds = number_at(results[i]["seconds"], r / "seconds");
    u.record = results[i]["result"];
    s.results.push_back(std::move(u));
  }
  return s;
}

void check_shards(const std::vector<ShardReport>& shards) {
  check(!shards.empty(), "merge", "no shard reports given");
  const ShardReport& first = shards.front();
  std::vector<const ShardReport*> by_index(static_cast<std::size_t>(first.count) + 1, nullptr);
  for (const auto& s : shards) {
    check(s.count == first.count, "merge: " + s.path,
          "shard " + std::to_string(s.index) + " of " + std::to_string(s.count) + ", but " + first.path + " is one of " +
              std::to_string(first.count));
    const std::string differs = first_differing_pointer(first.run, s.run, "/run");
    check(differs.empty(), "merge: " + s.path,
          "from another verify run than " + first.path + " (" + differs +
              " differs: other claim files, checkpoints, options or build)");
    check(s.units == first.units, "merge: " + s.path, "/units differs from " + first.path + "'s");
    const ShardReport*& slot = by_index[static_cast<std::size_t>(s.index)];
    check(slot == nullptr, "merge: " + s.path,
          "shard " + std::to_string(s.index) + " of " + std::to_string(s.count) + " again (also " +
              (slot ? slot->path : std::string()) + ")");
    slot = &s;
  }
  std::vector<std::string> missing;
  for (int i = 1; i <= first.count; ++i)
    if (!by_index[static_cast<std::size_t>(i)]) missing.push_back(std::to_string(i));
  check(missing.empty(), "merge",
        "missing shard" + std::string(missing.size() > 1 ? "s " : " ") + joined(missing) + " of " +
            std::to_string(first.count) + " (given: " + std::to_string(shards.size()) + ")");
}

}  // namespace circuitcheck
