#include "circuits/claims/stats.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace circuitcheck {
namespace {

void check_counts(double successes, double trials, const char* where) {
  check(trials > 0 && successes >= 0 && successes <= trials, where,
        std::to_string(successes) + " successes of " + std::to_string(trials) + " trials");
}

double wilson_bound(double successes, double n, double sign) {
  const double p = successes / n;
  const double z2 = kZ95 * kZ95;
  const double centre = p + z2 / (2 * n);
  const double spread = kZ95 * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return std::clamp((centre + sign * spread) / (1 + z2 / n), 0.0, 1.0);
}

// Lentz's continued fraction for I_x(a, b), valid for x < (a + 1) / (a + b + 2).
double beta_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  d = 1.0 / (std::fabs(d) < tiny ? tiny : d);
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    for (int step = 0; step < 2; ++step) {
      const double numerator = step == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                         : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1.0 + numerator * d;
      d = 1.0 / (std::fabs(d) < tiny ? tiny : d);
      c = 1.0 + numerator / c;
      if (std::fabs(c) < tiny) c = tiny;
      h *= d * c;
      if (step == 1 && std::fabs(d * c - 1.0) < 1e-16) return h;
    }
  }
  return h;
}

// The log of max_t K_t(m) (stats.h).
double log_betting_capital(const std::vector<ExampleCount>& examples, double max_units, double m, bool at_least,
                           double alpha) {
  const double log_inverse_alpha = std::log(1.0 / alpha);
  const double cap = kBettingCap / (at_least ? m : 1.0 - m);
  double variance = 0.25, sum = 0.5, squares = 0.25;  // the plug-in's running estimates
  double log_capital = 0.0, best = 0.0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const double t = static_cast<double>(i + 1);
    const double lambda = std::min(std::sqrt(2.0 * log_inverse_alpha / (variance * t * std::log(1.0 + t))), cap);
    const double units = static_cast<double>(examples[i].units), correct = static_cast<double>(examples[i].correct);
    const double excess = (correct - m * units) / max_units;
    log_capital += std::log1p(lambda * (at_least ? excess : -excess));
    best = std::max(best, log_capital);
    const double x = correct / units;
    sum += x;
    const double mean = sum / (t + 1.0);
    squares += (x - mean) * (x - mean);
    variance = squares / (t + 1.0);
  }
  return best;
}

void check_betting(const std::vector<ExampleCount>& examples, int64_t max_units, double m, double alpha,
                   const char* where) {
  check(m >= 0.0 && m <= 1.0 && alpha > 0.0 && alpha < 1.0, where,
        "rate " + std::to_string(m) + " outside [0, 1] or alpha " + std::to_string(alpha) + " outside (0, 1)");
  for (const ExampleCount& e : examples)
    check(e.units >= 1 && e.units <= max_units && e.correct >= 0 && e.correct <= e.units, where,
          "an example of " + std::to_string(e.units) + " units with " + std::to_string(e.correct) +
              " correct (at most " + std::to_string(max_units) + " units)");
}

// The bound of the confidence sequence on the side `at_least` rejects.
double betting_bound(const std::vector<ExampleCount>& examples, int64_t max_units, double alpha, bool at_least,
                     const char* where) {
  check_betting(examples, max_units, 0.5, alpha, where);
  const double level = std::log(1.0 / alpha);
  const auto rejects = [&](double m) {
    return log_betting_capital(examples, static_cast<double>(max_units), m, at_least, alpha) >= level;
  };
  // at_least: "at most m" is rejected for every m below the bound; else "at least m" above it.
  double rejected = at_least ? 0.0 : 1.0, kept = at_least ? 1.0 : 0.0;
  if (!rejects(rejected)) return rejected;
  while (std::fabs(kept - rejected) > 1e-10) {
    const double mid = (kept + rejected) / 2.0;
    (rejects(mid) ? rejected : kept) = mid;
  }
  return rejected;
}

}  // namespace

double betting_capital(const std::vector<ExampleCount>& examples, int64_t max_units, double m, bool at_least,
                       double alpha) {
  check_betting(examples, max_units, m, alpha, "betting_capital");
  return std::exp(log_betting_capital(examples, static_cast<double>(max_units), m, at_least, alpha));
}

