#include "circuits/claims/kinds/fourier_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/claims/placebo.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace circuitcheck {
namespace {

using nlohmann::json;

// Columns transformed at once, which bounds the transform's temporaries
// (on the grid [p, p, 64] per step: 3.3 MB in float32 for p = 113).
constexpr int64_t kFourierColumns = 64;

// [p] int64: the frequency of each basis function (0 for the constant).
at::Tensor basis_frequencies(int64_t p) { return at::div(at::arange(p, at::kLong) + 1, 2, "floor"); }

// [p, p] bool over the grid's components (a's basis function, b's): those of
// any of `frequencies` (both frequencies 0 or k, not both 0).
at::Tensor grid_components(int64_t p, const std::vector<int64_t>& frequencies) {
  const at::Tensor f = basis_frequencies(p);
  at::Tensor mask = at::zeros({p, p}, at::kBool);
  for (int64_t k : frequencies) {
    const at::Tensor in = (f == 0).logical_or(f == k);
    mask = mask.logical_or(in.unsqueeze(1).logical_and(in.unsqueeze(0)));
  }
  mask[0][0] = false;
  return mask;
}

// The coefficients: [p, d] for one input, [p, p, d] on the grid (a's, b's basis function).
at::Tensor coefficients(const at::Tensor& m, int64_t p, const at::Tensor& basis) {
  if (m.size(0) == p) return basis.matmul(m);
  const at::Tensor grid = m.view({p, p, m.size(1)});
  return at::tensordot(at::tensordot(basis, grid, {1}, {0}), basis, {1}, {1}).permute({0, 2, 1});
}

// The inverse of coefficients().
at::Tensor from_coefficients(const at::Tensor& c, int64_t p, const at::Tensor& basis) {
  if (c.dim() == 2) return basis.t().matmul(c);
  return at::tensordot(at::tensordot(basis, c, {0}, {0}), basis, {1}, {0}).permute({0, 2, 1}).reshape({p * p, -1});
}

void check_rows(const at::Tensor& m, int64_t p, const std::string& where) {
  check(m.dim() == 2 && (m.size(0) == p || m.size(0) == p * p), where,
        "expected [" + std::to_string(p) + ", d] or [" + std::to_string(p * p) + ", d], got " + c10::str(m.sizes()));
}

// "{14, 35, 41}".
std::string frequency_list(const std::vector<int64_t>& frequencies) {
  std::string out;
  for (int64_t k : frequencies) out += (out.empty() ? "" : ", ") + std::to_string(k);
  return "{" + out + "}";
}

// `f.k` of the frequencies 1 .. (p - 1) / 2 outside `keys`, drawn with `seed`.
std::vector<int64_t> other_frequencies(const std::vector<int64_t>& keys, const FourierSpec& f, uint64_t seed) {
  std::vector<int64_t> free;
  for (int64_t k = 1; k <= (f.modulus - 1) / 2; ++k)
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) free.push_back(k);
  const at::Tensor picked = sample_rows(f.k, static_cast<int64_t>(free.size()), seed, "run_fourier: placebo");
  std::vector<int64_t> out;
  for (int64_t i = 0; i < f.k; ++i) out.push_back(free[picked[i].item<int64_t>()]);
  return out;
}

std::string keys_text(const FourierSpec& f, const std::vector<int64_t>& keys) {
  if (f.placebo_seed)
    return std::to_string(f.k) + " placebo frequencies " + frequency_list(keys) + " (not the top " +
           std::to_string(f.k) + " of " + (f.keys_from ? f.keys_from->label : f.source.label) + ")";
  return "the top " + std::to_string(f.k) + " frequencies " + frequency_list(keys) + " of " +
         (f.keys_from ? f.keys_from->label : f.source.label);
}

// Every rate check `pass` sets among rate_at_least and rate_at_most.
void rate_checks(const std::string& name, const std::string& what, const std::string& units, int64_t successes,
                 int64_t trials, const PassRule& pass, Outcome& out) {
  if (pass.rate_at_least)
    out.checks.push_back(rate_check(name, what, units, successes, trials, true, Rule::kRateAtLeast, *pass.rate_at_least));
  if (pass.rate_at_most)
    out.checks.push_back(rate_check(name, what, units, successes, trials, true, Rule::kRateAtMost, *pass.rate_at_most));
}

std::vector<std::string> frequency_labels(const std::vector<int64_t>& frequencies) {
  std::vector<std::string> out;
  for (int64_t k : frequencies) out.push_back(std::to_string(k));
  return out;
}

