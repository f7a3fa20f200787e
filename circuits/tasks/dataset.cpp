#include "circuits/tasks/dataset.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/safetensors.h"
#include "circuits/formats/text_file.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxLinesBytes = std::size_t{256} << 20;
constexpr int64_t kMaxTokenId = int64_t{1} << 24;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


// The first row of `t` ([N] or [N, ...]) holding a value outside [lo, hi), or -1.
int64_t first_row_outside(const at::Tensor& t, int64_t lo, int64_t hi) {
  const at::Tensor bad = ((t < lo) | (t >= hi)).reshape({t.size(0), -1}).any(1).nonzero();
  return bad.size(0) ? bad[0][0].item<int64_t>() : -1;
}

void check_values(const at::Tensor& t, const std::string& where, const std::string& name, int64_t lo, int64_t hi,
                  const std::string& what) {
  const int64_t row = first_row_outside(t, lo, hi);
  if (row < 0) return;
  const at::Tensor r = t[row].reshape({-1});
  const at::Tensor bad = ((r < lo) | (r >= hi)).nonzero();
  fail(where + ": " + name,
       "row " + std::to_string(row) + " holds " + std::to_string(r[bad[0][0]].item<int64_t>()) + ", " + what);
}

void check_i64(const at::Tensor& t, const std::string& where, const std::string& name) {
  check(t.defined(), where, "missing tensor " + quote(name));
  check(t.scalar_type() == at::kLong, where + ": " + name,
        std::string("dtype ") + c10::toString(t.scalar_type()) + ", expected I64 (torch.long)");
}

// A [n, positions] tensor, or [n] / [n, K] (K >= 1, when `may_be_2d`) when positions is unset.
void check_tensor(const at::Tensor& t, const std::string& where, const std::string& name, int64_t n,
                  std::optional<int64_t> positions, bool may_be_2d) {
  check_i64(t, where, name);
  const std::string expected = positions ? "[" + std::to_string(n) + ", " + std::to_string(*positions) + "]"
                                         : "[" + std::to_string(n) + "] or [" + std::to_string(n) + ", K]";
  bool ok = t.dim() >= 1 && t.size(0) == n;
  if (positions) ok = ok && t.dim() == 2 && t.size(1) == *positions;
  if (!positions) ok = ok && (t.dim() == 1 || (may_be_2d && t.dim() == 2 && t.size(1) >= 1));
  check(ok, where + ": " + name, "shape " + c10::str(t.sizes()) + ", expected " + expected);
}

int64_t max_id(const Dataset& d) {
  int64_t m = d.examples.tokens.max().item<int64_t>();
  m = std::max(m, d.examples.targets.max().item<int64_t>());
  for (const auto& [name, t] : d.examples.counterfactuals) m = std::max(m, t.max().item<int64_t>());
  for (const auto& [name, t] : d.examples.counterfactual_targets) m = std::max(m, t.max().item<int64_t>());
  return m;
}

// Vocabulary and class names, from JSON (a JSON Lines header or safetensors
// metadata parsed as JSON).
std::vector<std::string> vocab_at(const json& v, const At& at) {
  std::vector<std::string> vocab;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < array_at(v, at).size(); ++i) {
    const std::string word = string_at(v[i], at / i);
    if (word.empty() || word.find_first_of(" \t\n\r\v\f") != std::string::npos)
      (at / i).fail("a token string must be non-empty and hold no whitespace");
    if (!seen.insert(word).second) (at / i).fail("token string " + quote(word) + " appears twice");
    vocab.push_back(word);
  }
  return vocab;
}

std::map<std::string, std::vector<std::string>> class_names_at(const json& v, const At& at) {
  check_object(v, at, {}, {});
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, names] : v.items()) {
    const At here = at / name;
    for (std::size_t i = 0; i < array_at(names, here).size(); ++i) out[name].push_back(string_at(names[i], here / i));
  }
  return out;
}

json parse_metadata_json(const std::string& text, const At& at) { return parse_json(text, at.file + ": " + at.pointer); }

