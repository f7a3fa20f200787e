#include "circuits/claims/kinds/item_patching_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/claims/placebo.h"
#include "circuits/claims/patching.h"
#include "circuits/tasks/evaluate.h"

#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {
namespace {

// Examples per item_patching batch.
constexpr int64_t kItemBatch = 256;

// Per position log-probability of the targets, 0 where unscored: logits
// [batch, pos, vocab], targets [batch, pos] -> [batch, pos].
at::Tensor position_log_prob(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor t = targets.to(logits.device());
  return logits.log_softmax(-1).gather(-1, t.clamp_min(0).unsqueeze(-1)).squeeze(-1) * (t >= 0);
}

std::string values_label(const std::string& cls, const std::vector<int64_t>& values) {
  std::string out;
  for (int64_t v : values) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return cls + " {" + out + "}";
}

// The effect of the counterfactual and of patching each patched layer's
// resid_pre at the items' positions, summed over each example's items of
// each class value.
struct ItemGains {
  int64_t examples = 0;
  int64_t n_items = 0;
  std::map<int64_t, at::Tensor> gap;                // class value -> [examples] double: sum of clean - corrupt
  std::map<int, std::map<int64_t, at::Tensor>> gain;  // patched layer -> class value -> [examples]: sum of patched - corrupt

