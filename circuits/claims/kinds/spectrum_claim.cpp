#include "circuits/claims/kinds/spectrum_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"

#include <algorithm>
#include <limits>

namespace circuitcheck {

at::Tensor singular_energy(const at::Tensor& m, bool center) {
  at::Tensor x = m.to(at::kDouble);
  if (center) x = x - x.mean(0, true);
  const at::Tensor energy = at::linalg_svdvals(x).square();
  const double total = energy.sum().item<double>();
  return total > 0 ? energy / total : energy;
}

void parse_spectrum(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Task& task = context.task;
  const Config& config = context.config;
  const Batch& sample = context.sample;
  SpectrumSpec& s = claim.spec.emplace<SpectrumSpec>();
  s.source = source_at(v["source"], at / "source", config, sample);
  const int64_t rank =
      s.source.is_activation() ? std::numeric_limits<int>::max() : std::min(s.source.rows, s.source.columns);
  s.k = integer_at(v["k"], at / "k", 1, rank);
  if (v.contains("center")) s.center = boolean_at(v["center"], at / "center");
  claim.domain = source_domain_at(v, at, task, s.source.is_activation());
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
}

PlainReads spectrum_reads(const Claim& claim) { return source_reads(spec_of<SpectrumSpec>(claim.spec).source); }

void run_spectrum(const RunContext& context, const Claim& claim, Outcome& out) {
  const SpectrumSpec& s = spec_of<SpectrumSpec>(claim.spec);
  const at::Tensor shares =
      singular_energy(source_matrix(context.model, s.source, claim.domain, context.visit), s.center).cpu();
  const int64_t n = shares.size(0);
  check(s.k <= n, "run_spectrum: " + claim.id, "k " + std::to_string(s.k) + " exceeds the " + plural(n, "singular value"));
  const std::vector<double> values(shares.data_ptr<double>(), shares.data_ptr<double>() + n);
  std::vector<std::string> labels;
  for (int64_t i = 1; i <= n; ++i) labels.push_back(std::to_string(i));
  const std::string of = std::string(s.center ? "centred " : "") + s.source.label;
  out.figures.push_back(
      cumulative_bars("energy of the singular values of " + of, "singular value", labels, values, claim.pass));
  const double value = shares.slice(0, 0, s.k).sum().item<double>();
  const std::string what = "share of " + of + "'s energy in its top " + plural(s.k, "singular value") + ":";
  for (Check& c : value_checks("top_k_energy", what, value, claim.pass)) out.checks.push_back(std::move(c));
}

}  // namespace circuitcheck
