// The examples a claim runs on, and how they are visited in batches.
#pragma once

#include "circuits/tasks/evaluate.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace circuitcheck {

// The examples a claim is checked on: the task's whole finite domain, in its
// order, or `sample` examples drawn with `seed` (in batches of kVerifyBatch
// examples starting at `start`, drawn with seed + start, as evaluate() draws them).
//
// On a dataset task (Task::dataset_rows) the domain is its rows: `all` of
// them in file order, or `sample` rows drawn without replacement with `seed`
// (sample_rows); it is a sample of the task, never exhaustive.
//
// `where` keeps only examples whose [batch] class `where` has value
// `where_value` (e.g. {"operator": 0}: S5's additions): a sampled domain then
// draws batches until `sample` such examples are found (at most 1,000 batches).
struct Domain {
  bool exhaustive = false;
  int64_t sample = 0;  // examples, when sampled
  uint64_t seed = 0;   // when sampled
  std::string where;   // a [batch] class; empty: every example
  int64_t where_value = 0;
  bool all = false;    // a dataset task's every row (sample is then its size)

  // Claims on weights alone run on no examples: neither exhaustive nor sampled.
  bool weights_only() const { return !exhaustive && sample == 0; }

  // {"exhaustive": true}, {"all": true}, {"sample": n, "seed": s} or {"weights": true}, with "where": {class: value} when set.
  nlohmann::json to_json() const;
};

// Rows per forward pass of a claim: each batch drawn as evaluate() draws it
// (kVerifyBatch examples) is passed on in slices of at most kRunRows rows, so
// that a run holds the activations of at most kRunRows examples at once and can
// stop after any slice. The first slices are smaller, kFirstRows and then
// doubling (128, 128, 256, 512, 1024, 1024, ...), so that a run whose verdict
// is clear stops after a few hundred examples.
constexpr int64_t kRunRows = 1024;
constexpr int64_t kFirstRows = 128;

// The rows of the slice that starts after `passed` rows of a run:
// min(kRunRows, max(kFirstRows, passed)).
constexpr int64_t run_slice_rows(int64_t passed) {
  return passed < kFirstRows ? kFirstRows : passed < kRunRows ? passed : kRunRows;
}

// Calls `fn` on each batch of the domain, in order, drawn as evaluate() draws
// them (filtered by `where`) and cut into slices (run_slice_rows), and stops
// early after a slice for which `done` (when set) returns true. Throws InputError when a filtered domain that ran
// to its end found too few examples.
void for_each_batch(const Task& task, const Domain& domain, Scale scale, const std::function<void(const Batch&)>& fn,
                    const std::function<bool()>& done = nullptr);

// Calls `fn` on the domain's examples in order, in slices of `size` examples
// (slice_rows) that run across for_each_batch's batches. The last slice is
// shorter; where it would hold one example of a larger domain, the last two
// slices split their size + 1 examples in halves instead, so that every slice
// can draw counterfactuals from another of its rows (counterfactual_tokens).
void for_each_slice(const Task& task, const Domain& domain, Scale scale, int64_t size,
                    const std::function<void(const Batch&)>& fn);

// The number of examples the domain holds: its sample size (a dataset's rows
// for `all`), or the task's finite `domain_size` when exhaustive; -1 when
// unknown before it runs (an exhaustive or `all` domain filtered by `where`,
// or no domain size given).
int64_t domain_examples(const Domain& domain, const std::optional<int64_t>& domain_size);

}  // namespace circuitcheck