void run_energy(const Claim& claim, const FrequencyEnergy& energy, const std::vector<int64_t>& keys, Outcome& out) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  const at::Tensor per = energy.per_frequency.sum(1).cpu();  // [K]
  const double total = energy.total.sum().item<double>();
  std::vector<double> share(static_cast<std::size_t>(per.size(0)));
  for (std::size_t i = 0; i < share.size(); ++i) share[i] = total > 0 ? per[i].item<double>() / total : 0.0;
  // The key frequencies first, then the others by their share: the cumulative share after k bars is the value.
  std::vector<int64_t> order = keys;
  std::vector<int64_t> rest;
  for (int64_t k = 1; k <= static_cast<int64_t>(share.size()); ++k)
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) rest.push_back(k);
  std::stable_sort(rest.begin(), rest.end(), [&](int64_t a, int64_t b) { return share[a - 1] > share[b - 1]; });
  order.insert(order.end(), rest.begin(), rest.end());
  std::vector<double> shares;
  for (int64_t k : order) shares.push_back(share[k - 1]);
  out.figures.push_back(cumulative_bars("Fourier energy of " + f.source.label + " by frequency (key frequencies first)",
                                        "frequency", frequency_labels(order), shares, claim.pass));
  double value = 0.0;
  for (int64_t k : keys) value += share[k - 1];
  const std::string what = "share of " + f.source.label + "'s non-constant Fourier energy in " + keys_text(f, keys) + ":";
  for (Check& c : value_checks("key_frequency_energy", what, value, claim.pass)) out.checks.push_back(std::move(c));
}

void run_agreement(const Claim& claim, const FrequencyEnergy& energy, const FrequencyEnergy& key_energy,
                   const std::vector<int64_t>& keys, Outcome& out) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  const std::vector<int64_t> own = top_frequencies(energy, f.k);
  int64_t shared = 0;
  for (int64_t k : own) shared += std::count(keys.begin(), keys.end(), k);
  Figure fig;
  fig.type = "bars";
  fig.title = "Fourier energy by frequency";
  fig.x_title = "frequency";
  fig.y_title = "share of non-constant energy";
  std::vector<int64_t> all(static_cast<std::size_t>(energy.per_frequency.size(0)));
  std::iota(all.begin(), all.end(), 1);
  fig.x_labels = frequency_labels(all);
  fig.series = {f.source.label, f.keys_from->label};
  for (const FrequencyEnergy* e : {&energy, &key_energy}) {
    const at::Tensor share = (e->per_frequency.sum(1) / e->total.sum().clamp_min(1e-300)).cpu();
    fig.values.emplace_back(share.data_ptr<double>(), share.data_ptr<double>() + share.numel());
  }
  out.figures.push_back(fig);
  const std::string what = "frequencies shared by " + f.source.label + "'s top " + std::to_string(f.k) + " " +
                           frequency_list(own) + " and " + keys_text(f, keys) + ":";
  for (Check& c : value_checks("key_frequency_overlap", what, static_cast<double>(shared), claim.pass))
    out.checks.push_back(std::move(c));
}

void run_single_frequency(const Claim& claim, const FrequencyEnergy& energy, const std::vector<int64_t>& keys,
                          Outcome& out) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  const at::Tensor index = to_tensor(keys, {static_cast<int64_t>(keys.size())}).sub(1).to(energy.total.device());
  const at::Tensor best = energy.per_frequency.index_select(0, index).amax(0);  // [d]
  const at::Tensor share = at::where(energy.total > 0, best / energy.total.clamp_min(1e-300), at::zeros_like(best)).cpu();
  const int64_t columns = share.size(0);
  const int64_t explained = (share >= f.min_explained).sum().item<int64_t>();
  const auto [sorted, order] = share.sort(0, true);
  Figure fig;
  fig.type = "bars";
  fig.title = "share of each column of " + f.source.label + " in its best key frequency " + frequency_list(keys);
  fig.x_title = "column (sorted)";
  fig.y_title = "share of non-constant energy";
  for (int64_t i = 0; i < columns; ++i) fig.x_labels.push_back(std::to_string(order[i].item<int64_t>()));
  fig.series = {"best key frequency"};
  fig.values = {std::vector<double>(sorted.data_ptr<double>(), sorted.data_ptr<double>() + columns)};
  fig.reference = {f.min_explained};
  out.figures.push_back(fig);
  const std::string what = "explained >= " + percent(f.min_explained) + " by one of " + keys_text(f, keys) + ":";
  rate_checks("single_frequency", what, "columns of " + f.source.label, explained, columns, claim.pass, out);
}

