#include "circuits/claim.h"

#include "circuits/claim_fields.h"
#include "circuits/controls.h"
#include "circuits/error.h"
#include "circuits/evaluate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

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
  check_object(v, at, {"hook", "heads", "positions", "neurons"}, {"hook"});
  AblationSite site;
  site.hook = hook_at(v["hook"], at / "hook", config);
  const std::string name = v["hook"].get<std::string>();
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
  if (v.contains("neurons")) {
    if (site.hook.type != HookType::kMlpPre && site.hook.type != HookType::kMlpPost)
      (at / "neurons").fail("neurons are the last dimension of blocks.L.mlp.hook_pre or hook_post, not of " + name);
    const json& neurons = array_at(v["neurons"], at / "neurons");
    for (std::size_t i = 0; i < neurons.size(); ++i)
      site.neurons.push_back(integer_at(neurons[i], at / "neurons" / i, 0, config.d_mlp - 1));
  }
  return site;
}

void parse_ablation(const json& v, const At& at, const Config& config, const Task& task, Claim& claim) {
  const std::string method = string_at(v["method"], at / "method");
  if (method != "zero" && method != "mean" && method != "resample")
    (at / "method").fail("unknown method '" + method + "' (valid: zero, mean, resample)");
  claim.method = parse_intervention_kind(method, at.file);
  if (v.contains("keep_only")) {
    if (!v["keep_only"].is_boolean()) (at / "keep_only").fail(std::string("expected a boolean, got ") + type_name(v["keep_only"]));
    claim.keep_only = v["keep_only"].get<bool>();
  }
  const json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const At where = at / "sites" / i;
    claim.sites.push_back(site_at(sites[i], where, config));
    const AblationSite& site = claim.sites.back();
    if (claim.keep_only &&
        (!site.positions.empty() || !site.neurons.empty() ||
         (site.hook.type != HookType::kZ && site.hook.type != HookType::kMlpOut)))
      where.fail("keep_only keeps whole components: blocks.L.attn.hook_z (with heads) or blocks.L.hook_mlp_out, "
                 "without positions or neurons");
  }
  if (v.contains("reference")) {
    if (claim.method == InterventionKind::kZero) (at / "reference").fail("only mean and resample ablation use a reference sample");
    claim.reference = domain_at(v["reference"], at / "reference", task, false);
  }
  claim.pass = claim.keep_only
                   ? pass_at(v["pass"], at / "pass", {"rate_at_least", "before_at_least"}, {}, {"rate_at_least"})
                   : pass_at(v["pass"], at / "pass", {"drop_to_at_most", "rate_at_least", "before_at_least"}, {}, {});
  if (!claim.pass.drop_to_at_most && !claim.pass.rate_at_least)
    (at / "pass").fail("needs drop_to_at_most (the sites are necessary) or rate_at_least (accuracy survives the ablation)");
  if (claim.pass.drop_to_at_most && claim.pass.rate_at_least)
    (at / "pass").fail("drop_to_at_most and rate_at_least contradict each other; give one");
}

