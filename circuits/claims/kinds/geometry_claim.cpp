#include "circuits/claims/kinds/geometry_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <limits>
#include <map>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr int64_t kMaxScatterPoints = 2000;
constexpr int64_t kMaxHeatmapRows = 64;
constexpr int64_t kSilhouetteChunk = 1024;

// The row labels of a source's matrix: the parameter's row indices for one
// restricted parameter, else 0..n-1.
std::vector<std::string> row_labels(const MatrixSource& source, int64_t n) {
  std::vector<std::string> out;
  const bool indexed = source.factors.size() == 1 && !source.factors[0].rows.empty() && !source.factors[0].transpose;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::to_string(indexed ? source.factors[0].rows[i] : i));
  return out;
}

void run_silhouette(const RunContext& context, const Claim& claim, Outcome& out) {
  const GeometrySpec& g = spec_of<GeometrySpec>(claim.spec);
  std::vector<at::Tensor> rows, labels, examples;
  std::map<int64_t, std::string> names;  // class value -> legend
  int64_t seen = 0;
  context.visit(claim.domain, source_reads(g.source), [&](const Batch& b, const RunResult& run) {
    const SourceRows r = source_rows(context.model, g.source, b, run);
    at::Tensor cls = b.classes.at(g.class_name);
    if (g.class_item >= 0) cls = cls.select(1, g.class_item);
    if (cls.dim() == 1) cls = cls.unsqueeze(1).expand(r.present.sizes());
    const at::Tensor item_labels = cls.masked_select(r.present);  // [items]
    const at::Tensor kept = (item_labels >= 0).nonzero().squeeze(1);
    rows.push_back(r.rows.index_select(0, kept.to(r.rows.device())));
    labels.push_back(item_labels.index_select(0, kept));
    const at::Tensor example = at::arange(seen, seen + b.tokens.size(0), at::kLong).unsqueeze(1);
    examples.push_back(example.expand(r.present.sizes()).masked_select(r.present.cpu()).index_select(0, kept.cpu()));
    seen += b.tokens.size(0);
    const at::Tensor present = std::get<0>(at::_unique(labels.back())).cpu().contiguous();
    for (const int64_t* v = present.data_ptr<int64_t>(); v != present.data_ptr<int64_t>() + present.numel(); ++v) {
      const std::string named = class_value_name(context.task, g.class_name, *v);
      names[*v] = named.empty() ? g.class_name + "=" + std::to_string(*v) : named;
    }
  }, nullptr);
  const at::Tensor m = at::cat(rows), all_labels = at::cat(labels);
  check(g.components <= m.size(1), "run_geometry: " + claim.id,
        std::to_string(g.components) + " components asked of " + g.source.label + ", which has " +
            plural(m.size(1), "column"));
  // At least two components for the figure when there are two columns.
  const at::Tensor points = principal_components(m, std::min<int64_t>(std::max<int64_t>(g.components, 2), m.size(1)));
  const at::Tensor each = silhouettes(points.slice(1, 0, g.components), all_labels.to(points.device()));
  const double value = each.mean().item<double>();
  std::optional<Bootstrap> interval;
  if (!claim.domain.exhaustive) {
    const auto [sums, counts] = sums_by_example(each, at::cat(examples));
    interval = ratio_bootstrap(sums, counts, claim.domain.seed);
  }
  const std::string by = g.class_name + (g.class_item >= 0 ? "[" + std::to_string(g.class_item) + "]" : "");
  const std::string what = "silhouette by " + by + " of " + g.source.label + " in its top " +
                           std::to_string(g.components) + " principal components over " +
                           std::to_string(m.size(0)) + " items:";
  for (Check& c : value_checks("silhouette", what, value, claim.pass, interval ? &*interval : nullptr))
    out.checks.push_back(std::move(c));

  Figure fig;
  fig.type = "scatter";
  fig.title = g.source.label + " by " + by + " (silhouette " + number(value) + ")";
  fig.x_title = "principal component 1";
  fig.y_title = "principal component 2";
  std::map<int64_t, int> series_of;
  for (const auto& [v, name] : names) {
    series_of[v] = static_cast<int>(fig.series.size());
    fig.series.push_back(name);
  }
  const at::Tensor shown =
      (points.size(1) > 1 ? points.slice(1, 0, 2) : at::cat({points, at::zeros_like(points)}, 1)).cpu();
  const at::Tensor shown_labels = all_labels.cpu();
  const int64_t n = shown.size(0), count = std::min(n, kMaxScatterPoints);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t item = i * n / count;
    fig.values.push_back({shown[item][0].item<double>(), shown[item][1].item<double>()});
    fig.classes.push_back(series_of.at(shown_labels[item].item<int64_t>()));
  }
  out.figures.push_back(fig);
}

