#include "circuits/claims/claim.h"

#include "circuits/claims/claim_fields.h"
#include "circuits/claims/controls.h"
#include "circuits/claims/kinds/registry.h"
#include "circuits/claims/placebo.h"
#include "circuits/formats/error.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/text_file.h"
#include "circuits/tasks/task_spec.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxClaimFileBytes = std::size_t{64} << 20;

// The fields every kind has: id, hypothesis, controls, and "domain" for the
// kinds that run on a domain of examples.
void parse_common(const json& v, const At& at, const KindEntry& kind, const ParseContext& context, Claim& claim) {
  claim.id = string_at(v["id"], at / "id");
  if (claim.id.empty() || claim.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                              std::string::npos)
    (at / "id").fail(quote(claim.id) + " must be non-empty and use only letters, digits, '_', '.', '-'");
  claim.hypothesis = string_at(v["hypothesis"], at / "hypothesis");
  if (claim.hypothesis.empty()) (at / "hypothesis").fail("must not be empty");
  if (v.contains("scope")) {
    const std::string scope = string_at(v["scope"], at / "scope");
    if (scope != to_string(ClaimScope::kRecipe) && scope != to_string(ClaimScope::kCheckpoint))
      (at / "scope").fail("expected \"recipe\" or \"checkpoint\", got " + quote(scope));
    claim.scope = scope == to_string(ClaimScope::kRecipe) ? ClaimScope::kRecipe : ClaimScope::kCheckpoint;
  }
  if (kind.domain) claim.domain = domain_at(v["domain"], at / "domain", context.task, true);
  claim.controls = {"random_init"};
  if (!v.contains("controls")) return;
  const json& controls = list_at(v["controls"], at / "controls");
  for (std::size_t i = 0; i < controls.size(); ++i) {
    const At where = at / "controls" / i;
    std::string name = string_at(controls[i], where);
    try {
      if (!runs_on_checkpoint(name)) check_control(name, context.config, "check_control");
    } catch (const InputError& e) {
      where.fail_from(e, "check_control");
    }
    if (name.rfind(kCheckpointControl, 0) == 0) {
      name = kCheckpointControl + resolve_path(context.root, name.substr(std::strlen(kCheckpointControl)));
      std::error_code error;
      if (!std::filesystem::is_regular_file(name.substr(std::strlen(kCheckpointControl)), error))
        where.fail("control " + quote(name) + ": no such file");
    }
    if (std::find(claim.controls.begin(), claim.controls.end(), name) == claim.controls.end())
      claim.controls.push_back(name);
  }
}

Claim claim_at(const json& v, const At& at, const ParseContext& context) {
  const std::string name = string_at(field_at(v, at, "kind"), at / "kind");
  const KindEntry* kind = find_kind(name);
  if (!kind) {
    std::vector<std::string> valid;
    for (const KindEntry& k : claim_kinds()) valid.push_back(k.name);
    std::sort(valid.begin(), valid.end());
    (at / "kind").fail(unknown_name("kind", name, valid));
  }
  std::vector<std::string> allowed = {"id", "hypothesis", "kind", "scope", "pass", "controls"};
  std::vector<std::string> required = {"id", "hypothesis", "kind", "pass"};
  if (kind->domain) {
    allowed.push_back("domain");
    required.push_back("domain");
  }
  allowed.insert(allowed.end(), kind->own.begin(), kind->own.end());
  required.insert(required.end(), kind->needed.begin(), kind->needed.end());
  check_object(v, at, allowed, required);
  Claim claim;
  claim.pointer = at.pointer;
  claim.kind = kind;
  parse_common(v, at, *kind, context, claim);
  kind->parse(v, at, context, claim);
  if (claim.pass.bound == BoundMethod::kBetting) {
    std::vector<std::string> sequential;
    for (const KindEntry& k : claim_kinds())
      if (k.sequential) sequential.push_back(k.name);
    if (!kind->sequential)
      (at / "pass" / "bound").fail("kind " + quote(kind->name) + " cannot stop early; betting bounds need one that can (valid: " + joined(sequential) + ")");
    if (claim.domain.exhaustive)
      (at / "pass" / "bound").fail("an exhaustive domain's rates are exact: betting bounds are for sampled domains");
  }
  for (std::size_t i = 0; v.contains("controls") && i < v["controls"].size(); ++i) {
    const std::string name = v["controls"][i].get<std::string>();
    if (!runs_on_checkpoint(name)) continue;
    try {
      for (PlaceboRun& run : placebo_runs(claim, name, context.config, "placebo_runs"))
        claim.placebos.push_back(std::move(run));
    } catch (const InputError& e) {
      (at / "controls" / i).fail_from(e, "placebo_runs");
    }
  }
  return claim;
}

}  // namespace

