// The claim kinds, in one table. Each kind is one file pair in this folder
// implementing kind.h's interface: its typed spec, parse, plain_hooks, run.
// Adding a kind (claims/README.md, "Adding a claim kind"): its file pair, its
// enum value and spec below, and one row in registry.cpp.
#pragma once

#include "circuits/claims/kinds/ablation_claim.h"
#include "circuits/claims/kinds/attention_claim.h"
#include "circuits/claims/kinds/behaviour_claim.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/kinds/fourier_claim.h"
#include "circuits/claims/kinds/geometry_claim.h"
#include "circuits/claims/kinds/interchange_claim.h"
#include "circuits/claims/kinds/item_patching_claim.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/kinds/patching_claim.h"
#include "circuits/claims/kinds/path_patching_claim.h"
#include "circuits/claims/kinds/probe_claim.h"
#include "circuits/claims/kinds/property_claim.h"
#include "circuits/claims/kinds/scrubbing_claim.h"
#include "circuits/claims/kinds/spectrum_claim.h"

#include <nlohmann/json.hpp>

#include <string>
#include <variant>
#include <vector>

namespace circuitcheck {

enum class ClaimKind {
  kBehaviour, kAttention, kAblation, kFourier, kSpectrum, kGeometry, kProbe, kPatching, kItemPatching, kProperty,
  kCircuit, kInterchange, kPathPatching, kScrubbing
};

// A claim's own fields, typed: one alternative per kind.
using ClaimSpec = std::variant<BehaviourSpec, AttentionSpec, AblationSpec, FourierSpec, SpectrumSpec, GeometrySpec,
                               ProbeSpec, PatchingSpec, ItemPatchingSpec, PropertySpec, CircuitSpec,
                               InterchangeSpec, PathPatchingSpec, ScrubbingSpec>;

struct KindEntry {
  ClaimKind kind;
  const char* name;                  // as claim files spell it
  std::vector<std::string> own;      // the kind's own fields
  std::vector<std::string> needed;   // those of them a claim must give
  bool domain;                       // takes the common "domain" of examples (else "domain", if any, is its own field)
  void (*parse)(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
  // The plain activations it reads on its domain (empty: the logits only);
  // nullptr for kinds that run their own forward passes.
  std::vector<HookPoint> (*plain_hooks)(const Claim& claim);
  void (*run)(const RunContext& context, const Claim& claim, Outcome& out);
  // Its claimed rates may be bounded by betting ("bound": "betting"): its run
  // tallies them example by example and stops once betting_decided (check.h).
  bool sequential = false;
};

// Every kind, in ClaimKind order.
const std::vector<KindEntry>& claim_kinds();
const KindEntry& kind_entry(ClaimKind kind);
// The kind spelled `name`, or nullptr.
const KindEntry* find_kind(const std::string& name);
// As claim files spell it: "behaviour", "item_patching", ...
std::string to_string(ClaimKind kind);

}  // namespace circuitcheck