  // Per example, the gain of patching `layer` and the gap over items of `values` ([examples] each).
  std::pair<at::Tensor, at::Tensor> terms(int layer, const std::vector<int64_t>& values) const {
    at::Tensor r = at::zeros({examples}, at::kDouble), g = at::zeros({examples}, at::kDouble);
    for (int64_t v : values) {
      if (!gap.count(v)) continue;
      g += gap.at(v);
      r += gain.at(layer).at(v);
    }
    return {r, g};
  }
  // The share of the gap that patching `layer` recovers for items of `values` (0 without a gap).
  double recovered(int layer, const std::vector<int64_t>& values) const {
    const auto [r, g] = terms(layer, values);
    const double gap_sum = g.sum().item<double>();
    return gap_sum > 1e-6 ? r.sum().item<double>() / gap_sum : 0.0;
  }
};

// Appends one slice's per-example sums `part` [n] to into[value], which holds
// `before` examples once padded with zeros for the slices without the value.
void append(std::map<int64_t, at::Tensor>& into, int64_t value, const at::Tensor& part, int64_t before) {
  at::Tensor& t = into[value];
  if (!t.defined()) t = at::zeros({0}, at::kDouble);
  t = at::cat({t, at::zeros({before - t.size(0)}, at::kDouble), part});
}

// Pads every tensor of `into` with zeros to `examples`.
void pad(std::map<int64_t, at::Tensor>& into, int64_t examples) {
  for (auto& [value, t] : into) t = at::cat({t, at::zeros({examples - t.size(0)}, at::kDouble)});
}

// The gains of patching each of `layers`.
ItemGains item_gains(const RunContext& context, const Claim& claim, const std::set<int>& layers) {
  const Task& task = context.task;
  const HookedTransformer& model = context.model;
  const ItemPatchingSpec& p = spec_of<ItemPatchingSpec>(claim.spec);
  RunOptions cached;
  for (int l : layers) cached.cache.push_back({HookType::kResidPre, l});
  const bool causal = model.config.attention_dir == AttentionDir::kCausal;
  RunOptions corrupt_cached = cached;  // and the keys and values the item runs start from (causal models)
  if (causal)
    for (const HookPoint& h : prefix_hooks(model.config, *layers.begin())) corrupt_cached.cache.push_back(h);
  ItemGains g;
  for_each_slice(task, claim.domain, context.scale, kItemBatch, [&](const Batch& b) {
    const int64_t n = b.tokens.size(0);
    const at::Tensor corrupt_tokens = counterfactual_tokens(b, p.counterfactual);
    const RunResult clean = run(model, b.tokens, cached), corrupt = run(model, corrupt_tokens, corrupt_cached);
    const int64_t pos = b.tokens.size(1), k = b.roles.at(p.items[0]).size(1);
    const at::Device device = clean.logits.device();
    // mask [K, n, pos]: item k's positions in copy k.
    at::Tensor mask = at::zeros({k, n, pos + 1}, at::kBool);  // absent positions (-1) land in the extra column
    for (const auto& role : p.items) {
      const at::Tensor positions = b.roles.at(role).t();  // [K, n]
      mask.scatter_(2, at::where(positions >= 0, positions, pos).unsqueeze(-1), true);
    }
    mask = mask.narrow(2, 0, pos).contiguous().to(device);
    const at::Tensor weight = mask.to(at::kFloat);
    const auto per_item = [&](const at::Tensor& lp) { return (lp.reshape({k, n, pos}) * weight).sum(-1); };  // [K, n]
    const at::Tensor item_clean = per_item(position_log_prob(clean.logits, b.targets).expand({k, n, pos}));
    const at::Tensor item_corrupt = per_item(position_log_prob(corrupt.logits, b.targets).expand({k, n, pos}));
    const at::Tensor cls = b.classes.at(p.by_class).t().to(device);  // [K, n]
    const at::Tensor present = mask.any(-1) & (cls >= 0);
    const at::Tensor values = std::get<0>(at::_unique(cls.masked_select(present))).cpu();
    const int64_t before = g.examples;
    const auto sum_by_value = [&](const at::Tensor& x, std::map<int64_t, at::Tensor>& into) {  // x [K, n]
      for (int64_t i = 0; i < values.size(0); ++i) {
        const int64_t value = values[i].item<int64_t>();
        const at::Tensor part = x.masked_fill(~(present & (cls == value)), 0).sum(0).to(at::kCPU, at::kDouble);
        append(into, value, part, before);
      }
    };
    sum_by_value(item_clean - item_corrupt, g.gap);
    g.n_items += present.sum().item<int64_t>();
    // Item i's run covers [first, end): in a causal model from its first
    // position (the counterfactual run's keys and values before it, one
    // prefix for every patched layer) to its last, else every position.
    const at::Tensor covered = mask.any(1).cpu();  // [K, pos]
    std::map<int, at::Tensor> item_patched;        // per layer [K, n]; an item without positions is not patched
    for (int l : layers) item_patched[l] = item_corrupt.clone();
    for (int64_t i = 0; i < k; ++i) {
      const at::Tensor at_item = covered[i].nonzero();
      if (at_item.numel() == 0) continue;
      const int64_t first = causal ? at_item.min().item<int64_t>() : 0;
      const int64_t end = causal ? at_item.max().item<int64_t>() + 1 : pos;
      const RunPrefix before = first > 0 ? run_prefix(model.config, corrupt.cache, first, *layers.begin()) : RunPrefix{};
      for (int l : layers) {
        const HookPoint hook{HookType::kResidPre, l};
        RunOptions o;
        o.start_layer = l;
        o.start_resid = at::where(mask[i].unsqueeze(-1), clean.cache.at(hook), corrupt.cache.at(hook)).narrow(1, 0, end);
        o.prefix = before;
        const at::Tensor logits = run(model, corrupt_tokens.narrow(1, 0, end), o).logits;
        item_patched[l][i] = (position_log_prob(logits, b.targets.narrow(1, first, end - first)) *
                              weight[i].narrow(1, first, end - first))
                                 .sum(-1);
      }
    }
    for (int l : layers) sum_by_value(item_patched[l] - item_corrupt, g.gain[l]);
    g.examples += n;
  });
  pad(g.gap, g.examples);
  for (auto& [layer, by_value] : g.gain) pad(by_value, g.examples);
  return g;
}

// The recovery of every (patched layer, class value) cell, as a heatmap.
Figure recovery_map(const ItemPatchingSpec& p, const ItemGains& g, const std::string& changed) {
  Figure f;
  f.type = "heatmap";
  f.title = "recovery when patching resid_pre at each item's positions, by layer and " + p.by_class + ", " + changed;
  f.x_title = p.by_class;
  f.y_title = "layer";
  for (const auto& [value, sum] : g.gap) f.x_labels.push_back(std::to_string(value));
  for (const auto& [l, by_value] : g.gain) {
    f.y_labels.push_back("L" + std::to_string(l));
    f.values.emplace_back();
    for (const auto& [value, sum] : g.gap) f.values.back().push_back(g.recovered(l, {value}));
  }
  return f;
}

}  // namespace

