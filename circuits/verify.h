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
// Verdicts: "pass" (passes on the model, fails on every control), "fail",
// "not_falsifiable" (passes on the model and on some control: the check could
// not have failed; it fails the run), "error" (running it threw InputError).
#pragma once

#include "circuits/claim.h"
#include "circuits/intervention.h"
#include "circuits/model.h"
#include "circuits/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

// Examples per forward pass (evaluate()'s default batch, so that both draw the same samples).
constexpr int64_t kVerifyBatch = 4096;

// The seed of the "random_init" control's init_params.
constexpr uint64_t kRandomInitSeed = 0;

// One thresholded quantity of a claim on one model.
struct Check {
  std::string name;       // "accuracy", "accuracy idx=1", "attention", "accuracy before", "accuracy after", "loss"
  double value = 0.0;     // the rate in [0, 1] (successes / trials) or the value (loss: nats)
  int64_t successes = 0;  // rates only
  int64_t trials = 0;     // rates only; 0 for values
  std::string basis;      // what was compared: a rate's "exact" value (exhaustive domain), its
                          // "wilson_lower" or "wilson_upper" bound (sampled), or a "value"
  double bound = 0.0;     // the compared number: the value for "exact" and "value", else the bound
  std::string rule;       // "rate_at_least", "value_at_least", "value_at_most", "drop_to_at_most",
                          // "before_at_least"; empty for a reported, unthresholded value
  double threshold = 0.0;
  bool pass = false;      // true for unthresholded values
  std::string explanation;  // "correct on 100% of 20000 examples (Wilson 95% lower bound 99.986%) >= 99.9%: pass"

  nlohmann::json to_json() const;
};

// A claim on one model.
struct Outcome {
  std::string model;               // "checkpoint" or a control's name
  bool pass = false;               // every check passed and every intervention was live
  std::vector<Check> checks;
  std::vector<Liveness> liveness;  // one per intervention, summed over all batches
  std::string explanation;         // the checks' explanations, then any dead intervention

  nlohmann::json to_json() const;
};

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

// The control models, by name, for `model`: "random_init" (the same config,
// init_params(config, kRandomInitSeed)).
std::map<std::string, HookedTransformer> control_models(const HookedTransformer& model);

// Runs `claim` on `model` (at the scale of its config), labelled `label`.
// Throws InputError when the model cannot run the task or an intervention
// does not fit.
Outcome run_claim(const Task& task, const Claim& claim, const HookedTransformer& model, const std::string& label);

// Runs `claim` on `model` and on each of its controls (named in `controls`)
// and gives the verdict; an InputError while running becomes verdict "error".
ClaimResult verify_claim(const Task& task, const Claim& claim, const HookedTransformer& model,
                         const std::map<std::string, HookedTransformer>& controls);

}  // namespace circuitcheck
