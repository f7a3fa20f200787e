// Family-wise error across a run (family.h): p-values that agree with the
// bounds a check passes on, and Holm's procedure, which turns a run of
// marginal passes into family-level failures while strong evidence passes.
#include "circuits/claims/check.h"
#include "circuits/claims/family.h"
#include "circuits/claims/stats.h"
#include "circuits/claims/verify.h"

#include <gtest/gtest.h>

namespace circuitcheck {
namespace {

// A p-value is at most kCheckAlpha exactly when the bound of the same name clears the threshold.
TEST(PValue, AgreesWithTheBoundItsCheckPassesOn) {
  for (int64_t n : {10, 50, 400, 5000})
    for (int64_t k = 0; k <= n; k += std::max<int64_t>(1, n / 40))
      for (double p0 : {0.05, 0.3, 0.5, 0.9, 0.99}) {
        SCOPED_TRACE(std::to_string(k) + " of " + std::to_string(n) + " against " + std::to_string(p0));
        // Off the boundary by more than rounding: the two must agree.
        if (std::abs(wilson_lower_bound(k, n) - p0) > 1e-9)
          EXPECT_EQ(wilson_p_value(k, n, p0, true) <= kCheckAlpha, wilson_lower_bound(k, n) >= p0);
        if (std::abs(wilson_upper_bound(k, n) - p0) > 1e-9)
          EXPECT_EQ(wilson_p_value(k, n, p0, false) <= kCheckAlpha, wilson_upper_bound(k, n) <= p0);
        if (std::abs(clopper_pearson_lower_bound(k, n) - p0) > 1e-9)
          EXPECT_EQ(binomial_p_value(k, n, p0, true) <= kCheckAlpha, clopper_pearson_lower_bound(k, n) >= p0);
        if (std::abs(clopper_pearson_upper_bound(k, n) - p0) > 1e-9)
          EXPECT_EQ(binomial_p_value(k, n, p0, false) <= kCheckAlpha, clopper_pearson_upper_bound(k, n) <= p0);
      }
}

TEST(PValue, ByBasis) {
  EXPECT_EQ(p_value(rate_check("a", "correct on", "examples", 90, 100, true, Rule::kRateAtLeast, 0.9)), 0.0);
  EXPECT_EQ(p_value(rate_check("a", "correct on", "examples", 89, 100, true, Rule::kRateAtLeast, 0.9)), 1.0);
  EXPECT_EQ(p_value(rate_check("a", "correct on", "examples", 0, 0, false, Rule::kRateAtLeast, 0.9)), 1.0);
  EXPECT_FALSE(p_value(rate_check("a", "correct on", "examples", 5, 10, false, Rule::kNone, 0.0)));
  EXPECT_FALSE(p_value(value_check("loss", "loss", 0.1, Rule::kValueAtMost, 0.2)));
  // 1000 of 1000 against 0.99: the exact binomial tail is 0.99^1000.
  EXPECT_NEAR(*p_value(rate_check("a", "correct on", "examples", 1000, 1000, false, Rule::kRateAtLeast, 0.99,
                                  BoundMethod::kClopperPearson)),
              std::pow(0.99, 1000), 1e-9);
}

ClaimResult passing(const std::vector<Check>& checks) {
  ClaimResult r;
  r.verdict = Verdict::kPass;
  r.checkpoint.checks = checks;
  return r;
}

Check rate(int64_t successes, int64_t trials, double threshold) {
  return rate_check("accuracy", "correct on", "examples", successes, trials, false, Rule::kRateAtLeast, threshold);
}

struct FamilyCase {
  std::string name;
  std::vector<ClaimResult> results;
  double alpha;
  std::vector<bool> passes;  // each result at the family level
  int64_t tested;
};

void PrintTo(const FamilyCase& c, std::ostream* os) { *os << c.name; }

class Holm : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(Holm, FamilyLevelVerdicts) {
  std::vector<ClaimResult> results = GetParam().results;
  std::vector<ClaimResult*> pointers;
  for (ClaimResult& r : results) pointers.push_back(&r);
  test_family(pointers, GetParam().alpha);
  ASSERT_EQ(results.size(), GetParam().passes.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(results[i].family);
    EXPECT_EQ(results[i].family->pass, GetParam().passes[i]) << results[i].family->to_json().dump();
    EXPECT_EQ(results[i].family->tested, GetParam().tested);
  }
}

// 193 of 200 against 0.935: a pass alone (Wilson lower bound above 0.935), p about 0.043.
const Check kMarginal = rate(193, 200, 0.935);
const Check kStrong = rate(2000, 2000, 0.99);  // p about 1e-9

INSTANTIATE_TEST_SUITE_P(
    Table, Holm,
    ::testing::Values(
        FamilyCase{"OneMarginalCheckAlone", {passing({kMarginal})}, 0.05, {true}, 1},
        // The rule that changes verdicts: ten claims that each pass alone at
        // 0.05 on marginal evidence do not pass as a family of ten.
        FamilyCase{"TenMarginalClaims", std::vector<ClaimResult>(10, passing({kMarginal})), 0.05,
                   std::vector<bool>(10, false), 10},
        // ... and the reverse: strong evidence passes at the family level too.
        FamilyCase{"TenStrongClaims", std::vector<ClaimResult>(10, passing({kStrong})), 0.05,
                   std::vector<bool>(10, true), 10},
        // Holm steps down: the two strong checks are rejected (levels 0.05/4,
        // 0.05/3), the first marginal one is not (0.05/2), and so neither is the second.
        FamilyCase{"StrongAndMarginal", {passing({kStrong}), passing({kStrong, kMarginal}), passing({kMarginal})},
                   0.05, {true, false, false}, 4},
        // Value checks carry no p-value and stay out of the family.
        FamilyCase{"ValuesAreNotTested",
                   {passing({value_check("loss", "loss", 0.1, Rule::kValueAtMost, 0.2)}), passing({kStrong})}, 0.05,
                   {true, true}, 1},
        FamilyCase{"AFailedVerdictFailsTheFamily",
                   {[] {
                      ClaimResult r = passing({kStrong});
                      r.verdict = Verdict::kNotFalsifiable;
                      return r;
                    }()},
                   0.05, {false}, 1}),
    [](const auto& info) { return info.param.name; });

TEST(Holm, LevelsStepDownByRank) {
  std::vector<ClaimResult> results = {passing({kStrong, rate(1990, 2000, 0.99)}), passing({kMarginal})};
  std::vector<ClaimResult*> pointers = {&results[0], &results[1]};
  test_family(pointers, 0.06);
  EXPECT_DOUBLE_EQ(results[0].family->checks[0].level, 0.02);  // smallest p first: 0.06 / 3
  EXPECT_DOUBLE_EQ(results[1].family->checks[0].level, 0.06);  // the marginal one last: 0.06 / 1
  EXPECT_TRUE(results[0].family->checks[0].rejected);
  EXPECT_EQ(results[0].family->to_json()["method"], "holm");
}

}  // namespace
}  // namespace circuitcheck
