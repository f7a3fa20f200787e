#include "circuits/claims/claim_fields.h"

#include <algorithm>

namespace circuitcheck {

using nlohmann::json;

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

std::vector<int64_t> heads_at(const json& v, const At& at, const Config& config) {
  return array_of(v, at, [&](const json& x, const At& a) { return int64_t{head_at(x, a, config)}; });
}

std::vector<int64_t> positions_at(const json& v, const At& at, const Config& config) {
  return array_of(v, at, [&](const json& x, const At& a) { return integer_at(x, a, 0, config.n_ctx - 1); });
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
    at.fail(unknown_name("role", name, valid));
  }
  return it->second;
}

std::string class_name_at(const json& v, const At& at, const std::set<std::string>& names) {
  const std::string name = string_at(v, at);
  if (!names.count(name))
    at.fail(unknown_name("class", name, {names.begin(), names.end()}));
  return name;
}

const at::Tensor& class_at(const json& v, const At& at, const Task& task, const Batch& sample) {
  std::set<std::string> names;
  for (const TaskClass& c : task.classes) names.insert(c.name);
  return sample.classes.at(class_name_at(v, at, names));
}

void check_pairs(const at::Tensor& role, const std::string& name, const at::Tensor& other,
                 const std::string& other_name, const At& at) {
  if (role.dim() == 2 && (other.dim() != 2 || role.size(1) != other.size(1)))
    at.fail("role " + quote(name) + " has " + std::to_string(role.size(1)) + " items per example but '" + other_name +
            "' has " + std::to_string(other.dim() == 2 ? other.size(1) : 1) + "; they pair item by item");
}

Domain domain_at(const json& v, const At& at, const Task& task, bool allow_exhaustive) {
  Domain d;
  const bool dataset = static_cast<bool>(task.dataset_rows);
  if (allow_exhaustive && v.is_object() && v.contains("exhaustive")) {
    check_object(v, at, {"exhaustive"}, {});
    if (dataset)
      (at / "exhaustive").fail(task.name + " is a dataset, itself a sample of its task; take all of its rows with "
                                           "{\"all\": true} or some with {\"sample\": N, \"seed\": S}");
    if (v["exhaustive"] != true) (at / "exhaustive").fail("must be true; a sampled domain is {\"sample\": N, \"seed\": S}");
    if (!task.domain_size) (at / "exhaustive").fail(task.name + " has no finite domain; use {\"sample\": N, \"seed\": S}");
    if (*task.domain_size > kExhaustiveLimit)
      (at / "exhaustive").fail(task.name + "'s domain has " + std::to_string(*task.domain_size) +
                               " examples, more than the exhaustive limit " + std::to_string(kExhaustiveLimit) +
                               "; use {\"sample\": N, \"seed\": S}");
    d.exhaustive = true;
    return d;
  }
  if (dataset && v.is_object() && v.contains("all")) {
    check_object(v, at, {"all", "where"}, {"all"});
    if (v["all"] != true) (at / "all").fail("must be true; a sample of the rows is {\"sample\": N, \"seed\": S}");
    d.all = true;
    d.sample = *task.domain_size;
  } else {
    check_object(v, at, {"sample", "seed", "where"}, {"sample", "seed"});
    d.sample = integer_at(v["sample"], at / "sample", 1, dataset ? *task.domain_size : 100000000);
    d.seed = static_cast<uint64_t>(integer_at(v["seed"], at / "seed", 0, std::numeric_limits<int64_t>::max()));
  }
  if (v.contains("where")) {
    const At where = at / "where";
    check_object(v["where"], where, {}, {});
    if (v["where"].size() != 1) where.fail("expected one class and its value, e.g. {\"operator\": 0}");
    d.where = v["where"].begin().key();
    try {
      per_example_class(task, d.where, "where");
    } catch (const InputError& e) {
      (where / d.where).fail_from(e, "where");
    }
    d.where_value = integer_at(v["where"][d.where], where / d.where, 0, std::numeric_limits<int>::max());
  }
  return d;
}

void check_within_sequence(const std::vector<int64_t>& positions, const At& at, const Batch& sample) {
  const int64_t length = sample.tokens.size(1);
  for (std::size_t i = 0; i < positions.size(); ++i)
    if (positions[i] >= length)
      (at / i).fail("position " + std::to_string(positions[i]) + " is past the task's sequences of " +
                    std::to_string(length) + " positions");
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
      {"compare_at_most", &rule.compare_at_most}, {"faithfulness_at_least", &rule.faithfulness_at_least},
      {"completeness_at_most", &rule.completeness_at_most}, {"minimality_at_least", &rule.minimality_at_least}};
  bool any = false;
  for (const auto& [key, slot] : slots) {
    if (!v.contains(key)) continue;
    const bool rate = std::find(rates.begin(), rates.end(), key) != rates.end();
    *slot = rate ? rate_at(v[key], at / key) : number_at(v[key], at / key);
    const bool at_least = key.size() > 9 && key.compare(key.size() - 9, 9, "_at_least") == 0;
    if (rate && (at_least ? **slot <= 0.0 : **slot >= 1.0))
      (at / key).fail(number(**slot) + " is met by every rate: a check that cannot fail");
    any = true;
  }
  if (!any) {
    std::vector<std::string> thresholds = rates;
    thresholds.insert(thresholds.end(), values.begin(), values.end());
    at.fail("needs a threshold (" + joined(thresholds) + ")");
  }
  if (v.contains("bound"))
    rule.bound = named_at<BoundMethod>(v["bound"], at / "bound", "bound",
                                       {{"wilson", BoundMethod::kWilson},
                                        {"clopper_pearson", BoundMethod::kClopperPearson},
                                        {"betting", BoundMethod::kBetting}});
  return rule;
}

}  // namespace circuitcheck
