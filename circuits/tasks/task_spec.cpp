#include "circuits/tasks/task_spec.h"

#include "circuits/formats/error.h"
#include "circuits/formats/json_fields.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/text_file.h"
#include "circuits/tasks/dataset.h"
#include "circuits/tasks/expression.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr int64_t kMaxFieldValue = 1000000000;
constexpr int64_t kMaxListLength = 4096;
constexpr int64_t kMaxDomainSize = 1000000000000000;  // larger domains are not enumerable
constexpr std::size_t kMaxSpecBytes = 1 << 20;
constexpr int64_t kMaxPositions = 65536;   // per generated sequence
// What generating one example may cost, in element operations (an upper
// bound from the spec's size, example_cost): about 10 ms on one core. The
// shipped specs need less than 1e5.
constexpr double kMaxExampleCost = 1e7;
constexpr std::size_t kMaxNames = 1024;     // fields, derived values, sequence elements, roles, classes each
constexpr int64_t kMaxFieldElements = 65536;  // integers drawn per example

struct FieldSpec {
  std::string name;
  int64_t min = 0, max = 0;
  int64_t length = -1;  // -1: an integer
  bool distinct = false;

  int64_t range() const { return max - min + 1; }
};

struct ElementSpec {
  std::string pointer;
  std::optional<int64_t> token;
  std::optional<Expression> value;
  std::vector<std::string> roles;
  std::optional<Expression> target;
};

// A paired input for interchange interventions: the source redraws some
// fields; the base's targets are re-evaluated with `variable` from the source.
struct CounterfactualSpec {
  std::string name;
  std::string variable;              // a field or a derived value
  std::vector<std::size_t> redraw;   // indices into Spec::fields
};

struct Spec {
  std::string path;
  WordVocab vocab;
  int64_t vocab_size = 0;
  int64_t outputs = 0;
  std::vector<FieldSpec> fields;
  std::vector<std::pair<std::string, Expression>> lets;  // in dependency order
  std::vector<ElementSpec> sequence;
  std::map<std::string, std::pair<std::string, Expression>> roles, classes;  // name -> (pointer, expression)
  std::vector<CounterfactualSpec> counterfactuals;
  // Set from the first example: the sequence length, and each role's and class's width (0: [batch]).
  int64_t length = -1;
  std::map<std::string, int64_t> role_width, class_width;
};

// The field values of one example, by name.
using Example = std::map<std::string, Value>;

std::string describe(const Spec& spec, const Example& x) {
  std::string s;
  for (const FieldSpec& f : spec.fields) s += (s.empty() ? "" : ", ") + f.name + " = " + x.at(f.name).to_string();
  return "(example " + s.substr(0, 200) + ")";
}

// A field's value from its digits: one per element (each in [0, range), or
// [0, range - j) for element j of a distinct list: the digit-th value not yet taken).
Value field_value(const FieldSpec& f, const std::vector<int64_t>& digits) {
  if (f.length < 0) return Value::of(f.min + digits[0]);
  std::vector<int64_t> xs, taken;  // taken: sorted
  for (int64_t d : digits) {
    int64_t v = f.min + d;
    if (f.distinct) {
      for (int64_t t : taken)
        if (t <= v) ++v;
      taken.insert(std::upper_bound(taken.begin(), taken.end(), v), v);
    }
    xs.push_back(v);
  }
  return Value::of(xs);
}

int64_t element_count(const FieldSpec& f) { return f.length < 0 ? 1 : f.length; }
int64_t radix(const FieldSpec& f, int64_t j) { return f.distinct ? f.range() - j : f.range(); }

void draw_field(const FieldSpec& f, Rng& rng, Example& x) {
  std::vector<int64_t> digits;
  for (int64_t j = 0; j < element_count(f); ++j) digits.push_back(rng.below(radix(f, j)));
  x[f.name] = field_value(f, digits);
}

Example draw_example(const Spec& spec, Rng& rng) {
  Example x;
  for (const FieldSpec& f : spec.fields) draw_field(f, rng, x);
  return x;
}

