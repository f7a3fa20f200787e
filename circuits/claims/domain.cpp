#include "circuits/claims/domain.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <optional>

namespace circuitcheck {

using nlohmann::json;

json Domain::to_json() const {
  if (weights_only()) return {{"weights", true}};
  json j = exhaustive ? json{{"exhaustive", true}} : all ? json{{"all", true}} : json{{"sample", sample}, {"seed", seed}};
  if (!where.empty()) j["where"] = {{where, where_value}};
  return j;
}

namespace {

// The examples of `b` whose class `where` is `value`, at most `limit` of them.
Batch filtered(const Batch& b, const std::string& where, int64_t value, int64_t limit) {
  at::Tensor keep = (b.classes.at(where) == value).nonzero().view({-1});
  return take_rows(b, keep.slice(0, 0, std::min(limit, keep.size(0))));
}

// The rows of a dataset task the domain visits, in order.
at::Tensor dataset_domain_rows(const Task& task, const Domain& domain) {
  const int64_t size = *task.domain_size;
  if (domain.where.empty())
    return domain.all ? at::arange(size, at::kLong) : sample_rows(domain.sample, size, domain.seed, "for_each_batch");
  at::Tensor rows = domain.all ? at::arange(size, at::kLong) : sample_rows(size, size, domain.seed, "for_each_batch");
  rows = rows.index_select(0, (task.dataset_rows(rows).classes.at(domain.where) == domain.where_value).nonzero().view({-1}));
  check(rows.size(0) > 0 && (domain.all || rows.size(0) >= domain.sample), "for_each_batch",
        "found " + std::to_string(rows.size(0)) + " rows with " + domain.where + " = " +
            std::to_string(domain.where_value) + " in the dataset's " + std::to_string(size));
  return domain.all ? rows : rows.slice(0, 0, domain.sample);
}

}  // namespace

void for_each_batch(const Task& task, const Domain& domain, Scale scale, const std::function<void(const Batch&)>& fn,
                    const std::function<bool()>& done) {
  bool stopped = false;
  int64_t passed = 0;  // rows passed on so far
  const auto run_rows = [&](const Batch& b) {  // b in slices (run_slice_rows)
    const int64_t n = b.tokens.size(0);
    for (int64_t start = 0, size = 0; start < n && !stopped; start += size, passed += size) {
      size = std::min(run_slice_rows(passed), n - start);
      Batch slice = slice_rows(b, start, size);
      slice.first_row = passed;
      fn(slice);
      stopped = done && done();
    }
  };
  if (task.dataset_rows) {
    const at::Tensor rows = dataset_domain_rows(task, domain);
    for (int64_t start = 0; start < rows.size(0) && !stopped; start += kVerifyBatch)
      run_rows(task.dataset_rows(rows.slice(0, start, std::min(start + kVerifyBatch, rows.size(0)))));
    return;
  }
  const int64_t total = domain.exhaustive ? *task.domain_size : domain.sample;
  if (domain.where.empty()) {
    for (int64_t start = 0; start < total && !stopped; start += kVerifyBatch) {
      const int64_t count = std::min(kVerifyBatch, total - start);
      run_rows(draw_batch(task, domain.exhaustive, start, count, domain.seed, scale));
    }
    return;
  }
  int64_t found = 0, drawn = 0;
  for (int64_t i = 0; found < total && (domain.exhaustive ? drawn < total : i < 1000); ++i) {
    const int64_t count = domain.exhaustive ? std::min(kVerifyBatch, total - drawn) : kVerifyBatch;
    const Batch b = draw_batch(task, domain.exhaustive, drawn, count, domain.seed, scale);
    drawn += count;
    Batch kept = filtered(b, domain.where, domain.where_value, domain.exhaustive ? count : total - found);
    found += kept.tokens.size(0);
    if (kept.tokens.size(0) == 0) continue;
    run_rows(kept);
    if (stopped) return;
  }
  check(found > 0 && (domain.exhaustive || found == total), "for_each_batch",
        "found " + std::to_string(found) + " examples with " + domain.where + " = " + std::to_string(domain.where_value) +
            " in " + std::to_string(drawn) + " drawn");
}

void for_each_slice(const Task& task, const Domain& domain, Scale scale, int64_t size,
                    const std::function<void(const Batch&)>& fn) {
  std::optional<Batch> pending;  // rows of the domain not yet passed on, at most size + 1
  for_each_batch(task, domain, scale, [&](const Batch& b) {
    pending = pending ? concat_batches(*pending, b, "for_each_slice") : b;
    int64_t start = 0;
    for (; pending->tokens.size(0) - start > size + 1; start += size) fn(slice_rows(*pending, start, size));
    pending = slice_rows(*pending, start, pending->tokens.size(0) - start);
  });
  const int64_t rest = pending ? pending->tokens.size(0) : 0;
  if (rest <= size) {
    if (rest > 0) fn(*pending);
    return;
  }
  fn(slice_rows(*pending, 0, rest - rest / 2));  // size + 1 rows: two halves, never one row alone
  fn(slice_rows(*pending, rest - rest / 2, rest / 2));
}

int64_t domain_examples(const Domain& domain, const std::optional<int64_t>& domain_size) {
  if (!domain.exhaustive) return domain.all && !domain.where.empty() ? -1 : domain.sample;
  return domain.where.empty() && domain_size ? *domain_size : -1;
}

}  // namespace circuitcheck
