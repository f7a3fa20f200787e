// The interface every claim kind implements (one file pair per kind in this
// folder, registered in registry.cpp; claims/README.md "Adding a claim kind"):
//
//   parse        the kind's own JSON fields (and "pass", and "domain" where
//                it is the kind's own) into claim.spec, the kind's typed spec,
//                and claim.pass; errors are InputError "<file>: <JSON
//                pointer>: <what>" through At (claim_fields.h);
//   plain_reads  what it reads of the plain (un-intervened) runs on its
//                domain, activations and the logits or not, so that claims
//                on one domain share a forward pass (shared_runs.h); kinds
//                that run their own passes have none;
//   run          its checks, figures and liveness on one model, into an
//                Outcome (check.h);
//   placebos     optional: its placebo controls (placebo.h), the claim's
//                intervention moved to other components;
//   control_task optional: its control task (placebo.h), the claim with its
//                labels permuted.
//
// A claim's own fields are its kind's spec struct (AttentionSpec, ...), held
// in Claim::spec and read with spec_of<AttentionSpec>(claim.spec). Parsing,
// shared runs, controls, verification and reports reach a kind only through
// its row (Claim::kind), so adding a kind touches no other kind and no enum:
// its file pair and one row in registry.cpp.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/claims/claim_fields.h"
#include "circuits/claims/shared_runs.h"
#include "circuits/formats/error.h"
#include "circuits/model/config.h"
#include "circuits/model/hooks.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <any>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {

struct Claim;

// A claim's own fields, typed: the spec struct of its kind.
using ClaimSpec = std::any;

// The `Spec` that `spec` holds; InternalError when it holds another kind's.
template <class Spec>
const Spec& spec_of(const ClaimSpec& spec) {
  if (const Spec* s = std::any_cast<Spec>(&spec)) return *s;
  throw InternalError("spec_of: the claim's spec is not the kind's own");
}

// A control that is not another model but the checkpoint with the claim's
// intervention moved to other components (placebo.h): the control it comes
// from ("placebo:all"), its label in reports ("placebo:all/blocks.0.attn.hook_z:1")
// and the spec it runs.
struct PlaceboRun {
  std::string control;
  std::string label;
  ClaimSpec spec;
};

// What a kind's parser checks a claim against.
struct ParseContext {
  const Task& task;
  const Config& config;                      // the model's: layers, heads, hooks, positions
  const Batch& sample;                       // a small batch: the task's roles and classes and their shapes
  const std::set<std::string>& accuracy_classes;  // the classes accuracy is broken down by (accuracy_classes)
  std::string root;                          // the folder the file's relative paths resolve against
};

// What a kind runs on.
struct RunContext {
  const Task& task;
  const HookedTransformer& model;
  Scale scale;             // of the model's config (scale_for)
  const VisitRuns& visit;  // plain runs over a domain (for the kinds with plain_reads)
  // A control (placebos and control tasks too, verify.h): it may stop once
  // its deciding checks are settled, and computes only what a rule reads.
  bool control;
  // On a control: the names of the checks that decided the checkpoint's pass;
  // it may stop once each of them is settled on it. nullptr: those it claims.
  const std::vector<std::string>* deciding = nullptr;
};

// One claim kind: a row of the registry (registry.cpp).
struct KindEntry {
  const char* name;                  // as claim files spell it: "behaviour", "item_patching", ...
  std::vector<std::string> own;      // the kind's own fields
  std::vector<std::string> needed;   // those of them a claim must give
  bool domain;                       // takes the common "domain" of examples (else "domain", if any, is its own field)
  void (*parse)(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
  // What it reads of the plain runs on its domain; nullptr for kinds that
  // run their own forward passes.
  PlainReads (*plain_reads)(const Claim& claim);
  void (*run)(const RunContext& context, const Claim& claim, Outcome& out);
  // Its claimed rates may be bounded by betting ("bound": "betting"): its run
  // tallies them example by example and stops once betting_decided (check.h).
  bool sequential = false;
  // The runs of placebo control `control` ("placebo", "placebo:<seed>",
  // "placebo:all") of `claim`; InputError "<where>: control '<name>': ..."
  // when the claim cannot take it. nullptr: the kind takes no placebo.
  std::vector<PlaceboRun> (*placebos)(const Claim& claim, const std::string& control, const Config& config,
                                      const std::string& where) = nullptr;
  // The spec of its control task drawn with `seed`. nullptr: the kind takes none.
  ClaimSpec (*control_task)(const Claim& claim, uint64_t seed) = nullptr;
};

}  // namespace circuitcheck
