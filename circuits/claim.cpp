#include "circuits/claim.h"

#include "circuits/error.h"
#include "circuits/evaluate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

// A place in a claim file: the file and a JSON pointer.
struct At {
  std::string file;
  std::string pointer;

  At operator/(const std::string& key) const {
    std::string escaped;
    for (char ch : key) escaped += ch == '~' ? "~0" : ch == '/' ? "~1" : std::string(1, ch);
    return {file, pointer + "/" + escaped};
  }
  At operator/(std::size_t index) const { return {file, pointer + "/" + std::to_string(index)}; }
  [[noreturn]] void fail(const std::string& what) const {
    circuitcheck::fail(pointer.empty() ? file : file + ": " + pointer, what);
  }
  // Re-raises an error of `function` here, without its "function: " prefix.
  [[noreturn]] void fail_from(const InputError& e, const std::string& function) const {
    const std::string message = e.what();
    fail(message.rfind(function + ": ", 0) == 0 ? message.substr(function.size() + 2) : message);
  }
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string plural(int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

const char* type_name(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

// Checks that `v` is an object whose keys are all in `allowed` and that holds every key of `required`.
void check_object(const json& v, const At& at, const std::vector<std::string>& allowed,
                  const std::vector<std::string>& required) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
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

Domain domain_at(const json& v, const At& at, const Task& task, bool allow_exhaustive) {
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
  check_object(v, at, {"sample", "seed"}, {"sample", "seed"});
  d.sample = integer_at(v["sample"], at / "sample", 1, 100000000);
  d.seed = static_cast<uint64_t>(integer_at(v["seed"], at / "seed", 0, std::numeric_limits<int64_t>::max()));
  return d;
}

// The pass rule: `rates` and `values` are the thresholds this claim may set, `required` those it must.
PassRule pass_at(const json& v, const At& at, const std::vector<std::string>& rates,
                 const std::vector<std::string>& values, const std::vector<std::string>& required) {
  std::vector<std::string> allowed = rates;
  allowed.insert(allowed.end(), values.begin(), values.end());
  check_object(v, at, allowed, required);
  if (v.empty()) at.fail("needs a threshold (" + joined(allowed) + ")");
  PassRule rule;
  const std::vector<std::pair<std::string, std::optional<double>*>> slots = {
      {"rate_at_least", &rule.rate_at_least},     {"value_at_least", &rule.value_at_least},
      {"value_at_most", &rule.value_at_most},     {"drop_to_at_most", &rule.drop_to_at_most},
      {"before_at_least", &rule.before_at_least}};
  for (const auto& [key, slot] : slots) {
    if (!v.contains(key)) continue;
    const bool rate = std::find(rates.begin(), rates.end(), key) != rates.end();
    *slot = rate ? rate_at(v[key], at / key) : number_at(v[key], at / key);
  }
  return rule;
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

void parse_attention(const json& v, const At& at, const Config& config, const Batch& sample, Claim& claim) {
  claim.layer = layer_at(v["layer"], at / "layer", config);
  claim.head = head_at(v["head"], at / "head", config);
  const at::Tensor& query = role_at(v["query"], at / "query", sample);
  claim.query = v["query"].get<std::string>();
  const json& keys = v["keys"];
  if (!keys.is_array() || keys.empty()) (at / "keys").fail("expected a non-empty array of role names");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const at::Tensor& key = role_at(keys[i], at / "keys" / i, sample);
    if (query.dim() == 2 && key.dim() == 2 && key.size(1) != query.size(1))
      (at / "keys" / i).fail("role '" + keys[i].get<std::string>() + "' has " + std::to_string(key.size(1)) +
                             " items per example but the query role '" + claim.query + "' has " +
                             std::to_string(query.size(1)) + "; [batch, k] roles pair item by item");
    claim.keys.push_back(keys[i].get<std::string>());
  }
  claim.min_mass = rate_at(v["min_mass"], at / "min_mass");
}

AblationSite site_at(const json& v, const At& at, const Config& config) {
  check_object(v, at, {"hook", "heads", "positions"}, {"hook"});
  AblationSite site;
  const std::string name = string_at(v["hook"], at / "hook");
  try {
    site.hook = parse_hook(name, config);
  } catch (const InputError& e) {
    (at / "hook").fail_from(e, "parse_hook");
  }
  if (site.hook.type == HookType::kTokens) (at / "hook").fail("tokens cannot be ablated");
  if (v.contains("heads")) {
    if (head_dim(site.hook.type) < 0) (at / "heads").fail(name + " has no head dimension");
    if (!v["heads"].is_array() || v["heads"].empty()) (at / "heads").fail("expected a non-empty array of heads");
    for (std::size_t i = 0; i < v["heads"].size(); ++i) site.heads.push_back(head_at(v["heads"][i], at / "heads" / i, config));
  }
  if (v.contains("positions")) {
    if (!v["positions"].is_array() || v["positions"].empty()) (at / "positions").fail("expected a non-empty array of positions");
    for (std::size_t i = 0; i < v["positions"].size(); ++i)
      site.positions.push_back(integer_at(v["positions"][i], at / "positions" / i, 0, config.n_ctx - 1));
  }
  return site;
}

void parse_ablation(const json& v, const At& at, const Config& config, const Task& task, Claim& claim) {
  const std::string method = string_at(v["method"], at / "method");
  if (method != "zero" && method != "mean") (at / "method").fail("unknown method '" + method + "' (valid: zero, mean)");
  claim.method = parse_intervention_kind(method, at.file);
  const json& sites = v["sites"];
  if (!sites.is_array() || sites.empty()) (at / "sites").fail("expected a non-empty array of sites");
  for (std::size_t i = 0; i < sites.size(); ++i) claim.sites.push_back(site_at(sites[i], at / "sites" / i, config));
  if (v.contains("reference")) {
    if (claim.method != InterventionKind::kMean) (at / "reference").fail("only mean ablation uses a reference sample");
    claim.reference = domain_at(v["reference"], at / "reference", task, false);
  }
}

Claim claim_at(const json& v, const At& at, const Task& task, const Config& config, const Batch& sample,
               const std::set<std::string>& class_names) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
  Claim claim;
  claim.pointer = at.pointer;
  if (!v.contains("kind")) at.fail("missing field 'kind'");
  const std::string kind = string_at(v["kind"], at / "kind");
  std::vector<std::string> common = {"id", "hypothesis", "kind", "domain", "pass", "controls"};
  std::vector<std::string> own, needed;
  if (kind == "behaviour") {
    claim.kind = ClaimKind::kBehaviour;
    own = {"metric", "by_class"};
  } else if (kind == "attention") {
    claim.kind = ClaimKind::kAttention;
    own = needed = {"layer", "head", "query", "keys", "min_mass"};
  } else if (kind == "ablation") {
    claim.kind = ClaimKind::kAblation;
    own = {"method", "sites", "metric", "reference"};
    needed = {"method", "sites"};
  } else {
    (at / "kind").fail("unknown kind '" + kind + "' (valid: behaviour, attention, ablation)");
  }
  std::vector<std::string> allowed = common, required = {"id", "hypothesis", "kind", "domain", "pass"};
  allowed.insert(allowed.end(), own.begin(), own.end());
  required.insert(required.end(), needed.begin(), needed.end());
  check_object(v, at, allowed, required);

  claim.id = string_at(v["id"], at / "id");
  if (claim.id.empty() || claim.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                              std::string::npos)
    (at / "id").fail("'" + claim.id + "' must be non-empty and use only letters, digits, '_', '.', '-'");
  claim.hypothesis = string_at(v["hypothesis"], at / "hypothesis");
  if (claim.hypothesis.empty()) (at / "hypothesis").fail("must not be empty");
  claim.domain = domain_at(v["domain"], at / "domain", task, true);
  claim.controls = {"random_init"};
  if (v.contains("controls")) {
    const json& controls = v["controls"];
    if (!controls.is_array()) (at / "controls").fail(std::string("expected an array, got ") + type_name(controls));
    for (std::size_t i = 0; i < controls.size(); ++i)
      if (string_at(controls[i], at / "controls" / i) != "random_init")
        (at / "controls" / i).fail("unknown control '" + controls[i].get<std::string>() + "' (valid: random_init)");
  }
  if (v.contains("metric")) claim.metric = string_at(v["metric"], at / "metric");

  switch (claim.kind) {
    case ClaimKind::kBehaviour:
      if (claim.metric != "accuracy" && claim.metric != "loss")
        (at / "metric").fail("unknown metric '" + claim.metric + "' (valid: accuracy, loss)");
      if (v.contains("by_class")) {
        if (claim.metric != "accuracy") (at / "by_class").fail("only accuracy is broken down by class");
        claim.by_class = string_at(v["by_class"], at / "by_class");
        if (!class_names.count(claim.by_class))
          (at / "by_class").fail("unknown class '" + claim.by_class + "' (valid: " +
                                 joined({class_names.begin(), class_names.end()}) + ")");
      }
      claim.pass = claim.metric == "accuracy" ? pass_at(v["pass"], at / "pass", {"rate_at_least"}, {}, {"rate_at_least"})
                                              : pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
      break;
    case ClaimKind::kAttention:
      parse_attention(v, at, config, sample, claim);
      claim.pass = pass_at(v["pass"], at / "pass", {"rate_at_least"}, {}, {"rate_at_least"});
      break;
    case ClaimKind::kAblation:
      if (claim.metric != "accuracy") (at / "metric").fail("unknown metric '" + claim.metric + "' (valid: accuracy)");
      parse_ablation(v, at, config, task, claim);
      claim.pass = pass_at(v["pass"], at / "pass", {"drop_to_at_most", "before_at_least"}, {}, {"drop_to_at_most"});
      break;
  }
  return claim;
}

}  // namespace

std::string to_string(ClaimKind kind) {
  switch (kind) {
    case ClaimKind::kBehaviour: return "behaviour";
    case ClaimKind::kAttention: return "attention";
    case ClaimKind::kAblation: return "ablation";
  }
  return "unknown";
}

ClaimFile parse_claim_file(const json& document, const std::string& path) {
  const At at{path, ""};
  check_object(document, at, {"schema", "system", "checkpoint", "claims"}, {"schema", "system", "checkpoint", "claims"});
  const std::string schema = string_at(document["schema"], at / "schema");
  if (schema != kClaimSchema)
    (at / "schema").fail("unknown schema '" + schema + "' (expected " + kClaimSchema + ")");
  ClaimFile file;
  file.path = path;
  file.system = string_at(document["system"], at / "system");
  const std::string checkpoint = string_at(document["checkpoint"], at / "checkpoint");
  if (checkpoint.empty()) (at / "checkpoint").fail("must not be empty");
  const std::filesystem::path root = std::filesystem::path(path).parent_path() / "..";
  file.checkpoint = std::filesystem::path(checkpoint).is_absolute()
                        ? checkpoint
                        : (root / checkpoint).lexically_normal().string();
  if (!document["claims"].is_array())
    (at / "claims").fail(std::string("expected an array, got ") + type_name(document["claims"]));
  file.document = document;
  return file;
}

ClaimFile read_claim_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), path, "cannot open the claim file");
  json document;
  try {
    document = json::parse(in);
  } catch (const json::exception& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
  return parse_claim_file(document, path);
}

const Task& claim_task(const ClaimFile& file) {
  try {
    return find_task(file.system);
  } catch (const InputError& e) {
    (At{file.path, ""} / "system").fail_from(e, "find_task");
  }
}

std::vector<Claim> parse_claims(const ClaimFile& file, const Task& task, const Config& config) {
  const Scale scale = scale_for(task, config);
  const Batch sample = task.sample(4, 0, scale);
  Evaluation by_class;
  tally_batch(task, sample, at::zeros({4, sample.tokens.size(1), task.config(scale).d_vocab_out}), by_class);
  std::set<std::string> class_names;
  for (const auto& [name, groups] : by_class.by_class) class_names.insert(name);

  const json& claims = file.document["claims"];
  const At at = At{file.path, ""} / "claims";
  std::vector<Claim> out;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    out.push_back(claim_at(claims[i], at / i, task, config, sample, class_names));
    if (!ids.insert(out.back().id).second) (at / i / "id").fail("duplicate id '" + out.back().id + "'");
  }
  return out;
}

}  // namespace circuitcheck
