// The "geometry" claim kind (claims/README.md): the geometry of
// representations, on a matrix read from a claim's "source"
// (matrix_source.h): weights, or an activation's rows over the claim's domain.
//
// By measure:
//   "silhouette"  the activation rows, centred and projected on their top
//                 `components` principal components (default 2), labelled by
//                 the task class `class`: the mean silhouette coefficient in
//                 [-1, 1] (value_at_least|most; near 1: tight separated
//                 clusters, near 0: none). A [batch] class labels every item
//                 of its example; a [batch, k] class pairs item by item with a
//                 [batch, k] role; items whose class is -1 are left out.
//                 With "class_item": k, item k of a [batch, k] class labels
//                 each example (e.g. S5's tricase of question digit 2).
//   "cosines"     the mean |cosine| over the pairs of distinct rows of the
//                 matrix, in [0, 1] (value_at_least|most; <= b: near
//                 orthogonal, e.g. S4's variable embeddings); the largest
//                 |cosine| is reported. A zero row has cosine 0 with every row.
//
// Errors: one InputError "<file>: <JSON pointer>: <what>" (claim_fields.h)
// for an unknown measure, source, class or role, a class_item out of range
// or of a [batch] class, a class that does not pair with the role, a
// silhouette on weights, a missing or superfluous domain, a threshold the
// kind does not take. Running: InputError when `components` exceeds the
// activation's width, or the silhouette's items have fewer than 2 classes.
#pragma once

#include "circuits/claims/kinds/kind.h"
#include "circuits/claims/matrix_source.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace circuitcheck {

enum class GeometryMeasure { kSilhouette, kCosines };

struct GeometrySpec {
  GeometryMeasure measure = GeometryMeasure::kCosines;
  MatrixSource source;
  std::string class_name;   // silhouette: a class of the task
  int64_t class_item = -1;  // silhouette: item k of a [batch, k] class labels each example; -1: the class as it is
  int64_t components = 2;   // silhouette: principal components kept, >= 1
};

// m [n, d] centred and projected on its top `components` principal
// directions: [n, components] float64. Throws InputError when components > d.
at::Tensor principal_components(const at::Tensor& m, int64_t components);

// The silhouette coefficient of each of points [n, c] with labels [n]
// (int64), [n] float64 (their mean is the silhouette): (b - a) / max(a, b),
// a the mean Euclidean distance to the other points of its label, b the
// smallest mean distance to another label's points; 0 for a point alone in
// its label. Throws InputError for fewer than 2 labels.
at::Tensor silhouettes(const at::Tensor& points, const at::Tensor& labels);

// Cosines between the rows of m [n, d]: [n, n] float64 (0 where a row is zero).
at::Tensor cosine_matrix(const at::Tensor& m);

// Reads a geometry claim's own fields, "domain" and "pass" into its
// GeometrySpec, claim.domain and claim.pass.
void parse_geometry(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);

// What it reads of the plain runs on its domain: its activation source (source_reads).
PlainReads geometry_reads(const Claim& claim);

// Runs a geometry claim: check "silhouette" with a "scatter" figure of the
// first two principal components coloured by class (at most 2,000 points,
// evenly spaced over the items), or check "mean_abs_cosine" (and
// "max_abs_cosine" reported) with a "heatmap" of the first 64 rows' cosines.
void run_geometry(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
