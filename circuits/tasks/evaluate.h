// Task accuracy of a model, broken down by the task's classes.
//
// An example is correct when the argmax of the logits equals the target at
// every scored position (teacher forcing; for S3 this equals greedy decoding
// of the whole path). S4 is scored per assignment (its four positions), so
// its unit is the assignment and "depth" breaks it down. A batch with unit
// ids (Batch::units, a dataset's `unit` tensor) is scored per (example, unit
// id): each group of scored positions sharing an id is one unit, broken down
// by the example's [batch] classes.
#pragma once

#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

// Domains larger than this are never enumerated (evaluate() samples them;
// claims refuse "exhaustive").
constexpr int64_t kExhaustiveLimit = 1000000;

// Examples per draw of evaluate() and of claims, so that both draw the same
// samples (claims run each draw in slices of kRunRows, claims/domain.h).
constexpr int64_t kVerifyBatch = 4096;

// Examples [start, start + count) of a draw, the one way evaluate() and
// claims (claims/domain.h) take them: the domain's rows when `exhaustive`,
// else `count` examples sampled with seed + start.
Batch draw_batch(const Task& task, bool exhaustive, int64_t start, int64_t count, uint64_t seed, Scale scale);

// Correct units of `n`, grouped by the example they come from: units of one
// example (S4's assignments, an attention claim's (example, k) items, a
// probe's items) are not independent, so the bounds on their rate are taken
// over examples (claims/stats.h, design_effect). Example i contributes n_i
// units of which c_i are correct; the sums below are over examples with n_i > 0.
struct ExampleCount {
  int64_t units = 0;    // n_i
  int64_t correct = 0;  // c_i
};

struct Tally {
  int64_t n = 0;
  int64_t correct = 0;
  int64_t examples = 0;       // examples with at least one unit
  int64_t largest = 0;        // the most units of any one example
  double sum_n2 = 0.0;        // sum of n_i^2
  double sum_nc = 0.0;        // sum of n_i c_i
  double sum_c2 = 0.0;        // sum of c_i^2
  std::vector<ExampleCount> per_example;  // each example with a unit, in the order added (the draw's)
  double accuracy() const { return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0; }
};

// Adds one example with `units` units of which `correct` are correct (nothing when units is 0).
void add_example(Tally& into, int64_t units, int64_t correct);

// Adds each row of `ok` [batch, k] (bool: unit correct) as one example, of
// the units where `present` [batch, k] (bool) holds.
void add_rows(Tally& into, const at::Tensor& ok, const at::Tensor& present);

// Per-example terms of per-item `values` [items] (float or bool) of examples
// `groups` [items] (int64 ids): {sums, counts} [examples] (double, on the
// CPU), in ascending id. InternalError unless both are [items].
std::pair<at::Tensor, at::Tensor> sums_by_example(const at::Tensor& values, const at::Tensor& groups);

// Adds `groups` [n] (int64 ids) as examples: the items sharing an id are one
// example, `ok` [n] (bool) whether each item is correct.
void add_groups(Tally& into, const at::Tensor& ok, const at::Tensor& groups);

// One unit the model got wrong, kept so that a report can show it as text.
struct Miss {
  int64_t example = 0;  // its index among the evaluated examples (domain or sample order)
  int64_t unit = -1;       // the unit in its example (0-based; S4: the assignment); -1 where the unit is the example
  std::string unit_name;  // Units::name ("assignment"); empty where the unit is the example
  std::string text;     // the example, detokenized ("2>v;3>p;...")
  // The unit's classes: S4 its depth; the other systems each [batch] class of the example.
  std::map<std::string, int64_t> classes;
  std::vector<int64_t> positions;  // the unit's wrongly predicted scored positions, ascending
  std::string predicted;           // the argmax token at each of `positions`, detokenized
  std::string expected;            // the target token at each, detokenized

  // "example 2458 assignment 15 (depth 6): 2>v;...  positions 60 61: predicted '22', expected '00'"
  std::string to_string() const;
  nlohmann::json to_json() const;
};

struct Evaluation {
  std::string system;
  std::string unit;        // "example" or "assignment"
  std::string domain;      // "exhaustive", "sampled", "dataset" (every row of a dataset task) or "given"
  int64_t n_examples = 0;
  int64_t units_per_example = 1;  // at most this many units per example (S4: 16 assignments; unit ids: pos)
  uint64_t seed = 0;       // sampled domains
  Tally overall;           // per unit, grouped by example
  Tally tokens;            // per scored position, grouped by example
  double loss = 0.0;       // mean cross-entropy per scored position (nats)
  // Each example's summed cross-entropy over its scored positions (nats) and
  // its number of scored positions, in example order: the terms of `loss`
  // by example, for its bootstrap (claims/bootstrap.h).
  std::vector<double> example_loss;
  std::vector<double> example_scored;
  // class name -> class value -> tally (per unit), for every class of accuracy_classes.
  std::map<std::string, std::map<int64_t, Tally>> by_class;
  int64_t max_misses = 0;    // tally_batch keeps at most this many misses ...
  std::vector<Miss> misses;  // ... the first ones in example order (then unit order)

  nlohmann::json to_json() const;
};

// Accumulates one batch into `into`; its examples are numbered from
// into.n_examples on, and its misses are kept while into.misses has fewer
// than into.max_misses. logits [batch, pos - from, d_vocab_out]
// cover the last positions of the batch's [batch, pos] (from = pos -
// logits.size(1), e.g. scored_logits()); positions before `from` must not be scored.
void tally_batch(const Task& task, const Batch& batch, const at::Tensor& logits, Evaluation& into);

// The logits [batch, pos - from, d_vocab_out] of `batch` from its first scored
// position `from` on (the last layer runs only there; the logits equal the
// full forward's at those positions). No gradients needed by callers.
at::Tensor scored_logits(const HookedTransformer& model, const Batch& batch);

// The classes accuracy is broken down by: the task's unit classes
// (Units::classes) where its unit is not the example, else every class it
// declares per example (Task::classes).
std::vector<std::string> accuracy_classes(const Task& task);

// An Evaluation of `task` with nothing tallied yet: its system and unit
// (Units::name).
Evaluation empty_evaluation(const Task& task);

// Evaluates `model` on `task`: every row of a dataset task, the whole finite
// domain when it has at most `exhaustive_limit` examples (in domain order), else `n` examples sampled
// with `seed`, in batches of `batch_size`, keeping the first `max_misses`
// misses. No gradients.
Evaluation evaluate(const Task& task, const HookedTransformer& model, Scale scale, int64_t n, uint64_t seed,
                    int64_t exhaustive_limit = kExhaustiveLimit, int64_t batch_size = kVerifyBatch,
                    int64_t max_misses = 0);

// Evaluates on an explicit batch (e.g. S5's hard cases, S1's test split).
Evaluation evaluate_batch(const Task& task, const HookedTransformer& model, const Batch& batch,
                          int64_t batch_size = kVerifyBatch, int64_t max_misses = 0);

// Mean cross-entropy over scored positions (targets != -1) of logits
// [batch, pos - from, V] against targets [batch, pos] from position `from`.
at::Tensor scored_loss(const at::Tensor& logits, const at::Tensor& targets, int64_t from);

// The first position with any scored target in `targets` [batch, pos].
int64_t first_scored_position(const at::Tensor& targets);

// The last position with any scored target in `targets` [batch, pos]; the
// last position when none is scored.
int64_t last_scored_position(const at::Tensor& targets);

}  // namespace circuitcheck