void run_restricted_excluded(const RunContext& context, const Claim& claim, const at::Tensor& m,
                             const std::vector<int64_t>& keys, Outcome& out) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  const MatrixSource& source = f.source;
  const Task& task = context.task;
  // Excluded = the matrix without the key components = m - (restricted - the constant component),
  // made a batch at a time.
  const at::Tensor restricted = project_frequencies(m, f.modulus, keys, true), constant = m.mean(0, true);
  const auto edited = [&](std::size_t i, int64_t start, int64_t n) {
    const at::Tensor kept = restricted.slice(0, start, start + n);
    return i == 0 ? kept : (m.slice(0, start, start + n) + constant).sub_(kept);
  };
  Evaluation before = empty_evaluation(task);
  std::vector<Evaluation> after(2);
  for (Evaluation& e : after) e.unit = before.unit;
  if (!source.logits) out.liveness.resize(2);
  int64_t start = 0;
  context.visit(claim.domain, fourier_reads(claim), [&](const Batch& b, const RunResult& r) {
    tally_batch(task, b, r.logits, before);
    const int64_t n = b.tokens.size(0);
    const at::Tensor role = b.roles.at(source.role);
    if (source.logits) {
      // The logits cover [from, pos): a role before `from` is not scored, so editing it changes nothing.
      const int64_t from = b.tokens.size(1) - r.logits.size(1);
      const at::Tensor position = role - from, scored = (position >= 0).nonzero().squeeze(1);
      const at::Tensor index = (scored * r.logits.size(1) + position.index_select(0, scored)).to(r.logits.device());
      const at::Tensor logits = r.logits.reshape({n * r.logits.size(1), -1});  // [batch * (pos - from), d_vocab_out]
      for (std::size_t i = 0; i < 2; ++i) {
        const at::Tensor rows = edited(i, start, n).index_select(0, scored.to(m.device()));
        tally_batch(task, b, logits.index_copy(0, index, rows).view(r.logits.sizes()), after[i]);
      }
    } else {
      // The last layer runs only from the first scored position (or the role's, if earlier) on.
      RunOptions options;
      options.from_position = std::min(first_scored_position(b.targets), role.min().item<int64_t>());
      const std::vector<int64_t> shape = source_rows(context.model, source, b, r).shape;
      const int64_t first = hook_first_position(context.model.config, source.hook, options.from_position);
      for (std::size_t i = 0; i < 2; ++i) {
        options.interventions = {replace_rows(source, b, edited(i, start, n), shape, first)};
        const RunResult edited_run = run(context.model, b.tokens, options);
        tally_batch(task, b, edited_run.logits, after[i]);
        accumulate(out.liveness[i], edited_run.liveness[0]);
      }
    }
    start += n;
  }, nullptr);
  const std::string units = unit_name(before);
  const std::string keys_desc = keys_text(f, keys);
  out.checks.push_back(rate_check("accuracy", "unedited: correct on", units, before.overall.correct, before.overall.n,
                                  true, Rule::kNone, 0.0));
  out.checks.push_back(rate_check("accuracy restricted",
                                  "keeping only the constant and " + keys_desc + " in " + source.label + ": correct on",
                                  units, after[0].overall.correct, after[0].overall.n, true,
                                  claim.pass.rate_at_least ? Rule::kRateAtLeast : Rule::kNone,
                                  claim.pass.rate_at_least.value_or(0.0)));
  out.checks.push_back(rate_check("accuracy excluded", "removing " + keys_desc + " from " + source.label + ": correct on",
                                  units, after[1].overall.correct, after[1].overall.n, true,
                                  claim.pass.drop_to_at_most ? Rule::kDropToAtMost : Rule::kNone,
                                  claim.pass.drop_to_at_most.value_or(0.0)));
  Figure fig;
  fig.type = "bars";
  fig.title = "accuracy with only / without " + keys_desc + " in " + source.label;
  fig.y_title = "accuracy";
  fig.x_labels = {"unedited", "restricted (only the key frequencies)", "excluded (without them)"};
  fig.series = {"accuracy"};
  fig.values = {{before.overall.accuracy(), after[0].overall.accuracy(), after[1].overall.accuracy()}};
  fig.reference = pass_thresholds(claim.pass);
  out.figures.push_back(fig);
}

