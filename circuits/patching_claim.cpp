#include "circuits/patching_claim.h"

#include "circuits/claim.h"
#include "circuits/evaluate.h"
#include "circuits/patching.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>

namespace circuitcheck {
namespace {

// Examples per patched run (a sweep runs up to n_ctx copies of them).
constexpr int64_t kPatchBatch = 256;

// Calls fn on each slice of at most `size` examples of the domain's batches
// (tokens, targets, roles and classes sliced alike).
void for_each_slice(const Task& task, const Domain& domain, Scale scale, int64_t size,
                    const std::function<void(const Batch&)>& fn) {
  for_each_batch(task, domain, scale, [&](const Batch& all) {
    for (int64_t start = 0; start < all.tokens.size(0); start += size) {
      const int64_t n = std::min(size, all.tokens.size(0) - start);
      Batch b;
      b.tokens = all.tokens.narrow(0, start, n);
      b.targets = all.targets.narrow(0, start, n);
      for (const auto& [name, t] : all.roles) b.roles[name] = t.narrow(0, start, n);
      for (const auto& [name, t] : all.classes) b.classes[name] = t.narrow(0, start, n);
      fn(b);
    }
  });
}

PatchSite patch_site_at(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample) {
  check_object(v, at, {"hook", "heads", "positions", "role"}, {"hook"});
  PatchSite site;
  site.hook = hook_at(v["hook"], at / "hook", config);
  const std::string name = hook_name(site.hook);
  if (site.hook.type == HookType::kTokens) (at / "hook").fail("tokens cannot be patched");
  if (v.contains("heads")) {
    if (head_dim(site.hook.type) < 0) (at / "heads").fail(name + " has no head dimension");
    const nlohmann::json& heads = array_at(v["heads"], at / "heads");
    for (std::size_t i = 0; i < heads.size(); ++i) site.heads.push_back(head_at(heads[i], at / "heads" / i, config));
  }
  if (v.contains("positions") && v.contains("role")) at.fail("give positions or role, not both");
  if (v.contains("positions")) {
    const nlohmann::json& positions = array_at(v["positions"], at / "positions");
    for (std::size_t i = 0; i < positions.size(); ++i)
      site.positions.push_back(integer_at(positions[i], at / "positions" / i, 0, config.n_ctx - 1));
  }
  if (v.contains("role")) {
    if (site.hook.type == HookType::kAttnScores || site.hook.type == HookType::kPattern)
      (at / "role").fail(name + " is [batch, head, query, key]; give query positions instead");
    role_at(v["role"], at / "role", sample);
    site.role = v["role"].get<std::string>();
  }
  return site;
}

// The patch of `site` from the clean activation `clean` ([batch, pos, ...]).
Intervention patch(const PatchSite& site, const at::Tensor& clean, const Batch& b) {
  Intervention iv;
  iv.hook = site.hook;
  iv.kind = InterventionKind::kPatch;
  iv.value = clean;
  iv.heads = site.heads;
  iv.positions = site.positions;
  if (!site.role.empty()) {
    at::Tensor positions = b.roles.at(site.role);
    positions = positions.dim() == 1 ? positions.unsqueeze(1) : positions;  // [batch, k]
    at::Tensor mask = at::zeros({clean.size(0), clean.size(1)}, at::kBool);
    mask.scatter_(1, positions.clamp_min(0), positions >= 0);
    std::vector<int64_t> shape = {clean.size(0), clean.size(1)};
    shape.resize(clean.dim(), 1);
    iv.mask = mask.view(shape).to(clean.device());
  }
  return iv;
}

}  // namespace

void parse_patching(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample, Claim& claim) {
  PatchingSpec& p = claim.patching;
  const At cf = at / "counterfactual";
  if (v["counterfactual"].is_object()) {
    check_object(v["counterfactual"], cf, {"role", "item"}, {"role", "item"});
    const at::Tensor& role = role_at(v["counterfactual"]["role"], cf / "role", sample);
    if (role.dim() != 2) (cf / "item").fail("role '" + v["counterfactual"]["role"].get<std::string>() + "' has one position per example, no items");
    p.item = integer_at(v["counterfactual"]["item"], cf / "item", 0, role.size(1) - 1);
    p.counterfactual = v["counterfactual"]["role"].get<std::string>();
  } else {
    role_at(v["counterfactual"], cf, sample);
    p.counterfactual = v["counterfactual"].get<std::string>();
  }
  const nlohmann::json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i) p.sites.push_back(patch_site_at(sites[i], at / "sites" / i, config, sample));
  if (v.contains("sweep")) {
    const std::string sweep = string_at(v["sweep"], at / "sweep");
    const std::vector<std::pair<std::string, HookType>> types = {
        {"resid_pre", HookType::kResidPre}, {"resid_mid", HookType::kResidMid}, {"resid_post", HookType::kResidPost},
        {"attn_out", HookType::kAttnOut}, {"mlp_out", HookType::kMlpOut}};
    for (const auto& [name, type] : types)
      if (name == sweep) p.sweep = type;
    if (!p.sweep) (at / "sweep").fail("unknown sweep '" + sweep + "' (valid: resid_pre, resid_mid, resid_post, attn_out, mlp_out)");
    if (config.attn_only && (*p.sweep == HookType::kResidMid || *p.sweep == HookType::kMlpOut))
      (at / "sweep").fail("the model is attn_only: it has no " + sweep);
  }
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
}

