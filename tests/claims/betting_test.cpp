#include "circuits/claims/check.h"
#include "circuits/claims/stats.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace circuitcheck {
namespace {

// n examples of one unit, each correct with probability p, drawn with `seed`.
std::vector<ExampleCount> bernoulli(int64_t n, double p, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution correct(p);
  std::vector<ExampleCount> out;
  for (int64_t i = 0; i < n; ++i) out.push_back({1, correct(rng) ? 1 : 0});
  return out;
}

// All-correct examples: each bets kBettingCap / m of its stake on the excess
// 1 - m (the plug-in is above the cap from the first example), so the
// capital of "at most m" after n of them is (1 + 0.75 (1 - m) / m)^n, and it
// reaches 1 / 0.05 at n = ceil(log 20 / log(1 + 0.75 (1 - m) / m)).
TEST(Betting, AllCorrectExamplesDecideAfterTheCountTheCapitalGives) {
  struct Case {
    double m;
    int64_t n;  // the first count whose capital reaches 20
  };
  for (const Case& c : {Case{0.5, 6}, Case{0.9, 38}, Case{0.95, 78}, Case{0.99, 397}}) {
    SCOPED_TRACE(c.m);
    const std::vector<ExampleCount> before(static_cast<std::size_t>(c.n - 1), {1, 1});
    const std::vector<ExampleCount> at(static_cast<std::size_t>(c.n), {1, 1});
    EXPECT_NEAR(betting_capital(at, 1, c.m, true, 0.05), std::pow(1.0 + 0.75 * (1.0 - c.m) / c.m, c.n), 1e-9);
    EXPECT_LT(betting_capital(before, 1, c.m, true, 0.05), 20.0);
    EXPECT_GE(betting_capital(at, 1, c.m, true, 0.05), 20.0);
    EXPECT_LT(betting_lower_bound(before, 1, 0.05), c.m);
    EXPECT_GE(betting_lower_bound(at, 1, 0.05), c.m);
    EXPECT_LE(betting_p_value(at, 1, c.m, true, 0.05), 0.05);
  }
}

// Anytime validity: over 400 sequences of 3,000 examples at the true rate,
// the test of "at most p" (or "at least p") ever rejects, at any point of
// the sequence, in at most alpha of them (by Ville's inequality; binomial
// noise of 400 draws at 5 % allows up to about 8 %).
TEST(Betting, ATrueRateIsRejectedAtSomeStopInAtMostAlphaOfSequences) {
  for (double p : {0.5, 0.9, 0.99}) {
    int lower_misses = 0, upper_misses = 0;
    for (uint64_t seed = 0; seed < 400; ++seed) {
      const std::vector<ExampleCount> x = bernoulli(3000, p, seed);
      lower_misses += betting_capital(x, 1, p, true, 0.05) >= 20.0;
      upper_misses += betting_capital(x, 1, p, false, 0.05) >= 20.0;
    }
    SCOPED_TRACE(p);
    EXPECT_LE(lower_misses, 32);
    EXPECT_LE(upper_misses, 32);
  }
}

// Why the betting bound (the rule): a run that peeks at its Wilson bound after
// every slice and stops at the first pass finds a rate that only meets its
// threshold "above" it far more often than 5 % (the old logic would say
// pass); the betting test, checked at the same peeks, stays under 5 %.
TEST(Betting, PeekingAtWilsonPassesAnAbsentEffectAndBettingDoesNot) {
  const double p = 0.9;  // the true rate is the threshold: "rate > 0.9" is false
  int wilson_passes = 0, betting_passes = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    const std::vector<ExampleCount> x = bernoulli(5000, p, seed + 1000);
    int64_t correct = 0;
    bool wilson = false;
    for (int64_t i = 0; i < 5000; ++i) {
      correct += x[i].correct;
      if ((i + 1) % 100 == 0 && wilson_lower_bound(correct, i + 1) > p) wilson = true;
    }
    wilson_passes += wilson;
    betting_passes += betting_capital(x, 1, p, true, 0.05) >= 20.0;  // its maximum over every stop
  }
  EXPECT_GT(wilson_passes, 40);  // above 10 %
  EXPECT_LE(betting_passes, 20);
}

// Units grouped in examples bet on (c_i - m n_i) / max_units: examples of
// four units, all correct, decide like examples of one (the excess is the
// same fraction), and an example with fewer units than max_units bets less.
TEST(Betting, GroupedUnitsBetOnTheirExcessOverMaxUnits) {
  const std::vector<ExampleCount> ones(50, {1, 1}), fours(50, {4, 4}), halves(50, {2, 2});
  EXPECT_DOUBLE_EQ(betting_capital(ones, 1, 0.9, true, 0.05), betting_capital(fours, 4, 0.9, true, 0.05));
  EXPECT_LT(betting_capital(halves, 4, 0.9, true, 0.05), betting_capital(fours, 4, 0.9, true, 0.05));
  // An example's units are not independent: 3 of 4 correct in every example is a
  // rate of 0.75 with no spread, whose bounds close in on 0.75 from both sides.
  const std::vector<ExampleCount> threes(2000, {4, 3});
  EXPECT_GT(betting_lower_bound(threes, 4, 0.05), 0.7);
  EXPECT_LT(betting_lower_bound(threes, 4, 0.05), 0.75);
  EXPECT_GT(betting_upper_bound(threes, 4, 0.05), 0.75);
  EXPECT_LT(betting_upper_bound(threes, 4, 0.05), 0.8);
}

