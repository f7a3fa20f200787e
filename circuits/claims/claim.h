// Claim files: hypotheses about a system's circuit as typed, checkable JSON
// (schema "circuitcheck.claims/1", documented with examples in claims/README.md).
//
//   { "schema": "circuitcheck.claims/1", "system": "array_index",   (or "task": "data/mine.safetensors")
//     "checkpoint": "checkpoints/array_index.safetensors",
//     "claims": [ { "id", "hypothesis", "kind", <kind's fields>, "domain", "pass", "controls" } ] }
//
// `checkpoint` and `task` are relative to the folder above the claim file's folder (the
// repository root for claims/<system>.json). Each kind (claims/README.md
// documents them) is one file pair in kinds/, registered in kinds/registry.cpp.
//
// Errors: every problem is one InputError "<file>: <JSON pointer>: <what>",
// e.g. "claims/array_index.json: /claims/3/head: head 2 out of range, the model
// has 1 head": a missing or irregular file (a FIFO), a file over 64 MB,
// JSON that is not strict (parse_json: NUL bytes, repeated keys, nesting
// deeper than 128 levels), a wrong schema, an unknown or missing field, a
// wrong JSON type, an unknown kind, system, role, class, hook or control, a
// layer, head or position out of range, a threshold outside [0, 1] for rates,
// a duplicate id, an exhaustive domain the system cannot enumerate.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/model/config.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kClaimSchema = "circuitcheck.claims/1";

// What a claim describes (claims/README.md, "Claims across seeds"): every
// model its checkpoint's recipe trains ("recipe", the default), or its
// checkpoint alone ("checkpoint": measured to fail on another seed of the
// recipe; the hypothesis says where).
enum class ClaimScope { kRecipe, kCheckpoint };

// "recipe", "checkpoint".
const char* to_string(ClaimScope scope);

// One claim: the fields every kind has, and its kind's own typed spec
// (kinds/kind.h; spec_of<AttentionSpec>(claim.spec)).
struct Claim {
  std::string id;          // [A-Za-z0-9_.-]+, unique in its file
  std::string hypothesis;  // prose
  const KindEntry* kind = nullptr;  // its row of the registry (kinds/registry.h)
  ClaimScope scope = ClaimScope::kRecipe;
  std::string pointer;     // "/claims/3", for messages
  Domain domain;
  PassRule pass;
  std::vector<std::string> controls;  // control models (controls.h), "random_init" always first
  std::vector<PlaceboRun> placebos;   // the runs of its placebo controls, in the order of `controls`
  ClaimSpec spec;                     // `kind`'s spec struct
};

// A claim file's top level, checked: schema, either system (a built-in
// task's name) or task (a dataset file, tasks/dataset.h, or a task spec, tasks/task_spec.h), checkpoint (a
// string), claims (an array); no other fields.
struct ClaimFile {
  std::string path;
  std::string system;      // as written; empty when the file names a task file
  std::string task;        // the task file, resolved as `checkpoint` is; empty when it names a system
  std::string checkpoint;  // resolved against the folder above the file's folder
  // Whether verify may run the file on checkpoints whose configs differ (a
  // sweep of widths); by default every checkpoint of a run must have the
  // first one's config.
  bool mixed_configs = false;
  nlohmann::json document;
};

// `path` as a claim file at `claim_file` names it: absolute as is, else
// against the folder above the file's folder, normalised.
std::string resolve_path(const std::string& claim_file, const std::string& path);

// Reads and checks the top level of a claim file.
ClaimFile read_claim_file(const std::string& path);

// Checks the top level of a parsed document; `path` names it in messages.
ClaimFile parse_claim_file(const nlohmann::json& document, const std::string& path);

// The task the file names: a built-in system, or its task file read
// (load_task). InputError "<file>: /system: unknown system ..." or
// "<file>: /task: <what is wrong with the dataset>" otherwise.
std::shared_ptr<const Task> claim_task(const ClaimFile& file);

// Parses and validates every claim against the task (its declared classes;
// its roles and sequence length from example_batch) and the model config
// (layers, heads, hooks, positions).
std::vector<Claim> parse_claims(const ClaimFile& file, const Task& task, const Config& config);

}  // namespace circuitcheck
