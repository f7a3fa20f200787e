#include "circuits/claims/matrix_source.h"

#include <utility>

namespace circuitcheck {
namespace {

using nlohmann::json;

std::vector<int64_t> indices_at(const json& v, const At& at, int64_t size) {
  std::vector<int64_t> out;
  if (v.is_object()) {
    check_object(v, at, {"from", "to"}, {"from", "to"});
    const int64_t from = integer_at(v["from"], at / "from", 0, size - 1);
    const int64_t to = integer_at(v["to"], at / "to", from, size - 1);
    for (int64_t i = from; i <= to; ++i) out.push_back(i);
    return out;
  }
  if (!v.is_array() || v.empty())
    at.fail(std::string("expected a non-empty array of indices or {\"from\": i, \"to\": j}, got ") +
            (v.is_array() ? "[]" : type_name(v)));
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(integer_at(v[i], at / i, 0, size - 1));
  return out;
}

// "0..112" for a contiguous run, else "[0, 5, 7]".
std::string indices_label(const std::vector<int64_t>& indices) {
  for (std::size_t i = 1; i < indices.size(); ++i)
    if (indices[i] != indices[i - 1] + 1) return c10::str(at::IntArrayRef(indices));
  return std::to_string(indices.front()) + ".." + std::to_string(indices.back());
}

std::string shape_label(int64_t rows, int64_t columns) {
  return "[" + std::to_string(rows) + ", " + std::to_string(columns) + "]";
}

struct ReadFactor {
  ParamFactor factor;
  int64_t rows = 0, columns = 0;
  std::string label;
};

ReadFactor factor_at(const json& v, const At& at, const Config& config) {
  check_object(v, at, {"param", "head", "rows", "columns", "transpose"}, {"param"});
  ReadFactor out;
  ParamFactor& f = out.factor;
  f.name = string_at(v["param"], at / "param");
  std::vector<int64_t> shape;
  std::vector<std::string> valid;
  for (const auto& [name, s] : expected_params(config)) {
    valid.push_back(name);
    if (name == f.name) shape = s;
  }
  if (shape.empty()) (at / "param").fail(unknown_name("parameter", f.name, valid));
  const bool per_head = f.name.find(".attn.") != std::string::npos && shape.size() >= 2 && shape[0] == config.n_heads;
  out.label = f.name;
  if (v.contains("head")) {
    if (!per_head) (at / "head").fail(f.name + " has no head dimension");
    f.head = head_at(v["head"], at / "head", config);
    shape.erase(shape.begin());
    out.label += "[head " + std::to_string(f.head) + "]";
  } else if (shape.size() == 3) {
    at.fail(f.name + " is per head " + c10::str(at::IntArrayRef(shape)) + "; give \"head\"");
  }
  if (shape.size() == 1) shape.push_back(1);
  if (v.contains("rows")) {
    f.rows = indices_at(v["rows"], at / "rows", shape[0]);
    shape[0] = static_cast<int64_t>(f.rows.size());
    out.label += " rows " + indices_label(f.rows);
  }
  if (v.contains("columns")) {
    f.columns = indices_at(v["columns"], at / "columns", shape[1]);
    shape[1] = static_cast<int64_t>(f.columns.size());
    out.label += " columns " + indices_label(f.columns);
  }
  if (v.contains("transpose")) f.transpose = boolean_at(v["transpose"], at / "transpose");
  if (f.transpose) {
    std::swap(shape[0], shape[1]);
    out.label += " transposed";
  }
  out.rows = shape[0];
  out.columns = shape[1];
  return out;
}

at::Tensor factor_matrix(const HookedTransformer& model, const ParamFactor& f) {
  at::Tensor m = model.params.at(f.name);
  if (f.head >= 0) m = m.select(0, f.head);
  if (m.dim() == 1) m = m.unsqueeze(1);
  if (!f.rows.empty())
    m = m.index_select(0, to_tensor(f.rows, {static_cast<int64_t>(f.rows.size())}).to(m.device()));
  if (!f.columns.empty())
    m = m.index_select(1, to_tensor(f.columns, {static_cast<int64_t>(f.columns.size())}).to(m.device()));
  return f.transpose ? m.t() : m;
}

}  // namespace

MatrixSource source_at(const json& v, const At& at, const Config& config, const Batch& sample) {
  object_at(v, at);
  const int given = static_cast<int>(v.contains("param")) + static_cast<int>(v.contains("product")) +
                    static_cast<int>(v.contains("activation"));
  if (given != 1) at.fail("expected exactly one of 'param', 'product', 'activation'");
  MatrixSource source;
  if (v.contains("param")) {
    ReadFactor f = factor_at(v, at, config);
    source.factors = {f.factor};
    source.rows = f.rows;
    source.columns = f.columns;
    source.label = f.label;
    return source;
  }
  if (v.contains("product")) {
    check_object(v, at, {"product"}, {"product"});
    const json& factors = array_at(v["product"], at / "product");
    if (factors.size() < 2) (at / "product").fail("a product needs at least two factors");
    for (std::size_t i = 0; i < factors.size(); ++i) {
      ReadFactor f = factor_at(factors[i], at / "product" / i, config);
      if (i == 0) {
        source.rows = f.rows;
      } else if (f.rows != source.columns) {
        (at / "product" / i).fail("cannot multiply " + source.label + " " + shape_label(source.rows, source.columns) +
                                  " by " + f.label + " " + shape_label(f.rows, f.columns));
      }
      source.columns = f.columns;
      source.label += (i == 0 ? "" : " @ ") + f.label;
      source.factors.push_back(f.factor);
    }
    return source;
  }
  check_object(v, at, {"activation", "role", "head"}, {"activation", "role"});
  const std::string name = string_at(v["activation"], at / "activation");
  source.logits = name == "logits";
  if (!source.logits) {
    source.hook = hook_at(v["activation"], at / "activation", config);
    if (source.hook.type == HookType::kTokens) (at / "activation").fail("tokens are not an activation");
    if (position_dim(source.hook.type) != 1)
      (at / "activation").fail(name + " is indexed by query and key positions; use blocks.L.attn.hook_z or hook_result");
  }
  role_at(v["role"], at / "role", sample);
  source.role = v["role"].get<std::string>();
  source.label = name + " at " + source.role;
  if (v.contains("head")) {
    if (source.logits || head_dim(source.hook.type) < 0) (at / "head").fail(name + " has no head dimension");
    source.head = head_at(v["head"], at / "head", config);
    source.label += " head " + std::to_string(source.head);
  }
  return source;
}

Domain source_domain_at(const json& claim, const At& at, const Task& task, bool activation) {
  if (!activation) {
    if (claim.contains("domain")) (at / "domain").fail("a claim on weights has no domain");
    return {};
  }
  if (!claim.contains("domain")) at.fail("missing field 'domain' (an activation source runs on a domain)");
  return domain_at(claim["domain"], at / "domain", task, true);
}

at::Tensor weight_matrix(const HookedTransformer& model, const MatrixSource& source) {
  at::Tensor m = factor_matrix(model, source.factors.front());
  for (std::size_t i = 1; i < source.factors.size(); ++i) m = m.matmul(factor_matrix(model, source.factors[i]));
  return m;
}

PlainReads source_reads(const MatrixSource& source) {
  if (!source.is_activation()) return {{}, false};
  if (source.logits) return {{}, true};
  return {{source.hook}, false, {source.role}};
}

SourceRows source_rows(const HookedTransformer& model, const MatrixSource& source, const Batch& batch,
                       const RunResult& run) {
  at::Tensor role = batch.roles.at(source.role);
  if (role.dim() == 1) role = role.unsqueeze(1);  // [batch, k]
  SourceRows out;
  out.present = role >= 0;
  // Both in row-major (example, k) order.
  const at::Tensor examples = out.present.nonzero().select(1, 0);
  at::Tensor positions = role.masked_select(out.present);
  at::Tensor x;  // [batch, pos - from, ...]
  if (!source.logits) {
    x = run.cache.at(source.hook);  // [batch, pos - from, ...] for a hook of the last layer (PlainReads::roles)
    positions = positions - (batch.tokens.size(1) - x.size(1));
  } else if (positions.numel() == 0 || batch.tokens.size(1) - run.logits.size(1) <= positions.min().item<int64_t>()) {
    x = run.logits;
    positions = positions - (batch.tokens.size(1) - run.logits.size(1));
  } else {
    x = forward(model, batch.tokens);
  }
  at::Tensor values = x.flatten(0, 1).index_select(0, (examples * x.size(1) + positions).to(x.device()));  // [items, ...]
  if (source.head >= 0) values = values.select(1, source.head);
  out.shape = values.sizes().slice(1).vec();
  out.rows = values.reshape({values.size(0), -1});
  return out;
}

at::Tensor source_matrix(const HookedTransformer& model, const MatrixSource& source, const Domain& domain,
                         const VisitRuns& visit) {
  if (!source.is_activation()) return weight_matrix(model, source);
  std::vector<at::Tensor> parts;
  visit(domain, source_reads(source),
        [&](const Batch& b, const RunResult& r) { parts.push_back(source_rows(model, source, b, r).rows); }, nullptr);
  return at::cat(parts);
}

std::vector<double> pass_thresholds(const PassRule& pass) {
  std::vector<double> out;
  for (const auto& t : {pass.rate_at_least, pass.rate_at_most, pass.value_at_least, pass.value_at_most,
                        pass.drop_to_at_most, pass.before_at_least})
    if (t) out.push_back(*t);
  return out;
}

Figure cumulative_bars(const std::string& title, const std::string& x_title, const std::vector<std::string>& labels,
                       const std::vector<double>& shares, const PassRule& pass) {
  Figure fig;
  fig.type = "bars";
  fig.title = title;
  fig.x_title = x_title;
  fig.y_title = "share";
  fig.x_labels = labels;
  fig.series = {"share", "cumulative share"};
  fig.values = {shares, {}};
  double sum = 0.0;
  for (double x : shares) fig.values[1].push_back(sum += x);
  fig.reference = pass_thresholds(pass);
  return fig;
}

Intervention replace_rows(const MatrixSource& source, const Batch& batch, const at::Tensor& rows,
                          const std::vector<int64_t>& shape, int64_t first) {
  const int64_t n = batch.tokens.size(0), pos = batch.tokens.size(1);
  Intervention iv;
  iv.hook = source.hook;
  iv.kind = InterventionKind::kReplace;
  std::vector<int64_t> value_shape = {n, 1};
  if (source.head >= 0) {
    value_shape.push_back(1);
    iv.heads = {source.head};
  }
  value_shape.insert(value_shape.end(), shape.begin(), shape.end());
  iv.value = rows.reshape(value_shape);  // [batch, 1, (1,) ...]: broadcast over positions and heads
  std::vector<int64_t> mask_shape(value_shape.size(), 1);
  mask_shape[0] = n;
  mask_shape[1] = pos - first;
  iv.mask = (at::arange(first, pos, at::kLong).unsqueeze(0) == batch.roles.at(source.role).unsqueeze(1)).view(mask_shape);
  return iv;
}

}  // namespace circuitcheck
