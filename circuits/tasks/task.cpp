#include "circuits/tasks/task.h"

#include "circuits/tasks/builtin/arithmetic.h"
#include "circuits/tasks/builtin/array_index.h"
#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"
#include "circuits/tasks/builtin/modular_addition.h"
#include "circuits/tasks/builtin/tree_path.h"
#include "circuits/tasks/builtin/variable_renaming.h"

#include <c10/util/accumulate.h>

#include <algorithm>
#include <cctype>

namespace circuitcheck {

const std::vector<Task>& all_tasks() {
  static const std::vector<Task> tasks = {modular_addition_task(), array_index_task(), tree_path_task(),
                                          variable_renaming_task(), arithmetic_task()};
  return tasks;
}

const Task& find_task(const std::string& name) {
  std::vector<std::string> valid;
  for (const Task& task : all_tasks()) {
    if (task.name == name || task.alias == name) return task;
    valid.push_back(task.name);
  }
  fail("find_task", unknown_name("system", name, valid));
}

const Task& find_task(const std::string& name, const std::string& where) {
  try {
    return find_task(name);
  } catch (const InputError& e) {
    fail(where, std::string(e.what()).substr(std::string("find_task: ").size()));
  }
}

const char* to_string(Scale scale) { return scale == Scale::kCpu ? "cpu" : "seed"; }

Scale scale_named(const std::string& name, const std::string& where) {
  for (Scale scale : {Scale::kCpu, Scale::kSeed})
    if (name == to_string(scale)) return scale;
  fail(where, "expected cpu or seed, got " + quote(name));
}

Scale scale_for(const Task& task, const Config& config) {
  return config.n_ctx == task.config(Scale::kCpu).n_ctx ? Scale::kCpu : Scale::kSeed;
}

Batch example_batch(const Task& task, const Config& config) {
  return task.sample(task.dataset_rows ? std::min<int64_t>(4, *task.domain_size) : 4, 0, scale_for(task, config));
}

void check_fits(const Task& task, Scale scale, const Config& config, const std::string& where) {
  const Config need = task.config(scale);
  const std::vector<std::pair<std::string, std::pair<int, int>>> fields = {
      {"n_ctx", {config.n_ctx, need.n_ctx}},
      {"d_vocab", {config.d_vocab, need.d_vocab}},
      {"d_vocab_out", {config.d_vocab_out, need.d_vocab_out}}};
  for (const auto& [field, have_need] : fields)
    check(have_need.first >= have_need.second, where + ": /" + field,
          std::to_string(have_need.first) + " is too small for " + task.name + " (needs at least " +
              std::to_string(have_need.second) + ")");
}

int64_t uniform_int(std::mt19937_64& rng, int64_t n) {
  const uint64_t bound = static_cast<uint64_t>(n);
  const uint64_t reject_below = (0 - bound) % bound;  // 2^64 mod bound
  uint64_t r = rng();
  while (r < reject_below) r = rng();
  return static_cast<int64_t>(r % bound);
}

Rng::Rng(uint64_t seed) : engine_(seed) {}

Rng::Rng(std::vector<int64_t> choices, uint64_t seed) : engine_(seed), replay_(std::move(choices)), record_(true) {}

int64_t Rng::below(int64_t n) {
  const std::size_t i = drawn_.size();
  const int64_t value = record_ && i < replay_.size() ? std::min(std::max<int64_t>(replay_[i], 0), n - 1)
                                                     : uniform_int(engine_, n);
  if (record_) drawn_.push_back(value);
  return value;
}

std::function<Batch(int64_t, uint64_t, Scale)> seeded(std::function<Batch(Rng&, int64_t, Scale)> draw) {
  return [draw = std::move(draw)](int64_t n, uint64_t seed, Scale scale) {
    Rng rng(seed);
    return draw(rng, n, scale);
  };
}

namespace {

std::map<std::string, at::Tensor> concat_named(const std::map<std::string, at::Tensor>& a,
                                               const std::map<std::string, at::Tensor>& b,
                                               const std::string& where) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : a) {
    const auto other = b.find(name);
    check(other != b.end(), where, quote(name) + " is in the first batch only");
    check(t.sizes().slice(1) == other->second.sizes().slice(1), where, quote(name) + " differs in shape");
    out[name] = at::cat({t, other->second});
  }
  check(a.size() == b.size(), where, "the second batch has names the first lacks");
  return out;
}

}  // namespace

