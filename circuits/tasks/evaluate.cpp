#include "circuits/tasks/evaluate.h"

#include "circuits/formats/error.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace circuitcheck {
namespace {

// Counts correct units per value of `classes` ([batch] or [batch, k] with k
// units per example; negative values are absent units), each example's units
// of one value as one example of that value's tally.
void tally_by(const at::Tensor& classes, const at::Tensor& unit_correct, std::map<int64_t, Tally>& into) {
  const at::Tensor values = classes.cpu().contiguous();
  const at::Tensor correct = unit_correct.cpu().contiguous();
  const int64_t rows = values.size(0), k = values.numel() / std::max<int64_t>(rows, 1);
  const int64_t* v = values.data_ptr<int64_t>();
  const bool* c = correct.data_ptr<bool>();
  for (int64_t i = 0; i < rows; ++i) {
    std::map<int64_t, std::pair<int64_t, int64_t>> row;  // value -> (units, correct)
    for (int64_t j = i * k; j < (i + 1) * k; ++j)
      if (v[j] >= 0) {
        ++row[v[j]].first;
        row[v[j]].second += c[j] ? 1 : 0;
      }
    for (const auto& [value, counts] : row) add_example(into[value], counts.first, counts.second);
  }
}

// Appends the misses among `unit_ok` [batch, units] (units == 1: the unit is
// the example) to into.misses until it holds into.max_misses. token_ok is
// [batch, pos] over the whole sequence (true before `from`), predicted
// [batch, pos - from] the argmax from position `from` on; examples are
// numbered from `first_example`.
void keep_misses(const Task& task, const Batch& batch, const at::Tensor& predicted, int64_t from,
                 const at::Tensor& token_ok, const at::Tensor& unit_ok, const at::Tensor& present, int64_t first_example,
                 Evaluation& into) {
  const at::Tensor wrong = (present & ~unit_ok).nonzero().cpu();  // [misses, 2], example then unit order
  const at::Tensor ok = token_ok.cpu();
  const at::Tensor pred = predicted.cpu();
  const at::Tensor ids = batch.units.defined() ? batch.units.cpu() : at::Tensor();
  const int64_t units = unit_ok.size(1);
  const bool per_example = units == 1 && !ids.defined();
  const int64_t unit_len = batch.tokens.size(1) / units;
  for (int64_t w = 0; w < wrong.size(0) && static_cast<int64_t>(into.misses.size()) < into.max_misses; ++w) {
    const int64_t i = wrong[w][0].item<int64_t>();
    const int64_t u = wrong[w][1].item<int64_t>();
    Miss m;
    m.example = first_example + i;
    m.unit = per_example ? -1 : u;
    m.unit_name = per_example ? "" : task.units.name;
    m.text = task.detokenize(batch.tokens[i]);
    for (const auto& [name, values] : batch.classes) {
      if ((per_example || ids.defined()) && values.dim() == 1) m.classes[name] = values[i].item<int64_t>();
      if (!ids.defined() && units > 1 && values.dim() == 2 && values.size(1) == units)
        m.classes[name] = values[i][u].item<int64_t>();
    }
    std::vector<int64_t> got, want;
    const int64_t begin = ids.defined() ? 0 : u * unit_len, end = ids.defined() ? ok.size(1) : (u + 1) * unit_len;
    for (int64_t p = begin; p < end; ++p) {
      if (ok[i][p].item<bool>() || (ids.defined() && ids[i][p].item<int64_t>() != u)) continue;
      m.positions.push_back(p);
      got.push_back(pred[i][p - from].item<int64_t>());
      want.push_back(batch.targets[i][p].item<int64_t>());
    }
    m.predicted = detokenize_predicted(task, got);
    m.expected = detokenize_predicted(task, want);
    into.misses.push_back(std::move(m));
  }
}

}  // namespace

std::string Miss::to_string() const {
  std::string s = "example " + std::to_string(example);
  if (unit >= 0) s += " " + unit_name + " " + std::to_string(unit);
  std::string cls;
  for (const auto& [name, value] : classes) cls += (cls.empty() ? "" : ", ") + name + " " + std::to_string(value);
  if (!cls.empty()) s += " (" + cls + ")";
  s += ": " + text + "  position" + (positions.size() == 1 ? "" : "s");
  for (int64_t p : positions) s += " " + std::to_string(p);
  return s + ": predicted '" + predicted + "', expected '" + expected + "'";
}

nlohmann::json Miss::to_json() const {
  nlohmann::json j = {{"example", example}, {"text", text},         {"classes", classes},
                      {"positions", positions}, {"predicted", predicted}, {"expected", expected}};
  if (unit >= 0) j["unit"] = unit;
  return j;
}

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
  if (max_misses > 0) {
    j["misses"] = nlohmann::json::array();
    for (const Miss& m : misses) j["misses"].push_back(m.to_json());
  }
  return j;
}

