// The matrices that representation claims (fourier, spectrum, geometry;
// claims/README.md) analyse, read from a claim's "source" (or "keys_from"):
//
//   {"param": P, "head": h, "rows": R, "columns": C, "transpose": true}
//       a parameter by its TL name (model.h). Per-head parameters (an
//       `attn.` parameter whose first dimension is n_heads) take "head"; the
//       3-D ones (W_Q, W_K, W_V [n_heads, d_model, d_head], W_O) need it. A
//       1-D parameter is one column [n, 1]. Then the rows and columns kept (R,
//       C: an array of indices, or {"from": i, "to": j}, both inclusive), then
//       the transpose. E.g. {"param": "embed.W_E", "rows": {"from": 0, "to": 112}}
//       is S1's embedding of the numbers 0..112 without `=`: [113, 128].
//   {"product": [PARAM, PARAM, ...]}
//       the product of at least two such parameters, left to right, e.g. the
//       OV circuit W_E[0..112] W_V[h] W_O[h]: [113, d_model].
//   {"activation": H, "role": R, "head": h}
//       the activation at hook H (a TL name whose position dimension is the
//       second, i.e. not attn scores or patterns; or "logits", the model's
//       output [batch, pos, d_vocab_out]) at the position of role R, over the
//       claim's domain: one row per example for [batch] roles, one per present
//       (example, k) item for [batch, k] roles, in domain order. For hooks with
//       heads ([batch, pos, n_heads, d]) "head" keeps one head's vector [d];
//       without it the heads' vectors are concatenated [n_heads * d].
//
// Errors: every problem is one InputError "<file>: <JSON pointer>: <what>"
// (claim_fields.h): an unknown parameter, hook or role, a missing or
// superfluous head, an index out of range, factors whose shapes do not chain.
#pragma once

#include "circuits/claims/check.h"
#include "circuits/claims/claim_fields.h"
#include "circuits/claims/shared_runs.h"
#include "circuits/model/config.h"
#include "circuits/model/hooks.h"
#include "circuits/model/intervention.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace circuitcheck {

// One parameter matrix: `name`, then head `head` (-1: none), then `rows` and
// `columns` (empty: all), then transposed.
struct ParamFactor {
  std::string name;
  int head = -1;
  std::vector<int64_t> rows, columns;
  bool transpose = false;
};

struct MatrixSource {
  std::vector<ParamFactor> factors;  // weights: one factor or a product; empty for an activation
  HookPoint hook;                    // activation (unless `logits`)
  bool logits = false;               // activation: the logits instead of a hook
  std::string role;                  // activation: where in each example
  int head = -1;                     // activation with heads: one head; -1 all, concatenated
  int64_t rows = 0, columns = 0;     // weights: the matrix's shape
  std::string label;                 // "embed.W_E[0..112]", "blocks.0.mlp.hook_post@equals", for messages

  bool is_activation() const { return factors.empty(); }
};

// Reads a source (see the top of this file) of a model with `config`;
// `sample` is a batch of the claim's task (for its roles).
MatrixSource source_at(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample);

// The claim's "domain" (of the claim object `claim` at `at`): required when
// `activation` (some source of the claim is an activation) and read as
// domain_at reads it; refused ("a claim on weights has no domain") otherwise,
// when the default Domain is returned.
Domain source_domain_at(const nlohmann::json& claim, const At& at, const Task& task, bool activation);

// The weight matrix of a weights source: [rows, columns] float32, on the model's device.
at::Tensor weight_matrix(const HookedTransformer& model, const MatrixSource& source);

// One batch of an activation source.
struct SourceRows {
  at::Tensor rows;             // [items, d] float32: the activation at each present item, in (example, k) order
  at::Tensor present;          // [batch, k] bool: which items are rows (k = 1 for a [batch] role)
  std::vector<int64_t> shape;  // the activation at one item before flattening, e.g. {512} or {n_heads, d_head}
};

// What an activation source reads of the plain runs (shared_runs.h): its
// hook at its role's positions without the logits, or the logits; nothing
// for weights.
PlainReads source_reads(const MatrixSource& source);

// An activation source's rows in `batch`, read from `run`, a plain run of
// the batch with source_reads(source). A cached hook or the logits may
// cover only [from, pos) (PlainReads::roles, RunResult::logits): positions
// count from the end. Logits at a position before the run's logits begin
// come from a run of `model` of its own.
SourceRows source_rows(const HookedTransformer& model, const MatrixSource& source, const Batch& batch,
                       const RunResult& run);

// The whole matrix of a source: the weights, or the activation rows over
// `domain` concatenated in domain order ([items, d]), read from the plain
// runs `visit` gives (RunContext::visit, shared with the other claims of a run).
at::Tensor source_matrix(const HookedTransformer& model, const MatrixSource& source, const Domain& domain,
                         const VisitRuns& visit);

// The thresholds a pass rule sets, as a figure's reference lines.
std::vector<double> pass_thresholds(const PassRule& pass);

// A "bars" figure of `shares` (e.g. of energy, in [0, 1]) in the order given,
// labelled `labels`, with their running sum as a second series and the pass
// rule's thresholds as reference lines.
Figure cumulative_bars(const std::string& title, const std::string& x_title, const std::vector<std::string>& labels,
                       const std::vector<double>& shares, const PassRule& pass);

// An intervention that replaces an activation source's hook at the role's
// position of every example of `batch` (a [batch] role) by `rows` [batch, d]
// (laid out as SourceRows gives them, `shape` its SourceRows::shape); only
// the selected head when the source has one. Not for "logits". `first` is the
// first position the hook covers in the run (hook_first_position in
// model.h); every role position must be at or after it.
Intervention replace_rows(const MatrixSource& source, const Batch& batch, const at::Tensor& rows,
                          const std::vector<int64_t>& shape, int64_t first = 0);

}  // namespace circuitcheck