Example domain_example(const Spec& spec, int64_t index) {
  std::vector<std::vector<int64_t>> digits(spec.fields.size());
  for (std::size_t i = spec.fields.size(); i-- > 0;) {
    const FieldSpec& f = spec.fields[i];
    digits[i].resize(element_count(f));
    for (int64_t j = element_count(f); j-- > 0;) {
      digits[i][j] = index % radix(f, j);
      index /= radix(f, j);
    }
  }
  Example x;
  for (std::size_t i = 0; i < spec.fields.size(); ++i) x[spec.fields[i].name] = field_value(spec.fields[i], digits[i]);
  return x;
}

std::optional<int64_t> domain_size(const Spec& spec) {
  int64_t size = 1;
  for (const FieldSpec& f : spec.fields)
    for (int64_t j = 0; j < element_count(f); ++j)
      if (__builtin_mul_overflow(size, radix(f, j), &size) || size > kMaxDomainSize) return std::nullopt;
  return size;
}

// One generated example, flat.
struct Row {
  std::vector<int64_t> tokens, targets;
  std::map<std::string, Value> roles, classes;  // a list: [batch, k]; an integer: [batch]
  std::map<std::string, std::vector<int64_t>> counterfactuals, counterfactual_targets;  // by name, each [length]
};

// A high-level variable set to a value: the targets of an interchange.
struct Intervention {
  std::string variable;
  Value value;
};

std::vector<int64_t> as_values(const Value& v) { return v.is_list ? v.list : std::vector<int64_t>{v.integer}; }

// The fields of `x` and every derived value, in dependency order; with
// `set`, the variable takes its value and the derived values that read it
// follow. Evaluation errors name the example.
Example derive(const Spec& spec, const Example& x, const Intervention* set = nullptr) {
  Example env = x;
  if (set && env.count(set->variable)) env[set->variable] = set->value;
  for (const auto& [name, e] : spec.lets) {
    if (set && name == set->variable) {
      env[name] = set->value;
      continue;
    }
    try {
      env[name] = e.evaluate(env);
    } catch (const InputError& error) {
      throw InputError(std::string(error.what()) + " " + describe(spec, x));
    }
  }
  return env;
}

// The example's sequence; with `set`, its targets are those of the example
// with the variable set (and the derived values that read it re-evaluated).
Row generate(const Spec& spec, const Example& x, const Intervention* set = nullptr) {
  const Example env = derive(spec, x);
  const Example intervened = set ? derive(spec, x, set) : Example{};
  const Example& target_env = set ? intervened : env;
  const auto bad = [&](const std::string& pointer, const std::string& what) {
    fail(spec.path + ": " + pointer, what + " " + describe(spec, env));
  };
  const auto eval = [&](const Expression& e, const Example& names) {
    try {
      return e.evaluate(names);
    } catch (const InputError& error) {
      throw InputError(std::string(error.what()) + " " + describe(spec, env));
    }
  };
  const auto nonempty = [&](const Value& v, const std::string& pointer) {
    if (v.is_list && v.list.empty()) bad(pointer, "an empty list cannot give positions or classes");
    return v;
  };
  Row row;
  std::map<std::string, int64_t> first;  // role -> its element's first position
  for (const ElementSpec& el : spec.sequence) {
    const int64_t at = static_cast<int64_t>(row.tokens.size());
    const Value v = el.token ? Value::of(*el.token) : eval(*el.value, env);
    const std::vector<int64_t> values = as_values(v);
    if (static_cast<int64_t>(values.size()) > kMaxListLength)
      bad(el.pointer + "/value", "a list longer than " + std::to_string(kMaxListLength));
    if (at + static_cast<int64_t>(values.size()) > kMaxPositions)
      bad(el.pointer, "the sequence grows past " + std::to_string(kMaxPositions) + " positions");
    if (!el.roles.empty()) nonempty(v, el.pointer + "/value");
    for (int64_t t : values)
      if (t < 0 || t >= spec.vocab_size)
        bad(el.pointer + "/value", "token id " + std::to_string(t) + " outside the vocabulary [0, " +
                                       std::to_string(spec.vocab_size) + ")");
    row.tokens.insert(row.tokens.end(), values.begin(), values.end());
    std::vector<int64_t> targets(values.size(), -1);
    if (el.target) {
      const Value t = eval(*el.target, target_env);
      targets = as_values(t);
      if (t.is_list != v.is_list || targets.size() != values.size())
        bad(el.pointer + "/target", "expected a target for each of the element's " + std::to_string(values.size()) +
                                        " positions, got " + excerpt(t.to_string()));
      for (int64_t x : targets)
        if (x < 0 || x >= spec.outputs)
          bad(el.pointer + "/target", "target " + std::to_string(x) + " outside [0, " + std::to_string(spec.outputs) + ")");
    }
    row.targets.insert(row.targets.end(), targets.begin(), targets.end());
    std::vector<int64_t> positions;
    for (std::size_t k = 0; k < values.size(); ++k) positions.push_back(at + static_cast<int64_t>(k));
    for (const std::string& role : el.roles) {
      row.roles[role] = v.is_list ? Value::of(positions) : Value::of(at);
      first[role] = at;
    }
  }
  const auto length = static_cast<int64_t>(row.tokens.size());
  if (spec.length >= 0 && length != spec.length)
    bad("/sequence", "a sequence of " + std::to_string(length) + " positions; the first example has " +
                         std::to_string(spec.length));
  Example with_roles = env;
  for (const auto& [role, p] : first) with_roles["@" + role] = Value::of(p);
  for (const auto& [name, pe] : spec.roles) {
    row.roles[name] = nonempty(eval(pe.second, with_roles), pe.first);
    for (int64_t p : as_values(row.roles[name]))
      if (p < -1 || p >= length)
        bad(pe.first, "position " + std::to_string(p) + " outside the sequence [0, " + std::to_string(length) + ")");
  }
  for (const auto& [name, pe] : spec.classes) {
    row.classes[name] = nonempty(eval(pe.second, env), pe.first);
    for (int64_t c : as_values(row.classes[name]))
      if (c < -1) bad(pe.first, "class value " + std::to_string(c) + " below -1");
  }
  return row;
}

