// Seeded bootstrap intervals over examples, for values measured on a sample
// of examples (a loss, a patching recovery, a silhouette): claims/README.md,
// "Verdicts". Examples are the unit of sampling; the items of one example are
// resampled together.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace circuitcheck {

// Resamples per bootstrap: enough that a p-value (bootstrap_p_value) can go
// as low as 1 / 2001, below Holm's level for the smallest of 100 checks at
// family alpha 0.05 (family.h).
constexpr int64_t kResamples = 2000;

// A statistic's bootstrap distribution over examples.
struct Bootstrap {
  int64_t examples = 0;       // resampled, with replacement, kResamples times
  uint64_t seed = 0;
  std::vector<double> draws;  // the statistic on each resample, ascending (in draw order when one is NaN)
  double lower = 0.0;         // one-sided 95 % lower bound: the 0.05 quantile of draws (linear interpolation)
  double upper = 0.0;         // one-sided 95 % upper bound: the 0.95 quantile
};

// The percentile bootstrap of sum(numerator) / sum(denominator) over
// examples: numerator and denominator [examples] are each example's terms (a
// mean over items: the example's sum and its item count; a mean over
// examples: the value and 1). Each resample draws `examples` indices with
// replacement from std::mt19937_64 seeded with `seed` (its output is fixed by
// the standard); one whose denominators sum to 0 gives 0. Deterministic for a seed. Throws InputError when the shapes
// are not [examples] alike or there are no examples.
Bootstrap ratio_bootstrap(const at::Tensor& numerator, const at::Tensor& denominator, uint64_t seed);

// The percentile bootstrap of max_j |sum(numerators[j]) / sum(denominator)|
// over examples (a circuit's largest completeness gap): each resample draws
// its indices as ratio_bootstrap does and applies them to every numerator.
// Throws InputError unless every numerator is [examples] as the denominator
// is, with at least one numerator and one example.
Bootstrap max_abs_ratio_bootstrap(const std::vector<at::Tensor>& numerators, const at::Tensor& denominator,
                                  uint64_t seed);

// The resampled ratios behind ratio_bootstrap, for several numerators from
// one draw of indices: [numerators][kResamples], in resample order; entry
// [j][r] is sum(numerators[j]) / sum(denominator) on resample r (0 when its
// denominators sum to 0). The draw depends on the seed and the example count
// only, so numerator j's entries are the draws ratio_bootstrap(numerators[j],
// denominator, seed) sorts: checks that share a sample share one draw. Throws
// InputError as max_abs_ratio_bootstrap does.
std::vector<std::vector<double>> resampled_ratios(const std::vector<at::Tensor>& numerators, const at::Tensor& denominator,
                                                  uint64_t seed);

// Per resample, the largest |ratio| over resampled_ratios' numerators
// ([kResamples]): max_abs_ratio_bootstrap's draws; NaN where one of them is.
std::vector<double> max_abs_draws(const std::vector<std::vector<double>>& ratios);

// The percentile bootstrap of `draws` (a statistic on each of `examples`'
// resamples drawn with `seed`): sorted, with its 0.05 and 0.95 quantiles.
// InputError when there are no draws. A NaN draw (a metric that is not a
// number on some example) makes both bounds NaN, which no rule accepts.
Bootstrap percentile_bootstrap(std::vector<double> draws, int64_t examples, uint64_t seed);

// The bootstrap p-value of "the statistic is on the failing side of
// `threshold`": (1 + draws at or below it) / (1 + kResamples) for an "at
// least" rule, (1 + draws at or above it) / (1 + kResamples) for an "at most"
// rule. It is at most about 0.05 when the 95 % bound on that side clears the
// threshold (the bound is a quantile of the same draws); 1 with NaN bounds.
double bootstrap_p_value(const Bootstrap& bootstrap, double threshold, bool at_least);

}  // namespace circuitcheck