Batch concat_batches(const Batch& a, const Batch& b, const std::string& where) {
  check(a.tokens.size(1) == b.tokens.size(1), where,
        "sequence lengths differ: " + std::to_string(a.tokens.size(1)) + " and " + std::to_string(b.tokens.size(1)));
  Batch out;
  out.tokens = at::cat({a.tokens, b.tokens});
  out.targets = at::cat({a.targets, b.targets});
  check(a.units.defined() == b.units.defined(), where, "one batch has accuracy units, the other not");
  if (a.units.defined()) out.units = at::cat({a.units, b.units});
  out.roles = concat_named(a.roles, b.roles, where + ": roles");
  out.classes = concat_named(a.classes, b.classes, where + ": classes");
  out.counterfactuals = concat_named(a.counterfactuals, b.counterfactuals, where + ": counterfactuals");
  out.counterfactual_targets =
      concat_named(a.counterfactual_targets, b.counterfactual_targets, where + ": counterfactual targets");
  out.first_row = a.first_row;
  return out;
}

namespace {

// `b` with `rows_of` applied to each of its per-example tensors.
Batch map_rows(const Batch& b, const std::function<at::Tensor(const at::Tensor&)>& rows_of) {
  Batch out;
  out.tokens = rows_of(b.tokens);
  out.targets = rows_of(b.targets);
  if (b.units.defined()) out.units = rows_of(b.units);
  for (const auto& [name, t] : b.roles) out.roles[name] = rows_of(t);
  for (const auto& [name, t] : b.classes) out.classes[name] = rows_of(t);
  for (const auto& [name, t] : b.counterfactuals) out.counterfactuals[name] = rows_of(t);
  for (const auto& [name, t] : b.counterfactual_targets) out.counterfactual_targets[name] = rows_of(t);
  return out;
}

}  // namespace

Batch take_rows(const Batch& b, const at::Tensor& rows) {
  return map_rows(b, [&](const at::Tensor& t) { return t.index_select(0, rows); });
}

uint64_t example_seed(const std::string& name, const std::vector<int64_t>& values) {
  uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](uint64_t byte) { h = (h ^ byte) * 1099511628211ull; };
  for (char c : name) mix(static_cast<unsigned char>(c));
  for (int64_t v : values)
    for (int shift = 0; shift < 64; shift += 8) mix((static_cast<uint64_t>(v) >> shift) & 0xff);
  return h;
}

at::Tensor sample_rows(int64_t n, int64_t size, uint64_t seed, const std::string& where) {
  check(n >= 0 && n <= size, where,
        "cannot draw " + std::to_string(n) + " distinct rows of " + std::to_string(size));
  std::vector<int64_t> rows(static_cast<std::size_t>(size));
  for (int64_t i = 0; i < size; ++i) rows[i] = i;
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) std::swap(rows[i], rows[i + rng.below(size - i)]);
  rows.resize(static_cast<std::size_t>(n));
  return to_tensor(rows, {n});
}

std::string class_value_name(const Task& task, const std::string& name, int64_t value) {
  const TaskClass* c = find_class(task, name);
  if (!c || value < 0 || value >= static_cast<int64_t>(c->value_names.size())) return "";
  return c->value_names[static_cast<std::size_t>(value)];
}

const TaskClass* find_class(const Task& task, const std::string& name) {
  for (const TaskClass& c : task.classes)
    if (c.name == name) return &c;
  return nullptr;
}

