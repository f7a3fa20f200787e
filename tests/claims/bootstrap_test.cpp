#include "circuits/claims/bootstrap.h"
#include "circuits/claims/check.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

namespace circuitcheck {
namespace {

// n per-example values drawn from N(mean, sd^2) with `seed`.
at::Tensor normal_values(int64_t n, double mean, double sd, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::normal(mean, sd, {n}, gen, at::TensorOptions().dtype(at::kDouble));
}

TEST(Bootstrap, MeanAgreesWithTheNormalInterval) {
  const at::Tensor x = normal_values(2000, 1.0, 2.0, 5);
  const Bootstrap b = ratio_bootstrap(x, at::ones_like(x), 9);
  const double mean = x.mean().item<double>(), se = x.std().item<double>() / std::sqrt(2000.0);
  EXPECT_EQ(b.draws.size(), static_cast<std::size_t>(kResamples));
  EXPECT_EQ(b.examples, 2000);
  EXPECT_NEAR(b.lower, mean - 1.6449 * se, 0.15 * se);
  EXPECT_NEAR(b.upper, mean + 1.6449 * se, 0.15 * se);
  EXPECT_TRUE(std::is_sorted(b.draws.begin(), b.draws.end()));
}

TEST(Bootstrap, DeterministicForASeed) {
  const at::Tensor x = normal_values(300, 0.0, 1.0, 1), w = at::ones_like(x) * 2;
  EXPECT_EQ(ratio_bootstrap(x, w, 4).draws, ratio_bootstrap(x, w, 4).draws);
  EXPECT_NE(ratio_bootstrap(x, w, 4).draws, ratio_bootstrap(x, w, 5).draws);
}

// Checks that share a sample share one draw: each numerator's resampled
// ratios are the draws its own ratio_bootstrap sorts, and their largest
// |ratio| per resample is max_abs_ratio_bootstrap's.
TEST(Bootstrap, SharedResamplesGiveEachStatisticsOwnDraws) {
  const at::Tensor w = at::ones({300}, at::kDouble) * 2;
  const at::Tensor a = normal_values(300, 0.5, 1.0, 1), b = normal_values(300, -1.0, 1.0, 2);
  std::vector<std::vector<double>> ratios = resampled_ratios({a, b}, w, 4);
  ASSERT_EQ(ratios.size(), 2u);
  EXPECT_EQ(percentile_bootstrap(ratios[0], 300, 4).draws, ratio_bootstrap(a, w, 4).draws);
  EXPECT_EQ(percentile_bootstrap(ratios[1], 300, 4).draws, ratio_bootstrap(b, w, 4).draws);
  const Bootstrap largest = percentile_bootstrap(max_abs_draws(ratios), 300, 4);
  EXPECT_EQ(largest.draws, max_abs_ratio_bootstrap({a, b}, w, 4).draws);
  EXPECT_GT(largest.lower, 0.4);  // |b| / 2 dominates
  EXPECT_THROW(percentile_bootstrap({}, 300, 4), InputError);
}

// A NaN (a metric that is not a number on some example) is not dropped: the
// largest |ratio| of a resample that holds one is NaN, and so are the bounds
// of draws that hold one, so an "at most" rule on them fails (review of
// issue 20: std::max dropped it, and a completeness gap could pass).
TEST(Bootstrap, ANaNDrawIsNeverDropped) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(max_abs_draws({{0.1, 0.2}, {nan, 0.3}})[0]));
  EXPECT_EQ(max_abs_draws({{0.1, 0.2}, {nan, 0.3}})[1], 0.3);
  std::vector<double> draws(100, 0.01);
  draws[50] = nan;
  const Bootstrap b = percentile_bootstrap(draws, 100, 0);
  EXPECT_TRUE(std::isnan(b.lower));
  EXPECT_TRUE(std::isnan(b.upper));
  EXPECT_EQ(bootstrap_p_value(b, 0.1, false), 1.0);
  EXPECT_FALSE(b.upper <= 0.1);
}

