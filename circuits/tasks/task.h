// Tasks: the five seed systems of SYSTEMS.md (shared/SYSTEMS.md) as
// generators of token sequences, with labels, named positions and classes.
//
// Shapes and conventions of a Batch:
//   tokens   [batch, pos] int64: the model input; pos is the task's n_ctx.
//   targets  [batch, pos] int64: targets[b, p] is the label the model
//            predicts from position p (read from the logits at p). For the
//            next-token systems (S1, S2, S3, S5) it is the token at p + 1 of
//            the full sequence; for S4 it is the value of the assignment that
//            p belongs to. -1 exactly where p is not scored.
//   roles    name -> [batch] or [batch, k] int64 positions into `tokens`
//            (e.g. "idx", "edge_child"); -1 where absent.
//   classes  name -> [batch] int64 (one value per example, e.g. "depth") or
//            [batch, k] (one per item, e.g. S5's "carry_in" per answer
//            digit); -1 where absent.
//            Every task declares its classes (Task::classes, with
//            readable names for their values where it has them).
//   units    optional [batch, pos] int64: the accuracy unit of each scored
//            position (dataset tasks whose `unit` tensor groups positions);
//            -1 where not scored; undefined: Task::units says what a unit is.
//   counterfactuals  name -> [batch, pos] int64: a paired input per example
//            (a dataset's, dataset.h; a task spec's, task_spec.h; S3's
//            reparent_goal); counterfactual_targets name -> [batch, pos]: what
//            a high-level model predicts with the variable the pair changes
//            taken from it (-1 where unset; all -1: the example has no pair).
// Each system's header lists its roles and classes.
//
// Sampling is deterministic in (n, seed, scale) on every platform: one
// std::mt19937_64 seeded with `seed`, uniform integers by rejection sampling
// (uniform_int below), never std::uniform_int_distribution or torch's RNG.
//
// Errors: every bad argument or text is an InputError naming the function and
// what is wrong.
#pragma once

#include "circuits/model/config.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace circuitcheck {

// The two model scales of SYSTEMS.md: the notebooks' (seed) and the one that
// trains on 2 CPU cores. Only S3, S4 and S5 differ; S4's sequences do too.
enum class Scale { kSeed, kCpu };

// "seed" or "cpu".
const char* to_string(Scale scale);
// The scale spelled `name`; InputError "<where>: expected cpu or seed, got
// '<name>'" otherwise.
Scale scale_named(const std::string& name, const std::string& where);

struct Batch {
  at::Tensor tokens;   // [batch, pos] int64
  at::Tensor targets;  // [batch, pos] int64, -1 where not scored
  std::map<std::string, at::Tensor> roles;    // [batch] or [batch, k] positions, -1 absent
  std::map<std::string, at::Tensor> classes;  // [batch] or [batch, k] values, -1 absent
  at::Tensor units;  // [batch, pos] unit ids, -1 where not scored; undefined for most tasks
  std::map<std::string, at::Tensor> counterfactuals;         // [batch, pos] corrupted inputs, by name
  std::map<std::string, at::Tensor> counterfactual_targets;  // [batch, pos], a subset of counterfactuals' names
  // The index of its first example in the run that passed it on (claims'
  // for_each_batch), so that per-example draws (a resample ablation's donors)
  // do not depend on how the run is cut into forward passes; 0 otherwise.
  int64_t first_row = 0;
};

// The random source of the task generators: uniform integers drawn from a
// seeded std::mt19937_64 by rejection sampling (the same numbers on every
// platform). A replaying Rng first returns a given choice sequence (draw i of
// n values gives min(choices[i], n - 1)), then continues with the seed's
// stream; a recording Rng keeps every value it returned (choices()), so an
// example is a function of its choices and a smaller choice sequence gives a
// simpler example of the same system (Hypothesis-style shrinking).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  // Replays `choices`, then draws from `seed`'s stream; records every draw.
  Rng(std::vector<int64_t> choices, uint64_t seed);

  // A uniform integer in [0, n), n >= 1.
  int64_t below(int64_t n);
  // Every value returned so far (replaying Rngs only; empty otherwise).
  const std::vector<int64_t>& choices() const { return drawn_; }

 private:
  std::mt19937_64 engine_;
  std::vector<int64_t> replay_;
  bool record_ = false;
  std::vector<int64_t> drawn_;
};