Dataset from_safetensors(const std::string& path) {
  const std::string where = "read_dataset: " + path;
  Safetensors file = read_safetensors(path);
  const At meta{path, "/__metadata__"};
  const auto format = file.metadata.find("format");
  if (format == file.metadata.end())
    meta.fail("missing \"format\": \"" + std::string(kDatasetFormat) + "\" (is this a checkpoint?)");
  if (format->second != kDatasetFormat)
    (meta / "format").fail("unknown format " + quote(format->second) + " (expected " + kDatasetFormat + ")");
  Dataset d;
  for (const auto& [key, value] : file.metadata) {
    if (key == "format") continue;
    if (key == "vocab") d.vocab = vocab_at(parse_metadata_json(value, meta / key), meta / key);
    else if (key == "class_names") d.class_names = class_names_at(parse_metadata_json(value, meta / key), meta / key);
    else if (key == "description") d.description = value;
    else (meta / key).fail("unknown metadata key (valid: format, vocab, class_names, description)");
  }
  for (auto& [name, t] : file.tensors) {
    // (clang 14 cannot capture a structured binding in a lambda)
    const auto suffix = [&name = name](const std::string& prefix) { return name.substr(prefix.size()); };
    if (name == "tokens") d.examples.tokens = t;
    else if (name == "targets") d.examples.targets = t;
    else if (name == "unit") d.examples.units = t;
    else if (name.rfind("role.", 0) == 0) d.examples.roles[suffix("role.")] = t;
    else if (name.rfind("class.", 0) == 0) d.examples.classes[suffix("class.")] = t;
    else if (name.rfind("counterfactual.", 0) == 0 && name.size() > 23 && ends_with(name, ".targets"))
      d.examples.counterfactual_targets[name.substr(15, name.size() - 15 - 8)] = t;
    else if (name.rfind("counterfactual.", 0) == 0) d.examples.counterfactuals[suffix("counterfactual.")] = t;
    else
      fail(where + ": " + excerpt(name),
           "unknown tensor (valid: tokens, targets, role.<name>, class.<name>, counterfactual.<name>, "
           "counterfactual.<name>.targets)");
  }
  check_dataset(d, path);
  return d;
}

// JSON Lines: one example per line, after an optional header line.
struct LineExample {
  std::vector<int64_t> tokens, targets, units;
  std::map<std::string, std::vector<int64_t>> roles, classes, counterfactuals, counterfactual_targets;
};

// A per-example map ("roles", "classes"): name -> integer or array of integers.
// Sizes: 0 for an integer, K for an array; every line must agree with `sizes`
// (filled from the first example).
void read_items(const json& v, const At& at, int64_t lo, int64_t hi, std::map<std::string, std::vector<int64_t>>& out,
                std::map<std::string, int64_t>& sizes, bool first) {
  check_object(v, at, {}, {});
  for (const auto& [name, value] : v.items()) {
    const At here = at / name;
    if (!is_identifier(name)) here.fail(kIdentifierRule);
    std::vector<int64_t>& values = out[name];
    if (value.is_array())
      for (std::size_t i = 0; i < array_at(value, here).size(); ++i) values.push_back(integer_at(value[i], here / i, lo, hi));
    else
      values.push_back(integer_at(value, here, lo, hi));
    const int64_t size = value.is_array() ? static_cast<int64_t>(value.size()) : 0;
    if (first) sizes[name] = size;
    else if (!sizes.count(name)) here.fail("not on the first example's line");
    else if (sizes[name] != size)
      here.fail((size ? plural(size, "value") : "one integer") + ", the first example has " +
                (sizes[name] ? plural(sizes[name], "value") : "one integer"));
  }
  if (!first)
    for (const auto& [name, size] : sizes)
      if (!v.contains(name)) at.fail("missing " + quote(name) + ", which the first example has");
}

std::vector<int64_t> sequence_at(const json& v, const At& at, int64_t lo, std::optional<int64_t> length) {
  std::vector<int64_t> out;
  for (std::size_t i = 0; i < array_at(v, at).size(); ++i)
    out.push_back(integer_at(v[i], at / i, lo, std::numeric_limits<int64_t>::max()));
  if (length && static_cast<int64_t>(out.size()) != *length)
    at.fail(plural(static_cast<int64_t>(out.size()), "position") + ", the first example has " + std::to_string(*length));
  return out;
}

at::Tensor stacked(const std::vector<int64_t>& flat, int64_t n, int64_t k) {
  return k ? to_tensor(flat, {n, k}) : to_tensor(flat, {n});
}

}  // namespace

bool is_dataset_path(const std::string& path) { return ends_with(path, ".safetensors") || ends_with(path, ".jsonl"); }

