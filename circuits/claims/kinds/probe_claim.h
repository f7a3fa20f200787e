// The "probe" claim kind: a linear probe (probe.h) reads a label from an
// activation at a role's positions.
//
//   { "kind": "probe", "hook": "blocks.0.hook_resid_post", "role": "edge_child",
//     "label": {"token_at": "edge_parent"}            // or {"class": "depth"}
//     "compare": ["hook_embed", "blocks.0.hook_resid_mid"],   // optional, reported
//     "train_fraction": 0.8, "seed": 0,                       // optional (defaults)
//     "domain": {"sample": 2000, "seed": 1},
//     "pass": {"rate_at_least": 0.95,                         // or rate_at_most: chance level
//              "compare_at_most": 0.15} }                     // optional: every compared hook
//
// Items: every (example, k) with role position >= 0 (and label present);
// features: the hook's activation [batch, pos, d] at the item's position;
// label: the token at the paired position of `token_at` (a role of the same
// shape as `role`, or [batch]), or the class value (per example, or per item
// when the class is [batch, k]). The held-out accuracy is a rate over held-out
// items (Wilson/Clopper-Pearson bound when the domain is sampled). The
// train/test split is by example (fit_probe's groups): no example has items
// on both sides.
// Selectivity (Hewitt & Liang 2019): the same probe at `hook` is also fit to
// a control task, the labels permuted across the domain's items (seed
// kControlTaskSeed), which no probe can read from the features; the
// difference of the two held-out accuracies is reported on the checkpoint
// ("probe_selectivity", unthresholded; not on controls). The "control_task"
// control runs the claim on such labels.
// Every hook of `compare` is probed the same way and reported (checked against
// compare_at_most when set; on a control only then), with a bars figure of
// accuracy by hook.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

struct ProbeSpec {
  HookPoint hook;
  std::string role;
  std::string token_at;  // label: the token at this role's position, or
  std::string label_class;  // label: this class
  std::vector<HookPoint> compare;
  double train_fraction = 0.8;
  uint64_t seed = 0;
  // A control-task run (placebo.h, "control_task"): the labels permuted
  // across the domain's items with this seed.
  std::optional<uint64_t> control_task_seed;
};

// The seed of the control task every probe claim reports its selectivity against.
constexpr uint64_t kControlTaskSeed = 0;

// Reads the probe fields of `v` into its ProbeSpec and claim.pass. Errors name the field:
// a hook that is not [batch, pos, d], an unknown role or class, shapes that do not pair.
void parse_probe(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);

void run_probe(const RunContext& context, const Claim& claim, Outcome& out);
// Its control task (Hewitt & Liang 2019; placebo.h, "control_task[:<seed>]"):
// the same probe on its labels permuted across the domain's items with
// `seed` (control_task_seed). A probe that reads the label from the
// activation fails on it; one that could fit any labelling (too many
// classes for its items) does not.
ClaimSpec probe_control_task(const Claim& claim, uint64_t seed);

}  // namespace circuitcheck