void parse_item_patching(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Config& config = context.config;
  const Batch& sample = context.sample;
  ItemPatchingSpec& p = claim.spec.emplace<ItemPatchingSpec>();
  role_at(v["counterfactual"], at / "counterfactual", sample);
  p.counterfactual = v["counterfactual"].get<std::string>();
  const nlohmann::json& items = array_at(v["items"], at / "items");
  int64_t k = -1;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const at::Tensor& role = role_at(items[i], at / "items" / i, sample);
    const std::string name = items[i].get<std::string>();
    if (role.dim() != 2) (at / "items" / i).fail("role " + quote(name) + " has one position per example, not items");
    if (k >= 0 && role.size(1) != k)
      (at / "items" / i).fail("role " + quote(name) + " has " + plural(role.size(1), "item") + ", the others " +
                              std::to_string(k));
    k = role.size(1);
    p.items.push_back(name);
  }
  const at::Tensor& by_class = class_at(v["by_class"], at / "by_class", context.task, sample);
  p.by_class = v["by_class"].get<std::string>();
  if (by_class.dim() != 2 || by_class.size(1) != k)
    (at / "by_class").fail("class " + quote(p.by_class) + " does not pair item by item with the " + plural(k, "item"));
  const At pass = at / "pass";
  check_object(v["pass"], pass, {"layers"}, {"layers"});
  const nlohmann::json& rules = array_at(v["pass"]["layers"], pass / "layers");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const At r = pass / "layers" / i;
    check_object(rules[i], r, {"layer", "class_values", "value_at_least", "value_at_most"}, {"layer", "class_values"});
    ItemLayerRule rule;
    rule.layer = layer_at(rules[i]["layer"], r / "layer", config);
    const nlohmann::json& values = array_at(rules[i]["class_values"], r / "class_values");
    for (std::size_t j = 0; j < values.size(); ++j)
      rule.class_values.push_back(integer_at(values[j], r / "class_values" / j, 0, std::numeric_limits<int>::max()));
    nlohmann::json thresholds = rules[i];
    thresholds.erase("layer");
    thresholds.erase("class_values");
    rule.pass = pass_at(thresholds, r, {}, {"value_at_least", "value_at_most"}, {});
    p.rules.push_back(rule);
  }
}

void run_item_patching(const RunContext& context, const Claim& claim, Outcome& out) {
  const ItemPatchingSpec& p = spec_of<ItemPatchingSpec>(claim.spec);
  // The checkpoint's map has every layer; a control's or a placebo's only those its checks read.
  std::set<int> layers;
  if (!context.control && !p.placebo_layer)
    for (int l = 0; l < context.model.config.n_layers; ++l) layers.insert(l);
  for (const auto& rule : p.rules) layers.insert(p.placebo_layer.value_or(rule.layer));
  const ItemGains g = item_gains(context, claim, layers);
  double total_gap = 0.0;
  for (const auto& [value, sums] : g.gap) total_gap += sums.sum().item<double>();
  const std::string changed = p.counterfactual + " changed";
  out.checks.push_back(value_check("gap", "clean minus counterfactual (" + changed +
                                              ") log-probability of each item's targets, nats per item over " +
                                              std::to_string(g.n_items) + " items:",
                                   g.n_items ? total_gap / static_cast<double>(g.n_items) : 0.0, Rule::kNone, 0.0));
  for (const auto& rule : p.rules) {
    const int layer = p.placebo_layer.value_or(rule.layer);
    const std::string name = "recovery L" + std::to_string(rule.layer) + " " + values_label(p.by_class, rule.class_values);
    const std::string what = "patching blocks." + std::to_string(layer) + ".hook_resid_pre at each item's " +
                             "positions restores, for items with " + values_label(p.by_class, rule.class_values) +
                             ", a fraction";
    std::string missing;
    for (int64_t v : rule.class_values)
      if (!g.gap.count(v) || !has_gap(g.gap.at(v), claim.domain.exhaustive, claim.domain.seed))
        missing += " " + std::to_string(v);
    std::optional<Bootstrap> interval;
    if (!claim.domain.exhaustive && missing.empty()) {
      const auto [gain, gap] = g.terms(layer, rule.class_values);
      interval = ratio_bootstrap(gain, gap, claim.domain.seed);
    }
    for (Check& c : value_checks(name, what, g.recovered(layer, rule.class_values), rule.pass,
                                 interval ? &*interval : nullptr)) {
      if (!missing.empty())
        mark_undefined(c, "the counterfactual does not change the output for " + p.by_class + missing +
                              " beyond its noise: no gap to recover");
      out.checks.push_back(std::move(c));
    }
  }
  out.figures.push_back(recovery_map(p, g, changed));
}

std::vector<PlaceboRun> item_patching_placebos(const Claim& claim, const std::string& control, const Config&,
                                               const std::string& where) {
  const ItemPatchingSpec& items = spec_of<ItemPatchingSpec>(claim.spec);
  int lowest = std::numeric_limits<int>::max();
  for (const ItemLayerRule& rule : items.rules) lowest = std::min(lowest, rule.layer);
  check(lowest > 0, where,
        "control " + quote(control) +
            ": an item_patching placebo patches a layer below the claimed ones; there is none below layer 0");
  const auto at_layer = [&](int layer) {
    ItemPatchingSpec placebo = items;
    placebo.placebo_layer = layer;
    return placebo;
  };
  if (control != kAllPlacebos) {
    const uint64_t seed = control_seed(control, "placebo", where);
    return {{control, control, at_layer(static_cast<int>(sample_rows(lowest, 1, seed, where)[0].item<int64_t>()))}};
  }
  std::vector<PlaceboRun> out;
  for (int layer = 0; layer < lowest; ++layer) out.push_back({control, control + "/L" + std::to_string(layer), at_layer(layer)});
  return out;
}

}  // namespace circuitcheck