void run_cosines(const RunContext& context, const Claim& claim, Outcome& out) {
  const GeometrySpec& g = spec_of<GeometrySpec>(claim.spec);
  const at::Tensor m = source_matrix(context.model, g.source, claim.domain, context.visit);
  const int64_t n = m.size(0);
  check(n >= 2, "run_geometry: " + claim.id, g.source.label + " has " + plural(n, "row") + "; cosines need 2");
  const at::Tensor c = cosine_matrix(m);
  const at::Tensor off = c.abs().masked_select(at::eye(n, c.options().dtype(at::kBool)).logical_not());
  const double mean = off.mean().item<double>(), largest = off.max().item<double>();
  const std::string pairs = std::to_string(n * (n - 1) / 2) + " pairs of rows of " + g.source.label;
  for (Check& ch : value_checks("mean_abs_cosine", "mean |cosine| over the " + pairs + ":", mean, claim.pass))
    out.checks.push_back(std::move(ch));
  out.checks.push_back(value_check("max_abs_cosine", "largest |cosine| over the " + pairs + ":", largest, Rule::kNone, 0.0));

  const int64_t shown = std::min(n, kMaxHeatmapRows);
  const at::Tensor head = c.slice(0, 0, shown).slice(1, 0, shown).cpu().contiguous();
  Figure fig;
  fig.type = "heatmap";
  fig.title = "cosines between rows of " + g.source.label + " (mean |cosine| " + number(mean) + ")";
  fig.x_title = fig.y_title = "row";
  fig.x_labels = fig.y_labels = row_labels(g.source, shown);
  for (int64_t i = 0; i < shown; ++i)
    fig.values.emplace_back(head[i].data_ptr<double>(), head[i].data_ptr<double>() + shown);
  out.figures.push_back(fig);
}

}  // namespace

at::Tensor principal_components(const at::Tensor& m, int64_t components) {
  check(components <= m.size(1), "principal_components",
        std::to_string(components) + " components asked of " + std::to_string(m.size(1)) + " columns");
  const at::Tensor x = m.to(at::kDouble) - m.to(at::kDouble).mean(0, true);
  const at::Tensor vh = std::get<2>(at::linalg_svd(x, false));  // [min(n, d), d]
  const int64_t kept = std::min(components, vh.size(0));
  at::Tensor out = x.matmul(vh.slice(0, 0, kept).t());
  if (kept < components) out = at::cat({out, at::zeros({x.size(0), components - kept}, out.options())}, 1);
  return out;
}