TEST(Bootstrap, RatioResamplesExamplesNotItems) {
  // Each example's items all move together: 10 examples, one with all 100 of
  // its items failing. As items the rate would look tight; over examples the
  // lower bound must reach down to where a resample holds that example twice.
  const at::Tensor counts = at::full({10}, 100.0, at::kDouble);
  const at::Tensor sums = at::tensor({0.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0}, at::kDouble);
  const Bootstrap b = ratio_bootstrap(sums, counts, 0);
  EXPECT_LE(b.lower, 0.8);
  EXPECT_EQ(b.upper, 1.0);
}

TEST(Bootstrap, SumsByExample) {
  const auto [sums, counts] = sums_by_example(at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble),
                                               at::tensor({9, 3, 9, 9}).to(at::kLong));
  EXPECT_TRUE(at::equal(sums, at::tensor({2.0, 8.0}, at::kDouble)));  // ids 3, 9
  EXPECT_TRUE(at::equal(counts, at::tensor({1.0, 3.0}, at::kDouble)));
}

TEST(Bootstrap, BadInputIsAnInputError) {
  EXPECT_THROW(ratio_bootstrap(at::zeros({0}, at::kDouble), at::zeros({0}, at::kDouble), 0), InputError);
  EXPECT_THROW(ratio_bootstrap(at::zeros({3}, at::kDouble), at::zeros({4}, at::kDouble), 0), InputError);
}

struct PValueCase {
  double threshold;
  bool at_least;
  double p_value;
};

TEST(Bootstrap, PValueIsTheShareOfResamplesOnTheFailingSide) {
  Bootstrap b;
  for (int i = 0; i < 99; ++i) b.draws.push_back(i);  // 0 .. 98
  const std::vector<PValueCase> cases = {
      {-1.0, true, 1.0 / 100}, {4.0, true, 6.0 / 100}, {98.0, true, 1.0},
      {99.0, false, 1.0 / 100}, {94.0, false, 6.0 / 100}, {0.0, false, 1.0},
  };
  for (const auto& c : cases)
    EXPECT_DOUBLE_EQ(bootstrap_p_value(b, c.threshold, c.at_least), c.p_value) << c.threshold << " " << c.at_least;
}

// The rule matters: a loss whose point estimate clears "at most 0.55" on 50
// noisy examples fails on its bootstrap upper bound, and passes on 5,000.
TEST(Bootstrap, ValueChecksPassOnTheBoundNotThePointEstimate) {
  PassRule pass;
  pass.value_at_most = 0.55;
  for (const int64_t n : {50, 5000}) {
    const at::Tensor loss = normal_values(n, 0.5, 0.5, 3);
    const double mean = loss.mean().item<double>();
    const Bootstrap b = ratio_bootstrap(loss, at::ones_like(loss), 7);
    const std::vector<Check> point = value_checks("loss", "loss", mean, pass);
    const std::vector<Check> bounded = value_checks("loss", "loss", mean, pass, &b);
    ASSERT_EQ(bounded.size(), 1u);
    EXPECT_TRUE(point[0].pass) << n;
    EXPECT_EQ(bounded[0].basis, Basis::kBootstrapUpper);
    EXPECT_EQ(bounded[0].bound, b.upper);
    EXPECT_EQ(bounded[0].other_bound, b.lower);
    EXPECT_EQ(bounded[0].pass, n == 5000) << bounded[0].explanation;
    EXPECT_EQ(*p_value(bounded[0]) <= kCheckAlpha, n == 5000);
    EXPECT_FALSE(p_value(point[0]));  // a point estimate has none
  }
  const Bootstrap small = ratio_bootstrap(normal_values(50, 0.5, 0.5, 3), at::ones({50}, at::kDouble), 7);
  const Check c = value_checks("loss", "loss", 0.5, pass, &small)[0];
  EXPECT_NE(c.explanation.find("(bootstrap 95% upper bound "), std::string::npos) << c.explanation;
  EXPECT_NE(c.explanation.find(" over 50 examples, 2000 resamples, seed 7) <= 0.55: fail"), std::string::npos)
      << c.explanation;
}

}  // namespace
}  // namespace circuitcheck
