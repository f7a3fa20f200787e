#include "circuits/model/intervention.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace circuitcheck {
namespace {

const std::vector<std::pair<std::string, InterventionKind>> kKinds = {
    {"replace", InterventionKind::kReplace}, {"add", InterventionKind::kAdd},
    {"scale", InterventionKind::kScale},     {"zero", InterventionKind::kZero},
    {"mean", InterventionKind::kMean},       {"resample", InterventionKind::kResample},
    {"patch", InterventionKind::kPatch}};

// True when a tensor of shape `from` broadcasts to exactly `to`.
bool broadcasts_to(at::IntArrayRef from, at::IntArrayRef to) {
  if (from.size() > to.size()) return false;
  for (std::size_t i = 1; i <= from.size(); ++i) {
    const int64_t f = from[from.size() - i];
    if (f != 1 && f != to[to.size() - i]) return false;
  }
  return true;
}

// A bool tensor broadcastable to `x` that is true on the selected indices of `dim`.
at::Tensor select_along(const at::Tensor& x, int dim, const std::vector<int64_t>& indices,
                        const std::string& where, const char* what) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[dim] = x.size(dim);
  at::Tensor mask = at::zeros({x.size(dim)}, at::kBool);
  for (int64_t i : indices) {
    check(i >= 0 && i < x.size(dim), where,
          std::string(what) + " " + std::to_string(i) + " out of range [0, " + std::to_string(x.size(dim)) + ")");
    mask[i] = true;
  }
  return mask.view(shape).to(x.device());
}

at::Tensor region(const Intervention& iv, const at::Tensor& x, const std::string& where) {
  at::Tensor mask;
  auto restrict = [&](int dim, const std::vector<int64_t>& indices, const char* what) {
    if (indices.empty()) return;
    at::Tensor m = select_along(x, dim, indices, where, what);
    mask = mask.defined() ? mask.logical_and(m) : m;
  };
  if (!iv.heads.empty())
    check(head_dim(iv.hook.type) >= 0, where, "this hook has no head dimension; remove 'heads'");
  restrict(head_dim(iv.hook.type), iv.heads, "head");
  restrict(position_dim(iv.hook.type), iv.positions, "position");
  restrict(static_cast<int>(x.dim()) - 1, iv.neurons, "neuron");
  if (iv.mask.defined()) {
    check(iv.mask.scalar_type() == at::kBool, where, "mask must be a bool tensor");
    check(broadcasts_to(iv.mask.sizes(), x.sizes()), where,
          "mask of shape " + c10::str(iv.mask.sizes()) + " does not broadcast to " + c10::str(x.sizes()));
    at::Tensor m = iv.mask.to(x.device());
    mask = mask.defined() ? mask.logical_and(m) : m;
  }
  return mask;
}

void check_rows_fit(const at::Tensor& value, const at::Tensor& x, const std::string& where) {
  check(value.defined() && value.dim() == x.dim() && value.size(0) > 0 &&
            value.sizes().slice(1) == x.sizes().slice(1),
        where, "value must be [n, " + c10::str(x.sizes().slice(1)) + "], got " +
                   (value.defined() ? c10::str(value.sizes()) : std::string("nothing")));
}

at::Tensor edited(const Intervention& iv, const at::Tensor& x, const std::string& where) {
  switch (iv.kind) {
    case InterventionKind::kZero: return at::zeros_like(x);
    case InterventionKind::kScale: return x * iv.factor;
    case InterventionKind::kAdd:
    case InterventionKind::kReplace: {
      check(iv.value.defined(), where, "needs a value");
      check(broadcasts_to(iv.value.sizes(), x.sizes()), where,
            "value of shape " + c10::str(iv.value.sizes()) + " does not broadcast to " + c10::str(x.sizes()));
      at::Tensor v = iv.value.to(x.device(), x.scalar_type());
      return iv.kind == InterventionKind::kAdd ? x + v : v.expand_as(x);
    }
    case InterventionKind::kPatch:
      check(iv.value.defined() && iv.value.sizes() == x.sizes(), where,
            "patch value must have the activation's shape " + c10::str(x.sizes()) + ", got " +
                (iv.value.defined() ? c10::str(iv.value.sizes()) : std::string("nothing")));
      return iv.value.to(x.device(), x.scalar_type());
    case InterventionKind::kMean:
      check_rows_fit(iv.value, x, where);
      return iv.value.to(x.device(), x.scalar_type()).mean(0, true).expand_as(x);
    case InterventionKind::kResample: {
      check_rows_fit(iv.value, x, where);
      at::Tensor rows = at::empty({x.size(0)}, at::kLong);
      const uint64_t n = static_cast<uint64_t>(iv.value.size(0));
      for (int64_t i = 0; i < x.size(0); ++i) {  // splitmix64 of (seed, row)
        uint64_t z = iv.seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(iv.first_row + i + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        rows[i] = static_cast<int64_t>((z ^ (z >> 31)) % n);
      }
      return iv.value.to(x.device(), x.scalar_type()).index_select(0, rows.to(x.device()));
    }
  }
  fail(where, "unknown intervention kind");
}

}  // namespace

std::string Liveness::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, ": fired %dx, %lld elements, max |change| %.3g, mean %.3g", fired,
                static_cast<long long>(elements), max_abs_change, mean_abs_change);
  return hook + " " + kind + buf;
}

std::string to_string(InterventionKind kind) {
  for (const auto& [name, k] : kKinds)
    if (k == kind) return name;
  return "unknown";
}

at::Tensor apply_intervention(const Intervention& iv, const at::Tensor& x, Liveness& record) {
  const std::string where = "apply_intervention: " + hook_name(iv.hook) + " " + to_string(iv.kind);
  at::Tensor mask = region(iv, x, where);
  at::Tensor target = edited(iv, x, where);
  at::Tensor out = mask.defined() ? at::where(mask, target, x) : target;
  at::Tensor change = (out.detach() - x.detach()).abs();
  const int64_t elements = mask.defined() ? mask.expand(x.sizes()).sum().item<int64_t>() : x.numel();
  const double total = record.mean_abs_change * static_cast<double>(record.elements) +
                       change.sum().item<double>();
  record.fired += 1;
  record.elements += elements;
  record.max_abs_change = std::max(record.max_abs_change, change.numel() ? change.max().item<double>() : 0.0);
  record.mean_abs_change = record.elements ? total / static_cast<double>(record.elements) : 0.0;
  return out;
}

}  // namespace circuitcheck