// What accuracy counts (evaluate.h): a unit is correct when every scored
// position in it is.
struct Units {
  std::string name = "example";      // "example", or S4's "assignment"
  int64_t positions = 0;             // consecutive positions per unit (S4: 4); 0: the unit is the example
  std::vector<std::string> classes;  // [batch, units] classes accuracy is broken down by (S4: "depth")
};

// A task whose input is a pair (a, b) of residues mod `modulus` (S1): the
// fourier claim kind analyses matrices over it. The task's finite domain is
// the modulus x modulus grid, example i being a = i / modulus, b = i % modulus.
struct Cyclic {
  int64_t modulus = 0;
};

// A system's training recipe (SYSTEMS.md), as data; the trainer
// (training/trainer.h) runs it. batch_size 0 trains on the whole of the
// task's training split (Task::split) at every step.
struct TaskRecipe {
  int64_t steps = 1000;
  int64_t batch_size = 64;
  double lr = 1e-3;
  double beta2 = 0.98;
  double weight_decay = 0.01;
  int64_t warmup_steps = 0;
  std::string schedule = "constant";  // or "cosine" (to min_lr_ratio * lr)
  double min_lr_ratio = 1.0;
  double grad_clip = 0.0;             // 0: none
  bool freeze_biases = false;
  double stop_test_loss = 0.0;        // stop when the held-out loss falls below this (full-batch tasks)
  int64_t eval_every = 100;           // steps between held-out evaluations (full-batch tasks)
};

// A class of a task's examples (Batch::classes), declared by the task: one
// value per example ([batch], e.g. S5's "operator") or one per item ([batch,
// k], e.g. S5's "carry_in" per answer digit), with a readable name for each
// value where it has them (value_names[v] for value v; empty: the values are
// read as numbers).
struct TaskClass {
  std::string name;
  bool per_example = true;
  std::vector<std::string> value_names;
};

// One system. Every member is set for every registered task, except
// sample_hard and hard_name (S4 and S5 only), cyclic (S1), split (S1) and
// answer_role_prefix (S2, S5).
struct Task {
  std::string name;   // "modular_addition", "array_index", "tree_path", "variable_renaming", "arithmetic"
  std::string alias;  // "S1" .. "S5"
  // The TransformerLens config of the system's model at `scale`.
  std::function<Config(Scale scale)> config;
  // n >= 0 examples drawn from the system's training distribution, seeded;
  // tokens [n, n_ctx of config(scale)]. Throws InputError when n < 0.
  std::function<Batch(int64_t n, uint64_t seed, Scale scale)> sample;
  // n >= 0 examples drawn from `rng` (sample(n, seed, s) is draw(Rng(seed), n, s)).
  // Property claims draw from an Rng that replays a shrunk choice sequence, so a
  // shrunk example is always a valid one of the system. Unset for test-only tasks.
  std::function<Batch(Rng& rng, int64_t n, Scale scale)> draw;
  // The system's hard cases where it has a generator of them, else unset:
  // n >= 0 examples, seeded, with the roles and classes of `sample` (S4: deep
  // chains, S5: carry and borrow cascades; see the system's header).
  // `hard_name` names them in evaluations ("deep chains"). A training recipe
  // may mix them into its batches (TrainRecipe::hard_fraction).
  std::function<Batch(int64_t n, uint64_t seed, Scale scale)> sample_hard;
  std::string hard_name;
  // The number of distinct sequences when small enough to enumerate (S1:
  // 12,769, S2: 18,750,000), else nullopt.
  std::optional<int64_t> domain_size;
  // Examples start .. start + count - 1 of the finite domain in its fixed
  // order (see the system's header); made on demand, the domain is never held
  // whole. Throws InputError when the range leaves [0, domain_size) or the
  // system has no finite domain.
  std::function<Batch(int64_t start, int64_t count)> domain_batch;
  // A readable text of one sequence (`row` [pos] int64, any length); throws
  // InputError for a token outside the vocabulary or a row that is not 1-D int64.
  std::function<std::string(const at::Tensor& row)> detokenize;
  // The tokens [pos] int64 of a text; tokenize(detokenize(row)) == row.
  // Accepts any length >= 1 (prompts may be prefixes); throws InputError
  // naming the offending character or word.
  std::function<at::Tensor(const std::string& text)> tokenize;
  // Every class of its batches, in name order (check_classes).
  std::vector<TaskClass> classes;
  // What accuracy counts (S4: assignments of 4 positions, by depth).
  Units units;
  // S1's cyclic input, read by the fourier kind; nullopt for the others.
  std::optional<Cyclic> cyclic;
  // How the system is trained.
  TaskRecipe recipe;
  // For a full-batch recipe (S1): the seeded training split of the finite
  // domain (held_out false) or the rest of it (true); unset otherwise.
  std::function<Batch(uint64_t seed, bool held_out)> split;
  // The prefix of the roles that name the positions where an answer is
  // predicted (S2, S5: "predict_"), preferred when a node map names
  // positions; empty: none.
  std::string answer_role_prefix;
  // A dataset (dataset.h): the examples at `rows` ([k] int64 indices into its
  // finite domain, any order). Claims sample a dataset without replacement
  // (sample_rows) rather than calling `sample` per batch. Unset for generators.
  std::function<Batch(const at::Tensor& rows)> dataset_rows;
};