int64_t width_of(const Value& v) { return v.is_list ? static_cast<int64_t>(v.list.size()) : 0; }

// Where role or class `name` is defined: its entry of `named` (the spec's "roles" or "classes"), or the
// "role" field of its first element.
std::string defined_at(const Spec& spec, const std::map<std::string, std::pair<std::string, Expression>>& named,
                       const std::string& name) {
  if (const auto it = named.find(name); it != named.end()) return it->second.first;
  for (const ElementSpec& el : spec.sequence)
    if (std::find(el.roles.begin(), el.roles.end(), name) != el.roles.end()) return el.pointer + "/role";
  return "";
}

// Roles and classes keep their shape: [batch] (width 0) or [batch, k].
void check_widths(const Spec& spec, const Row& row, const Example& x) {
  for (const auto& [what, named, widths, values] :
       {std::make_tuple("role", &spec.roles, &spec.role_width, &row.roles),
        std::make_tuple("class", &spec.classes, &spec.class_width, &row.classes)})
    for (const auto& [name, width] : *widths) {
      const int64_t w = width_of(values->at(name));
      if (w != width)
        fail(spec.path + ": " + defined_at(spec, *named, name),
             std::string(what) + " " + quote(name) + ": " + (w ? std::to_string(w) + " values" : std::string("one integer")) +
                 ", the first example has " + (width ? std::to_string(width) + " values" : std::string("one integer")) +
                 " " + describe(spec, x));
    }
}

// The seed of an example's source: its field values, in field order.
uint64_t source_seed(const Spec& spec, const Example& x, const std::string& name) {
  std::vector<int64_t> values;
  for (const FieldSpec& f : spec.fields)
    for (int64_t v : as_values(x.at(f.name))) values.push_back(v);
  return example_seed(name, values);
}

// Each counterfactual's source tokens and the base's targets with its variable from the source.
void add_counterfactuals(const Spec& spec, const Example& x, Row& row) {
  for (const CounterfactualSpec& cf : spec.counterfactuals) {
    Example source = x;
    Rng rng(source_seed(spec, x, cf.name));
    for (std::size_t i : cf.redraw) draw_field(spec.fields[i], rng, source);
    try {
      row.counterfactuals[cf.name] = generate(spec, source).tokens;
      const Intervention set{cf.variable, derive(spec, source).at(cf.variable)};
      row.counterfactual_targets[cf.name] = generate(spec, x, &set).targets;
    } catch (const InputError& e) {
      throw InputError(std::string(e.what()) + " in counterfactual " + quote(cf.name));
    }
  }
}

