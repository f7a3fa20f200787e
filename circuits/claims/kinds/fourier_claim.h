// Fourier claims (kind "fourier", claims/README.md): how a matrix over a
// task's cyclic input x in Z_p (Task::cyclic; S1: p = 113) decomposes in the
// real Fourier basis. Only a task with a cyclic input takes them.
//
// Basis (fourier_basis): p orthonormal functions of x: the constant, and
// cos(2 pi k x / p), sin(2 pi k x / p) for the frequencies k = 1 .. (p - 1) / 2
// (56). Frequency k groups its cos and sin.
//
// The analysed matrix (matrix_source.h) is either over one input, [p, d]: a
// weights source whose rows are the inputs 0..p-1 (embed.W_E rows 0..112;
// unembed.W_U transposed), one column per model dimension; or over the grid
// of pairs, [p * p, d]: an activation over the exhaustive S1 domain (row
// i = (a, b) = (i / p, i % p)), e.g. the 512 MLP neurons at
// blocks.0.mlp.hook_post at role "equals", or the 113 logits.
// Energy (frequency_energy): the squared coefficients in the basis (in the
// matrix's units squared). On one input, frequency k has its cos and sin
// coefficients; on the grid (the 2-D basis over (a, b)), every component whose
// two frequencies are each 0 or k, but not both 0 (cos ka, sin kb, cos ka cos kb,
// ...); products of two different non-zero frequencies belong to none. The
// non-constant energy is everything but the constant component.
//
// Key frequencies: the `k` frequencies with the most energy (summed over
// columns) of `keys_from`, or of the source itself; on a placebo run, k
// others drawn with its seed. Measures:
//   "energy"               the share of the source's non-constant energy in the
//                          key frequencies, in [0, 1] (value_at_least|most)
//   "agreement"            how many of the source's own top-k frequencies are key
//                          frequencies of `keys_from`, 0..k (value_at_least|most)
//   "single_frequency"     the rate of the source's columns (e.g. neurons) whose
//                          non-constant energy lies at least `min_explained` in one
//                          key frequency; exact (rate_at_least|most). A column with
//                          no non-constant energy (a dead neuron) does not count
//   "restricted_excluded"  accuracy over the grid when the source (a hook's
//                          activation, patched back, or the logits) keeps only the
//                          constant and the key frequencies' components
//                          ("restricted", rate_at_least) or loses those components
//                          ("excluded", drop_to_at_most); exact
//   "logit_fit"            R^2 of the logits [p * p, p], centred over the output c,
//                          fit by least squares with sum_k alpha_k cos(2 pi k (a + b - c) / p)
//                          over the key frequencies (value_at_least|most)
//
// Errors: one InputError "<file>: <JSON pointer>: <what>" (claim_fields.h) for
// a task without a cyclic input (Task::cyclic), an unknown measure, a source that is
// not [p, d] weights or an activation (or logits, for the measures that need
// them), k outside [1, (p - 1) / 2], a missing keys_from (agreement) or min_explained
// (single_frequency), a domain that is not {"exhaustive": true} (or not the p x p grid) when a
// source is an activation, a domain on a weights-only claim, a threshold the measure
// does not take.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/matrix_source.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace circuitcheck {

enum class FourierMeasure { kEnergy, kAgreement, kSingleFrequency, kRestrictedExcluded, kLogitFit };

struct FourierSpec {
  FourierMeasure measure = FourierMeasure::kEnergy;
  MatrixSource source;
  std::optional<MatrixSource> keys_from;  // nullopt: the source's own key frequencies
  int64_t k = 0;                          // key frequencies, in [1, (p - 1) / 2]
  double min_explained = 0.0;             // single_frequency: in [0, 1]
  int64_t modulus = 0;                    // p: the task's Cyclic::modulus
  // A placebo run (placebo.h, restricted_excluded only): k frequencies other
  // than the key ones, drawn with this seed, stand in for them.
  std::optional<uint64_t> placebo_seed;
};

// [p, p] float64, rows the orthonormal basis functions over x = 0..p-1 (p odd,
// >= 3): row 0 the constant 1/sqrt(p), row 2k-1 sqrt(2/p) cos(2 pi k x / p),
// row 2k sqrt(2/p) sin(2 pi k x / p). Throws InputError for other p.
at::Tensor fourier_basis(int64_t p);

struct FrequencyEnergy {
  at::Tensor per_frequency;  // [(p - 1) / 2, d] float64: row k - 1 is frequency k's energy per column
  at::Tensor total;          // [d] float64: the non-constant energy per column
};

// The energy of `m` per frequency and column: m [p, d] (one input) or
// [p * p, d] (the grid), on any device; transformed in m's floating dtype
// (float32 for integers), summed in float64. Throws InputError for other row
// counts.
FrequencyEnergy frequency_energy(const at::Tensor& m, int64_t p);

// The k frequencies (1-based) with the most energy summed over columns, most first.
std::vector<int64_t> top_frequencies(const FrequencyEnergy& energy, int64_t k);

// `m` ([p, d] or [p * p, d]) with only the constant and the components of
// `frequencies` (keep) or with those components removed (!keep), in m's
// floating dtype (float32 for integers). keep + !keep = m + the constant
// component (each column's mean).
at::Tensor project_frequencies(const at::Tensor& m, int64_t p, const std::vector<int64_t>& frequencies, bool keep);

struct LogitFit {
  double r2 = 0.0;                   // fraction of the centred logits' squared norm explained
  std::vector<double> coefficients;  // alpha_k, one per frequency, in the given order
};

// Fits logits [p * p, p] (grid rows (a, b), columns the answer c), centred
// over c per row, by sum_k alpha_k cos(2 pi k (a + b - c) / p) over `frequencies`.
LogitFit fit_logits(const at::Tensor& logits, int64_t p, const std::vector<int64_t>& frequencies);

// Reads a fourier claim's own fields, "domain" and "pass" into its FourierSpec,
// claim.domain and claim.pass; `sample` is a batch of `task`.
void parse_fourier(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);

// What a fourier claim reads of the plain runs on its domain: its activation
// sources' hooks (source_reads), and the logits (accuracy before editing).
PlainReads fourier_reads(const Claim& claim);

// Runs a fourier claim on the context's model: one check per threshold (named
// "key_frequency_energy", "key_frequency_overlap", "single_frequency",
// "accuracy restricted" / "accuracy excluded" (with "accuracy" reported), or
// "logit_fit_r2"), a "bars" figure of the evidence, and for activations
// patched back the interventions' liveness.
void run_fourier(const RunContext& context, const Claim& claim, Outcome& out);
// Its placebo (placebo.h), for measure restricted_excluded only: it keeps or
// removes k frequencies other than the key ones, drawn with the seed
// (placebo_seed). A model whose answer lives in its key frequencies keeps
// its accuracy when others are removed and loses it when only others are
// kept, so the placebo fails both "accuracy restricted" and "accuracy
// excluded". "placebo:all" does not apply (C(56 - k, k) choices at p = 113).
std::vector<PlaceboRun> fourier_placebos(const Claim& claim, const std::string& control, const Config& config,
                                         const std::string& where);

}  // namespace circuitcheck
