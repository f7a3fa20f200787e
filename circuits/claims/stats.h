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

// The regularized incomplete beta function I_x(a, b), a > 0, b > 0, x in [0, 1]
// (continued fraction, absolute error below 1e-12).
double regularized_incomplete_beta(double a, double b, double x);

// The x in [0, 1] with I_x(a, b) = p, p in [0, 1] (bisection to 1e-15).
double inverse_regularized_incomplete_beta(double a, double b, double p);

}  // namespace circuitcheck