// The bound and the test agree: lower >= p0 exactly when the test of "at
// most p0" rejects, on sequences around the bound.
TEST(Betting, TheBoundClearsAThresholdExactlyWhenItsTestRejects) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<ExampleCount> x = bernoulli(500, 0.8, seed);
    const double lower = betting_lower_bound(x, 1, 0.05), upper = betting_upper_bound(x, 1, 0.05);
    EXPECT_LT(lower, upper);
    for (double d : {-0.01, -1e-6, 1e-6, 0.01}) {
      EXPECT_EQ(betting_capital(x, 1, lower + d, true, 0.05) >= 20.0, d < 0) << lower + d;
      EXPECT_EQ(betting_capital(x, 1, upper + d, false, 0.05) >= 20.0, d > 0) << upper + d;
    }
  }
  EXPECT_EQ(betting_lower_bound({}, 1, 0.05), 0.0);
  EXPECT_EQ(betting_upper_bound({}, 1, 0.05), 1.0);
}

TEST(Betting, BadArgumentsThrowNamingTheFunction) {
  const std::vector<ExampleCount> ok(3, {2, 1});
  struct Case {
    std::vector<ExampleCount> examples;
    int64_t max_units;
    double m;
  };
  for (const Case& c : {Case{ok, 2, 1.5}, Case{ok, 2, -0.1}, Case{ok, 1, 0.5}, Case{{{0, 0}}, 2, 0.5},
                        Case{{{2, 3}}, 2, 0.5}}) {
    try {
      betting_capital(c.examples, c.max_units, c.m, true, 0.05);
      ADD_FAILURE() << "no error for m " << c.m << ", max_units " << c.max_units;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("betting_capital"), std::string::npos) << e.what();
    }
  }
}

// A rate check on a betting bound: its basis, bounds, p-value and explanation.
TEST(Betting, RateCheckPassesOnItsTestAndExplainsItsBound) {
  Tally tally;
  for (int i = 0; i < 100; ++i) add_example(tally, 1, 1);
  const Check pass = rate_check("accuracy", "correct on", "examples", tally, false, Rule::kRateAtLeast, 0.95,
                                BoundMethod::kBetting);
  EXPECT_TRUE(pass.pass);
  EXPECT_EQ(pass.basis, Basis::kBettingLower);
  EXPECT_DOUBLE_EQ(pass.bound, betting_lower_bound(tally.per_example, 1, kCheckAlpha));
  EXPECT_DOUBLE_EQ(*p_value(pass), betting_p_value(tally.per_example, 1, 0.95, true, kCheckAlpha));
  EXPECT_NE(pass.explanation.find("betting 95% lower bound"), std::string::npos) << pass.explanation;
  // Wilson would pass 100 of 100 at 0.97; the betting bound is wider and does not.
  const Check wider = rate_check("accuracy", "correct on", "examples", tally, false, Rule::kRateAtLeast, 0.97,
                                 BoundMethod::kBetting);
  EXPECT_FALSE(wider.pass);
  EXPECT_TRUE(rate_check("accuracy", "correct on", "examples", tally, false, Rule::kRateAtLeast, 0.97).pass);
  EXPECT_EQ(on_control(wider), ControlCheck::kInconclusive);
  // Reports read it back with its p-value.
  EXPECT_EQ(wider.to_json()["basis"], "betting_lower");
  EXPECT_THROW(rate_check("accuracy", "correct on", "examples", 100, 100, false, Rule::kRateAtLeast, 0.9,
                          BoundMethod::kBetting),
               InternalError);
}

// betting_decided: a run may stop once one claimed rate fails for certain or
// every one passes.
TEST(Betting, ARunIsDecidedWhenOneRateFailsOrAllPass) {
  Tally good, bad, open;
  for (int i = 0; i < 200; ++i) {
    add_example(good, 1, 1);
    add_example(bad, 1, 0);
    add_example(open, 1, i % 10 != 0);  // 90 %: near the threshold
  }
  EXPECT_TRUE(betting_decided({{&good, 1}}, Rule::kRateAtLeast, 0.9));
  EXPECT_TRUE(betting_decided({{&good, 1}, {&bad, 1}}, Rule::kRateAtLeast, 0.9));
  EXPECT_FALSE(betting_decided({{&good, 1}, {&open, 1}}, Rule::kRateAtLeast, 0.9));
  EXPECT_TRUE(betting_decided({{&open, 1}, {&bad, 1}}, Rule::kRateAtLeast, 0.9));
  EXPECT_FALSE(betting_decided({}, Rule::kRateAtLeast, 0.9));
}

// A run stops on a failure only at kStopOnFailAlpha: four correct examples in
// a row against "at most 40 %" reject that at kCheckAlpha (capital 2.125^4,
// about 20.4) but not at a tenth of it, so the run draws on; eight do (about 415).
TEST(Betting, ARunStopsOnAFailureOnlyAtTheStricterLevel) {
  Tally streak, longer;
  for (int i = 0; i < 4; ++i) add_example(streak, 1, 1);
  for (int i = 0; i < 8; ++i) add_example(longer, 1, 1);
  EXPECT_GE(betting_capital(streak.per_example, 1, 0.4, true, kCheckAlpha), 1.0 / kCheckAlpha);
  EXPECT_LT(betting_capital(streak.per_example, 1, 0.4, true, kCheckAlpha), 1.0 / kStopOnFailAlpha);
  EXPECT_FALSE(betting_decided({{&streak, 1}}, Rule::kDropToAtMost, 0.4));
  EXPECT_TRUE(betting_decided({{&longer, 1}}, Rule::kDropToAtMost, 0.4));
}

}  // namespace
}  // namespace circuitcheck