void run_logit_fit(const Claim& claim, const at::Tensor& m, const std::vector<int64_t>& keys, Outcome& out) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  const LogitFit fit = fit_logits(m, f.modulus, keys);
  Figure fig;
  fig.type = "bars";
  fig.title = "coefficients of cos(2 pi k (a + b - c) / " + std::to_string(f.modulus) + ") fitting " + f.source.label +
              " (R^2 " + number(fit.r2) + ")";
  fig.x_title = "frequency k";
  fig.y_title = "alpha_k";
  fig.x_labels = frequency_labels(keys);
  fig.series = {"alpha"};
  fig.values = {fit.coefficients};
  out.figures.push_back(fig);
  const std::string what = "R^2 of " + f.source.label +
                           " (centred over c) fit by sum_k alpha_k cos(2 pi k (a + b - c) / " +
                           std::to_string(f.modulus) + ") over " + keys_text(f, keys) + ":";
  for (Check& c : value_checks("logit_fit_r2", what, fit.r2, claim.pass)) out.checks.push_back(std::move(c));
}

MatrixSource fourier_source_at(const json& v, const At& at, const Config& config, const Batch& sample, int64_t p) {
  MatrixSource s = source_at(v, at, config, sample);
  if (!s.is_activation() && s.rows != p)
    at.fail("the Fourier basis is over the " + std::to_string(p) + " inputs 0.." + std::to_string(p - 1) +
            ": the matrix needs " + std::to_string(p) + " rows, " + s.label + " has " + std::to_string(s.rows) +
            " (select \"rows\", or \"transpose\")");
  if (s.is_activation() && sample.roles.at(s.role).dim() != 1)
    (at / "role").fail("role " + quote(s.role) + " has several positions per example; the grid needs one");
  return s;
}

}  // namespace

at::Tensor fourier_basis(int64_t p) {
  check(p >= 3 && p % 2 == 1, "fourier_basis", "p must be odd and at least 3, got " + std::to_string(p));
  const at::Tensor x = at::arange(p, at::kDouble);
  const at::Tensor k = basis_frequencies(p).to(at::kDouble).unsqueeze(1);  // [p, 1]
  const at::Tensor angle = k * x.unsqueeze(0) * (2.0 * M_PI / static_cast<double>(p));
  const at::Tensor is_cos = (at::arange(p, at::kLong) % 2 == 1).unsqueeze(1);
  at::Tensor basis = at::where(is_cos, at::cos(angle), at::sin(angle)) * std::sqrt(2.0 / static_cast<double>(p));
  basis[0].fill_(1.0 / std::sqrt(static_cast<double>(p)));
  return basis;
}

FrequencyEnergy frequency_energy(const at::Tensor& m, int64_t p) {
  check_rows(m, p, "frequency_energy");
  const int64_t n_freq = (p - 1) / 2;
  const at::Tensor x = m.is_floating_point() ? m : m.to(at::kFloat);
  const at::Tensor basis = fourier_basis(p).to(x.options());
  // Group each frequency's cos and sin (rows 2k-1, 2k), along one or both grid axes.
  auto group = [&](const at::Tensor& t, int64_t dim) {
    return at::cat({t.narrow(dim, 0, 1), t.narrow(dim, 1, p - 1).unflatten(dim, {n_freq, 2}).sum(dim + 1)}, dim);
  };
  std::vector<at::Tensor> per_frequency, total;
  for (int64_t from = 0; from < x.size(1); from += kFourierColumns) {
    const at::Tensor columns = x.narrow(1, from, std::min(kFourierColumns, x.size(1) - from));
    const at::Tensor squared = coefficients(columns, p, basis).square().to(at::kDouble);
    if (m.size(0) == p) {
      per_frequency.push_back(group(squared, 0).slice(0, 1));
      total.push_back(per_frequency.back().sum(0));
      continue;
    }
    const at::Tensor g = group(group(squared, 0), 1);  // [n_freq + 1, n_freq + 1, columns]
    const at::Tensor diagonal = g.slice(0, 1).slice(1, 1).diagonal(0, 0, 1).t();  // [n_freq, columns]
    per_frequency.push_back(diagonal + g[0].slice(0, 1) + g.select(1, 0).slice(0, 1));
    total.push_back(g.sum(at::IntArrayRef{0, 1}) - g[0][0]);
  }
  return {at::cat(per_frequency, 1), at::cat(total)};
}