Dataset parse_dataset_lines(const std::string& text, const std::string& path) {
  Dataset d;
  std::optional<int64_t> length;
  std::map<std::string, int64_t> role_sizes, class_sizes, cf_sizes, cft_sizes;
  LineExample all;
  int64_t n = 0;
  bool header_allowed = true;
  std::size_t start = 0;
  for (int64_t line = 1; start < text.size(); ++line) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string content = text.substr(start, end - start);
    start = end + 1;
    if (content.find_first_not_of(" \t\r") == std::string::npos) continue;
    const At at{path + ":" + std::to_string(line), ""};
    const json v = parse_json(content, at.file);
    if (!v.is_object()) at.fail(std::string("expected a JSON object, got ") + type_name(v));
    if (header_allowed && v.contains("format")) {
      check_object(v, at, {"format", "vocab", "class_names", "description"}, {"format"});
      const std::string format = string_at(v["format"], at / "format");
      if (format != kDatasetFormat)
        (at / "format").fail("unknown format " + quote(format) + " (expected " + kDatasetFormat + ")");
      if (v.contains("vocab")) d.vocab = vocab_at(v["vocab"], at / "vocab");
      if (v.contains("class_names")) d.class_names = class_names_at(v["class_names"], at / "class_names");
      if (v.contains("description")) d.description = string_at(v["description"], at / "description");
      header_allowed = false;
      continue;
    }
    header_allowed = false;
    check_object(v, at, {"tokens", "targets", "unit", "roles", "classes", "counterfactuals", "counterfactual_targets"},
                 {"tokens", "targets"});
    const bool first = n == 0;
    if (!first && v.contains("unit") != !all.units.empty()) at.fail("'unit' on some lines only: give it on every line or none");
    // Token ids past the largest a dataset may hold, named on their line.
    const auto ids = [](const std::vector<int64_t>& values, const At& where) {
      for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i] >= kMaxTokenId)
          (where / i).fail(std::to_string(values[i]) + " is not a token id in [0, " + std::to_string(kMaxTokenId) + ")");
      return values;
    };
    const std::vector<int64_t> tokens = ids(sequence_at(v["tokens"], at / "tokens", 0, length), at / "tokens");
    length = static_cast<int64_t>(tokens.size());
    const std::vector<int64_t> targets = ids(sequence_at(v["targets"], at / "targets", -1, length), at / "targets");
    all.tokens.insert(all.tokens.end(), tokens.begin(), tokens.end());
    all.targets.insert(all.targets.end(), targets.begin(), targets.end());
    if (v.contains("unit")) {
      const std::vector<int64_t> units = sequence_at(v["unit"], at / "unit", -1, length);
      all.units.insert(all.units.end(), units.begin(), units.end());
    }
    const json empty = json::object();
    const auto field = [&](const char* key) -> const json& { return v.contains(key) ? v[key] : empty; };
    read_items(field("roles"), at / "roles", -1, *length - 1, all.roles, role_sizes, first);
    read_items(field("classes"), at / "classes", -1, std::numeric_limits<int64_t>::max(), all.classes, class_sizes, first);
    for (const auto& [key, into, sizes, lo] :
         {std::make_tuple("counterfactuals", &all.counterfactuals, &cf_sizes, int64_t{0}),
          std::make_tuple("counterfactual_targets", &all.counterfactual_targets, &cft_sizes, int64_t{-1})}) {
      const json& items = field(key);
      check_object(items, at / key, {}, {});
      for (const auto& [name, seq] : items.items()) {
        if (!is_identifier(name)) (at / key / name).fail(kIdentifierRule);
        if (first) (*sizes)[name] = 1;
        else if (!sizes->count(name)) (at / key / name).fail("not on the first example's line");
        const std::vector<int64_t> values = ids(sequence_at(seq, at / key / name, lo, length), at / key / name);
        (*into)[name].insert((*into)[name].end(), values.begin(), values.end());
      }
      if (!first)
        for (const auto& [name, size] : *sizes)
          if (!items.contains(name)) (at / key).fail("missing " + quote(name) + ", which the first example has");
    }
    ++n;
  }
  check(n > 0, "read_dataset: " + path, "no examples");
  d.examples.tokens = to_tensor(all.tokens, {n, *length});
  d.examples.targets = to_tensor(all.targets, {n, *length});
  if (!all.units.empty()) d.examples.units = to_tensor(all.units, {n, *length});
  for (const auto& [name, values] : all.roles) d.examples.roles[name] = stacked(values, n, role_sizes[name]);
  for (const auto& [name, values] : all.classes) d.examples.classes[name] = stacked(values, n, class_sizes[name]);
  for (const auto& [name, values] : all.counterfactuals) d.examples.counterfactuals[name] = to_tensor(values, {n, *length});
  for (const auto& [name, values] : all.counterfactual_targets)
    d.examples.counterfactual_targets[name] = to_tensor(values, {n, *length});
  check_dataset(d, path);
  return d;
}

