// The "spectrum" claim kind (claims/README.md), on a matrix read from a
// claim's "source" (matrix_source.h): weights, or an activation's rows over
// the claim's domain.
//
// The share of the matrix's energy (squared Frobenius norm,
// the sum of its squared singular values) in its top `k` singular values, in
// [0, 1] (value_at_least|most); with "center": true, of the matrix with each
// column's mean removed (the variance explained by the top k principal
// components). E.g. S1's W_E rows 0..112: top 10 hold 84-86 % grokked.
//
// Errors: one InputError "<file>: <JSON pointer>: <what>" (claim_fields.h)
// for an unknown source, k above the weights' rank bound min(rows, columns),
// a missing or superfluous domain, a threshold the kind does not take.
// Running: InputError when k exceeds the activation's width.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/matrix_source.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace circuitcheck {

struct SpectrumSpec {
  MatrixSource source;
  int64_t k = 0;        // >= 1
  bool center = false;  // remove each column's mean first
};

// Each singular value's share of the energy of m [rows, columns] (each
// column's mean removed first when `center`): [min(rows, columns)] float64,
// largest first, summing to 1 (all 0 for a zero matrix).
at::Tensor singular_energy(const at::Tensor& m, bool center);

// Reads a spectrum claim's own fields, "domain" and "pass" into its
// SpectrumSpec, claim.domain and claim.pass.
void parse_spectrum(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);

// What it reads of the plain runs on its domain: its activation source (source_reads).
PlainReads spectrum_reads(const Claim& claim);

// Runs a spectrum claim: check "top_k_energy" and a "bars" figure of the
// singular values' shares.
void run_spectrum(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