std::vector<int64_t> top_frequencies(const FrequencyEnergy& energy, int64_t k) {
  const at::Tensor order = std::get<1>(energy.per_frequency.sum(1).cpu().sort(0, true));
  std::vector<int64_t> out;
  for (int64_t i = 0; i < std::min(k, order.size(0)); ++i) out.push_back(order[i].item<int64_t>() + 1);
  return out;
}

at::Tensor project_frequencies(const at::Tensor& m, int64_t p, const std::vector<int64_t>& frequencies, bool keep) {
  check_rows(m, p, "project_frequencies");
  const at::Tensor x = m.is_floating_point() ? m : m.to(at::kFloat);
  const at::Tensor basis = fourier_basis(p).to(x.options());
  at::Tensor mask;
  if (m.size(0) == p) {
    const at::Tensor f = basis_frequencies(p);
    mask = at::zeros({p}, at::kBool);
    for (int64_t k : frequencies) mask = mask.logical_or(f == k);
    mask = mask.unsqueeze(1);
  } else {
    mask = grid_components(p, frequencies).unsqueeze(2);
  }
  if (keep) {
    mask = mask.clone();
    mask.view(-1)[0] = true;  // the constant
  } else {
    mask = mask.logical_not();
  }
  mask = mask.to(x.options());
  at::Tensor out = at::empty_like(x);
  for (int64_t from = 0; from < x.size(1); from += kFourierColumns) {
    const int64_t width = std::min(kFourierColumns, x.size(1) - from);
    out.narrow(1, from, width).copy_(from_coefficients(coefficients(x.narrow(1, from, width), p, basis) * mask, p, basis));
  }
  return out;
}

LogitFit fit_logits(const at::Tensor& logits, int64_t p, const std::vector<int64_t>& frequencies) {
  check_internal(logits.dim() == 2 && logits.size(0) == p * p && logits.size(1) == p, "fit_logits",
        "expected logits [" + std::to_string(p * p) + ", " + std::to_string(p) + "], got " + c10::str(logits.sizes()));
  const at::Tensor l = logits.to(at::kDouble);
  const at::Tensor y = l - l.mean(1, true);  // [p * p, p]: row (a, b), column c
  // Each feature depends on s = (a + b - c) mod p alone, and each s occurs p * p times, so
  // the normal equations need only the centred logits summed per s.
  const at::Tensor i = at::arange(p * p, l.options().dtype(at::kLong));
  const at::Tensor s = ((at::div(i, p, "floor") + i % p).unsqueeze(1) - at::arange(p, i.options()).unsqueeze(0)).remainder(p);
  const at::Tensor per_s = at::zeros({p}, l.options()).index_add_(0, s.flatten(), y.flatten());
  std::vector<at::Tensor> waves;
  for (int64_t k : frequencies)
    waves.push_back(at::cos(at::arange(p, l.options()) * (2.0 * M_PI * static_cast<double>(k) / static_cast<double>(p))));
  const at::Tensor c = at::stack(waves);  // [n_freq, p]: cos(2 pi k s / p)
  const at::Tensor gram = c.matmul(c.t()) * static_cast<double>(p * p), xy = c.matmul(per_s);
  const at::Tensor alpha = at::linalg_solve(gram, xy);
  const double total = y.square().sum().item<double>();
  LogitFit fit;
  // The residual's squared norm is total - alpha . xy at the least-squares solution.
  fit.r2 = total > 0 ? alpha.dot(xy).item<double>() / total : 0.0;
  const at::Tensor a = alpha.cpu();
  fit.coefficients.assign(a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
  return fit;
}

void parse_fourier(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Task& task = context.task;
  const Config& config = context.config;
  const Batch& sample = context.sample;
  if (!task.cyclic)
    (at / "kind").fail("fourier claims are over a task's cyclic input (residues mod p, as S1's); " + task.name +
                       " has none");
  FourierSpec& f = claim.spec.emplace<FourierSpec>();
  f.modulus = task.cyclic->modulus;
  f.measure = named_at<FourierMeasure>(v["measure"], at / "measure", "measure",
                                      {{"agreement", FourierMeasure::kAgreement},
                                       {"energy", FourierMeasure::kEnergy},
                                       {"logit_fit", FourierMeasure::kLogitFit},
                                       {"restricted_excluded", FourierMeasure::kRestrictedExcluded},
                                       {"single_frequency", FourierMeasure::kSingleFrequency}});
  f.source = fourier_source_at(v["source"], at / "source", config, sample, f.modulus);
  if (v.contains("keys_from")) f.keys_from = fourier_source_at(v["keys_from"], at / "keys_from", config, sample, f.modulus);
  f.k = integer_at(v["k"], at / "k", 1, (f.modulus - 1) / 2);
  if (f.measure == FourierMeasure::kAgreement && !f.keys_from)
    at.fail("missing field 'keys_from' (agreement compares two sources)");
  if (f.measure == FourierMeasure::kSingleFrequency) {
    if (!v.contains("min_explained")) at.fail("missing field 'min_explained'");
    f.min_explained = rate_at(v["min_explained"], at / "min_explained");
  } else if (v.contains("min_explained")) {
    (at / "min_explained").fail("only the single_frequency measure takes min_explained");
  }
  if (f.measure == FourierMeasure::kRestrictedExcluded && !f.source.is_activation())
    (at / "source").fail("restricted_excluded edits an activation or the logits over the grid, not weights");
  if (f.measure == FourierMeasure::kLogitFit && !f.source.logits)
    (at / "source").fail("logit_fit fits the logits: {\"activation\": \"logits\", \"role\": ...}");
  const bool activation = f.source.is_activation() || (f.keys_from && f.keys_from->is_activation());
  claim.domain = source_domain_at(v, at, task, activation);
  if (activation && !claim.domain.exhaustive)
    (at / "domain").fail("the Fourier transform of an activation is over the whole " + std::to_string(f.modulus) + " x " +
                         std::to_string(f.modulus) + " grid: {\"exhaustive\": true}");
  if (activation && task.domain_size != f.modulus * f.modulus)
    (at / "domain").fail(task.name + "'s domain is not the " + std::to_string(f.modulus) + " x " +
                         std::to_string(f.modulus) + " grid of its cyclic input");
  switch (f.measure) {
    case FourierMeasure::kSingleFrequency:
      claim.pass = pass_at(v["pass"], at / "pass", {"rate_at_least", "rate_at_most"}, {}, {});
      break;
    case FourierMeasure::kRestrictedExcluded:
      claim.pass = pass_at(v["pass"], at / "pass", {"rate_at_least", "drop_to_at_most"}, {}, {});
      break;
    default:
      claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
  }
}

PlainReads fourier_reads(const Claim& claim) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  PlainReads reads = f.keys_from ? merged(source_reads(f.source), source_reads(*f.keys_from)) : source_reads(f.source);
  reads.logits = true;
  return reads;
}