void check_dataset(const Dataset& d, const std::string& path) {
  const std::string where = "read_dataset: " + path;
  const Batch& b = d.examples;
  check_i64(b.tokens, where, "tokens");
  check(b.tokens.dim() == 2 && b.tokens.size(0) >= 1 && b.tokens.size(1) >= 1, where + ": tokens",
        "shape " + c10::str(b.tokens.sizes()) + ", expected [N, T] with N >= 1 and T >= 1");
  const int64_t n = b.tokens.size(0), t = b.tokens.size(1);
  check_tensor(b.targets, where, "targets", n, t, false);
  const std::string id_range = "[0, " + std::to_string(kMaxTokenId) + ")";
  check_values(b.tokens, where, "tokens", 0, kMaxTokenId, "a token id must lie in " + id_range);
  check_values(b.targets, where, "targets", -1, kMaxTokenId,
               "a target must be a token id in " + id_range + ", or -1 where not scored");
  check((b.targets >= 0).any().item<bool>(), where + ": targets", "no scored position (every target is -1)");
  if (b.units.defined()) {
    check_tensor(b.units, where, "unit", n, t, false);
    check_values(b.units, where, "unit", -1, t, "a unit id must lie in [0, " + std::to_string(t) + "), or be -1");
    const at::Tensor orphan = ((b.targets >= 0) & (b.units < 0)).any(1).nonzero();
    check(orphan.size(0) == 0, where + ": unit",
          "row " + (orphan.size(0) ? std::to_string(orphan[0][0].item<int64_t>()) : std::string()) +
              " has a scored position without a unit id");
  }
  for (const auto& [name, r] : b.roles) {
    check(is_identifier(name), where + ": role." + excerpt(name), kIdentifierRule);
    check_tensor(r, where, "role." + name, n, std::nullopt, true);
    check_values(r, where, "role." + name, -1, t, "a position must lie in [0, " + std::to_string(t) + ") or be -1");
  }
  for (const auto& [name, c] : b.classes) {
    check(is_identifier(name), where + ": class." + excerpt(name), kIdentifierRule);
    check_tensor(c, where, "class." + name, n, std::nullopt, true);
    check_values(c, where, "class." + name, -1, std::numeric_limits<int64_t>::max(), "a class must be >= 0, or -1 where absent");
  }
  for (const auto& [name, cf] : d.examples.counterfactuals) {
    check(is_identifier(name), where + ": counterfactual." + excerpt(name), kIdentifierRule);
    check_tensor(cf, where, "counterfactual." + name, n, t, false);
    check(name != "targets", where + ": counterfactual.targets", "'targets' is reserved (counterfactual.<name>.targets)");
    check_values(cf, where, "counterfactual." + name, 0, kMaxTokenId, "a token id must lie in " + id_range);
  }
  for (const auto& [name, cft] : d.examples.counterfactual_targets) {
    const std::string tensor = "counterfactual." + name + ".targets";
    check(d.examples.counterfactuals.count(name), where + ": " + excerpt(tensor), "no counterfactual " + quote(name));
    check_tensor(cft, where, tensor, n, t, false);
    check_values(cft, where, tensor, -1, kMaxTokenId, "a target must lie in " + id_range + ", or be -1");
  }
  for (const auto& [name, names] : d.class_names)
    check(b.classes.count(name), where + ": class_names", "names for " + quote(name) + ", which is not a class");
  if (!d.vocab.empty())
    check(max_id(d) < static_cast<int64_t>(d.vocab.size()), where + ": vocab",
          plural(static_cast<int64_t>(d.vocab.size()), "token string") + ", but the data use token id " +
              std::to_string(max_id(d)));
}

Dataset read_dataset(const std::string& path) {
  check(is_dataset_path(path), "read_dataset: " + path, "a dataset file ends in .safetensors or .jsonl");
  if (ends_with(path, ".safetensors")) return from_safetensors(path);
  return parse_dataset_lines(read_text_file(path, "read_dataset", kMaxLinesBytes), path);
}

