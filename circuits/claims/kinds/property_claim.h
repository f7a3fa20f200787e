// The "property" claim kind: a per-example predicate over the task's
// generator, checked with RapidCheck. A failing example is shrunk to a
// minimal one and reported as its token string.
//
//   { "kind": "property",
//     "predicate": {"correct": true}                          // every scored position right
//              or {"copies": {"query": "predict_b0", "source": "source_of_b0"}},
//     "margin": 1.0,                                          // optional, logits (default 0)
//     "domain": {"sample": 1000, "seed": 7, "where": {"operator": 1}},
//     "pass": {"for_all": true} }
//
// Predicates, on one example (logits [1, pos, d_vocab_out]):
//   correct: at every scored position p (targets >= 0) the argmax is the target;
//   copies:  at each query role position the argmax is the token at the paired
//            source role position ([batch] roles, or [batch, k] pairing by k; a
//            [batch] source pairs with every item of the query).
// With a margin m the expected token's logit also exceeds every other logit by
// more than m.
//
// Examples: RapidCheck runs `sample` tests with seed `seed`; each test draws
// one example with Task::draw from an Rng that records its choices (task.h),
// keeping only examples of the `where` class. A failure is shrunk by shrinking
// the choice sequence element by element towards 0 (rc::shrink::towards) and
// replaying it through the generator, so every shrink is a valid example of the
// system: smaller operands, lower indices, earlier nodes. The claim passes when
// the predicate holds on every test ("for_all"); the result reports the tests
// run, the Clopper-Pearson 95 % upper bound on the failure rate, and the shrunk
// counterexample as text with what the model predicted there.
//
// Errors: a task without `draw`, an unknown predicate or role, roles that do
// not pair, a negative margin, an exhaustive domain.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <string>

namespace circuitcheck {

struct PropertySpec {
  std::string predicate;      // "correct" or "copies"
  std::string query, source;  // copies: roles
  double margin = 0.0;        // logits
};

// Reads the property fields of `v` into its PropertySpec and claim.pass.
void parse_property(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);

void run_property(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
