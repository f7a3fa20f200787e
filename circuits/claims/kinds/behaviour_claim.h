// The "behaviour" claim kind (claims/README.md): what the model does on a
// domain, by the task's own scoring (evaluate.h).
//
//   { "kind": "behaviour", "metric": "accuracy", "by_class": "idx", "class_values": [1, 2],
//     "domain": {"sample": 20000, "seed": 1}, "pass": {"rate_at_least": 0.999} }
//   { "kind": "behaviour", "metric": "loss", "domain": {"exhaustive": true}, "pass": {"value_at_most": 0.01} }
//
// accuracy: the rate of correct units (examples, or the task's unit) overall,
// or for every value of `by_class` (only `class_values`, when given, are
// claimed; the others are reported, with a bars figure of all); loss: the mean
// cross-entropy per scored position (nats), a value. It reads the plain
// logits of its domain (shared with the other claims). On a control the run
// stops after the slice from which every deciding rate fails with certainty
// (on_control) even if every remaining example were correct (Outcome::stopped);
// its checks are those of the examples it ran, each with that best case's
// upper bound over the whole domain as Check::other_bound. With "bound":
// "betting" it stops once the betting tests decide: every claimed class passes
// or one fails with certainty; by_class then needs class_values, so that a
// class the run has not met yet cannot be skipped.
#pragma once

#include "circuits/claims/kinds/kind.h"

#include <cstdint>
#include <string>
#include <vector>

namespace circuitcheck {

enum class BehaviourMetric { kAccuracy, kLoss };

struct BehaviourSpec {
  BehaviourMetric metric = BehaviourMetric::kAccuracy;
  std::string by_class;               // empty: overall accuracy
  std::vector<int64_t> class_values;  // empty: every value of by_class is claimed
};

void parse_behaviour(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
PlainReads behaviour_reads(const Claim& claim);  // the logits only
void run_behaviour(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
