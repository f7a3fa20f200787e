// The faithfulness curve of a ranking of units, nodes or edges
// (attribution.h; MIB's circuit localization metric): the faithfulness f of
// the circuit made of the top k % of units,
// for k in kCurvePercents, measured by ablation (not estimated), and its two
// areas; and the smallest such circuit whose f clears a threshold.
//
// f(C) = (m(C) - m(empty)) / (m(N) - m(empty)) as the circuit kind defines it
// (kinds/circuit_claim.h), on the circuit claim's domain and ablation, with a
// percentile bootstrap interval over examples (ratio_bootstrap, bootstrap.h).
// As MIB's evaluate_area_under_curve has them: point i holds the top
// floor(k_i n / 100) of the n units (none, the empty circuit with f = 0,
// where k_i % of n is less than one unit), and with x_i = k_i / 100:
//   CPR = sum_i (x_{i+1} - x_i) (f_i + f_{i+1}) / 2                (higher: better)
//   CMD = sum_i (x_{i+1} - x_i) (|1 - f_i| + |1 - f_{i+1}|) / 2    (lower: better)
// the trapezoids over the points, from the first (0.1 %) to the last (100 %,
// where f = 1), as MIB's area_under and area_from_1 (linear scale).
#pragma once

#include "circuits/claims/claim.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/kinds/kind.h"
#include "circuits/discovery/attribution.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace circuitcheck {

// The percentages of units MIB's curve is measured at.
constexpr double kCurvePercents[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100};

// floor(percent / 100 * n) units, in [0, n] (MIB's int(k * n)): none where
// percent % of n is less than one unit.
int64_t units_at_percent(double percent, int64_t n);

struct CurvePoint {
  double percent = 0.0;  // of the n units; 100 * count / n for a point found between the curve's
  int64_t count = 0;     // the top `count` units of the ranking
  double f = 0.0;        // faithfulness, point estimate
  double lower = 0.0;    // 95 % one-sided bootstrap bounds (1,000 resamples, seeded with the domain's seed)
  double upper = 0.0;
};

struct CurveAreas {
  double cpr = 0.0;
  double cmd = 0.0;
};

// MIB's areas over `points` (ascending percents, at least two), along their percents.
CurveAreas curve_areas(const std::vector<CurvePoint>& points);

// Measures circuits of a ranking on circuit claim `claim`'s domain.
class CircuitMeasure {
 public:
  // Measures the whole model N and the empty circuit (two runs per slice:
  // forward passes for nodes, edge runs for edges). Throws InputError naming `where` when the whole model's metric is
  // not above the empty circuit's on the bootstrap lower bound of their
  // difference (has_gap, patching.h): there is no behaviour to attribute.
  CircuitMeasure(const RunContext& context, const Claim& claim, const CircuitAblation& ablation,
                 const std::vector<AttributionUnit>& units, const std::string& where);

  // The point of each count (the top `count` units of `order`, a ranking of
  // the units; circuit_of), in order: one run per slice and count.
  std::vector<CurvePoint> points(const std::vector<int64_t>& order, const std::vector<int64_t>& counts) const;

  // The curve at kCurvePercents.
  std::vector<CurvePoint> curve(const std::vector<int64_t>& order) const;

  // The smallest circuit, a prefix of `order`, whose bootstrap lower bound
  // of f is at least `threshold`: the first point of `curve` that clears it,
  // then a bisection between the count before it and its own (it assumes f
  // grows with the count there; one run per slice and step). The
  // whole model (every unit) always clears it.
  CurvePoint smallest(const std::vector<int64_t>& order, const std::vector<CurvePoint>& curve, double threshold) const;

  double whole() const;  // m(N), mean per example
  double empty() const;  // m(empty)

 private:
  const RunContext& context_;
  const Claim& claim_;
  const CircuitAblation& ablation_;
  const std::vector<AttributionUnit>& units_;
  at::Tensor whole_, empty_;  // per example
};

}  // namespace circuitcheck