Batch make_batch(const Spec& spec, const std::vector<Example>& examples) {
  const auto n = static_cast<int64_t>(examples.size());
  std::vector<int64_t> tokens, targets;
  std::map<std::string, std::vector<int64_t>> roles, classes, counterfactuals, counterfactual_targets;
  for (const Example& x : examples) {
    Row row = generate(spec, x);
    check_widths(spec, row, x);
    add_counterfactuals(spec, x, row);
    for (const auto& [name, t] : row.counterfactuals) counterfactuals[name].insert(counterfactuals[name].end(), t.begin(), t.end());
    for (const auto& [name, t] : row.counterfactual_targets)
      counterfactual_targets[name].insert(counterfactual_targets[name].end(), t.begin(), t.end());
    tokens.insert(tokens.end(), row.tokens.begin(), row.tokens.end());
    targets.insert(targets.end(), row.targets.begin(), row.targets.end());
    for (const auto& [name, v] : row.roles) for (int64_t p : as_values(v)) roles[name].push_back(p);
    for (const auto& [name, v] : row.classes) for (int64_t c : as_values(v)) classes[name].push_back(c);
  }
  Batch b;
  b.tokens = to_tensor(tokens, {n, spec.length});
  b.targets = to_tensor(targets, {n, spec.length});
  const auto shaped = [n](const std::vector<int64_t>& v, int64_t width) {
    return width ? to_tensor(v, {n, width}) : to_tensor(v, {n});
  };
  for (const auto& [name, width] : spec.role_width) b.roles[name] = shaped(roles[name], width);
  for (const auto& [name, width] : spec.class_width) b.classes[name] = shaped(classes[name], width);
  for (const CounterfactualSpec& cf : spec.counterfactuals) {
    b.counterfactuals[cf.name] = to_tensor(counterfactuals[cf.name], {n, spec.length});
    b.counterfactual_targets[cf.name] = to_tensor(counterfactual_targets[cf.name], {n, spec.length});
  }
  return b;
}

Expression expression_at(const json& v, const At& at) { return Expression::parse(string_at(v, at), at.file + ": " + at.pointer); }

int64_t token_at(const json& v, const At& at, const Spec& spec) {
  if (v.is_number_integer()) return integer_at(v, at, 0, spec.vocab_size - 1);
  const std::string word = string_at(v, at);
  const auto& words = spec.vocab.specials;
  const auto it = std::find(words.begin(), words.end(), word);
  if (it != words.end()) return spec.vocab.n_values + (it - words.begin());
  const bool digits = !word.empty() && word.size() <= 9 && word.find_first_not_of("0123456789") == std::string::npos;
  if (digits && std::stoll(word) < spec.vocab.n_values) return std::stoll(word);
  at.fail(quote(word) + " is not in the vocabulary");
}

void check_names(const Expression& e, const At& at, const std::set<std::string>& known) {
  for (const std::string& name : e.names())
    if (!known.count(name)) at.fail("unknown name " + quote(name) + " in " + quote(e.text()));
}

// The derived values in an order where each comes after those it reads.
std::vector<std::pair<std::string, Expression>> ordered_lets(const json& lets, const At& at, std::set<std::string> known) {
  std::map<std::string, Expression> parsed;
  for (const auto& [name, text] : lets.items()) parsed[name] = expression_at(text, at / name);
  std::set<std::string> all = known;
  for (const auto& [name, unused] : parsed) all.insert(name);
  for (const auto& [name, e] : parsed) {
    if (known.count(name)) (at / name).fail(quote(name) + " is already a field");
    check_names(e, at / name, all);
  }
  std::vector<std::pair<std::string, Expression>> out;
  while (out.size() < parsed.size()) {
    bool progressed = false;
    for (const auto& [name, e] : parsed) {
      if (known.count(name)) continue;
      if (std::all_of(e.names().begin(), e.names().end(), [&](const std::string& n) { return known.count(n) > 0; })) {
        out.emplace_back(name, e);
        known.insert(name);
        progressed = true;
      }
    }
    if (!progressed) {
      std::vector<std::string> stuck;
      for (const auto& [name, e] : parsed)
        if (!known.count(name)) stuck.push_back(name);
      (at / stuck[0]).fail("cyclic definition among " + joined(stuck));
    }
  }
  return out;
}

