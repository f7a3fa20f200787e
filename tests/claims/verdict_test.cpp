// Verdicts from outcomes (verify.h judge, check.h on_control): a control
// counts as failing a check only with certainty, a control that fails nothing
// with certainty makes the claim inconclusive, and each deciding check names
// the controls that fail it.
#include "circuits/claims/check.h"
#include "circuits/claims/verify.h"

#include <gtest/gtest.h>

namespace circuitcheck {
namespace {

Check rate(int64_t successes, int64_t trials, Rule rule, double threshold, bool exhaustive = false) {
  const std::string name = rule == Rule::kDropToAtMost    ? "accuracy after"
                           : rule == Rule::kBeforeAtLeast ? "accuracy before"
                                                          : "accuracy";
  return rate_check(name, "correct on", "examples", successes,
                    trials, exhaustive, rule, threshold);
}

Check undefined(Rule rule, double threshold) {
  Check c = value_check("recovery", "restores", 0.03, rule, threshold);
  mark_undefined(c, "no gap to recover");
  return c;
}

struct ControlCase {
  std::string name;
  Check check;
  ControlCheck expected;
};

void PrintTo(const ControlCase& c, std::ostream* os) { *os << c.name; }

class OnControl : public ::testing::TestWithParam<ControlCase> {};

TEST_P(OnControl, FailsOnlyWhenTheOtherBoundMissesToo) {
  EXPECT_EQ(to_string(on_control(GetParam().check)), std::string(to_string(GetParam().expected)))
      << GetParam().check.explanation << " (other bound " << GetParam().check.other_bound << ")";
}

INSTANTIATE_TEST_SUITE_P(
    Table, OnControl,
    ::testing::Values(
        // 45 of 50 = 0.9: Wilson 95% lower bound 0.80, upper 0.95.
        ControlCase{"AtLeastPasses", rate(50, 50, Rule::kRateAtLeast, 0.9), ControlCheck::kPasses},
        ControlCase{"AtLeastBetweenBounds", rate(45, 50, Rule::kRateAtLeast, 0.9), ControlCheck::kInconclusive},
        ControlCase{"AtLeastUpperBoundMisses", rate(30, 50, Rule::kRateAtLeast, 0.9), ControlCheck::kFails},
        ControlCase{"AtMostPasses", rate(0, 50, Rule::kDropToAtMost, 0.1), ControlCheck::kPasses},
        ControlCase{"AtMostBetweenBounds", rate(6, 50, Rule::kDropToAtMost, 0.1), ControlCheck::kInconclusive},
        ControlCase{"AtMostLowerBoundMisses", rate(20, 50, Rule::kDropToAtMost, 0.1), ControlCheck::kFails},
        ControlCase{"ExactJustMisses", rate(89, 100, Rule::kRateAtLeast, 0.9, true), ControlCheck::kFails},
        ControlCase{"NoTrials", rate(0, 0, Rule::kRateAtLeast, 0.9), ControlCheck::kInconclusive},
        ControlCase{"NoTrialsAtMost", rate(0, 0, Rule::kDropToAtMost, 0.1), ControlCheck::kInconclusive},
        ControlCase{"ValueMisses", value_check("recovery", "restores", 0.5, Rule::kValueAtLeast, 0.9),
                    ControlCheck::kFails},
        ControlCase{"Unthresholded", rate(1, 50, Rule::kNone, 0.0), ControlCheck::kPasses},
        // A recovery with no gap: the claimed effect is absent (at least), or there is nothing to limit (at most).
        ControlCase{"UndefinedAtLeastFails", undefined(Rule::kValueAtLeast, 0.9), ControlCheck::kFails},
        ControlCase{"UndefinedAtMostIsUntested", undefined(Rule::kValueAtMost, 0.1), ControlCheck::kPasses}),
    [](const auto& info) { return info.param.name; });

Outcome outcome(const std::string& model, std::vector<Check> checks) {
  Outcome o;
  o.model = model;
  o.checks = std::move(checks);
  o.pass = true;
  for (const Check& c : o.checks) {
    o.pass = o.pass && c.pass;
    o.explanation += (o.explanation.empty() ? "" : "; ") + c.explanation;
  }
  return o;
}

struct JudgeCase {
  std::string name;
  std::vector<Check> checkpoint;
  std::vector<std::vector<Check>> controls;
  Verdict expected;
  std::string explained;  // in the explanation
};

void PrintTo(const JudgeCase& c, std::ostream* os) { *os << c.name; }

class Judge : public ::testing::TestWithParam<JudgeCase> {};

TEST_P(Judge, VerdictAndExplanation) {
  ClaimResult r;
  r.checkpoint = outcome("checkpoint", GetParam().checkpoint);
  for (std::size_t i = 0; i < GetParam().controls.size(); ++i)
    r.controls.push_back(outcome("control" + std::to_string(i), GetParam().controls[i]));
  judge(r);
  EXPECT_EQ(r.verdict, GetParam().expected) << r.explanation;
  EXPECT_NE(r.explanation.find(GetParam().explained), std::string::npos) << r.explanation;
}

const Check kHolds = rate(1000, 1000, Rule::kRateAtLeast, 0.9);

INSTANTIATE_TEST_SUITE_P(
    Table, Judge,
    ::testing::Values(
        JudgeCase{"ControlFailsWithCertainty", {kHolds}, {{rate(3, 1000, Rule::kRateAtLeast, 0.9)}}, Verdict::kPass,
                  "control control0 fails as it must"},
        // The rule that changes a verdict: the old logic counted this control
        // as failing (its lower bound misses 0.9) and passed the claim.
        JudgeCase{"ControlBetweenBoundsIsInconclusive", {kHolds}, {{rate(45, 50, Rule::kRateAtLeast, 0.9)}},
                  Verdict::kInconclusive, "control control0 is inconclusive: no check fails on it with certainty"},
        JudgeCase{"OneInconclusiveControlOfTwo", {kHolds},
                  {{rate(3, 1000, Rule::kRateAtLeast, 0.9)}, {rate(45, 50, Rule::kRateAtLeast, 0.9)}},
                  Verdict::kInconclusive, "control control1 is inconclusive"},
        JudgeCase{"ControlPasses", {kHolds}, {{rate(3, 1000, Rule::kRateAtLeast, 0.9)}, {kHolds}},
                  Verdict::kNotFalsifiable, "but it also passes on control control1"},
        JudgeCase{"CheckpointFails", {rate(45, 50, Rule::kRateAtLeast, 0.9)}, {{kHolds}}, Verdict::kFail, "fail"},
        // Per-check falsifiability, the rule that changes a verdict: a
        // necessity ablation whose only control fails before ablation never
        // tests its "accuracy after" check; the old logic said "pass".
        JudgeCase{"UntestedCheckIsNotFalsifiable",
                  {rate(1000, 1000, Rule::kBeforeAtLeast, 0.9), rate(10, 1000, Rule::kDropToAtMost, 0.1)},
                  {{rate(3, 1000, Rule::kBeforeAtLeast, 0.9)}}, Verdict::kNotFalsifiable,
                  "no control fails check 'accuracy after': the controls do not test it"},
        // ... and the reverse: a placebo that keeps accuracy after ablation
        // fails that check, and the claim passes.
        JudgeCase{"EveryCheckFailsOnSomeControl",
                  {rate(1000, 1000, Rule::kBeforeAtLeast, 0.9), rate(10, 1000, Rule::kDropToAtMost, 0.1)},
                  {{rate(3, 1000, Rule::kBeforeAtLeast, 0.9)},
                   {rate(1000, 1000, Rule::kBeforeAtLeast, 0.9), rate(990, 1000, Rule::kDropToAtMost, 0.1)}},
                  Verdict::kPass, "control control1 fails as it must"},
        JudgeCase{"CheckOnlyInconclusive",
                  {rate(1000, 1000, Rule::kBeforeAtLeast, 0.9), rate(10, 1000, Rule::kDropToAtMost, 0.1)},
                  {{rate(3, 1000, Rule::kBeforeAtLeast, 0.9)},
                   {rate(3, 1000, Rule::kBeforeAtLeast, 0.9), rate(95, 1000, Rule::kDropToAtMost, 0.1)}},
                  Verdict::kInconclusive,
                  "no control fails check 'accuracy after' with certainty (inconclusive on control1)"}),
    [](const auto& info) { return info.param.name; });

TEST(Judge, FalsificationNamesTheControlsOfEachCheck) {
  ClaimResult r;
  r.checkpoint = outcome("checkpoint", {rate(1000, 1000, Rule::kBeforeAtLeast, 0.9), rate(10, 1000, Rule::kDropToAtMost, 0.1)});
  r.controls = {outcome("random_init", {rate(3, 1000, Rule::kBeforeAtLeast, 0.9)}),
                outcome("placebo", {rate(1000, 1000, Rule::kBeforeAtLeast, 0.9), rate(95, 1000, Rule::kDropToAtMost, 0.1)})};
  judge(r);
  ASSERT_EQ(r.falsification.size(), 2u);
  EXPECT_EQ(r.falsification[0].to_json().dump(),
            R"({"check":"accuracy before","fails_on":["random_init"],"inconclusive_on":[]})");
  EXPECT_EQ(r.falsification[1].to_json().dump(),
            R"({"check":"accuracy after","fails_on":[],"inconclusive_on":["placebo"]})");
  // The placebo's 9.5% after ablation is neither <= 10% nor surely above it.
  EXPECT_EQ(r.verdict, Verdict::kInconclusive) << r.explanation;
}

}  // namespace
}  // namespace circuitcheck
