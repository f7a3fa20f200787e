#include "circuits/discovery/faithfulness_curve.h"

#include "circuits/claims/bootstrap.h"
#include "circuits/claims/patching.h"
#include "circuits/formats/error.h"

#include <cmath>

namespace circuitcheck {

int64_t units_at_percent(double percent, int64_t n) {
  const double count = std::floor(percent / 100.0 * static_cast<double>(n) + 1e-9);
  return std::max<int64_t>(0, std::min<int64_t>(n, static_cast<int64_t>(count)));
}

CurveAreas curve_areas(const std::vector<CurvePoint>& points) {
  CurveAreas out;
  for (std::size_t i = 0; i + 1 < points.size(); ++i) {
    const double width = (points[i + 1].percent - points[i].percent) / 100.0;
    out.cpr += width * (points[i].f + points[i + 1].f) / 2.0;
    out.cmd += width * (std::fabs(1.0 - points[i].f) + std::fabs(1.0 - points[i + 1].f)) / 2.0;
  }
  return out;
}

CircuitMeasure::CircuitMeasure(const RunContext& context, const Claim& claim, const CircuitAblation& ablation,
                               const std::vector<AttributionUnit>& units, const std::string& where)
    : context_(context), claim_(claim), ablation_(ablation), units_(units) {
  const std::vector<at::Tensor> ends = measure_circuits(context, claim, ablation, {{false, {}}, {true, {}}});
  whole_ = ends[0];
  empty_ = ends[1];
  const std::string missing =
      circuit_gap_missing(to_string(spec_of<CircuitSpec>(claim.spec).metric), whole_, empty_, claim.domain);
  check(missing.empty(), where, missing);
}

double CircuitMeasure::whole() const { return whole_.mean().item<double>(); }
double CircuitMeasure::empty() const { return empty_.mean().item<double>(); }

std::vector<CurvePoint> CircuitMeasure::points(const std::vector<int64_t>& order,
                                               const std::vector<int64_t>& counts) const {
  std::vector<CircuitConfiguration> runs;
  for (int64_t count : counts) {
    runs.push_back(circuit_of(top_units(units_, order, count)));
  }
  const std::vector<at::Tensor> m = measure_circuits(context_, claim_, ablation_, runs);
  const at::Tensor gap = whole_ - empty_;
  const double n = static_cast<double>(units_.size());
  std::vector<CurvePoint> out;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const at::Tensor numerator = m[i] - empty_;
    const Bootstrap b = ratio_bootstrap(numerator, gap, claim_.domain.seed);
    out.push_back({100.0 * static_cast<double>(counts[i]) / n, counts[i],
                   numerator.sum().item<double>() / gap.sum().item<double>(), b.lower, b.upper});
  }
  return out;
}

std::vector<CurvePoint> CircuitMeasure::curve(const std::vector<int64_t>& order) const {
  std::vector<int64_t> counts;
  for (double percent : kCurvePercents) counts.push_back(units_at_percent(percent, static_cast<int64_t>(units_.size())));
  std::vector<CurvePoint> out = points(order, counts);
  for (std::size_t i = 0; i < out.size(); ++i) out[i].percent = kCurvePercents[i];
  return out;
}

CurvePoint CircuitMeasure::smallest(const std::vector<int64_t>& order, const std::vector<CurvePoint>& curve,
                                    double threshold) const {
  int64_t below = 0;  // the largest count known not to clear the threshold
  CurvePoint found = curve.back();
  for (const CurvePoint& p : curve) {
    if (p.lower >= threshold) {
      found = p;
      break;
    }
    below = std::max(below, p.count);
  }
  while (found.count - below > 1) {
    const int64_t middle = below + (found.count - below) / 2;
    const CurvePoint p = points(order, {middle}).front();
    if (p.lower >= threshold) found = p;
    else below = middle;
  }
  return found;
}

}  // namespace circuitcheck