// The task named `name` (its name or its alias S1..S5). Throws InputError
// "unknown system 'x' (valid: modular_addition, array_index, tree_path,
// variable_renaming, arithmetic)".
const Task& find_task(const std::string& name);

// The same, naming `where` instead of find_task in the error (e.g. the
// checkpoint whose metadata names the system).
const Task& find_task(const std::string& name, const std::string& where);

// The five tasks, S1 to S5 in order.
const std::vector<Task>& all_tasks();

// The scale whose sequence length (n_ctx) a model config has; kCpu when both
// scales agree (every system but S4).
Scale scale_for(const Task& task, const Config& config);

// A few examples of `task` as a model with `config` reads them (at the scale
// of its n_ctx, scale_for), drawn with seed 0: 4, or every row of a smaller
// dataset. What a claim file's roles, classes and positions are checked against.
Batch example_batch(const Task& task, const Config& config);

// Throws InputError (prefixed by `where`, naming the field) unless a model
// with `config` can run `task` at `scale`: n_ctx, d_vocab and d_vocab_out must
// each be at least the task's own (task.config(scale)).
void check_fits(const Task& task, Scale scale, const Config& config, const std::string& where);

// ---------------------------------------------------------------------------
// Helpers shared by the task generators.

// A uniform integer in [0, n) from `rng` (n >= 1), by rejection sampling, so
// the same seed gives the same numbers on every platform.
int64_t uniform_int(std::mt19937_64& rng, int64_t n);
inline int64_t uniform_int(Rng& rng, int64_t n) { return rng.below(n); }

// A uniform integer in [lo, hi] (lo <= hi).
inline int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) { return lo + rng.below(hi - lo + 1); }

// Shuffles `values` uniformly (Fisher-Yates with uniform_int).
template <typename T>
void shuffle(std::vector<T>& values, Rng& rng) {
  for (int64_t i = static_cast<int64_t>(values.size()) - 1; i > 0; --i)
    std::swap(values[i], values[rng.below(i + 1)]);
}

// A seed that is a function of one example: FNV-1a 64 over `name`'s bytes,
// then each of `values` as 8 little-endian bytes. Counterfactual sources
// (task_spec.h, S3's reparent_goal) are drawn with Rng(example_seed(...)), so
// an example has the same source wherever it is drawn, and drawing it leaves
// the task's own random stream untouched.
uint64_t example_seed(const std::string& name, const std::vector<int64_t>& values);

// The `sample` of a task from its `draw`: draw(Rng(seed), n, scale).
std::function<Batch(int64_t, uint64_t, Scale)> seeded(std::function<Batch(Rng&, int64_t, Scale)> draw);

// The examples of `a` followed by those of `b`: tokens, targets, roles,
// classes and counterfactuals concatenated along the batch; first_row from `a`. Throws
// InputError (prefixed by `where`) unless both have the same sequence
// length, role names and class names, with the same trailing shapes.
Batch concat_batches(const Batch& a, const Batch& b, const std::string& where);

// The examples of `b` at `rows` ([k] int64 batch indices), in that order:
// tokens, targets, roles, classes and counterfactuals.
Batch take_rows(const Batch& b, const at::Tensor& rows);