// `names` and every name the derived values among them read, transitively.
std::set<std::string> with_reads(const Spec& spec, std::set<std::string> names) {
  for (auto it = spec.lets.rbegin(); it != spec.lets.rend(); ++it)
    if (names.count(it->first)) names.insert(it->second.names().begin(), it->second.names().end());
  return names;
}

std::vector<CounterfactualSpec> parse_counterfactuals(const json& v, const At& at, const Spec& spec) {
  check_object(v, at, {}, {});
  std::set<std::string> targets_read;
  for (const ElementSpec& el : spec.sequence)
    if (el.target) targets_read.insert(el.target->names().begin(), el.target->names().end());
  targets_read = with_reads(spec, targets_read);
  std::vector<CounterfactualSpec> out;
  for (const auto& [name, entry] : v.items()) {
    const At c_at = at / name;
    if (!is_identifier(name)) c_at.fail(kIdentifierRule);
    check_object(entry, c_at, {"variable", "redraw"}, {"variable"});
    CounterfactualSpec cf;
    cf.name = name;
    cf.variable = string_at(entry["variable"], c_at / "variable");
    const bool is_let = std::any_of(spec.lets.begin(), spec.lets.end(), [&](const auto& l) { return l.first == cf.variable; });
    const auto field_index = [&](const std::string& f) {
      return std::find_if(spec.fields.begin(), spec.fields.end(), [&](const FieldSpec& s) { return s.name == f; }) -
             spec.fields.begin();
    };
    if (!is_let && field_index(cf.variable) == static_cast<std::ptrdiff_t>(spec.fields.size()))
      (c_at / "variable").fail("unknown variable " + quote(cf.variable) + ": expected a field or a derived value (\"let\")");
    if (!targets_read.count(cf.variable))
      (c_at / "variable").fail("no target reads " + quote(cf.variable) + ": setting it cannot change the answer");
    if (entry.contains("redraw")) {
      const json& redraw = array_at(entry["redraw"], c_at / "redraw");
      for (std::size_t i = 0; i < redraw.size(); ++i) {
        const std::string f = string_at(redraw[i], c_at / "redraw" / i);
        const auto k = static_cast<std::size_t>(field_index(f));
        if (k == spec.fields.size()) (c_at / "redraw" / i).fail("unknown field " + quote(f));
        if (std::find(cf.redraw.begin(), cf.redraw.end(), k) != cf.redraw.end()) (c_at / "redraw" / i).fail("duplicate field " + quote(f));
        cf.redraw.push_back(k);
      }
    } else {
      for (std::size_t k = 0; k < spec.fields.size(); ++k) cf.redraw.push_back(k);
    }
    const std::set<std::string> variable_reads = with_reads(spec, {cf.variable});
    if (std::none_of(cf.redraw.begin(), cf.redraw.end(), [&](std::size_t k) { return variable_reads.count(spec.fields[k].name) > 0; }))
      (c_at / "redraw").fail(quote(cf.variable) + " reads none of the redrawn fields: the source's value would be the base's");
    out.push_back(std::move(cf));
  }
  return out;
}

// The vocabulary ("vocab") and "outputs".
void parse_vocab(const json& doc, const At& at, Spec& spec) {
  const At vocab = at / "vocab";
  check_object(doc["vocab"], vocab, {"numbers", "words"}, {});
  spec.vocab.n_values = doc["vocab"].contains("numbers") ? integer_at(doc["vocab"]["numbers"], vocab / "numbers", 0, 1000000) : 0;
  if (doc["vocab"].contains("words")) {
    const json& words = array_at(doc["vocab"]["words"], vocab / "words");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const std::string word = string_at(words[i], vocab / "words" / i);
      if (word.empty() || word.find_first_of(" \t\n\r\v\f") != std::string::npos)
        (vocab / "words" / i).fail("a word must be non-empty and hold no whitespace");
      if (spec.vocab.n_values > 0 && word.find_first_not_of("0123456789") == std::string::npos)
        (vocab / "words" / i).fail("a word must not be a number (numbers are the tokens 0 .. numbers - 1)");
      if (!seen.insert(word).second) (vocab / "words" / i).fail(quote(word) + " appears twice");
      spec.vocab.specials.push_back(word);
    }
  }
  spec.vocab_size = spec.vocab.n_values + static_cast<int64_t>(spec.vocab.specials.size());
  if (spec.vocab_size == 0) vocab.fail("no tokens: give \"numbers\" and/or \"words\"");
  spec.outputs = doc.contains("outputs") ? integer_at(doc["outputs"], at / "outputs", 1, spec.vocab_size) : spec.vocab_size;
}