int64_t first_scored_position(const at::Tensor& targets) {
  const at::Tensor scored = (targets != -1).any(0).nonzero();
  return scored.numel() ? scored.min().item<int64_t>() : 0;
}

int64_t last_scored_position(const at::Tensor& targets) {
  const at::Tensor scored = (targets != -1).any(0).nonzero();
  return scored.numel() ? scored.max().item<int64_t>() : targets.size(1) - 1;
}

at::Tensor scored_loss(const at::Tensor& logits, const at::Tensor& targets, int64_t from) {
  at::Tensor t = targets.slice(1, from).reshape({-1}).to(logits.device());
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), t, {}, at::Reduction::Mean, -1);
}

void add_example(Tally& into, int64_t units, int64_t correct) {
  if (units == 0) return;
  const double n = static_cast<double>(units), c = static_cast<double>(correct);
  into.n += units;
  into.correct += correct;
  into.examples += 1;
  into.largest = std::max(into.largest, units);
  into.sum_n2 += n * n;
  into.sum_nc += n * c;
  into.sum_c2 += c * c;
  into.per_example.push_back({units, correct});
}

void add_rows(Tally& into, const at::Tensor& ok, const at::Tensor& present) {
  const at::Tensor units = present.sum(1).cpu().to(at::kLong).contiguous();
  const at::Tensor correct = (ok & present).sum(1).cpu().to(at::kLong).contiguous();
  const int64_t* u = units.data_ptr<int64_t>();
  const int64_t* c = correct.data_ptr<int64_t>();
  for (int64_t i = 0; i < units.numel(); ++i) add_example(into, u[i], c[i]);
}

std::pair<at::Tensor, at::Tensor> sums_by_example(const at::Tensor& values, const at::Tensor& groups) {
  check_internal(values.dim() == 1 && values.sizes() == groups.sizes(), "sums_by_example",
        "values " + c10::str(values.sizes()) + " and groups " + c10::str(groups.sizes()) + " must both be [items]");
  const at::Tensor ids = std::get<1>(at::_unique(groups.to(at::kCPU, at::kLong), true, true));  // 0..G-1
  return {at::bincount(ids, values.to(at::kCPU, at::kDouble)), at::bincount(ids).to(at::kDouble)};
}

void add_groups(Tally& into, const at::Tensor& ok, const at::Tensor& groups) {
  if (groups.numel() == 0) return;
  const auto [sums, counts] = sums_by_example(ok, groups);
  const at::Tensor units = counts.round().to(at::kLong).contiguous();
  const at::Tensor correct = sums.round().to(at::kLong).contiguous();
  const int64_t* u = units.data_ptr<int64_t>();
  const int64_t* c = correct.data_ptr<int64_t>();
  for (int64_t i = 0; i < units.numel(); ++i) add_example(into, u[i], c[i]);
}

