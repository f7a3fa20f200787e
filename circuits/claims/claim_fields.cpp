#include "circuits/claims/claim_fields.h"

#include <algorithm>

namespace circuitcheck {

using nlohmann::json;

At At::operator/(const std::string& key) const {
  std::string escaped;
  for (char ch : key) escaped += ch == '~' ? "~0" : ch == '/' ? "~1" : std::string(1, ch);
  return {file, pointer + "/" + escaped};
}

At At::operator/(std::size_t index) const { return {file, pointer + "/" + std::to_string(index)}; }

void At::fail(const std::string& what) const { circuitcheck::fail(pointer.empty() ? file : file + ": " + pointer, what); }

void At::fail_from(const InputError& e, const std::string& function) const {
  const std::string message = e.what();
  fail(message.rfind(function + ": ", 0) == 0 ? message.substr(function.size() + 2) : message);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string plural(int64_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

const char* type_name(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

void check_object(const json& v, const At& at, const std::vector<std::string>& allowed,
                  const std::vector<std::string>& required) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
  if (allowed.empty()) return;  // any keys
  for (const auto& [key, value] : v.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      (at / key).fail("unknown field (valid: " + joined(allowed) + ")");
  for (const auto& key : required)
    if (!v.contains(key)) at.fail("missing field '" + key + "'");
}

std::string string_at(const json& v, const At& at) {
  if (!v.is_string()) at.fail(std::string("expected a string, got ") + type_name(v));
  return v.get<std::string>();
}

int64_t integer_at(const json& v, const At& at, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) at.fail(std::string("expected an integer, got ") + type_name(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    at.fail(v.dump() + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  const int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) at.fail(std::to_string(n) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n;
}

double number_at(const json& v, const At& at) {
  if (!v.is_number()) at.fail(std::string("expected a number, got ") + type_name(v));
  return v.get<double>();
}

double rate_at(const json& v, const At& at) {
  const double x = number_at(v, at);
  if (!(x >= 0.0 && x <= 1.0)) at.fail("threshold " + v.dump() + " outside [0, 1] for a rate");
  return x;
}

const json& array_at(const json& v, const At& at) {
  if (!v.is_array() || v.empty()) at.fail(std::string("expected a non-empty array, got ") + (v.is_array() ? "[]" : type_name(v)));
  return v;
}

int layer_at(const json& v, const At& at, const Config& config) {
  const int64_t layer = integer_at(v, at, 0, std::numeric_limits<int>::max());
  if (layer >= config.n_layers)
    at.fail("layer " + std::to_string(layer) + " out of range, the model has " + plural(config.n_layers, "layer"));
  return static_cast<int>(layer);
}

int head_at(const json& v, const At& at, const Config& config) {
  const int64_t head = integer_at(v, at, 0, std::numeric_limits<int>::max());
  if (head >= config.n_heads)
    at.fail("head " + std::to_string(head) + " out of range, the model has " + plural(config.n_heads, "head"));
  return static_cast<int>(head);
}

HookPoint hook_at(const json& v, const At& at, const Config& config) {
  const std::string name = string_at(v, at);
  try {
    return parse_hook(name, config);
  } catch (const InputError& e) {
    at.fail_from(e, "parse_hook");
  }
}

const at::Tensor& role_at(const json& v, const At& at, const Batch& sample) {
  const std::string name = string_at(v, at);
  auto it = sample.roles.find(name);
  if (it == sample.roles.end()) {
    std::vector<std::string> valid;
    for (const auto& [n, t] : sample.roles) valid.push_back(n);
    at.fail("unknown role '" + name + "' (valid: " + joined(valid) + ")");
  }
  return it->second;
}

std::string class_name_at(const json& v, const At& at, const std::set<std::string>& names) {
  const std::string name = string_at(v, at);
  if (!names.count(name))
    at.fail("unknown class '" + name + "' (valid: " + joined({names.begin(), names.end()}) + ")");
  return name;
}

const at::Tensor& class_at(const json& v, const At& at, const Batch& sample) {
  std::set<std::string> names;
  for (const auto& [name, values] : sample.classes) names.insert(name);
  return sample.classes.at(class_name_at(v, at, names));
}

void check_pairs(const at::Tensor& role, const std::string& name, const at::Tensor& other,
                 const std::string& other_name, const At& at) {
  if (role.dim() == 2 && (other.dim() != 2 || role.size(1) != other.size(1)))
    at.fail("role '" + name + "' has " + std::to_string(role.size(1)) + " items per example but '" + other_name +
            "' has " + std::to_string(other.dim() == 2 ? other.size(1) : 1) + "; they pair item by item");
}

Domain domain_at(const json& v, const At& at, const Task& task, const Batch& sample, bool allow_exhaustive) {
  Domain d;
  if (allow_exhaustive && v.is_object() && v.contains("exhaustive")) {
    check_object(v, at, {"exhaustive"}, {});
    if (v["exhaustive"] != true) (at / "exhaustive").fail("must be true; a sampled domain is {\"sample\": N, \"seed\": S}");
    if (!task.domain_size) (at / "exhaustive").fail(task.name + " has no finite domain; use {\"sample\": N, \"seed\": S}");
    if (*task.domain_size > kExhaustiveLimit)
      (at / "exhaustive").fail(task.name + "'s domain has " + std::to_string(*task.domain_size) +
                               " examples, more than the exhaustive limit " + std::to_string(kExhaustiveLimit) +
                               "; use {\"sample\": N, \"seed\": S}");
    d.exhaustive = true;
    return d;
  }
  check_object(v, at, {"sample", "seed", "where"}, {"sample", "seed"});
  d.sample = integer_at(v["sample"], at / "sample", 1, 100000000);
  d.seed = static_cast<uint64_t>(integer_at(v["seed"], at / "seed", 0, std::numeric_limits<int64_t>::max()));
  if (v.contains("where")) {
    const At where = at / "where";
    check_object(v["where"], where, {}, {});
    if (v["where"].size() != 1) where.fail("expected one class and its value, e.g. {\"operator\": 0}");
    d.where = v["where"].begin().key();
    auto it = sample.classes.find(d.where);
    if (it == sample.classes.end() || it->second.dim() != 1) {
      std::vector<std::string> valid;
      for (const auto& [name, t] : sample.classes)
        if (t.dim() == 1) valid.push_back(name);
      (where / d.where).fail("not a per-example class of " + task.name + " (valid: " + joined(valid) + ")");
    }
    d.where_value = integer_at(v["where"][d.where], where / d.where, 0, std::numeric_limits<int>::max());
  }
  return d;
}

PassRule pass_at(const json& v, const At& at, const std::vector<std::string>& rates, const std::vector<std::string>& values,
                 const std::vector<std::string>& required) {
  std::vector<std::string> allowed = rates;
  allowed.insert(allowed.end(), values.begin(), values.end());
  if (!rates.empty()) allowed.push_back("bound");
  check_object(v, at, allowed, required);
  PassRule rule;
  const std::vector<std::pair<std::string, std::optional<double>*>> slots = {
      {"rate_at_least", &rule.rate_at_least},     {"rate_at_most", &rule.rate_at_most},
      {"value_at_least", &rule.value_at_least},   {"value_at_most", &rule.value_at_most},
      {"drop_to_at_most", &rule.drop_to_at_most}, {"before_at_least", &rule.before_at_least},
      {"compare_at_most", &rule.compare_at_most}};
  bool any = false;
  for (const auto& [key, slot] : slots) {
    if (!v.contains(key)) continue;
    const bool rate = std::find(rates.begin(), rates.end(), key) != rates.end();
    *slot = rate ? rate_at(v[key], at / key) : number_at(v[key], at / key);
    any = true;
  }
  if (!any) {
    std::vector<std::string> thresholds = rates;
    thresholds.insert(thresholds.end(), values.begin(), values.end());
    at.fail("needs a threshold (" + joined(thresholds) + ")");
  }
  if (v.contains("bound")) {
    const std::string bound = string_at(v["bound"], at / "bound");
    if (bound == "clopper_pearson")
      rule.bound = BoundMethod::kClopperPearson;
    else if (bound != "wilson")
      (at / "bound").fail("unknown bound '" + bound + "' (valid: wilson, clopper_pearson)");
  }
  return rule;
}

}  // namespace circuitcheck