// The "fields" (after the entry-count check); returns their names.
std::set<std::string> parse_fields(const json& doc, const At& at, Spec& spec) {
  std::set<std::string> known;
  int64_t field_elements = 0;
  const json& fields = array_at(doc["fields"], at / "fields");
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const At f_at = at / "fields" / i;
    check_object(fields[i], f_at, {"name", "min", "max", "length", "distinct"}, {"name", "min", "max"});
    FieldSpec f;
    f.name = string_at(fields[i]["name"], f_at / "name");
    if (!is_identifier(f.name)) (f_at / "name").fail(kIdentifierRule);
    if (!known.insert(f.name).second) (f_at / "name").fail("duplicate field " + quote(f.name));
    f.min = integer_at(fields[i]["min"], f_at / "min", -kMaxFieldValue, kMaxFieldValue);
    f.max = integer_at(fields[i]["max"], f_at / "max", -kMaxFieldValue, kMaxFieldValue);
    if (f.min > f.max) (f_at / "max").fail("empty range [" + std::to_string(f.min) + ", " + std::to_string(f.max) + "]");
    if (fields[i].contains("length")) f.length = integer_at(fields[i]["length"], f_at / "length", 0, kMaxListLength);
    if (fields[i].contains("distinct")) {
      if (!fields[i]["distinct"].is_boolean()) (f_at / "distinct").fail(std::string("expected a boolean, got ") + type_name(fields[i]["distinct"]));
      if (f.length < 0) (f_at / "distinct").fail("only a list (with \"length\") can be distinct");
      f.distinct = fields[i]["distinct"].get<bool>();
    }
    field_elements += element_count(f);
    if (field_elements > kMaxFieldElements)
      (f_at / "length").fail("the fields draw more than " + std::to_string(kMaxFieldElements) + " integers per example");
    if (f.distinct && f.length > f.range())
      (f_at / "length").fail("a distinct list of " + std::to_string(f.length) + " values from a range of " + std::to_string(f.range()));
    spec.fields.push_back(f);
  }
  return known;
}

// The "sequence", its expressions over `known` names; returns its roles.
std::set<std::string> parse_sequence(const json& doc, const At& at, Spec& spec, const std::set<std::string>& known) {
  const json& sequence = array_at(doc["sequence"], at / "sequence");
  std::set<std::string> roles;
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    const At e_at = at / "sequence" / i;
    check_object(sequence[i], e_at, {"token", "value", "role", "target"}, {});
    if (sequence[i].contains("token") == sequence[i].contains("value"))
      e_at.fail("expected one of 'token' (a word of the vocabulary) and 'value' (an expression)");
    ElementSpec el;
    el.pointer = e_at.pointer;
    if (sequence[i].contains("token")) el.token = token_at(sequence[i]["token"], e_at / "token", spec);
    if (sequence[i].contains("value")) {
      el.value = expression_at(sequence[i]["value"], e_at / "value");
      check_names(*el.value, e_at / "value", known);
    }
    if (sequence[i].contains("target")) {
      el.target = expression_at(sequence[i]["target"], e_at / "target");
      check_names(*el.target, e_at / "target", known);
    }
    if (sequence[i].contains("role")) {
      const json& r = sequence[i]["role"];
      const json names = r.is_array() ? r : json::array({r});
      for (std::size_t k = 0; k < names.size(); ++k) {
        const At r_at = r.is_array() ? e_at / "role" / k : e_at / "role";
        const std::string name = string_at(names[k], r_at);
        if (!is_identifier(name)) r_at.fail(kIdentifierRule);
        if (!roles.insert(name).second) r_at.fail("duplicate role " + quote(name));
        el.roles.push_back(name);
      }
    }
    spec.sequence.push_back(std::move(el));
  }
  return roles;
}