const char* to_string(ClaimScope scope) { return scope == ClaimScope::kRecipe ? "recipe" : "checkpoint"; }

std::string resolve_path(const std::string& claim_file, const std::string& path) {
  const std::filesystem::path root = std::filesystem::path(claim_file).parent_path() / "..";
  return std::filesystem::path(path).is_absolute() ? path : (root / path).lexically_normal().string();
}

ClaimFile parse_claim_file(const json& document, const std::string& path) {
  const At at{path, ""};
  check_object(document, at, {"schema", "system", "task", "checkpoint", "mixed_configs", "claims"},
               {"schema", "checkpoint", "claims"});
  const std::string schema = string_at(document["schema"], at / "schema");
  if (schema != kClaimSchema)
    (at / "schema").fail("unknown schema " + quote(schema) + " (expected " + kClaimSchema + ")");
  if (document.contains("system") == document.contains("task"))
    at.fail("expected one of 'system' (a built-in task) and 'task' (a task file)");
  const auto resolved = [&](const char* field) {
    const std::string value = string_at(document[field], at / field);
    if (value.empty()) (at / field).fail("must not be empty");
    if (value.find('\0') != std::string::npos) (at / field).fail("holds a NUL character");
    return resolve_path(path, value);
  };
  ClaimFile file;
  file.path = path;
  if (document.contains("system")) file.system = string_at(document["system"], at / "system");
  if (document.contains("task")) file.task = resolved("task");
  file.checkpoint = resolved("checkpoint");
  if (document.contains("mixed_configs")) file.mixed_configs = boolean_at(document["mixed_configs"], at / "mixed_configs");
  list_at(document["claims"], at / "claims");
  file.document = document;
  return file;
}

ClaimFile read_claim_file(const std::string& path) {
  return parse_claim_file(parse_json(read_text_file(path, "read_claim_file", kMaxClaimFileBytes), path), path);
}

std::shared_ptr<const Task> claim_task(const ClaimFile& file) {
  const bool system = file.task.empty();
  const At at = At{file.path, ""} / (system ? "system" : "task");
  if (!system && !is_task_file(file.task)) at.fail("a task file is a dataset (.safetensors, .jsonl) or a task spec (.json)");
  try {
    if (system && is_task_file(file.system)) at.fail("names a built-in task; a task file goes in 'task'");
    return load_task(system ? file.system : file.task);
  } catch (const InputError& e) {
    if (system) at.fail_from(e, "find_task");
    at.fail(e.what());
  }
}

std::vector<Claim> parse_claims(const ClaimFile& file, const Task& task, const Config& config) {
  const Batch sample = example_batch(task, config);
  check_classes(task, sample, "parse_claims: " + file.path);
  const std::vector<std::string> accuracy = accuracy_classes(task);
  const std::set<std::string> by_class(accuracy.begin(), accuracy.end());

  const json& claims = file.document["claims"];
  const At at = At{file.path, ""} / "claims";
  const ParseContext context{task, config, sample, by_class, file.path};
  std::vector<Claim> out;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    out.push_back(claim_at(claims[i], at / i, context));
    if (!ids.insert(out.back().id).second) (at / i / "id").fail("duplicate id " + quote(out.back().id));
  }
  return out;
}

}  // namespace circuitcheck
