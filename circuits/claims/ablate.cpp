#include "circuits/claims/ablate.h"

#include "circuits/claims/domain.h"
#include "circuits/formats/error.h"

#include <algorithm>

namespace circuitcheck {
namespace {

// The positions of [0, length) that a component keeps; all = kept everywhere.
struct Kept {
  bool all = false;
  std::set<int64_t> positions;
};

void keep(Kept& k, const AblationSite& site) {
  if (site.positions.empty()) k.all = true;
  k.positions.insert(site.positions.begin(), site.positions.end());
}

// The positions a component loses: {} when it loses none, else the list (every position: empty, with `any` set).
std::vector<int64_t> lost(const Kept& k, int64_t length, bool& any) {
  std::vector<int64_t> out;
  any = false;
  if (k.all) return out;
  for (int64_t p = 0; p < length; ++p)
    if (!k.positions.count(p)) out.push_back(p);
  any = !out.empty();
  if (static_cast<int64_t>(out.size()) == length) out.clear();  // every position: no restriction
  return out;
}

bool covers(const std::vector<int64_t>& list, int64_t i) {
  return list.empty() || std::count(list.begin(), list.end(), i);
}

// Sites of `hook` ablating `units` (its heads or neurons) grouped by the positions they lose.
void add_lost(std::vector<AblationSite>& out, HookPoint hook, const std::vector<Kept>& units, int64_t length,
              bool neurons) {
  std::map<std::vector<int64_t>, std::vector<int64_t>> groups;
  for (std::size_t u = 0; u < units.size(); ++u) {
    bool any = false;
    std::vector<int64_t> positions = lost(units[u], length, any);
    if (any) groups[positions].push_back(static_cast<int64_t>(u));
  }
  for (auto& [positions, members] : groups) {
    AblationSite site{hook, {}, positions, {}};
    if (members.size() < units.size()) (neurons ? site.neurons : site.heads) = members;  // else every one
    out.push_back(site);
  }
}

}  // namespace

std::vector<std::pair<std::string, InterventionKind>> ablation_methods(bool counterfactual) {
  std::vector<std::pair<std::string, InterventionKind>> methods = {
      {"zero", InterventionKind::kZero}, {"mean", InterventionKind::kMean}, {"resample", InterventionKind::kResample}};
  if (counterfactual) methods.emplace_back("counterfactual", InterventionKind::kPatch);
  return methods;
}

AblationSite ablation_site_at(const nlohmann::json& v, const At& at, const Config& config) {
  check_object(v, at, {"hook", "heads", "positions", "neurons"}, {"hook"});
  AblationSite site;
  site.hook = hook_at(v["hook"], at / "hook", config);
  const std::string name = v["hook"].get<std::string>();
  if (site.hook.type == HookType::kTokens) (at / "hook").fail("tokens cannot be ablated");
  if (v.contains("heads")) {
    if (head_dim(site.hook.type) < 0) (at / "heads").fail(name + " has no head dimension");
    site.heads = heads_at(v["heads"], at / "heads", config);
  }
  if (v.contains("positions")) site.positions = positions_at(v["positions"], at / "positions", config);
  if (v.contains("neurons")) {
    if (site.hook.type != HookType::kMlpPre && site.hook.type != HookType::kMlpPost)
      (at / "neurons").fail("neurons are the last dimension of blocks.L.mlp.hook_pre or hook_post, not of " + name);
    site.neurons = array_of(v["neurons"], at / "neurons",
                            [&](const nlohmann::json& x, const At& a) { return integer_at(x, a, 0, config.d_mlp - 1); });
  }
  return site;
}

Domain reference_at(const nlohmann::json& v, const At& at, const Task& task, const Domain& domain,
                    InterventionKind method) {
  Domain reference{false, 4096, 0};
  if (v.contains("reference")) {
    if (method == InterventionKind::kZero) (at / "reference").fail("only mean and resample ablation use a reference sample");
    reference = domain_at(v["reference"], at / "reference", task, false);
  } else if (task.dataset_rows && *task.domain_size <= reference.sample) {
    reference = Domain{};  // a dataset no larger than the default sample: every row
    reference.all = true;
    reference.sample = *task.domain_size;
  }
  if (reference.where.empty()) {  // the reference follows the claim's filter unless it names its own
    reference.where = domain.where;
    reference.where_value = domain.where_value;
  }
  return reference;
}

std::string site_name(const AblationSite& site) {
  std::string s = hook_name(site.hook);
  if (!site.heads.empty()) s += " heads " + c10::str(at::IntArrayRef(site.heads));
  if (!site.positions.empty()) s += " positions " + c10::str(at::IntArrayRef(site.positions));
  if (!site.neurons.empty()) s += " neurons " + c10::str(at::IntArrayRef(site.neurons));
  if (!site.role.empty()) s += " role " + site.role;
  return s;
}

std::string site_names(const std::vector<AblationSite>& sites) {
  std::string s;
  for (const AblationSite& site : sites) s += (s.empty() ? "" : ", ") + site_name(site);
  return s;
}

std::vector<AblationSite> complement(const std::vector<AblationSite>& kept, const Config& config,
                                     const std::set<int>& neuron_layers, int64_t length, const std::string& where) {
  std::vector<AblationSite> out;
  for (int l = 0; l < config.n_layers; ++l) {
    const bool by_neuron = neuron_layers.count(l) > 0;
    std::vector<Kept> heads(static_cast<std::size_t>(config.n_heads));
    std::vector<Kept> mlp(config.attn_only ? 0 : by_neuron ? static_cast<std::size_t>(config.d_mlp) : 1);
    for (const AblationSite& site : kept) {
      if (site.hook.layer != l || !site.role.empty()) continue;
      if (site.hook.type == HookType::kZ) {
        for (int64_t h = 0; h < config.n_heads; ++h)
          if (covers(site.heads, h)) keep(heads[static_cast<std::size_t>(h)], site);
      } else if (site.hook.type == HookType::kMlpOut && !by_neuron && !mlp.empty()) {
        keep(mlp[0], site);
      } else if (site.hook.type == HookType::kMlpPost && by_neuron) {
        for (int64_t n = 0; n < config.d_mlp; ++n)
          if (covers(site.neurons, n)) keep(mlp[static_cast<std::size_t>(n)], site);
      } else {
        throw InputError(where + ": " + site_name(site) +
                         " is not a component: keep blocks.L.attn.hook_z (heads), blocks.L.hook_mlp_out, or "
                         "blocks.L.mlp.hook_post (neurons) where the layer's MLP is kept by neurons");
      }
    }
    if (config.n_heads > 0) add_lost(out, {HookType::kZ, l}, heads, length, false);
    if (!mlp.empty()) add_lost(out, {by_neuron ? HookType::kMlpPost : HookType::kMlpOut, l}, mlp, length, by_neuron);
  }
  return out;
}

std::map<HookPoint, at::Tensor> ablation_values(const Task& task, InterventionKind method,
                                                const std::vector<HookPoint>& hooks, const Domain& reference,
                                                const HookedTransformer& model, Scale scale, int64_t to) {
  std::map<HookPoint, at::Tensor> out;
  if (method == InterventionKind::kZero || hooks.empty()) return out;
  RunOptions options;
  options.logits = false;  // the run stops after the last hook it reads
  for (const HookPoint& hook : hooks)  // each hook once, however many sites it has
    if (std::find(options.cache.begin(), options.cache.end(), hook) == options.cache.end()) options.cache.push_back(hook);
  std::map<HookPoint, std::vector<at::Tensor>> parts;  // resample: every row; mean: one running sum
  int64_t rows = 0;
  for_each_batch(task, reference, scale, [&](const Batch& b) {
    rows += b.tokens.size(0);
    RunResult r = run(model, to > 0 ? b.tokens.slice(1, 0, to) : b.tokens, options);
    for (const HookPoint& hook : options.cache) {
      const at::Tensor& act = r.cache.at(hook);
      std::vector<at::Tensor>& p = parts[hook];
      if (method != InterventionKind::kMean) p.push_back(act);
      else if (p.empty()) p.push_back(act.sum(0, true));
      else p[0] += act.sum(0, true);
    }
  });
  for (auto& [hook, p] : parts)
    out[hook] = method == InterventionKind::kMean ? p[0] / static_cast<double>(rows) : at::cat(p);
  return out;
}

std::vector<Intervention> ablation_interventions(InterventionKind method, const std::vector<AblationSite>& sites,
                                                 const std::map<HookPoint, at::Tensor>& values, uint64_t seed) {
  std::vector<Intervention> out;
  for (const AblationSite& site : sites) {
    Intervention iv;
    iv.hook = site.hook;
    iv.kind = method;
    iv.heads = site.heads;
    iv.positions = site.positions;
    iv.neurons = site.neurons;
    iv.seed = seed;
    if (method != InterventionKind::kZero) iv.value = values.at(site.hook);
    out.push_back(iv);
  }
  return out;
}

int64_t before_every_site(const std::vector<AblationSite>& sites, int64_t at_most) {
  int64_t out = at_most;
  for (const AblationSite& site : sites) {
    if (!site.role.empty() || site.positions.empty()) return 0;
    out = std::min(out, *std::min_element(site.positions.begin(), site.positions.end()));
  }
  return out;
}

std::vector<Intervention> within_positions(std::vector<Intervention> interventions, const Config& config, int64_t from,
                                           int64_t to, int64_t prefix) {
  std::vector<Intervention> out;
  for (Intervention& iv : interventions) {
    const int64_t first = hook_first_position(config, iv.hook, from, prefix);
    std::vector<int64_t> inside;
    for (int64_t p : iv.positions)
      if (p >= first && p < to) inside.push_back(p - first);
    if (!iv.positions.empty() && inside.empty()) continue;
    iv.positions = inside;
    const int dim = position_dim(iv.hook.type);
    const auto cut = [&](const at::Tensor& t) {  // along the positions, unless it broadcasts over them
      return t.dim() > dim && t.size(dim) > 1 ? t.slice(dim, first, to) : t;
    };
    if (iv.mask.defined()) iv.mask = cut(iv.mask);
    const bool per_position = iv.kind == InterventionKind::kMean || iv.kind == InterventionKind::kResample ||
                              iv.kind == InterventionKind::kPatch;
    if (iv.value.defined() && per_position) iv.value = cut(iv.value);
    out.push_back(std::move(iv));
  }
  return out;
}

}  // namespace circuitcheck