void tally_batch(const Task& task, const Batch& batch, const at::Tensor& logits, Evaluation& into) {
  const int64_t from = batch.targets.size(1) - logits.size(1);
  check_internal(from >= 0, "tally_batch",
                 "logits cover " + std::to_string(logits.size(1)) + " positions, the batch has " +
                     std::to_string(batch.targets.size(1)));
  check_internal(from == 0 || !(batch.targets.slice(1, 0, from) != -1).any().item<bool>(), "tally_batch",
                 "logits start at position " + std::to_string(from) + " after a scored position");
  at::Tensor targets = batch.targets.slice(1, from).to(logits.device());
  at::Tensor scored = targets != -1;
  const at::Tensor predicted = logits.argmax(-1);           // [batch, pos - from]
  at::Tensor token_ok = (predicted == targets) | ~scored;  // [batch, pos - from]
  const int64_t n_scored = scored.sum().item<int64_t>();
  add_rows(into.tokens, token_ok, scored);
  if (from > 0) token_ok = at::cat({at::ones({token_ok.size(0), from}, token_ok.options()), token_ok}, 1);
  at::Tensor log_probs = at::log_softmax(logits, -1);
  at::Tensor picked = log_probs.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  const at::Tensor example_loss = -(picked * scored).sum(1).to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor example_scored = scored.sum(1).to(at::kCPU, at::kDouble).contiguous();
  into.example_loss.insert(into.example_loss.end(), example_loss.data_ptr<double>(),
                           example_loss.data_ptr<double>() + example_loss.numel());
  into.example_scored.insert(into.example_scored.end(), example_scored.data_ptr<double>(),
                             example_scored.data_ptr<double>() + example_scored.numel());
  const double total_loss = example_loss.sum().item<double>();
  const double prior = into.loss * static_cast<double>(into.tokens.n - n_scored);
  into.loss = into.tokens.n ? (prior + total_loss) / static_cast<double>(into.tokens.n) : 0.0;
  const int64_t first_example = into.n_examples;
  into.n_examples += batch.tokens.size(0);
  // unit_ok and present [batch, units]: a unit is correct when all its scored positions are.
  at::Tensor unit_ok, present;
  if (batch.units.defined()) {
    // Unit ids lie in [-1, pos) (check_dataset); a key example * pos + id per scored position.
    const int64_t b = token_ok.size(0), pos = token_ok.size(1);
    const at::Tensor ids = batch.units.to(token_ok.device());
    const at::Tensor member = (ids >= 0) & (batch.targets.to(token_ok.device()) >= 0);
    const at::Tensor keys = (at::arange(b, ids.options()).unsqueeze(1) * pos + ids.clamp_min(0)).masked_select(member);
    const at::Tensor wrong = (~token_ok).masked_select(member).to(at::kLong);
    const at::Tensor count = at::zeros({b * pos}, ids.options()).index_add_(0, keys, at::ones_like(keys));
    const at::Tensor bad = at::zeros({b * pos}, ids.options()).index_add_(0, keys, wrong);
    present = (count > 0).view({b, pos});
    unit_ok = present & (bad == 0).view({b, pos});
  } else {
    const Units& units = task.units;
    unit_ok = units.positions > 0 ? token_ok.view({token_ok.size(0), -1, units.positions}).all(-1)
                                  : token_ok.all(-1, /*keepdim=*/true);
    present = at::ones_like(unit_ok);
  }
  // An upper bound on any example's units (early stopping relies on it): with unit ids, every position.
  into.units_per_example =
      std::max<int64_t>(into.units_per_example, batch.units.defined() ? batch.tokens.size(1) : unit_ok.size(1));
  for (const std::string& name : accuracy_classes(task)) {
    const at::Tensor& values = batch.classes.at(name);
    const at::Tensor per_unit = values.dim() == 1 ? values.unsqueeze(1).expand_as(unit_ok).to(unit_ok.device())
                                                  : values.to(unit_ok.device());
    tally_by(at::where(present, per_unit, at::full_like(per_unit, -1)), unit_ok, into.by_class[name]);
  }
  const int64_t n_ok_before = into.overall.correct, n_before = into.overall.n;
  add_rows(into.overall, unit_ok, present);
  if (into.overall.correct - n_ok_before < into.overall.n - n_before && static_cast<int64_t>(into.misses.size()) < into.max_misses)
    keep_misses(task, batch, predicted, from, token_ok, unit_ok, present, first_example, into);
}

at::Tensor scored_logits(const HookedTransformer& model, const Batch& batch) {
  RunOptions options;
  options.from_position = first_scored_position(batch.targets);
  return run(model, batch.tokens, options).logits;
}

std::vector<std::string> accuracy_classes(const Task& task) {
  if (task.units.positions > 0) return task.units.classes;
  std::vector<std::string> out;
  for (const TaskClass& c : task.classes)
    if (c.per_example) out.push_back(c.name);
  return out;
}

Evaluation empty_evaluation(const Task& task) {
  Evaluation e;
  e.system = task.name;
  e.unit = task.units.name;
  return e;
}

Evaluation evaluate_batch(const Task& task, const HookedTransformer& model, const Batch& batch, int64_t batch_size,
                          int64_t max_misses) {
  c10::InferenceMode guard;
  Evaluation e = empty_evaluation(task);
  e.max_misses = max_misses;
  e.domain = "given";
  for (int64_t start = 0; start < batch.tokens.size(0); start += batch_size) {
    const int64_t end = std::min(start + batch_size, batch.tokens.size(0));
    const Batch part = slice_rows(batch, start, end - start);
    tally_batch(task, part, scored_logits(model, part), e);
  }
  return e;
}

Batch draw_batch(const Task& task, bool exhaustive, int64_t start, int64_t count, uint64_t seed, Scale scale) {
  return exhaustive ? task.domain_batch(start, count) : task.sample(count, seed + static_cast<uint64_t>(start), scale);
}

Evaluation evaluate(const Task& task, const HookedTransformer& model, Scale scale, int64_t n, uint64_t seed,
                    int64_t exhaustive_limit, int64_t batch_size, int64_t max_misses) {
  c10::InferenceMode guard;
  Evaluation e = empty_evaluation(task);
  e.max_misses = max_misses;
  const bool exhaustive = task.domain_size && (task.dataset_rows || *task.domain_size <= exhaustive_limit);
  e.domain = task.dataset_rows ? "dataset" : exhaustive ? "exhaustive" : "sampled";
  e.seed = seed;
  const int64_t total = exhaustive ? *task.domain_size : n;
  for (int64_t start = 0; start < total; start += batch_size) {
    const int64_t count = std::min(batch_size, total - start);
    const Batch b = draw_batch(task, exhaustive, start, count, seed, scale);
    tally_batch(task, b, scored_logits(model, b), e);
  }
  return e;
}

}  // namespace circuitcheck
