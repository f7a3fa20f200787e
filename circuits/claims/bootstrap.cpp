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

}  // namespace

Bootstrap ratio_bootstrap(const at::Tensor& numerator_in, const at::Tensor& denominator_in, uint64_t seed) {
  check(numerator_in.dim() == 1 && numerator_in.sizes() == denominator_in.sizes() && numerator_in.size(0) > 0,
        "ratio_bootstrap",
        "numerator " + c10::str(numerator_in.sizes()) + " and denominator " + c10::str(denominator_in.sizes()) +
            " must both be [examples], with at least one example");
  const at::Tensor numerator = numerator_in.to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor denominator = denominator_in.to(at::kCPU, at::kDouble).contiguous();
  Bootstrap b;
  b.examples = numerator.size(0);
  b.seed = seed;
  const double* top = numerator.data_ptr<double>();
  const double* bottom = denominator.data_ptr<double>();
  std::mt19937_64 gen(seed);  // the standard fixes its output: the same draws everywhere
  const uint64_t n = static_cast<uint64_t>(b.examples);
  b.draws.reserve(kResamples);
  for (int64_t r = 0; r < kResamples; ++r) {
    double sum_top = 0.0, sum_bottom = 0.0;
    for (uint64_t i = 0; i < n; ++i) {
      const auto pick = static_cast<uint64_t>((static_cast<unsigned __int128>(gen()) * n) >> 64);  // in [0, n)
      sum_top += top[pick];
      sum_bottom += bottom[pick];
    }
    b.draws.push_back(sum_bottom != 0.0 ? sum_top / sum_bottom : 0.0);
  }
  std::sort(b.draws.begin(), b.draws.end());
  b.lower = quantile(b.draws, 0.05);
  b.upper = quantile(b.draws, 0.95);
  return b;
}

double bootstrap_p_value(const Bootstrap& b, double threshold, bool at_least) {
  const auto failing = at_least ? std::upper_bound(b.draws.begin(), b.draws.end(), threshold) - b.draws.begin()
                                : b.draws.end() - std::lower_bound(b.draws.begin(), b.draws.end(), threshold);
  return (1.0 + static_cast<double>(failing)) / (1.0 + static_cast<double>(b.draws.size()));
}

}  // namespace circuitcheck