// An upper bound on the element operations of generating one example: each
// expression node touches at most the longest list (a field's length or a
// list literal's, which no function lengthens), the lets and the sequence's
// expressions are derived for the example and about four times per
// counterfactual, and a distinct list of length L draws in L^2.
double example_cost(const Spec& spec) {
  double nodes = 0.0, longest = 1.0, draws = 0.0;
  const auto add = [&](const Expression& e) {
    nodes += static_cast<double>(e.nodes());
    longest = std::max(longest, static_cast<double>(e.nodes()));
  };
  for (const auto& [name, e] : spec.lets) add(e);
  for (const ElementSpec& el : spec.sequence) {
    if (el.value) add(*el.value);
    if (el.target) add(*el.target);
  }
  for (const auto* named : {&spec.roles, &spec.classes})
    for (const auto& [name, e] : *named) add(e.second);
  for (const FieldSpec& f : spec.fields) {
    const double length = static_cast<double>(element_count(f));
    longest = std::max(longest, length);
    draws += f.distinct ? length * length : length;
  }
  const double passes = 2.0 + 4.0 * static_cast<double>(spec.counterfactuals.size());
  return (nodes * longest + draws) * passes;
}

std::shared_ptr<const Spec> parse_spec(const json& doc, const std::string& path) {
  auto spec = std::make_shared<Spec>();
  spec->path = path;
  const At at{path, ""};
  check_object(doc, at,
               {"format", "description", "vocab", "outputs", "fields", "let", "sequence", "roles", "classes", "cyclic",
                "answer_role_prefix", "counterfactuals"},
               {"format", "vocab", "fields", "sequence"});
  const std::string format = string_at(doc["format"], at / "format");
  if (format != kTaskSpecFormat) (at / "format").fail("unknown format " + quote(format) + " (expected " + kTaskSpecFormat + ")");
  if (doc.contains("description")) string_at(doc["description"], at / "description");
  parse_vocab(doc, at, *spec);
  for (const char* key : {"fields", "let", "sequence", "roles", "classes", "counterfactuals"})
    if (doc.contains(key) && doc[key].size() > kMaxNames)
      (at / key).fail("more than " + std::to_string(kMaxNames) + " entries");
  std::set<std::string> known = parse_fields(doc, at, *spec);
  if (doc.contains("let")) {
    check_object(doc["let"], at / "let", {}, {});
    for (const auto& [name, text] : doc["let"].items())
      if (!is_identifier(name)) (at / "let" / name).fail(kIdentifierRule);
    spec->lets = ordered_lets(doc["let"], at / "let", known);
    for (const auto& [name, e] : spec->lets) known.insert(name);
  }
  const std::set<std::string> roles = parse_sequence(doc, at, *spec, known);
  std::set<std::string> with_roles = known;
  for (const std::string& r : roles) with_roles.insert("@" + r);
  for (const auto& [key, into, names] : {std::make_tuple("roles", &spec->roles, &with_roles), std::make_tuple("classes", &spec->classes, &known)}) {
    if (!doc.contains(key)) continue;
    check_object(doc[key], at / key, {}, {});
    for (const auto& [name, text] : doc[key].items()) {
      const At n_at = at / key / name;
      if (!is_identifier(name)) n_at.fail(kIdentifierRule);
      if (std::string(key) == "roles" && roles.count(name)) n_at.fail("duplicate role " + quote(name));
      Expression e = expression_at(text, n_at);
      check_names(e, n_at, *names);
      into->emplace(name, std::make_pair(n_at.pointer, e));
    }
  }
  if (doc.contains("counterfactuals")) spec->counterfactuals = parse_counterfactuals(doc["counterfactuals"], at / "counterfactuals", *spec);
  const double cost = example_cost(*spec);
  if (cost > kMaxExampleCost)
    at.fail("generating one example may take up to " + std::to_string(static_cast<int64_t>(cost)) + " element operations (its expressions' " +
            "nodes times its longest list, for the example and each counterfactual, and its distinct lists' draws), " +
            "more than the " + std::to_string(static_cast<int64_t>(kMaxExampleCost)) + " a task spec may: use fewer or shorter lists, lets or " +
            "counterfactuals");
  // The first example (every field at its minimum) fixes the shapes and shows errors at load.
  const Example first = domain_example(*spec, 0);
  Row row = generate(*spec, first);
  spec->length = static_cast<int64_t>(row.tokens.size());
  if (spec->length == 0) (at / "sequence").fail("the sequence has no positions");
  if (std::all_of(row.targets.begin(), row.targets.end(), [](int64_t t) { return t < 0; }))
    (at / "sequence").fail("no element has a target: nothing is scored");
  for (const auto& [name, v] : row.roles) spec->role_width[name] = width_of(v);
  for (const auto& [name, v] : row.classes) spec->class_width[name] = width_of(v);
  add_counterfactuals(*spec, first, row);
  return spec;
}

}  // namespace

