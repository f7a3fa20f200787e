// Running claims (claim.h) against a model and its controls, with verdicts.
//
// A claim runs on its domain in batches of kVerifyBatch examples (sampled
// domains are drawn as evaluate() draws them: batch at `start` with seed
// seed + start). Each kind yields checks:
//   behaviour  accuracy (overall or per value of `by_class`) via evaluate(),
//              or loss (mean cross-entropy per scored position, nats);
//   attention  the rate of examples (or (example, k) items) whose attention
//              mass from the query role to the key roles, read from
//              blocks.L.attn.hook_pattern [batch, n_heads, query_pos, key_pos]
//              at head H, is >= min_mass (a mass is in [0, 1]);
//   ablation   accuracy before (checked when `before_at_least` is set) and
//              accuracy after zero- or mean-ablating every site.
// Rates pass on their exact value when the domain is exhaustive, else on the
// one-sided 95 % Wilson bound: the lower bound for "at least" rules, the upper
// bound for "at most" rules (drop_to_at_most). Values (loss) pass on the value.
//
// A control (any label but "checkpoint") stops as soon as it can no longer
// pass, and its Outcome says so in `stopped`: a behaviour claim after the
// batch from which even all-correct remaining examples could not lift a
// claimed rate to its threshold; an ablation claim skips the ablated pass when
// accuracy before ablation already fails before_at_least. The checkpoint
// always runs its whole domain.
//
// Verdicts: "pass" (passes on the model, fails on every control), "fail",
// "not_falsifiable" (passes on the model and on some control: the check could
// not have failed; it fails the run), "error" (running it threw InputError).
#pragma once

#include "circuits/check.h"
#include "circuits/claim.h"
#include "circuits/intervention.h"
#include "circuits/model.h"
#include "circuits/shared_runs.h"
#include "circuits/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

struct ClaimResult {
  Claim claim;
  std::string verdict;      // "pass", "fail", "not_falsifiable", "error"
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
// an InputError while running becomes verdict "error". With `shared`, the
// claim must have been planned on "checkpoint" and each control
// (plan_claims); it is released from them when done.
ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model, ControlCache& controls,
                         SharedRuns* shared = nullptr);

// Plans every claim on "checkpoint" and on each of its controls.
void plan_claims(const std::vector<Claim>& claims, SharedRuns& shared);

}  // namespace circuitcheck
