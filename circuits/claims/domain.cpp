#include "circuits/claims/domain.h"

#include "circuits/formats/error.h"

#include <algorithm>

namespace circuitcheck {

using nlohmann::json;

json Domain::to_json() const {
  if (weights_only()) return {{"weights", true}};
  json j = exhaustive ? json{{"exhaustive", true}} : json{{"sample", sample}, {"seed", seed}};
  if (!where.empty()) j["where"] = {{where, where_value}};
  return j;
}

namespace {

// The examples of `b` whose class `where` is `value`, at most `limit` of them.
Batch filtered(const Batch& b, const std::string& where, int64_t value, int64_t limit) {
  at::Tensor keep = (b.classes.at(where) == value).nonzero().view({-1});
  return take_rows(b, keep.slice(0, 0, std::min(limit, keep.size(0))));
}

}  // namespace

void for_each_batch(const Task& task, const Domain& domain, Scale scale, const std::function<void(const Batch&)>& fn,
                    const std::function<bool()>& done) {
  const int64_t total = domain.exhaustive ? *task.domain_size : domain.sample;
  const auto stop = [&] { return done && done(); };
  if (domain.where.empty()) {
    for (int64_t start = 0; start < total; start += kVerifyBatch) {
      const int64_t count = std::min(kVerifyBatch, total - start);
      fn(domain.exhaustive ? task.domain_batch(start, count)
                           : task.sample(count, domain.seed + static_cast<uint64_t>(start), scale));
      if (stop()) return;
    }
    return;
  }
  int64_t found = 0, drawn = 0;
  for (int64_t i = 0; found < total && (domain.exhaustive ? drawn < total : i < 1000); ++i) {
    const int64_t count = domain.exhaustive ? std::min(kVerifyBatch, total - drawn) : kVerifyBatch;
    Batch b = domain.exhaustive ? task.domain_batch(drawn, count)
                                : task.sample(count, domain.seed + static_cast<uint64_t>(drawn), scale);
    drawn += count;
    Batch kept = filtered(b, domain.where, domain.where_value, domain.exhaustive ? count : total - found);
    found += kept.tokens.size(0);
    if (kept.tokens.size(0) == 0) continue;
    fn(kept);
    if (stop()) return;
  }
  check(found > 0 && (domain.exhaustive || found == total), "for_each_batch",
        "found " + std::to_string(found) + " examples with " + domain.where + " = " + std::to_string(domain.where_value) +
            " in " + std::to_string(drawn) + " drawn");
}

void for_each_slice(const Task& task, const Domain& domain, Scale scale, int64_t size,
                    const std::function<void(const Batch&)>& fn) {
  for_each_batch(task, domain, scale, [&](const Batch& all) {
    for (int64_t start = 0; start < all.tokens.size(0); start += size)
      fn(slice_rows(all, start, std::min(size, all.tokens.size(0) - start)));
  });
}

int64_t domain_examples(const Domain& domain, const std::optional<int64_t>& domain_size) {
  if (!domain.exhaustive) return domain.sample;
  return domain.where.empty() && domain_size ? *domain_size : -1;
}

}  // namespace circuitcheck
