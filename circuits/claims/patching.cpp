#include "circuits/claims/patching.h"

#include "circuits/claims/bootstrap.h"
#include "circuits/claims/claim_fields.h"

#include "circuits/formats/error.h"

namespace circuitcheck {

at::Tensor counterfactual_tokens(const Batch& batch, const std::string& role, int64_t item) {
  auto it = batch.roles.find(role);
  check(it != batch.roles.end(), "counterfactual_tokens", "unknown role " + quote(role));
  check(batch.tokens.size(0) > 1, "counterfactual_tokens", "needs at least 2 examples to draw counterfactuals from");
  at::Tensor positions = it->second.dim() == 1 ? it->second.unsqueeze(1) : it->second;  // [batch, k]
  if (item >= 0) {
    check(item < positions.size(1), "counterfactual_tokens",
          "item " + std::to_string(item) + " out of range: role " + quote(role) + " has " +
              std::to_string(positions.size(1)) + " items per example");
    positions = positions.narrow(1, item, 1);
  }
  at::Tensor source = at::roll(batch.tokens, 1, 0);
  at::Tensor source_positions = at::roll(positions, 1, 0);
  at::Tensor present = (positions >= 0) & (source_positions >= 0);
  at::Tensor values = source.gather(1, source_positions.clamp_min(0));
  at::Tensor out = batch.tokens.clone();
  at::Tensor kept = out.gather(1, positions.clamp_min(0));
  out.scatter_(1, positions.clamp_min(0), at::where(present, values, kept));
  return out;
}

Counterfactual counterfactual_at(const nlohmann::json& v, const At& at, const Batch& sample) {
  Counterfactual c;
  if (v.is_object() && v.contains("input")) {
    check_object(v, at, {"input"}, {"input"});
    c.input = string_at(v["input"], at / "input");
    if (!sample.counterfactuals.count(c.input)) {
      std::vector<std::string> valid;
      for (const auto& [name, t] : sample.counterfactuals) valid.push_back(name);
      (at / "input").fail("unknown counterfactual input " + quote(c.input) + " (valid: " +
                          (valid.empty() ? "none: the task pairs no inputs" : joined(valid)) + ")");
    }
  } else if (v.is_object()) {
    check_object(v, at, {"role", "item"}, {"role", "item"});
    const at::Tensor& role = role_at(v["role"], at / "role", sample);
    if (role.dim() != 2) (at / "item").fail("role '" + v["role"].get<std::string>() + "' has one position per example, no items");
    c.item = integer_at(v["item"], at / "item", 0, role.size(1) - 1);
    c.role = v["role"].get<std::string>();
  } else {
    role_at(v, at, sample);
    c.role = v.get<std::string>();
  }
  return c;
}

at::Tensor counterfactual_tokens(const Counterfactual& c, const Batch& b) {
  return c.input.empty() ? counterfactual_tokens(b, c.role, c.item) : b.counterfactuals.at(c.input);
}

std::string to_string(const Counterfactual& c) {
  if (!c.input.empty()) return "input " + c.input;
  return c.role + (c.item >= 0 ? "[" + std::to_string(c.item) + "]" : "") + " changed";
}

at::Tensor target_log_prob(const at::Tensor& logits, const at::Tensor& targets, int64_t from) {
  at::Tensor t = targets.slice(1, from).to(logits.device());
  at::Tensor log_probs = logits.log_softmax(-1).gather(-1, t.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  return (log_probs * (t >= 0)).sum(1);
}

at::Tensor targets_predicted(const at::Tensor& logits, const at::Tensor& targets, int64_t from) {
  const at::Tensor t = targets.slice(1, from).to(logits.device());
  return ((logits.argmax(-1) == t) | (t < 0)).all(1);
}

at::Tensor recovery(const at::Tensor& patched, const at::Tensor& clean, const at::Tensor& corrupt) {
  return (patched - corrupt).sum(-1) / (clean - corrupt).sum();
}

PatchingSweep patching_sweep(const HookedTransformer& model, const at::Tensor& clean_tokens,
                             const at::Tensor& corrupt_tokens, HookType type, const PatchMetric& metric,
                             int64_t from) {
  const Config& c = model.config;
  const std::string where = "patching_sweep";
  check(type == HookType::kResidPre || type == HookType::kResidMid || type == HookType::kResidPost ||
            type == HookType::kAttnOut || type == HookType::kMlpOut,
        where, "cannot sweep " + hook_name({type, 0}) + " (valid: resid_pre, resid_mid, resid_post, attn_out, mlp_out)");
  check(!c.attn_only || (type != HookType::kResidMid && type != HookType::kMlpOut), where,
        "an attn_only model has no " + hook_name({type, 0}));
  check(clean_tokens.sizes() == corrupt_tokens.sizes(), where,
        "clean tokens " + c10::str(clean_tokens.sizes()) + " and corrupt tokens " + c10::str(corrupt_tokens.sizes()) +
            " must have one shape");
  const int64_t pos = clean_tokens.size(1);
  check(from >= 0 && from < pos, where,
        "from_position " + std::to_string(from) + " out of range [0, " + std::to_string(pos) + ")");

  RunOptions cached;
  cached.from_position = from;
  for (int l = 0; l < c.n_layers; ++l) cached.cache.push_back({type, l});
  // resid_pre covers every position, the last layer's other hooks [from, pos).
  // One run of both batches (half the per-op overhead of two small runs).
  const at::Device device = model_device(model);
  const RunResult both = run(model, at::cat({clean_tokens.to(device), corrupt_tokens.to(device)}), cached);
  const int64_t batch = clean_tokens.size(0);
  const auto half = [&](int64_t i) {
    RunResult r;
    r.logits = both.logits.narrow(0, i * batch, batch);
    for (const auto& [hook, t] : both.cache) r.cache[hook] = t.narrow(0, i * batch, batch);
    return r;
  };
  return patching_sweep(model, half(0), half(1), corrupt_tokens, type, metric, from);
}

PatchingSweep patching_sweep(const HookedTransformer& model, const RunResult& clean, const RunResult& corrupt,
                             const at::Tensor& corrupt_tokens, HookType type, const PatchMetric& metric,
                             int64_t from) {
  const Config& c = model.config;
  const int64_t batch = corrupt_tokens.size(0), pos = corrupt_tokens.size(1);
  for (int l = 0; l < c.n_layers; ++l)
    check(clean.cache.count({type, l}) && corrupt.cache.count({type, l}), "patching_sweep",
          "the clean and corrupt runs must cache " + hook_name({type, l}));
  const bool residual = type == HookType::kResidPre || type == HookType::kResidMid || type == HookType::kResidPost;
  PatchingSweep out;
  out.type = type;
  out.clean = metric(clean.logits);
  out.corrupt = metric(corrupt.logits);
  out.patched = at::empty({c.n_layers, pos, batch}, out.clean.options());

  // Patching a position whose clean and corrupt activations agree changes
  // nothing: those sites get the corrupt metric without a run. Copy i of the
  // batch patches the i-th differing position.
  const at::Device device = model_device(model);
  for (int l = 0; l < c.n_layers; ++l) {
    const HookPoint hook{type, l};
    const at::Tensor& clean_act = clean.cache.at(hook);     // [batch, act_pos, d_model]
    const at::Tensor& corrupt_act = corrupt.cache.at(hook);
    const int64_t offset = pos - clean_act.size(1);         // the last layer's hooks may start at `from`
    out.patched[l].copy_(out.corrupt.unsqueeze(0).expand({pos, batch}));
    const at::Tensor differs = (clean_act != corrupt_act).flatten(2).any(2).any(0).cpu();  // [act_pos]
    std::vector<int64_t> sites;
    for (int64_t q = 0; q < differs.size(0); ++q)
      if (differs[q].item<bool>()) sites.push_back(q);
    if (sites.empty()) continue;
    if (residual && sites.size() == 1) {  // patched, the whole residual stream is the clean run's
      out.patched[l][sites[0] + offset].copy_(out.clean);
      continue;
    }
    const int64_t n = static_cast<int64_t>(sites.size());
    at::Tensor site_index = at::tensor(sites, at::kLong).to(device);
    // [n, act_pos]: row i marks the i-th site
    const at::Tensor site_mask =
        at::eye(clean_act.size(1), at::TensorOptions().dtype(at::kBool).device(device)).index_select(0, site_index);
    RunOptions patched;
    patched.from_position = from;
    if (type == HookType::kResidPre) {
      patched.start_layer = l;
      patched.start_resid = clean_act;
      patched.start_base = corrupt_act;
      patched.start_mask = site_mask.unsqueeze(1);
    } else {
      Intervention iv;
      iv.hook = hook;
      iv.kind = InterventionKind::kPatch;
      iv.value = clean_act.repeat({n, 1, 1});
      iv.mask = site_mask.repeat_interleave(batch, 0).unsqueeze(-1);
      patched.interventions = {iv};
    }
    RunResult r = run(model, corrupt_tokens.to(device).repeat({n, 1}), patched);
    for (int64_t i = 0; i < n; ++i) out.patched[l][sites[i] + offset] = metric(r.logits.narrow(0, i * batch, batch));
  }
  return out;
}

bool has_gap(const at::Tensor& gaps, bool exhaustive, uint64_t seed, double scale) {
  if (gaps.numel() == 0) return false;
  if (gaps.to(at::kDouble).mean().item<double>() < kGapFloor * scale) return false;
  if (exhaustive) return gaps.to(at::kDouble).mean().item<double>() > 1e-6;
  return ratio_bootstrap(gaps, at::ones_like(gaps, at::kDouble), seed).lower > 0.0;
}

PatchSite patch_site_at(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample) {
  check_object(v, at, {"hook", "heads", "positions", "role"}, {"hook"});
  PatchSite site;
  site.hook = hook_at(v["hook"], at / "hook", config);
  const std::string name = hook_name(site.hook);
  if (site.hook.type == HookType::kTokens) (at / "hook").fail("tokens cannot be patched");
  if (v.contains("heads")) {
    if (head_dim(site.hook.type) < 0) (at / "heads").fail(name + " has no head dimension");
    site.heads = heads_at(v["heads"], at / "heads", config);
  }
  if (v.contains("positions") && v.contains("role")) at.fail("give positions or role, not both");
  if (v.contains("positions")) site.positions = positions_at(v["positions"], at / "positions", config);
  if (v.contains("role")) {
    if (site.hook.type == HookType::kAttnScores || site.hook.type == HookType::kPattern)
      (at / "role").fail(name + " is [batch, head, query, key]; give query positions instead");
    role_at(v["role"], at / "role", sample);
    site.role = v["role"].get<std::string>();
  }
  return site;
}

std::string patch_site_names(const std::vector<PatchSite>& sites) {
  std::string out;
  for (const PatchSite& site : sites) {
    out += (out.empty() ? "" : ", ") + hook_name(site.hook);
    if (!site.heads.empty()) out += " heads " + c10::str(at::IntArrayRef(site.heads));
    if (!site.positions.empty()) out += " positions " + c10::str(at::IntArrayRef(site.positions));
    if (!site.role.empty()) out += " at " + site.role;
  }
  return out;
}

at::Tensor donor_values(const at::Tensor& activation, const at::Tensor& from, const Batch& b, const std::string& role) {
  at::Tensor own = b.roles.at(role);
  if (own.dim() == 1) own = own.unsqueeze(1);  // [batch, k]
  own = own.to(activation.device());
  const at::Tensor donors = from.to(activation.device());
  const at::Tensor theirs = own.index_select(0, donors);
  const at::Tensor both = (own >= 0).logical_and(theirs >= 0);
  const int64_t pos = activation.size(1);
  const at::Tensor rows = at::arange(own.size(0), own.options()).unsqueeze(1).expand_as(own);
  const at::Tensor to = (rows * pos + own).masked_select(both), source = (donors.unsqueeze(1) * pos + theirs).masked_select(both);
  at::Tensor out = activation.clone(at::MemoryFormat::Contiguous);
  out.flatten(0, 1).index_copy_(0, to, activation.flatten(0, 1).index_select(0, source));
  return out;
}

Intervention patch_intervention(const PatchSite& site, const at::Tensor& clean, const Batch& b) {
  Intervention iv;
  iv.hook = site.hook;
  iv.kind = InterventionKind::kPatch;
  iv.value = clean;
  iv.heads = site.heads;
  iv.positions = site.positions;
  if (!site.role.empty()) {
    std::vector<int64_t> shape = {clean.size(0), clean.size(1)};
    shape.resize(clean.dim(), 1);
    iv.mask = role_mask(b, site.role).view(shape).to(clean.device());
  }
  return iv;
}

}  // namespace circuitcheck
