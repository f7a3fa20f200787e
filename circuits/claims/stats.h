// Confidence bounds for a binomial rate: `successes` of `trials` independent
// examples, or of effective counts (trials / design effect, not whole numbers)
// where the trials are grouped in examples (design_effect). Every bound here is one-sided at 95 % confidence: the lower bound
// L satisfies P(true rate >= L) >= 0.95 (approximately for Wilson, at least
// for Clopper-Pearson), and likewise the upper bound.
//
// Errors: trials < 1, successes outside [0, trials], or a Beta argument out of
// its domain throw InputError naming the function.
#pragma once

#include "circuits/tasks/evaluate.h"

#include <cstdint>
#include <vector>

namespace circuitcheck {

// The standard normal quantile at 0.95 (one-sided 95 %).
constexpr double kZ95 = 1.6448536269514722;

// Wilson score bounds: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = kZ95.
double wilson_lower_bound(double successes, double trials);
double wilson_upper_bound(double successes, double trials);

// Clopper-Pearson ("exact") bounds: the 0.05 quantile of Beta(k, n - k + 1)
// (0 when k = 0) and the 0.95 quantile of Beta(k + 1, n - k) (1 when k = n).
double clopper_pearson_lower_bound(double successes, double trials);
double clopper_pearson_upper_bound(double successes, double trials);

// One-sided p-values of `successes` of `trials` against a threshold p0 in
// [0, 1]: for an "at least" rule (at_least) the null hypothesis is "the true
// rate is at most p0", otherwise "at least p0". Each is the test the bound of
// the same name inverts: the p-value is at most 0.05 exactly when that 95 %
// bound clears p0 (Wilson: the score test, 1 - Phi(z) with
// z = (k/n - p0) / sqrt(p0 (1 - p0) / n); Clopper-Pearson: the exact binomial
// tail, P(X >= k | p0) or P(X <= k | p0)). p0 of 0 or 1 gives 0 or 1.
double wilson_p_value(double successes, double trials, double p0, bool at_least);
double binomial_p_value(double successes, double trials, double p0, bool at_least);

// The design effect of a rate whose units are grouped in examples (Tally):
// the ratio of its cluster-robust variance (the ratio estimator's, over the
// E examples: v = E / (E - 1) * sum_i (c_i - p n_i)^2 / n^2, p = correct / n)
// to the variance p (1 - p) / n of n independent units, floored at 1. A bound
// on the rate is then the bound of n / deff effective units with the same
// rate (Kish 1965; Korn and Graubard 1998 for Clopper-Pearson). 1 when no
// example has more than one unit, or when p is 0 or 1 (nothing to estimate it
// from); n (one effective unit) when a single example holds every unit.
double design_effect(const Tally& tally);

// Anytime-valid one-sided tests and confidence sequences for such a rate by
// betting (Waudby-Smith and Ramdas 2024, "Estimating means of bounded random
// variables by betting", JRSS-B 86(1)), over `examples` in the order they
// were drawn (Tally::per_example), each with at most `max_units` units. The
// test of "the rate is at most m" bets on each example's excess
// (c_i - m n_i) / max_units, with the capital
//   K_t(m) = prod_{i <= t} (1 + lambda_i(m) (c_i - m n_i) / max_units),
//   lambda_i(m) = min(lambda_i, kBettingCap / m),
//   lambda_i = sqrt(2 log(1/alpha) / (s2_{i-1} i log(1 + i)))  (predictable plug-in),
// s2 the running variance of the examples' fractions c_i / n_i (prior mean
// 1/2 and variance 1/4, as in the paper's eq. 26-27). Under that hypothesis
// E[c_i - m n_i] <= 0, so K is a non-negative supermartingale and, by Ville's
// inequality, max_t K_t(m) reaches 1/alpha with probability at most alpha,
// however the sampling stops. "At least m" is the mirror image (betting on
// m n_i - c_i with lambda_i capped at kBettingCap / (1 - m)). For a unit per
// example and a constant max_units it is the paper's test of a mean in [0, 1].
constexpr double kBettingCap = 0.75;

// max_t K_t(m) over the examples: of the test of "at most m" when at_least
// (its rejection is evidence that the rate is above m), else of "at least m".
// 1 with no examples. InputError unless m is in [0, 1], alpha in (0, 1) and
// every example has 1 to max_units units and at most as many correct.
double betting_capital(const std::vector<ExampleCount>& examples, int64_t max_units, double m, bool at_least,
                       double alpha);

// The one-sided p-value of "the rate is at most p0" (at_least) or "at least
// p0": min(1, 1 / betting_capital(...)), valid at any stopping time.
double betting_p_value(const std::vector<ExampleCount>& examples, int64_t max_units, double p0, bool at_least,
                       double alpha);

// The confidence sequence's bounds after every example: the lower bound is
// the largest m whose "at most m" test has rejected (0 when none has), the
// upper the smallest m whose "at least m" test has. The true rate lies above
// the lower bound (below the upper) at every time with probability at least
// 1 - alpha, and lower >= p0 exactly when the "at most p0" test rejects (to
// within 1e-9: bisection, as K_t(m) is monotone in m).
double betting_lower_bound(const std::vector<ExampleCount>& examples, int64_t max_units, double alpha);
double betting_upper_bound(const std::vector<ExampleCount>& examples, int64_t max_units, double alpha);

// The regularized incomplete beta function I_x(a, b), a > 0, b > 0, x in [0, 1]
// (continued fraction, absolute error below 1e-12).
double regularized_incomplete_beta(double a, double b, double x);

// The x in [0, 1] with I_x(a, b) = p, p in [0, 1] (bisection to 1e-15).
double inverse_regularized_incomplete_beta(double a, double b, double p);

}  // namespace circuitcheck