at::Tensor silhouettes(const at::Tensor& points, const at::Tensor& labels) {
  const int64_t n = points.size(0);
  const auto [values, index] = at::_unique(labels.cpu(), true, true);
  const int64_t n_labels = values.size(0);
  check(n_labels >= 2, "silhouette", "needs points of at least 2 labels, got " + std::to_string(n_labels));
  const at::Tensor p = points.to(at::kDouble);
  const at::Tensor member = at::one_hot(index.to(p.device()), n_labels).to(at::kDouble);  // [n, labels]
  const at::Tensor counts = member.sum(0);                                                 // [labels]
  std::vector<at::Tensor> out;
  for (int64_t start = 0; start < n; start += kSilhouetteChunk) {
    const int64_t end = std::min(n, start + kSilhouetteChunk);
    const at::Tensor sums = at::cdist(p.slice(0, start, end), p).matmul(member);  // [chunk, labels]
    const at::Tensor own = member.slice(0, start, end).to(at::kBool);
    const at::Tensor own_count = counts.masked_select(own);  // [chunk]
    const at::Tensor a = sums.masked_select(own) / (own_count - 1).clamp_min(1);
    const at::Tensor b = (sums / counts).masked_fill(own, std::numeric_limits<double>::infinity()).amin(1);
    const at::Tensor larger = at::maximum(a, b);
    const at::Tensor s = at::where((own_count > 1).logical_and(larger > 0), (b - a) / larger.clamp_min(1e-300),
                                   at::zeros_like(a));
    out.push_back(s.cpu());
  }
  return at::cat(out);
}

at::Tensor cosine_matrix(const at::Tensor& m) {
  const at::Tensor x = m.to(at::kDouble);
  const at::Tensor norm = x.norm(2, {1}, true);
  const at::Tensor unit = at::where(norm > 0, x / norm.clamp_min(1e-300), at::zeros_like(x));
  return unit.matmul(unit.t());
}

void parse_geometry(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Task& task = context.task;
  const Config& config = context.config;
  const Batch& sample = context.sample;
  GeometrySpec& g = claim.spec.emplace<GeometrySpec>();
  g.measure = named_at<GeometryMeasure>(v["measure"], at / "measure", "measure",
                                       {{"cosines", GeometryMeasure::kCosines}, {"silhouette", GeometryMeasure::kSilhouette}});
  g.source = source_at(v["source"], at / "source", config, sample);
  if (g.measure == GeometryMeasure::kSilhouette) {
    if (!g.source.is_activation())
      (at / "source").fail("a silhouette clusters activations by a class: {\"activation\": ...}");
    if (!v.contains("class")) at.fail("missing field 'class'");
    at::Tensor cls = class_at(v["class"], at / "class", context.task, sample);
    g.class_name = v["class"].get<std::string>();
    const at::Tensor& role = sample.roles.at(g.source.role);
    if (v.contains("class_item")) {
      if (cls.dim() != 2)
        (at / "class_item").fail("class " + quote(g.class_name) + " has one value per example; only a class with " +
                                 "several (e.g. one per digit) takes class_item");
      g.class_item = integer_at(v["class_item"], at / "class_item", 0, cls.size(1) - 1);
      cls = cls.select(1, g.class_item);
    }
    if (cls.dim() == 2 && (role.dim() != 2 || role.size(1) != cls.size(1)))
      (at / "class").fail("class " + quote(g.class_name) + " has " + plural(cls.size(1), "value") +
                          " per example but role " + quote(g.source.role) + " has " +
                          plural(role.dim() == 2 ? role.size(1) : 1, "position") + "; they pair item by item");
    if (v.contains("components")) g.components = integer_at(v["components"], at / "components", 1, 1024);
  } else {
    for (const char* field : {"class", "class_item", "components"})
      if (v.contains(field)) (at / field).fail("only the silhouette measure takes " + std::string(field));
  }
  claim.domain = source_domain_at(v, at, task, g.source.is_activation());
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
}

PlainReads geometry_reads(const Claim& claim) { return source_reads(spec_of<GeometrySpec>(claim.spec).source); }

void run_geometry(const RunContext& context, const Claim& claim, Outcome& out) {
  if (spec_of<GeometrySpec>(claim.spec).measure == GeometryMeasure::kSilhouette)
    run_silhouette(context, claim, out);
  else
    run_cosines(context, claim, out);
}

}  // namespace circuitcheck