// n distinct indices of [0, size) drawn with `seed`, [n] int64 in draw order:
// the first n of a Fisher-Yates permutation by `Rng(seed)`. Throws InputError
// (prefixed by `where`) unless 0 <= n <= size.
at::Tensor sample_rows(int64_t n, int64_t size, uint64_t seed, const std::string& where);

// Examples [start, start + n) of `b`, as views: tokens, targets, roles,
// classes and counterfactuals; first_row + start.
Batch slice_rows(const Batch& b, int64_t start, int64_t n);

// Positions [0, to) of `b`: tokens, targets, units, counterfactuals and
// their targets cut after position to - 1, and role positions at or after
// `to` made absent (-1); classes and first_row as in `b`. What a causal model
// computes at positions before `to` is the same on both. InternalError
// unless 1 <= to <= b's sequence length.
Batch leading_positions(const Batch& b, int64_t to);

// The readable name of value `value` of class `name` of `task`
// (TaskClass::value_names), or "" when the task names none for it.
std::string class_value_name(const Task& task, const std::string& name, int64_t value);

// The class of `task` named `name`, or nullptr.
const TaskClass* find_class(const Task& task, const std::string& name);

// The class `name` when `task` declares it per example; InputError
// "<where>: 'name' is not a per-example class of <task> (valid: ...)" otherwise.
const TaskClass& per_example_class(const Task& task, const std::string& name, const std::string& where);

// Throws InternalError (naming `where`, the task and the class) unless `b`,
// a batch of `task`, has exactly the classes the task declares, each [batch]
// or [batch, k] as declared: a task that breaks its declaration is a bug.
void check_classes(const Task& task, const Batch& b, const std::string& where);

// Where role `role` of `b` lies: [batch, pos] bool, true at each example's
// positions of the role (a [batch] or [batch, k] role; -1 items mark none).
// std::out_of_range for a role `b` lacks.
at::Tensor role_mask(const Batch& b, const std::string& role);

// An int64 tensor of `shape` holding `values` (row-major; sizes must agree).
at::Tensor to_tensor(const std::vector<int64_t>& values, at::IntArrayRef shape);

// [n] filled with `position`: a role at the same place in every example.
at::Tensor fixed_role(int64_t n, int64_t position);

// [n, positions.size()]: every example's row is `positions`.
at::Tensor fixed_roles(int64_t n, const std::vector<int64_t>& positions);

// The values of a 1-D int64 tensor, each checked to lie in [0, vocab_size).
// Throws InputError prefixed by `where` otherwise.
std::vector<int64_t> row_values(const at::Tensor& row, int64_t vocab_size, const std::string& where);

// Throws InputError (prefixed by `where`) when n < 0.
void check_sample_size(int64_t n, const std::string& where);

// Throws InputError (prefixed by `where`) unless 0 <= start, 0 <= count and
// start + count <= size.
void check_domain_range(int64_t start, int64_t count, int64_t size, const std::string& where);

// The domain_batch of a system without a finite domain: always throws InputError.
std::function<Batch(int64_t, int64_t)> no_domain(const std::string& task_name);

// Texts of word vocabularies (S1, S2): tokens written as words separated by
// single spaces; token v < n_values is the decimal number v, token
// n_values + i is specials[i].
struct WordVocab {
  int64_t n_values = 0;
  std::vector<std::string> specials;
};
std::string detokenize_words(const WordVocab& vocab, const at::Tensor& row, const std::string& where);
// Words are separated by any whitespace. Throws InputError naming the word.
at::Tensor tokenize_words(const WordVocab& vocab, const std::string& text, const std::string& where);

// The text of tokens a model predicted (any of its d_vocab_out, which may
// be more than the task's vocabulary): task.detokenize's, or where a token is
// outside the task's vocabulary, each token's alone, that one as "<token N>".
std::string detokenize_predicted(const Task& task, const std::vector<int64_t>& tokens);

// Texts of character vocabularies (S4, S5): token i is the character
// alphabet[i], written without separators. Whitespace in a text is skipped.
std::string detokenize_chars(const std::string& alphabet, const at::Tensor& row, const std::string& where);
// Throws InputError naming the character and its offset.
at::Tensor tokenize_chars(const std::string& alphabet, const std::string& text, const std::string& where);

}  // namespace circuitcheck