void run_patching(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale, Outcome& out) {
  const PatchingSpec& p = claim.patching;
  RunOptions cached, corrupt_cached;  // with a sweep, the runs it patches between too
  for (const auto& site : p.sites) cached.cache.push_back(site.hook);
  for (int l = 0; p.sweep && l < model.config.n_layers; ++l) {
    cached.cache.push_back({*p.sweep, l});
    corrupt_cached.cache.push_back({*p.sweep, l});
  }
  double clean_sum = 0.0, corrupt_sum = 0.0, patched_sum = 0.0;
  int64_t examples = 0;
  at::Tensor sweep_sum;  // [n_layers, pos]: sum over examples of patched - corrupt
  out.liveness.resize(p.sites.size());
  for_each_slice(task, claim.domain, scale, kPatchBatch, [&](const Batch& b) {
    const int64_t n = b.tokens.size(0);
    const at::Tensor corrupt_tokens = counterfactual_tokens(b, p.counterfactual, p.item);
    const int64_t from = first_scored_position(b.targets);
    auto metric = [&](const at::Tensor& logits) {
      return target_log_prob(logits.slice(1, logits.size(1) - (b.tokens.size(1) - from)), b.targets, from);
    };
    RunResult clean = run(model, b.tokens, cached);
    RunOptions patched;
    for (const auto& site : p.sites) patched.interventions.push_back(patch(site, clean.cache.at(site.hook), b));
    RunResult corrupt = run(model, corrupt_tokens, corrupt_cached);
    RunResult r = run(model, corrupt_tokens, patched);
    clean_sum += metric(clean.logits).sum().item<double>();
    corrupt_sum += metric(corrupt.logits).sum().item<double>();
    patched_sum += metric(r.logits).sum().item<double>();
    for (std::size_t i = 0; i < r.liveness.size(); ++i) accumulate(out.liveness[i], r.liveness[i]);
    examples += n;
    if (!p.sweep) return;
    PatchingSweep s = patching_sweep(model, clean, corrupt, corrupt_tokens, *p.sweep, metric, from);
    at::Tensor gain = (s.patched - s.corrupt).sum(-1).to(at::kDouble).cpu();
    sweep_sum = sweep_sum.defined() ? sweep_sum + gain : gain;
  });
  const double gap = (clean_sum - corrupt_sum) / static_cast<double>(examples);
  const std::string changed = p.counterfactual + (p.item >= 0 ? "[" + std::to_string(p.item) + "]" : "");
  out.checks.push_back(value_check("gap", "clean minus counterfactual (" + changed +
                                              " changed) log-probability of the targets, nats per example over " +
                                              std::to_string(examples) + " examples:", gap, "", 0.0));
  std::string sites;
  for (const auto& site : p.sites) {
    sites += (sites.empty() ? "" : ", ") + hook_name(site.hook);
    if (!site.heads.empty()) sites += " heads " + c10::str(at::IntArrayRef(site.heads));
    if (!site.positions.empty()) sites += " positions " + c10::str(at::IntArrayRef(site.positions));
    if (!site.role.empty()) sites += " at " + site.role;
  }
  const double recovered = gap > 1e-6 ? (patched_sum - corrupt_sum) / (clean_sum - corrupt_sum) : 0.0;
  const std::string what = "patching " + sites + " from the clean run restores" +
                           (gap > 1e-6 ? "" : " (no gap: the counterfactual does not change the output)") +
                           " a fraction";
  for (Check& c : value_checks("recovery", what, recovered, claim.pass)) out.checks.push_back(std::move(c));
  if (gap <= 1e-6)
    for (Check& c : out.checks) c.pass = c.pass && c.rule.empty();
  if (!sweep_sum.defined()) return;
  Figure f;
  f.type = "heatmap";
  f.title = "recovery when patching " + hook_name({*p.sweep, 0}).substr(9) + " at (layer, position), " +
            changed + " changed";
  f.x_title = "position";
  f.y_title = "layer";
  at::Tensor rec = sweep_sum / (clean_sum - corrupt_sum);
  for (int64_t q = 0; q < rec.size(1); ++q) f.x_labels.push_back(std::to_string(q));
  for (int64_t l = 0; l < rec.size(0); ++l) {
    f.y_labels.push_back("L" + std::to_string(l));
    f.values.emplace_back();
    for (int64_t q = 0; q < rec.size(1); ++q) f.values.back().push_back(rec[l][q].item<double>());
  }
  out.figures.push_back(f);
}

}  // namespace circuitcheck

