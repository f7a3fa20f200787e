// Claim files: hypotheses about a system's circuit as typed, checkable JSON
// (schema "circuitcheck.claims/1", documented with examples in claims/README.md).
//
//   { "schema": "circuitcheck.claims/1", "system": "array_index",
//     "checkpoint": "checkpoints/array_index.safetensors",
//     "claims": [ { "id", "hypothesis", "kind", <kind's fields>, "domain", "pass", "controls" } ] }
//
// `checkpoint` is relative to the folder above the claim file's folder (the
// repository root for claims/<system>.json). Kinds: "behaviour", "attention",
// "ablation" (fields in Claim below), "probe" (probe_claim.h), "patching"
// and "item_patching" (patching_claim.h), "property" (property_claim.h), "fourier"
// (fourier_claim.h), "spectrum" and "geometry" (geometry_claim.h).
//
// Errors: every problem is one InputError "<file>: <JSON pointer>: <what>",
// e.g. "claims/array_index.json: /claims/3/head: head 2 out of range, the model
// has 1 head": invalid JSON, a wrong schema, an unknown or missing field, a
// wrong JSON type, an unknown kind, system, role, class, hook or control, a
// layer, head or position out of range, a threshold outside [0, 1] for rates,
// a duplicate id, an exhaustive domain the system cannot enumerate.
#pragma once

#include "circuits/check.h"
#include "circuits/config.h"
#include "circuits/fourier_claim.h"
#include "circuits/geometry_claim.h"
#include "circuits/patching_claim.h"
#include "circuits/probe_claim.h"
#include "circuits/property_claim.h"
#include "circuits/hooks.h"
#include "circuits/intervention.h"
#include "circuits/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kClaimSchema = "circuitcheck.claims/1";

enum class ClaimKind {
  kBehaviour, kAttention, kAblation, kFourier, kSpectrum, kGeometry, kProbe, kPatching, kItemPatching, kProperty
};

std::string to_string(ClaimKind kind);

// One ablated site: an activation, optionally restricted to heads and positions.
struct AblationSite {
  HookPoint hook;
  std::vector<int64_t> heads;      // empty: all heads (or a hook without heads)
  std::vector<int64_t> positions;  // empty: all positions
  std::vector<int64_t> neurons;    // mlp hook_pre/hook_post only; empty: all neurons
};

struct Claim {
  std::string id;          // [A-Za-z0-9_.-]+, unique in its file
  std::string hypothesis;  // prose
  ClaimKind kind = ClaimKind::kBehaviour;
  std::string pointer;     // "/claims/3", for messages
  Domain domain;
  PassRule pass;
  std::vector<std::string> controls;  // control models (controls.h), "random_init" always first

  // behaviour: "accuracy" (a rate per example; pass.rate_at_least) or "loss"
  // (mean cross-entropy per scored position, nats; pass.value_at_least|most);
  // ablation: "accuracy".
  std::string metric = "accuracy";
  // behaviour accuracy: a class evaluate() breaks accuracy down by; every value must pass,
  // ablation: the accuracy before and after by this class is reported (which questions a node serves).
  std::string by_class;
  std::vector<int64_t> class_values;  // or only these values (the others are reported); each must occur

  // attention: in `layer`'s head `head`, the mass (summed hook_pattern, in
  // [0, 1]) from the query role's position to the key roles' positions is at
  // least `min_mass`; the rate is over examples ([batch] query role) or over
  // (example, k) items ([batch, k] query role; [batch, k] key roles pair by k).
  int layer = 0;
  int head = 0;
  std::string query;
  std::vector<std::string> keys;
  double min_mass = 0.0;

  // ablation: "zero", "mean" (the mean activation over `reference`) or
  // "resample" (each example gets the activation of a reference example,
  // drawn with the reference seed) at every site; necessity (drop_to_at_most),
  // or that accuracy survives it (rate_at_least), or, with keep_only, sufficiency: every attention head (hook_z) and MLP
  // (hook_mlp_out) that is not a site is ablated and accuracy must stay >=
  // rate_at_least.
  InterventionKind method = InterventionKind::kZero;
  std::vector<AblationSite> sites;
  bool keep_only = false;
  Domain reference{false, 4096, 0};

  // fourier, spectrum, geometry: fourier_claim.h, geometry_claim.h.
  FourierSpec fourier;
  SpectrumSpec spectrum;
  GeometrySpec geometry;
  // probe, patching, property: probe_claim.h, patching_claim.h, property_claim.h.
  ProbeSpec probe;
  PatchingSpec patching;
  ItemPatchingSpec item_patching;
  PropertySpec property;
};

// A claim file's top level, checked: schema, system (a string), checkpoint
// (a string), claims (an array); no other fields.
struct ClaimFile {
  std::string path;
  std::string system;      // as written
  std::string checkpoint;  // resolved against the folder above the file's folder
  nlohmann::json document;
};

// Reads and checks the top level of a claim file.
ClaimFile read_claim_file(const std::string& path);

// Checks the top level of a parsed document; `path` names it in messages.
ClaimFile parse_claim_file(const nlohmann::json& document, const std::string& path);

// The task the file names; InputError "<file>: /system: unknown system ..." otherwise.
const Task& claim_task(const ClaimFile& file);

// Parses and validates every claim against the task (its roles and classes,
// from a sample batch at the config's scale) and the model config (layers,
// heads, hooks, positions).
std::vector<Claim> parse_claims(const ClaimFile& file, const Task& task, const Config& config);

}  // namespace circuitcheck
