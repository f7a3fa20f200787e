// Running claims (claim.h) against a model and its controls, with verdicts.
// claims/README.md is the specification: "Verdicts" for pass, fail,
// not_falsifiable, inconclusive and error, when a control fails a check with
// certainty (on_control, check.h) and falsifiability per check; "Sequential
// verdicts" for the runs that stop once decided; "Shared forward passes".
// Each kind's header in kinds/ says what it measures; its run goes through
// the registry (kinds/registry.h). An exception while running one claim is
// that claim's verdict "error" (InputError's message, or "internal error:
// ..." for anything else, such as a LibTorch error), never the run's.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/claims/claim.h"
#include "circuits/model/intervention.h"
#include "circuits/model/model.h"
#include "circuits/claims/shared_runs.h"
#include "circuits/formats/json_fields.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace circuitcheck {

// A claim's verdict (claims/README.md, "Verdicts").
enum class Verdict { kPass, kFail, kNotFalsifiable, kInconclusive, kError };

// "pass", "fail", "not_falsifiable", "inconclusive", "error": the spelling of the reports.
const char* to_string(Verdict verdict);
std::ostream& operator<<(std::ostream& os, Verdict verdict);
// The verdict spelled by the string `v`; InputError at `at` (naming the
// valid spellings) when it is not a string or spells none.
Verdict verdict_at(const nlohmann::json& v, const At& at);

// How the controls bear on one deciding check of the checkpoint (a check
// with a rule): the controls on which it fails with certainty, and those on
// which it is inconclusive (on_control). A check that fails on no control is
// one the controls cannot falsify.
struct Falsification {
  std::string check;
  std::vector<std::string> fails_on;
  std::vector<std::string> inconclusive_on;

  nlohmann::json to_json() const;  // {"check", "fails_on", "inconclusive_on"}
};

// A claim at the level of a run's family of claims (family.h): Holm's
// procedure over every deciding check of the run that has a p-value.
struct FamilyCheck {
  std::string check;
  double p_value = 1.0;
  double level = 0.0;     // Holm's level at its rank r (0-based): alpha / (m - r)
  bool rejected = false;  // its null hypothesis ("the check fails") is rejected in the family
};

struct FamilyOutcome {
  double alpha = 0.0;               // the family-wise error rate
  int64_t tested = 0;               // m: the run's deciding checks with a p-value
  bool pass = false;                // the verdict is "pass" and every check of `checks` is rejected
  std::vector<FamilyCheck> checks;  // this claim's deciding checks with a p-value, in check order

  nlohmann::json to_json() const;   // {"alpha", "method": "holm", "tested", "pass", "checks": [...]}
};

struct ClaimResult {
  Claim claim;
  Verdict verdict = Verdict::kError;
  Outcome checkpoint;
  std::vector<Outcome> controls;
  std::vector<Falsification> falsification;  // one per deciding check of the checkpoint, when it passes
  std::string explanation;  // the verdict and why
  std::optional<FamilyOutcome> family;  // set when the run tests a family (verify --family-alpha)

  // id, kind, hypothesis, verdict, domain, thresholds, and the checkpoint's
  // values (check name -> value), checks and liveness; controls (each an
  // Outcome::to_json), the falsification of each deciding check and the
  // explanation; "family" when set.
  nlohmann::json to_json() const;
};

// Runs `claim` on `model` (at the scale of its config), labelled `label`;
// with `shared`, its plain forward passes come from (and go to) the runs
// shared with the other claims (shared_runs.h). A run is a control when
// `label` is not "checkpoint" or `checkpoint` is given (a placebo or a
// control task runs on the checkpoint's model, labelled "checkpoint" to share
// its plain runs); `checkpoint`, when given, is the claim's outcome on the
// checkpoint: the control may stop once every check that decided it is
// settled (RunContext::deciding). Throws
// InputError when the model cannot run the task or an intervention does not fit.
Outcome run_claim(const Task& task, const Claim& claim, const HookedTransformer& model, const std::string& label,
                  SharedRuns* shared = nullptr, const Outcome* checkpoint = nullptr);

// Control models by name (controls.h), built on first use and shared by the claims of a file.
struct ControlCache {
  const HookedTransformer* model = nullptr;
  std::map<std::string, HookedTransformer> built;
  // With it, the outcomes of the controls that do not depend on the
  // checkpoint (depends_on_checkpoint), by "<claim id>/<control>" and the
  // names of the checks that decided the checkpoint (a control stops on them): verify
  // gives the runs of one claim file on checkpoints of one config the same
  // map, so that such a control runs once for all of them (a trajectory's
  // random_init), with the same outcome it would have had on each.
  std::map<std::string, Outcome>* kept = nullptr;

  const HookedTransformer& get(const std::string& name);
};

// Gives `result` its verdict, explanation and falsification from its
// checkpoint and control outcomes, by the rules of claims/README.md, "Verdicts".
void judge(ClaimResult& result);

// verify_claims for the one claim `claim`: with `shared`, it must have been
// planned as plan_claims plans it, and is released from every plan when
// done; without, it runs on shared runs of its own.
ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls,
                         SharedRuns* shared = nullptr);

// Called as each claim of verify_claims is settled, in claim order: its
// index, its result, and the seconds spent on it (checkpoint and controls).
using ClaimDone = std::function<void(std::size_t index, const ClaimResult& result, double seconds)>;

// Runs every claim of `claims`, planned in `shared` (plan_claims), on
// `model` and on each of its controls, and gives each its verdict; any
// exception while running one claim becomes that claim's verdict "error"
// (never escapes) and the others still run. Grouped by model: every claim on
// the checkpoint (with its placebos) first, then every claim still open on
// each control model in turn, so that the shared runs of one model at a time
// are kept (a run's memory holds one model's runs, not one per control).
// After each step (a claim on one model), and before each of its placebo
// runs, the memory it freed goes back to the system (release_free_memory,
// memory.h). When that was glibc's
// malloc_trim alone, the peak resident memory of a trajectory of 10 S1
// snapshots was 906 MB without it and 691 MB with it, against 631 MB for one
// of them alone (2026-12-04; examples/grokking/README.md, "Cost").
std::vector<ClaimResult> verify_claims(const Task& task, const std::vector<Claim>& claims,
                                       const HookedTransformer& model, ControlCache& controls, SharedRuns& shared,
                                       const ClaimDone& done = nullptr);

// Plans every claim on "checkpoint" (once, and once more per placebo run,
// which reads the checkpoint's plain runs: a necessity ablation's placebos
// replay its pass before ablation) and on each of its other controls.
void plan_claims(const std::vector<Claim>& claims, SharedRuns& shared);

}  // namespace circuitcheck
