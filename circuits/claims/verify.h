// Running claims (claim.h) against a model and its controls, with verdicts.
// claims/README.md is the specification ("Verdicts", "Shared forward passes");
// each kind's header in kinds/ says what it measures.
//
// verify_claim runs a claim on the checkpoint and on each control through its
// kind's run (kinds/registry.h). Its verdict: "pass" (passes on the model,
// fails on every control), "fail", "not_falsifiable" (passes on the model and
// on some control), "error" (running it threw: an InputError, or "internal
// error: ..." for anything else, such as a LibTorch error; the other claims
// still run and the reports are still written). A control may stop as soon as
// its failure is certain (Outcome::stopped); the checkpoint always runs its
// whole domain.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/claims/claim.h"
#include "circuits/model/intervention.h"
#include "circuits/model/model.h"
#include "circuits/claims/shared_runs.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace circuitcheck {

// A claim's verdict (above).
enum class Verdict { kPass, kFail, kNotFalsifiable, kError };

// "pass", "fail", "not_falsifiable", "error": the spelling of the reports.
const char* to_string(Verdict verdict);
std::ostream& operator<<(std::ostream& os, Verdict verdict);
// The verdict spelled `name`, or nullopt.
std::optional<Verdict> parse_verdict(const std::string& name);

struct ClaimResult {
  Claim claim;
  Verdict verdict = Verdict::kError;
  Outcome checkpoint;
  std::vector<Outcome> controls;
  std::string explanation;  // the verdict and why

  // id, kind, hypothesis, verdict, domain, thresholds, and the checkpoint's
  // values (check name -> value), checks and liveness; controls (each an
  // Outcome::to_json) and the explanation.
  nlohmann::json to_json() const;
};

// Runs `claim` on `model` (at the scale of its config), labelled `label`;
// with `shared`, its plain forward passes come from (and go to) the runs
// shared with the other claims (shared_runs.h). Throws InputError when the
// model cannot run the task or an intervention does not fit.
Outcome run_claim(const Task& task, const Claim& claim, const HookedTransformer& model, const std::string& label,
                  SharedRuns* shared = nullptr);

// Control models by name (controls.h), built on first use and shared by the claims of a file.
struct ControlCache {
  const HookedTransformer* model = nullptr;
  std::map<std::string, HookedTransformer> built;

  const HookedTransformer& get(const std::string& name);
};

// Runs `claim` on `model` and on each of its controls and gives the verdict;
// any exception while running becomes verdict "error" (never escapes). With `shared`, the
// claim must have been planned on "checkpoint" and each control
// (plan_claims); it is released from them when done.
ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls,
                         SharedRuns* shared = nullptr);

// Plans every claim on "checkpoint" and on each of its controls.
void plan_claims(const std::vector<Claim>& claims, SharedRuns& shared);

}  // namespace circuitcheck