const TaskClass& per_example_class(const Task& task, const std::string& name, const std::string& where) {
  const TaskClass* c = find_class(task, name);
  if (c && c->per_example) return *c;
  std::vector<std::string> valid;
  for (const TaskClass& k : task.classes)
    if (k.per_example) valid.push_back(k.name);
  fail(where, quote(name) + " is not a per-example class of " + task.name + " (valid: " + joined(valid) + ")");
}

void check_classes(const Task& task, const Batch& b, const std::string& where) {
  std::vector<std::string> declared, carried;
  for (const TaskClass& c : task.classes) declared.push_back(c.name);
  for (const auto& [name, values] : b.classes) carried.push_back(name);
  check_internal(declared == carried, where,
                 task.name + " declares the classes [" + joined(declared) + "] but its batch has [" + joined(carried) + "]");
  const auto shape = [](int64_t dims) { return dims == 1 ? "[batch]" : dims == 2 ? "[batch, k]" : "another shape"; };
  for (const TaskClass& c : task.classes)
    check_internal(b.classes.at(c.name).dim() == (c.per_example ? 1 : 2), where,
                   task.name + "'s class " + quote(c.name) + " is declared " + shape(c.per_example ? 1 : 2) +
                       " but is " + shape(b.classes.at(c.name).dim()) + " in its batch");
}

Batch slice_rows(const Batch& b, int64_t start, int64_t n) {
  Batch out = map_rows(b, [&](const at::Tensor& t) { return t.narrow(0, start, n); });
  out.first_row = b.first_row + start;
  return out;
}

Batch leading_positions(const Batch& b, int64_t to) {
  check_internal(to >= 1 && to <= b.tokens.size(1), "leading_positions",
                 "position " + std::to_string(to) + " outside [1, " + std::to_string(b.tokens.size(1)) + "]");
  Batch out = b;
  const auto cut = [to](const at::Tensor& t) { return t.defined() ? t.slice(1, 0, to) : t; };
  out.tokens = cut(b.tokens);
  out.targets = cut(b.targets);
  out.units = cut(b.units);
  for (auto& [name, t] : out.counterfactuals) t = cut(t);
  for (auto& [name, t] : out.counterfactual_targets) t = cut(t);
  for (auto& [name, r] : out.roles) r = r.masked_fill(r >= to, -1);
  return out;
}

at::Tensor role_mask(const Batch& b, const std::string& role) {
  at::Tensor r = b.roles.at(role);
  if (r.dim() == 1) r = r.unsqueeze(1);
  const int64_t length = b.tokens.size(1);
  at::Tensor mask = at::zeros({r.size(0), length + 1}, at::kBool);
  mask.scatter_(1, at::where(r >= 0, r, at::full_like(r, length)), true);  // absent: the spare column
  return mask.slice(1, 0, length);
}

at::Tensor to_tensor(const std::vector<int64_t>& values, at::IntArrayRef shape) {
  check_internal(static_cast<int64_t>(values.size()) == c10::multiply_integers(shape), "to_tensor",
                 std::to_string(values.size()) + " values for shape " + c10::str(shape));
  return at::from_blob(const_cast<int64_t*>(values.data()), shape, at::kLong).clone();
}

at::Tensor fixed_role(int64_t n, int64_t position) { return at::full({n}, position, at::kLong); }

at::Tensor fixed_roles(int64_t n, const std::vector<int64_t>& positions) {
  const auto k = static_cast<int64_t>(positions.size());
  return to_tensor(positions, {1, k}).repeat({n, 1});
}