void run_fourier(const RunContext& context, const Claim& claim, Outcome& out) {
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  const at::Tensor m = source_matrix(context.model, f.source, claim.domain, context.visit);
  const FrequencyEnergy energy = frequency_energy(m, f.modulus);
  const FrequencyEnergy key_energy =
      f.keys_from ? frequency_energy(source_matrix(context.model, *f.keys_from, claim.domain, context.visit), f.modulus)
                  : energy;
  std::vector<int64_t> keys = top_frequencies(key_energy, f.k);
  if (f.placebo_seed) keys = other_frequencies(keys, f, *f.placebo_seed);
  switch (f.measure) {
    case FourierMeasure::kEnergy: run_energy(claim, energy, keys, out); break;
    case FourierMeasure::kAgreement: run_agreement(claim, energy, key_energy, keys, out); break;
    case FourierMeasure::kSingleFrequency: run_single_frequency(claim, energy, keys, out); break;
    case FourierMeasure::kRestrictedExcluded: run_restricted_excluded(context, claim, m, keys, out); break;
    case FourierMeasure::kLogitFit: run_logit_fit(claim, m, keys, out); break;
  }
}

std::vector<PlaceboRun> fourier_placebos(const Claim& claim, const std::string& control, const Config&,
                                         const std::string& where) {
  const std::string context = "control " + quote(control);
  const FourierSpec& f = spec_of<FourierSpec>(claim.spec);
  check(f.measure == FourierMeasure::kRestrictedExcluded, where,
        context + ": a fourier claim takes a placebo with measure restricted_excluded only");
  check(control != kAllPlacebos, where,
        context + ": more than " + std::to_string(kMaxPlacebos) + " placebos; draw some with placebo:<seed>");
  const int64_t frequencies = (f.modulus - 1) / 2;
  check(2 * f.k <= frequencies, where,
        context + ": " + std::to_string(frequencies - f.k) + " other frequencies left, the placebo needs " +
            std::to_string(f.k));
  FourierSpec placebo = f;
  placebo.placebo_seed = control_seed(control, "placebo", where);
  return {{control, control, placebo}};
}

}  // namespace circuitcheck