Claim claim_at(const json& v, const At& at, const Task& task, const Config& config, const Batch& sample,
               const std::set<std::string>& class_names) {
  if (!v.is_object()) at.fail(std::string("expected an object, got ") + type_name(v));
  Claim claim;
  claim.pointer = at.pointer;
  if (!v.contains("kind")) at.fail("missing field 'kind'");
  const std::string kind = string_at(v["kind"], at / "kind");
  // Each kind: its own fields, those of them it requires, and whether it runs on a domain of examples.
  struct KindFields {
    ClaimKind kind;
    std::vector<std::string> own, needed;
    bool domain;
  };
  static const std::map<std::string, KindFields> kinds = {
      {"behaviour", {ClaimKind::kBehaviour, {"metric", "by_class", "class_values"}, {}, true}},
      {"attention", {ClaimKind::kAttention, {"layer", "head", "query", "keys", "min_mass"},
                     {"layer", "head", "query", "keys", "min_mass"}, true}},
      {"ablation", {ClaimKind::kAblation, {"method", "sites", "metric", "reference", "keep_only", "by_class"},
                    {"method", "sites"}, true}},
      // Their "domain" is their own field: required for an activation source, refused on weights.
      {"fourier", {ClaimKind::kFourier, {"measure", "source", "keys_from", "k", "min_explained", "domain"},
                   {"measure", "source", "k"}, false}},
      {"spectrum", {ClaimKind::kSpectrum, {"source", "k", "center", "domain"}, {"source", "k"}, false}},
      {"geometry", {ClaimKind::kGeometry, {"measure", "source", "class", "class_item", "components", "domain"},
                    {"measure", "source"}, false}},
      {"probe", {ClaimKind::kProbe, {"hook", "role", "label", "compare", "train_fraction", "seed"},
                 {"hook", "role", "label"}, true}},
      {"patching", {ClaimKind::kPatching, {"counterfactual", "sites", "sweep"}, {"counterfactual", "sites"}, true}},
      {"item_patching", {ClaimKind::kItemPatching, {"counterfactual", "items", "by_class"},
                         {"counterfactual", "items", "by_class"}, true}},
      // Its "domain" is its own field: RapidCheck's test count and seed, never exhaustive.
      {"property", {ClaimKind::kProperty, {"predicate", "margin", "domain"}, {"predicate", "domain"}, false}},
  };
  const auto found = kinds.find(kind);
  if (found == kinds.end()) {
    std::vector<std::string> valid;
    for (const auto& [name, fields] : kinds) valid.push_back(name);
    (at / "kind").fail("unknown kind '" + kind + "' (valid: " + joined(valid) + ")");
  }
  const KindFields& fields = found->second;
  claim.kind = fields.kind;
  std::vector<std::string> allowed = {"id", "hypothesis", "kind", "pass", "controls"};
  std::vector<std::string> required = {"id", "hypothesis", "kind", "pass"};
  if (fields.domain) {
    allowed.push_back("domain");
    required.push_back("domain");
  }
  allowed.insert(allowed.end(), fields.own.begin(), fields.own.end());
  required.insert(required.end(), fields.needed.begin(), fields.needed.end());
  check_object(v, at, allowed, required);

  claim.id = string_at(v["id"], at / "id");
  if (claim.id.empty() || claim.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                              std::string::npos)
    (at / "id").fail("'" + claim.id + "' must be non-empty and use only letters, digits, '_', '.', '-'");
  claim.hypothesis = string_at(v["hypothesis"], at / "hypothesis");
  if (claim.hypothesis.empty()) (at / "hypothesis").fail("must not be empty");
  if (fields.domain) claim.domain = domain_at(v["domain"], at / "domain", task, true);
  claim.controls = {"random_init"};
  if (v.contains("controls")) {
    const json& controls = v["controls"];
    if (!controls.is_array()) (at / "controls").fail(std::string("expected an array, got ") + type_name(controls));
    for (std::size_t i = 0; i < controls.size(); ++i) {
      const At where = at / "controls" / i;
      const std::string name = string_at(controls[i], where);
      try {
        check_control(name, config, "check_control");
      } catch (const InputError& e) {
        where.fail_from(e, "check_control");
      }
      if (std::find(claim.controls.begin(), claim.controls.end(), name) == claim.controls.end())
        claim.controls.push_back(name);
    }
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
      if (v.contains("class_values")) {
        if (claim.by_class.empty()) (at / "class_values").fail("needs by_class");
        const json& values = array_at(v["class_values"], at / "class_values");
        for (std::size_t i = 0; i < values.size(); ++i)
          claim.class_values.push_back(integer_at(values[i], at / "class_values" / i, 0, std::numeric_limits<int>::max()));
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
      if (v.contains("by_class")) {
        claim.by_class = string_at(v["by_class"], at / "by_class");
        if (!class_names.count(claim.by_class))
          (at / "by_class").fail("unknown class '" + claim.by_class + "' (valid: " +
                                 joined({class_names.begin(), class_names.end()}) + ")");
      }
      break;
    case ClaimKind::kFourier: parse_fourier(v, at, task, config, sample, claim); break;
    case ClaimKind::kSpectrum: parse_spectrum(v, at, task, config, sample, claim); break;
    case ClaimKind::kGeometry: parse_geometry(v, at, task, config, sample, claim); break;
    case ClaimKind::kProbe: parse_probe(v, at, config, sample, claim); break;
    case ClaimKind::kPatching: parse_patching(v, at, config, sample, claim); break;
    case ClaimKind::kItemPatching: parse_item_patching(v, at, config, sample, claim); break;
    case ClaimKind::kProperty: parse_property(v, at, task, sample, claim); break;
  }
  return claim;
}

}  // namespace

std::string to_string(ClaimKind kind) {
  switch (kind) {
    case ClaimKind::kBehaviour: return "behaviour";
    case ClaimKind::kAttention: return "attention";
    case ClaimKind::kAblation: return "ablation";
    case ClaimKind::kFourier: return "fourier";
    case ClaimKind::kSpectrum: return "spectrum";
    case ClaimKind::kGeometry: return "geometry";
    case ClaimKind::kProbe: return "probe";
    case ClaimKind::kPatching: return "patching";
    case ClaimKind::kItemPatching: return "item_patching";
    case ClaimKind::kProperty: return "property";
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
