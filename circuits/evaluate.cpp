#include "circuits/evaluate.h"

#include "circuits/error.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace circuitcheck {
namespace {

void add(Tally& t, int64_t n, int64_t correct) {
  t.n += n;
  t.correct += correct;
}

// Counts correct units per value of `classes` ([batch] or [batch, k] with k units per example).
void tally_by(const at::Tensor& classes, const at::Tensor& unit_correct, std::map<int64_t, Tally>& into) {
  at::Tensor values = classes.reshape({-1}).cpu();
  at::Tensor correct = unit_correct.reshape({-1}).cpu();
  const int64_t* v = values.data_ptr<int64_t>();
  const bool* c = correct.data_ptr<bool>();
  for (int64_t i = 0; i < values.numel(); ++i)
    if (v[i] >= 0) add(into[v[i]], 1, c[i] ? 1 : 0);
}

}  // namespace

nlohmann::json Evaluation::to_json() const {
  nlohmann::json j;
  j["system"] = system;
  j["unit"] = unit;
  j["domain"] = domain;
  j["n_examples"] = n_examples;
  if (domain == "sampled") j["seed"] = seed;
  j["n"] = overall.n;
  j["correct"] = overall.correct;
  j["accuracy"] = overall.accuracy();
  j["token_accuracy"] = tokens.accuracy();
  j["loss"] = loss;
  for (const auto& [name, groups] : by_class)
    for (const auto& [value, t] : groups)
      j["by_class"][name][std::to_string(value)] = {{"n", t.n}, {"accuracy", t.accuracy()}};
  return j;
}

int64_t first_scored_position(const at::Tensor& targets) {
  at::Tensor any = (targets != -1).any(0).cpu();
  for (int64_t p = 0; p < any.size(0); ++p)
    if (any[p].item<bool>()) return p;
  return 0;
}

at::Tensor scored_loss(const at::Tensor& logits, const at::Tensor& targets, int64_t from) {
  at::Tensor t = targets.slice(1, from).reshape({-1}).to(logits.device());
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), t, {}, at::Reduction::Mean, -1);
}

void tally_batch(const Task& task, const Batch& batch, const at::Tensor& logits, Evaluation& into) {
  const int64_t from = batch.targets.size(1) - logits.size(1);
  check(from >= 0, "tally_batch", "logits cover " + std::to_string(logits.size(1)) + " positions, the batch has " +
                                      std::to_string(batch.targets.size(1)));
  check(from == 0 || !(batch.targets.slice(1, 0, from) != -1).any().item<bool>(), "tally_batch",
        "logits start at position " + std::to_string(from) + " after a scored position");
  at::Tensor targets = batch.targets.slice(1, from).to(logits.device());
  at::Tensor scored = targets != -1;
  at::Tensor token_ok = (logits.argmax(-1) == targets) | ~scored;  // [batch, pos - from]
  const int64_t n_scored = scored.sum().item<int64_t>();
  add(into.tokens, n_scored, (token_ok & scored).sum().item<int64_t>());
  if (from > 0) token_ok = at::cat({at::ones({token_ok.size(0), from}, token_ok.options()), token_ok}, 1);
  at::Tensor log_probs = at::log_softmax(logits, -1);
  at::Tensor picked = log_probs.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  const double total_loss = -(picked * scored).sum().item<double>();
  const double prior = into.loss * static_cast<double>(into.tokens.n - n_scored);
  into.loss = into.tokens.n ? (prior + total_loss) / static_cast<double>(into.tokens.n) : 0.0;
  into.n_examples += batch.tokens.size(0);
  if (task.name == "variable_renaming") {
    at::Tensor per_assignment = token_ok.view({token_ok.size(0), -1, 4}).all(-1);  // [batch, n_assign]
    into.units_per_example = per_assignment.size(1);
    add(into.overall, per_assignment.numel(), per_assignment.sum().item<int64_t>());
    tally_by(batch.classes.at("depth"), per_assignment, into.by_class["depth"]);
    return;
  }
  at::Tensor example_ok = token_ok.all(-1);
  add(into.overall, example_ok.numel(), example_ok.sum().item<int64_t>());
  for (const auto& [name, values] : batch.classes)
    if (values.dim() == 1) tally_by(values, example_ok, into.by_class[name]);
}

at::Tensor scored_logits(const HookedTransformer& model, const Batch& batch) {
  RunOptions options;
  options.from_position = first_scored_position(batch.targets);
  return run(model, batch.tokens, options).logits;
}

Evaluation empty_evaluation(const Task& task) {
  Evaluation e;
  e.system = task.name;
  e.unit = task.name == "variable_renaming" ? "assignment" : "example";
  return e;
}

Evaluation evaluate_batch(const Task& task, const HookedTransformer& model, const Batch& batch, int64_t batch_size) {
  c10::InferenceMode guard;
  Evaluation e = empty_evaluation(task);
  e.domain = "given";
  for (int64_t start = 0; start < batch.tokens.size(0); start += batch_size) {
    const int64_t end = std::min(start + batch_size, batch.tokens.size(0));
    Batch part;
    part.tokens = batch.tokens.slice(0, start, end);
    part.targets = batch.targets.slice(0, start, end);
    for (const auto& [name, values] : batch.classes) part.classes[name] = values.slice(0, start, end);
    tally_batch(task, part, scored_logits(model, part), e);
  }
  return e;
}

Evaluation evaluate(const Task& task, const HookedTransformer& model, Scale scale, int64_t n, uint64_t seed,
                    int64_t exhaustive_limit, int64_t batch_size) {
  c10::InferenceMode guard;
  Evaluation e = empty_evaluation(task);
  const bool exhaustive = task.domain_size && *task.domain_size <= exhaustive_limit;
  e.domain = exhaustive ? "exhaustive" : "sampled";
  e.seed = seed;
  const int64_t total = exhaustive ? *task.domain_size : n;
  for (int64_t start = 0; start < total; start += batch_size) {
    const int64_t count = std::min(batch_size, total - start);
    Batch b = exhaustive ? task.domain_batch(start, count) : task.sample(count, seed + static_cast<uint64_t>(start), scale);
    tally_batch(task, b, scored_logits(model, b), e);
  }
  return e;
}

}  // namespace circuitcheck
