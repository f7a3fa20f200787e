#include "circuits/claims/bootstrap.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cmath>
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

// Each resample's ratio sum(numerator) / sum(denominator) over indices drawn
// with replacement; with several numerators (`max_abs`) the largest |ratio|.
Bootstrap ratios_bootstrap(const std::vector<at::Tensor>& numerators_in, const at::Tensor& denominator_in, uint64_t seed,
                           bool max_abs, const std::string& where) {
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
  Bootstrap b;
  b.examples = denominator.size(0);
  b.seed = seed;
  const double* bottom = denominator.data_ptr<double>();
  std::mt19937_64 gen(seed);  // the standard fixes its output: the same draws everywhere
  const uint64_t n = static_cast<uint64_t>(b.examples);
  std::vector<uint64_t> picks(n);
  b.draws.reserve(kResamples);
  for (int64_t r = 0; r < kResamples; ++r) {
    double sum_bottom = 0.0;
    for (uint64_t i = 0; i < n; ++i) {
      picks[i] = static_cast<uint64_t>((static_cast<unsigned __int128>(gen()) * n) >> 64);  // in [0, n)
      sum_bottom += bottom[picks[i]];
    }
    double draw = 0.0;
    for (std::size_t j = 0; j < tops.size(); ++j) {
      const double* top = tops[j].data_ptr<double>();
      double sum = 0.0;
      for (uint64_t i = 0; i < n; ++i) sum += top[picks[i]];
      const double ratio = sum_bottom != 0.0 ? sum / sum_bottom : 0.0;
      draw = max_abs ? std::max(draw, std::fabs(ratio)) : ratio;
    }
    b.draws.push_back(draw);
  }
  std::sort(b.draws.begin(), b.draws.end());
  b.lower = quantile(b.draws, 0.05);
  b.upper = quantile(b.draws, 0.95);
  return b;
}

}  // namespace

Bootstrap ratio_bootstrap(const at::Tensor& numerator, const at::Tensor& denominator, uint64_t seed) {
  return ratios_bootstrap({numerator}, denominator, seed, false, "ratio_bootstrap");
}

Bootstrap max_abs_ratio_bootstrap(const std::vector<at::Tensor>& numerators, const at::Tensor& denominator,
                                  uint64_t seed) {
  return ratios_bootstrap(numerators, denominator, seed, true, "max_abs_ratio_bootstrap");
}

double bootstrap_p_value(const Bootstrap& b, double threshold, bool at_least) {
  const auto failing = at_least ? std::upper_bound(b.draws.begin(), b.draws.end(), threshold) - b.draws.begin()
                                : b.draws.end() - std::lower_bound(b.draws.begin(), b.draws.end(), threshold);
  return (1.0 + static_cast<double>(failing)) / (1.0 + static_cast<double>(b.draws.size()));
}

}  // namespace circuitcheck