namespace circuitcheck {
namespace {

// Examples per item_patching batch (each run holds K copies of them).
constexpr int64_t kItemBatch = 64;

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

}  // namespace

void parse_item_patching(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample,
                         Claim& claim) {
  ItemPatchingSpec& p = claim.item_patching;
  role_at(v["counterfactual"], at / "counterfactual", sample);
  p.counterfactual = v["counterfactual"].get<std::string>();
  const nlohmann::json& items = array_at(v["items"], at / "items");
  int64_t k = -1;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const at::Tensor& role = role_at(items[i], at / "items" / i, sample);
    const std::string name = items[i].get<std::string>();
    if (role.dim() != 2) (at / "items" / i).fail("role '" + name + "' has one position per example, not items");
    if (k >= 0 && role.size(1) != k)
      (at / "items" / i).fail("role '" + name + "' has " + plural(role.size(1), "item") + ", the others " +
                              std::to_string(k));
    k = role.size(1);
    p.items.push_back(name);
  }
  p.by_class = string_at(v["by_class"], at / "by_class");
  const auto found = sample.classes.find(p.by_class);
  if (found == sample.classes.end()) {
    std::vector<std::string> valid;
    for (const auto& [name, t] : sample.classes) valid.push_back(name);
    (at / "by_class").fail("unknown class '" + p.by_class + "' (valid: " + joined(valid) + ")");
  }
  if (found->second.dim() != 2 || found->second.size(1) != k)
    (at / "by_class").fail("class '" + p.by_class + "' does not pair item by item with the " + plural(k, "item"));
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

void run_item_patching(const Task& task, const Claim& claim, const HookedTransformer& model, Scale scale,
                       Outcome& out) {
  const ItemPatchingSpec& p = claim.item_patching;
  const int n_layers = model.config.n_layers;
  RunOptions cached;
  for (int l = 0; l < n_layers; ++l) cached.cache.push_back({HookType::kResidPre, l});
  std::map<int64_t, double> gap;                          // class value -> sum of clean - corrupt
  std::vector<std::map<int64_t, double>> gain(n_layers);  // layer -> class value -> sum of patched - corrupt
  int64_t n_items = 0;
  for_each_slice(task, claim.domain, scale, kItemBatch, [&](const Batch& b) {
    const int64_t n = b.tokens.size(0);
    const at::Tensor corrupt_tokens = counterfactual_tokens(b, p.counterfactual);
    const RunResult clean = run(model, b.tokens, cached), corrupt = run(model, corrupt_tokens, cached);
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
    const auto sum_by_value = [&](const at::Tensor& x, std::map<int64_t, double>& into) {
      for (int64_t i = 0; i < values.size(0); ++i) {
        const int64_t value = values[i].item<int64_t>();
        into[value] += x.masked_select(present & (cls == value)).sum().item<double>();
      }
    };
    sum_by_value(item_clean - item_corrupt, gap);
    n_items += present.sum().item<int64_t>();
    const at::Tensor copies = corrupt_tokens.to(device).repeat({k, 1});
    const at::Tensor targets = b.targets.repeat({k, 1});
    for (int l = 0; l < n_layers; ++l) {
      const HookPoint hook{HookType::kResidPre, l};
      RunOptions o;
      o.start_layer = l;
      o.start_resid = clean.cache.at(hook);
      o.start_base = corrupt.cache.at(hook);
      o.start_mask = mask;
      const at::Tensor item_patched = per_item(position_log_prob(run(model, copies, o).logits, targets));
      sum_by_value(item_patched - item_corrupt, gain[l]);
    }
  });
  double total_gap = 0.0;
  for (const auto& [value, g] : gap) total_gap += g;
  const std::string changed = p.counterfactual + " changed";
  out.checks.push_back(value_check("gap", "clean minus counterfactual (" + changed +
                                              ") log-probability of each item's targets, nats per item over " +
                                              std::to_string(n_items) + " items:",
                                   n_items ? total_gap / static_cast<double>(n_items) : 0.0, "", 0.0));
  const auto recovered = [&](int layer, const std::vector<int64_t>& values) {
    double g = 0.0, r = 0.0;
    for (int64_t v : values) {
      if (!gap.count(v)) continue;
      g += gap.at(v);
      r += gain[layer].at(v);
    }
    return g > 1e-6 ? r / g : 0.0;
  };
  for (const auto& rule : p.rules) {
    const std::string name = "recovery L" + std::to_string(rule.layer) + " " + values_label(p.by_class, rule.class_values);
    const std::string what = "patching blocks." + std::to_string(rule.layer) + ".hook_resid_pre at each item's " +
                             "positions restores, for items with " + values_label(p.by_class, rule.class_values) +
                             ", a fraction";
    std::string missing;
    for (int64_t v : rule.class_values)
      if (!gap.count(v) || gap.at(v) <= 1e-6) missing += " " + std::to_string(v);
    for (Check& c : value_checks(name, what, recovered(rule.layer, rule.class_values), rule.pass)) {
      if (!missing.empty()) {  // a claimed class value the counterfactual did not change cannot pass
        c.pass = false;
        c.explanation += " (no gap for " + p.by_class + missing + ")";
      }
      out.checks.push_back(std::move(c));
    }
  }
  Figure f;
  f.type = "heatmap";
  f.title = "recovery when patching resid_pre at each item's positions, by layer and " + p.by_class + ", " + changed;
  f.x_title = p.by_class;
  f.y_title = "layer";
  for (const auto& [value, g] : gap) f.x_labels.push_back(std::to_string(value));
  for (int l = 0; l < n_layers; ++l) {
    f.y_labels.push_back("L" + std::to_string(l));
    f.values.emplace_back();
    for (const auto& [value, g] : gap) f.values.back().push_back(recovered(l, {value}));
  }
  out.figures.push_back(f);
}

}  // namespace circuitcheck