std::vector<int64_t> row_values(const at::Tensor& row, int64_t vocab_size, const std::string& where) {
  check(row.dim() == 1 && row.scalar_type() == at::kLong, where,
        "expected a 1-D int64 row of tokens, got " + std::to_string(row.dim()) + "-D " +
            std::string(at::toString(row.scalar_type())));
  at::Tensor flat = row.contiguous();
  std::vector<int64_t> values(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
  for (std::size_t i = 0; i < values.size(); ++i)
    check(values[i] >= 0 && values[i] < vocab_size, where,
          "token " + std::to_string(values[i]) + " at position " + std::to_string(i) +
              " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
  return values;
}

void check_sample_size(int64_t n, const std::string& where) {
  check(n >= 0, where, "the number of examples must be non-negative, got " + std::to_string(n));
}

void check_domain_range(int64_t start, int64_t count, int64_t size, const std::string& where) {
  check(start >= 0 && count >= 0 && start <= size && count <= size - start, where,
        "range [" + std::to_string(start) + ", " + std::to_string(start) + " + " + std::to_string(count) +
            ") is outside the domain [0, " + std::to_string(size) + ")");
}

std::function<Batch(int64_t, int64_t)> no_domain(const std::string& task_name) {
  return [task_name](int64_t, int64_t) -> Batch {
    fail("domain_batch", "system " + quote(task_name) + " has no finite domain to enumerate");
  };
}

std::string detokenize_words(const WordVocab& vocab, const at::Tensor& row, const std::string& where) {
  const auto size = vocab.n_values + static_cast<int64_t>(vocab.specials.size());
  std::string text;
  for (int64_t token : row_values(row, size, where)) {
    if (!text.empty()) text += ' ';
    text += token < vocab.n_values ? std::to_string(token) : vocab.specials[token - vocab.n_values];
  }
  return text;
}

at::Tensor tokenize_words(const WordVocab& vocab, const std::string& text, const std::string& where) {
  std::vector<int64_t> tokens;
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i == text.size()) break;
    std::size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    const std::string word = text.substr(i, end - i);
    int64_t token = -1;
    for (std::size_t s = 0; s < vocab.specials.size(); ++s)
      if (word == vocab.specials[s]) token = vocab.n_values + static_cast<int64_t>(s);
    const bool digits = word.size() <= 18 && word.find_first_not_of("0123456789") == std::string::npos;
    if (token < 0 && digits && std::stoll(word) < vocab.n_values) token = std::stoll(word);
    check(token >= 0, where,
          "unknown token " + quote(word) + " at offset " + std::to_string(i) + " (expected a number in [0, " +
              std::to_string(vocab.n_values) + ") or one of the special tokens)");
    tokens.push_back(token);
    i = end;
  }
  check(!tokens.empty(), where, "the text holds no tokens");
  return to_tensor(tokens, {static_cast<int64_t>(tokens.size())});
}

std::string detokenize_predicted(const Task& task, const std::vector<int64_t>& tokens) {
  const auto text = [&](const std::vector<int64_t>& t) {
    return task.detokenize(to_tensor(t, {static_cast<int64_t>(t.size())}));
  };
  try {
    return text(tokens);
  } catch (const InputError&) {
  }
  std::string out;
  for (int64_t token : tokens) {
    std::string word;
    try {
      word = text({token});
    } catch (const InputError&) {
      word = "<token " + std::to_string(token) + ">";
    }
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

std::string detokenize_chars(const std::string& alphabet, const at::Tensor& row, const std::string& where) {
  std::string text;
  for (int64_t token : row_values(row, static_cast<int64_t>(alphabet.size()), where)) text += alphabet[token];
  return text;
}

at::Tensor tokenize_chars(const std::string& alphabet, const std::string& text, const std::string& where) {
  std::vector<int64_t> tokens;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) continue;
    const std::size_t token = alphabet.find(text[i]);
    check(token != std::string::npos, where,
          "unexpected character '" + std::string(1, text[i]) + "' at offset " + std::to_string(i) +
              " (valid: " + alphabet + ")");
    tokens.push_back(static_cast<int64_t>(token));
  }
  check(!tokens.empty(), where, "the text holds no tokens");
  return to_tensor(tokens, {static_cast<int64_t>(tokens.size())});
}

}  // namespace circuitcheck