double betting_p_value(const std::vector<ExampleCount>& examples, int64_t max_units, double p0, bool at_least,
                       double alpha) {
  return std::min(1.0, 1.0 / betting_capital(examples, max_units, p0, at_least, alpha));
}

double betting_lower_bound(const std::vector<ExampleCount>& examples, int64_t max_units, double alpha) {
  return betting_bound(examples, max_units, alpha, true, "betting_lower_bound");
}

double betting_upper_bound(const std::vector<ExampleCount>& examples, int64_t max_units, double alpha) {
  return betting_bound(examples, max_units, alpha, false, "betting_upper_bound");
}

double wilson_lower_bound(double successes, double trials) {
  check_counts(successes, trials, "wilson_lower_bound");
  return wilson_bound(successes, trials, -1.0);
}

double wilson_upper_bound(double successes, double trials) {
  check_counts(successes, trials, "wilson_upper_bound");
  return wilson_bound(successes, trials, 1.0);
}

double wilson_p_value(double successes, double trials, double p0, bool at_least) {
  check_counts(successes, trials, "wilson_p_value");
  const double rate = successes / trials;
  if (p0 <= 0.0) return at_least ? (successes > 0 ? 0.0 : 1.0) : 1.0;
  if (p0 >= 1.0) return at_least ? 1.0 : (successes < trials ? 0.0 : 1.0);
  const double z = (rate - p0) / std::sqrt(p0 * (1.0 - p0) / trials);
  return 0.5 * std::erfc((at_least ? z : -z) / std::sqrt(2.0));
}

double binomial_p_value(double successes, double trials, double p0, bool at_least) {
  check_counts(successes, trials, "binomial_p_value");
  const double k = successes, n = trials;
  if (at_least) return successes == 0 ? 1.0 : regularized_incomplete_beta(k, n - k + 1.0, std::clamp(p0, 0.0, 1.0));
  return successes == trials ? 1.0 : 1.0 - regularized_incomplete_beta(k + 1.0, n - k, std::clamp(p0, 0.0, 1.0));
}

double design_effect(const Tally& t) {
  if (t.largest <= 1 || t.correct == 0 || t.correct == t.n) return 1.0;
  const double n = static_cast<double>(t.n);
  if (t.examples < 2) return n;
  const double p = static_cast<double>(t.correct) / n, e = static_cast<double>(t.examples);
  const double squares = std::max(0.0, t.sum_c2 - 2.0 * p * t.sum_nc + p * p * t.sum_n2);
  const double clustered = e / (e - 1.0) * squares / (n * n);
  return std::max(1.0, clustered / (p * (1.0 - p) / n));
}

double regularized_incomplete_beta(double a, double b, double x) {
  check(a > 0 && b > 0 && x >= 0 && x <= 1, "regularized_incomplete_beta",
        "needs a > 0, b > 0, x in [0, 1]; got a " + std::to_string(a) + ", b " + std::to_string(b) + ", x " +
            std::to_string(x));
  if (x == 0.0 || x == 1.0) return x;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_fraction(a, b, x) / a;
  return 1.0 - std::exp(log_front) * beta_fraction(b, a, 1.0 - x) / b;
}

double inverse_regularized_incomplete_beta(double a, double b, double p) {
  check(p >= 0 && p <= 1, "inverse_regularized_incomplete_beta", "p " + std::to_string(p) + " outside [0, 1]");
  double lo = 0.0, hi = 1.0;
  while (hi - lo > 1e-15) {
    const double mid = 0.5 * (lo + hi);
    if (regularized_incomplete_beta(a, b, mid) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

double clopper_pearson_lower_bound(double successes, double trials) {
  check_counts(successes, trials, "clopper_pearson_lower_bound");
  if (successes == 0) return 0.0;
  return inverse_regularized_incomplete_beta(successes, trials - successes + 1, 0.05);
}

double clopper_pearson_upper_bound(double successes, double trials) {
  check_counts(successes, trials, "clopper_pearson_upper_bound");
  if (successes == trials) return 1.0;
  return inverse_regularized_incomplete_beta(successes + 1, trials - successes, 0.95);
}

}  // namespace circuitcheck