void write_dataset(const Dataset& d, const std::string& path) {
  check(is_dataset_path(path), "write_dataset: " + path, "a dataset file ends in .safetensors or .jsonl");
  const Batch& b = d.examples;
  if (ends_with(path, ".safetensors")) {
    TensorMap tensors = {{"tokens", b.tokens}, {"targets", b.targets}};
    if (b.units.defined()) tensors["unit"] = b.units;
    for (const auto& [name, t] : b.roles) tensors["role." + name] = t;
    for (const auto& [name, t] : b.classes) tensors["class." + name] = t;
    for (const auto& [name, t] : d.examples.counterfactuals) tensors["counterfactual." + name] = t;
    for (const auto& [name, t] : d.examples.counterfactual_targets) tensors["counterfactual." + name + ".targets"] = t;
    Metadata metadata = {{"format", kDatasetFormat}};
    if (!d.vocab.empty()) metadata["vocab"] = json(d.vocab).dump();
    if (!d.class_names.empty()) metadata["class_names"] = json(d.class_names).dump();
    if (!d.description.empty()) metadata["description"] = d.description;
    write_safetensors(path, tensors, metadata);
    return;
  }
  json header = {{"format", kDatasetFormat}};
  if (!d.vocab.empty()) header["vocab"] = d.vocab;
  if (!d.class_names.empty()) header["class_names"] = d.class_names;
  if (!d.description.empty()) header["description"] = d.description;
  std::string text = header.dump() + "\n";
  const auto row = [](const at::Tensor& t, int64_t i) {
    const at::Tensor r = t[i].contiguous();
    return r.dim() == 0 ? json(r.item<int64_t>())
                        : json(std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()));
  };
  for (int64_t i = 0; i < d.size(); ++i) {
    json line = {{"tokens", row(b.tokens, i)}, {"targets", row(b.targets, i)}};
    if (b.units.defined()) line["unit"] = row(b.units, i);
    for (const auto& [name, t] : b.roles) line["roles"][name] = row(t, i);
    for (const auto& [name, t] : b.classes) line["classes"][name] = row(t, i);
    for (const auto& [name, t] : d.examples.counterfactuals) line["counterfactuals"][name] = row(t, i);
    for (const auto& [name, t] : d.examples.counterfactual_targets) line["counterfactual_targets"][name] = row(t, i);
    text += line.dump() + "\n";
  }
  write_text_atomically(path, text, "write_dataset");
}

Task dataset_task(Dataset dataset, const std::string& name) {
  auto d = std::make_shared<const Dataset>(std::move(dataset));
  Task task;
  task.name = name;
  const int64_t ids = std::max(max_id(*d) + 1, static_cast<int64_t>(d->vocab.size()));
  Config need;
  need.n_ctx = static_cast<int>(d->positions());
  int64_t max_input = d->examples.tokens.max().item<int64_t>();
  for (const auto& [name, t] : d->examples.counterfactuals) max_input = std::max(max_input, t.max().item<int64_t>());
  need.d_vocab = static_cast<int>(std::max(max_input + 1, static_cast<int64_t>(d->vocab.size())));
  int64_t max_target = d->examples.targets.max().item<int64_t>();  // what the model must be able to predict
  for (const auto& [name, t] : d->examples.counterfactual_targets) max_target = std::max(max_target, t.max().item<int64_t>());
  need.d_vocab_out = static_cast<int>(max_target + 1);
  task.config = [need](Scale) { return need; };
  task.sample = [d, name](int64_t n, uint64_t seed, Scale) {
    return take_rows(d->examples, sample_rows(n, d->size(), seed, "sample: " + name));
  };
  task.domain_size = d->size();
  task.domain_batch = [d, name](int64_t start, int64_t count) {
    check_domain_range(start, count, d->size(), "domain_batch: " + name);
    return slice_rows(d->examples, start, count);
  };
  task.dataset_rows = [d](const at::Tensor& rows) { return take_rows(d->examples, rows); };
  for (const auto& [name, values] : d->examples.classes) {
    const auto names = d->class_names.find(name);
    task.classes.push_back({name, values.dim() == 1, names == d->class_names.end() ? std::vector<std::string>{} : names->second});
  }
  if (d->examples.units.defined()) task.units.name = "unit";
  const WordVocab vocab = d->vocab.empty() ? WordVocab{ids, {}} : WordVocab{0, d->vocab};
  task.detokenize = [vocab, name](const at::Tensor& row) { return detokenize_words(vocab, row, "detokenize: " + name); };
  task.tokenize = [vocab, name](const std::string& text) { return tokenize_words(vocab, text, "tokenize: " + name); };
  return task;
}

}  // namespace circuitcheck
