#include "circuits/claims/bootstrap.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>

namespace circuitcheck {
namespace {

double quantile(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const std::size_t below = static_cast<std::size_t>(std::floor(h));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (h - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

}  // namespace

std::vector<std::vector<double>> resampled_ratios(const std::vector<at::Tensor>& numerators_in,
                                                  const at::Tensor& denominator_in, uint64_t seed) {
  const std::string where = "resampled_ratios";
  check(!numerators_in.empty() && denominator_in.dim() == 1 && denominator_in.size(0) > 0, where,
        "denominator " + c10::str(denominator_in.sizes()) + " must be [examples], with at least one example and one numerator");
  std::vector<at::Tensor> tops;
  for (const at::Tensor& n : numerators_in) {
    check(n.sizes() == denominator_in.sizes(), where,
          "numerator " + c10::str(n.sizes()) + " and denominator " + c10::str(denominator_in.sizes()) +
              " must both be [examples], with at least one example");
    tops.push_back(n.to(at::kCPU, at::kDouble).contiguous());
  }
  const at::Tensor denominator = denominator_in.to(at::kCPU, at::kDouble).contiguous();
  const double* bottom = denominator.data_ptr<double>();
  std::mt19937_64 gen(seed);  // the standard fixes its output: the same draws everywhere
  const uint64_t n = static_cast<uint64_t>(denominator.size(0));
  std::vector<uint64_t> picks(n);
  std::vector<std::vector<double>> out(tops.size(), std::vector<double>(kResamples));
  for (int64_t r = 0; r < kResamples; ++r) {
    double sum_bottom = 0.0;
    for (uint64_t i = 0; i < n; ++i) {
      picks[i] = static_cast<uint64_t>((static_cast<unsigned __int128>(gen()) * n) >> 64);  // in [0, n)
      sum_bottom += bottom[picks[i]];
    }
    for (std::size_t j = 0; j < tops.size(); ++j) {
      const double* top = tops[j].data_ptr<double>();
      double sum = 0.0;
      for (uint64_t i = 0; i < n; ++i) sum += top[picks[i]];
      out[j][static_cast<std::size_t>(r)] = sum_bottom != 0.0 ? sum / sum_bottom : 0.0;
    }
  }
  return out;
}

Bootstrap percentile_bootstrap(std::vector<double> draws, int64_t examples, uint64_t seed) {
  check(!draws.empty(), "percentile_bootstrap", "no draws");
  Bootstrap b;
  b.examples = examples;
  b.seed = seed;
  b.draws = std::move(draws);
  if (std::any_of(b.draws.begin(), b.draws.end(), [](double d) { return std::isnan(d); })) {
    b.lower = b.upper = std::numeric_limits<double>::quiet_NaN();  // no order: every rule on it fails
    return b;
  }
  std::sort(b.draws.begin(), b.draws.end());
  b.lower = quantile(b.draws, 0.05);
  b.upper = quantile(b.draws, 0.95);
  return b;
}

Bootstrap ratio_bootstrap(const at::Tensor& numerator, const at::Tensor& denominator, uint64_t seed) {
  std::vector<std::vector<double>> draws = resampled_ratios({numerator}, denominator, seed);  // checks the shapes first
  return percentile_bootstrap(std::move(draws[0]), denominator.size(0), seed);
}

Bootstrap max_abs_ratio_bootstrap(const std::vector<at::Tensor>& numerators, const at::Tensor& denominator,
                                  uint64_t seed) {
  const std::vector<std::vector<double>> draws = resampled_ratios(numerators, denominator, seed);
  return percentile_bootstrap(max_abs_draws(draws), denominator.size(0), seed);
}

std::vector<double> max_abs_draws(const std::vector<std::vector<double>>& ratios) {
  std::vector<double> out(ratios.empty() ? 0 : ratios[0].size(), 0.0);
  for (const std::vector<double>& r : ratios)
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = std::isnan(r[i]) ? r[i] : std::max(out[i], std::fabs(r[i]));  // NaN stays NaN
  return out;
}

double bootstrap_p_value(const Bootstrap& b, double threshold, bool at_least) {
  if (std::isnan(b.lower)) return 1.0;
  const auto failing = at_least ? std::upper_bound(b.draws.begin(), b.draws.end(), threshold) - b.draws.begin()
                                : b.draws.end() - std::lower_bound(b.draws.begin(), b.draws.end(), threshold);
  return (1.0 + static_cast<double>(failing)) / (1.0 + static_cast<double>(b.draws.size()));
}

}  // namespace circuitcheck