Task parse_task_spec(const json& doc, const std::string& path, const std::string& name) {
  std::shared_ptr<const Spec> spec = parse_spec(doc, path);
  Task task;
  task.name = name;
  Config need;
  need.n_ctx = static_cast<int>(spec->length);
  need.d_vocab = static_cast<int>(spec->vocab_size);
  need.d_vocab_out = static_cast<int>(spec->outputs);
  task.config = [need](Scale) { return need; };
  task.draw = [spec, name](Rng& rng, int64_t n, Scale) {
    check_sample_size(n, "sample(" + name + ")");
    std::vector<Example> examples;
    for (int64_t i = 0; i < n; ++i) examples.push_back(draw_example(*spec, rng));
    return make_batch(*spec, examples);
  };
  task.sample = seeded(task.draw);
  for (const auto& [class_name, width] : spec->class_width) task.classes.push_back({class_name, width == 0, {}});
  task.domain_size = domain_size(*spec);
  if (task.domain_size) {
    const int64_t size = *task.domain_size;
    task.domain_batch = [spec, name, size](int64_t start, int64_t count) {
      check_domain_range(start, count, size, "domain_batch(" + name + ")");
      std::vector<Example> examples;
      for (int64_t i = start; i < start + count; ++i) examples.push_back(domain_example(*spec, i));
      return make_batch(*spec, examples);
    };
  } else {
    task.domain_batch = no_domain(name);
  }
  const WordVocab vocab = spec->vocab;
  task.detokenize = [vocab, name](const at::Tensor& row) { return detokenize_words(vocab, row, "detokenize(" + name + ")"); };
  task.tokenize = [vocab, name](const std::string& text) { return tokenize_words(vocab, text, "tokenize(" + name + ")"); };
  const At at{path, ""};
  if (doc.contains("answer_role_prefix")) task.answer_role_prefix = string_at(doc["answer_role_prefix"], at / "answer_role_prefix");
  if (doc.contains("cyclic")) {
    const At c_at = at / "cyclic";
    check_object(doc["cyclic"], c_at, {"modulus", "operands"}, {"modulus", "operands"});
    const int64_t p = integer_at(doc["cyclic"]["modulus"], c_at / "modulus", 3, 100000);
    if (p % 2 == 0) (c_at / "modulus").fail("the Fourier basis of the fourier kind needs an odd modulus, got " + std::to_string(p));
    const json& operands = array_at(doc["cyclic"]["operands"], c_at / "operands");
    if (operands.size() != 2) (c_at / "operands").fail("expected the two fields of the pair (a, b)");
    for (std::size_t i = 0; i < 2; ++i) {
      const std::string field = string_at(operands[i], c_at / "operands" / i);
      const bool ok = spec->fields.size() == 2 && spec->fields[i].name == field && spec->fields[i].length < 0 &&
                      spec->fields[i].min == 0 && spec->fields[i].max == p - 1;
      if (!ok)
        (c_at / "operands" / i).fail("the cyclic operands must be the spec's only two fields, in order, each an integer in [0, " +
                                     std::to_string(p - 1) + "]");
    }
    task.cyclic = Cyclic{p};
  }
  return task;
}

Task read_task_spec(const std::string& path, const std::string& name) {
  return parse_task_spec(parse_json(read_text_file(path, "read_task_spec", kMaxSpecBytes), path), path, name);
}

bool is_task_file(const std::string& path) {
  return is_dataset_path(path) || std::filesystem::path(path).extension() == ".json";
}

std::shared_ptr<const Task> load_task(const std::string& name_or_path) {
  if (!is_task_file(name_or_path))
    return std::shared_ptr<const Task>(std::shared_ptr<const Task>{}, &find_task(name_or_path));
  const std::string name = std::filesystem::path(name_or_path).stem().string();
  return std::make_shared<const Task>(is_dataset_path(name_or_path) ? dataset_task(read_dataset(name_or_path), name)
                                                                   : read_task_spec(name_or_path, name));
}

}  // namespace circuitcheck
