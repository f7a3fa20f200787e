#include "circuits/claims/placebo.h"

#include "circuits/claims/kinds/registry.h"
#include "circuits/formats/error.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace circuitcheck {
namespace {

// What a site's placebo moves: its heads, its neurons, its layer (a whole
// hook, or the only head of a layer), or its positions (a one-layer model).
enum class Dim { kHeads, kNeurons, kLayers, kPositions };

Dim placebo_dim(const AblationSite& s, const Config& config) {
  if (!s.heads.empty() && config.n_heads > 1) return Dim::kHeads;
  if (!s.neurons.empty()) return Dim::kNeurons;
  if (s.hook.layer >= 0 && config.n_layers > 1) return Dim::kLayers;
  if (!s.positions.empty()) return Dim::kPositions;
  return Dim::kLayers;
}

// A site's claimed components by (hook, layer, what); layers are keyed by hook alone.
using Key = std::tuple<HookType, int, Dim>;

Key site_key(const AblationSite& s, Dim dim) { return {s.hook.type, dim == Dim::kLayers ? -1 : s.hook.layer, dim}; }

std::vector<int64_t> site_components(const AblationSite& s, Dim dim) {
  switch (dim) {
    case Dim::kHeads: return s.heads;
    case Dim::kNeurons: return s.neurons;
    case Dim::kLayers: return {s.hook.layer};
    case Dim::kPositions: return s.positions;
  }
  return {};
}

void set_site_components(AblationSite& s, Dim dim, const std::vector<int64_t>& components) {
  switch (dim) {
    case Dim::kHeads: s.heads = components; break;
    case Dim::kNeurons: s.neurons = components; break;
    case Dim::kLayers: s.hook.layer = static_cast<int>(components.front()); break;
    case Dim::kPositions: s.positions = components; break;
  }
}

int64_t component_count(Dim dim, const Config& config) {
  switch (dim) {
    case Dim::kHeads: return config.n_heads;
    case Dim::kNeurons: return config.d_mlp;
    case Dim::kLayers: return config.n_layers;
    case Dim::kPositions: return config.n_ctx;
  }
  return 0;
}

const char* dim_name(Dim dim) {
  switch (dim) {
    case Dim::kHeads: return "heads";
    case Dim::kNeurons: return "neurons";
    case Dim::kLayers: return "layers";
    case Dim::kPositions: return "positions";
  }
  return "";
}

// "blocks.0.attn.hook_z:1,3", "blocks.1.hook_resid_post" or "blocks.0.attn.hook_z@0,1".
std::string describe(const AblationSite& s, Dim dim) {
  std::string out = hook_name(s.hook);
  if (dim == Dim::kLayers) return out;
  const std::vector<int64_t> c = site_components(s, dim);
  for (std::size_t i = 0; i < c.size(); ++i) out += (i ? "," : dim == Dim::kPositions ? "@" : ":") + std::to_string(c[i]);
  return out;
}

// The components of [0, size) that no site of the claim names, per site.
std::vector<std::vector<int64_t>> free_components(const std::vector<AblationSite>& sites, const std::vector<Dim>& dims,
                                                  const Config& config, const std::string& where,
                                                  const std::string& context) {
  std::map<Key, std::set<int64_t>> taken;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const std::vector<int64_t> c = site_components(sites[i], dims[i]);
    taken[site_key(sites[i], dims[i])].insert(c.begin(), c.end());
  }
  std::vector<std::vector<int64_t>> out;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const AblationSite& s = sites[i];
    const std::string site = context + ": site " + std::to_string(i) + " (" + hook_name(s.hook) + ")";
    check(dims[i] != Dim::kLayers || s.hook.layer >= 0, where,
          site + ": a hook outside the blocks has no other layer (name positions to move those instead)");
    std::vector<int64_t> free;
    for (int64_t c = 0; c < component_count(dims[i], config); ++c)
      if (!taken[site_key(s, dims[i])].count(c)) free.push_back(c);
    const int64_t n = static_cast<int64_t>(site_components(s, dims[i]).size());
    check(static_cast<int64_t>(free.size()) >= n, where,
          site + ": " + dim_name(dims[i]) + ": " + std::to_string(free.size()) +
              " other components left, the placebo needs " + std::to_string(n));
    out.push_back(std::move(free));
  }
  return out;
}

// One placebo drawn with `seed`: each site's components drawn without
// replacement from its free ones and those no earlier site took.
std::vector<AblationSite> drawn_placebo(std::vector<AblationSite> out, const std::vector<Dim>& dims,
                                        const std::vector<std::vector<int64_t>>& free, uint64_t seed,
                                        const std::string& where, const std::string& context) {
  std::map<Key, std::set<int64_t>> drawn;
  for (std::size_t i = 0; i < out.size(); ++i) {
    AblationSite& s = out[i];
    std::vector<int64_t> left;
    for (int64_t c : free[i])
      if (!drawn[site_key(s, dims[i])].count(c)) left.push_back(c);
    const int64_t n = static_cast<int64_t>(site_components(s, dims[i]).size());
    check(static_cast<int64_t>(left.size()) >= n, where,
          context + ": site " + std::to_string(i) + " (" + hook_name(s.hook) + "): " + std::to_string(left.size()) +
              " other components left after the earlier sites, the placebo needs " + std::to_string(n));
    const at::Tensor picked = sample_rows(n, static_cast<int64_t>(left.size()), seed * 1000003 + i, where);
    std::vector<int64_t> chosen;
    for (int64_t k = 0; k < n; ++k) chosen.push_back(left[picked[k].item<int64_t>()]);
    drawn[site_key(s, dims[i])].insert(chosen.begin(), chosen.end());
    set_site_components(s, dims[i], chosen);
  }
  return out;
}

// Every n-subset of `items`, in lexicographic order, stopping past `limit` subsets.
std::vector<std::vector<int64_t>> subsets(const std::vector<int64_t>& items, std::size_t n, std::size_t limit) {
  std::vector<std::vector<int64_t>> out;
  std::vector<std::size_t> index(n);
  for (std::size_t i = 0; i < n; ++i) index[i] = i;
  while (out.size() <= limit) {
    std::vector<int64_t> subset;
    for (std::size_t i : index) subset.push_back(items[i]);
    out.push_back(std::move(subset));
    std::size_t i = n;
    while (i > 0 && index[i - 1] == items.size() - n + i - 1) --i;
    if (i == 0) break;
    ++index[i - 1];
    for (std::size_t j = i; j < n; ++j) index[j] = index[j - 1] + 1;
  }
  return out;
}

// Every placebo: each site's components any subset of its free ones, no two
// sites of one (hook, layer) sharing a component.
std::vector<std::vector<AblationSite>> every_placebo(const std::vector<AblationSite>& sites,
                                                     const std::vector<Dim>& dims,
                                                     const std::vector<std::vector<int64_t>>& free,
                                                     const std::string& where, const std::string& context) {
  const std::size_t limit = kMaxPlacebos;
  std::vector<std::vector<std::vector<int64_t>>> choices;
  std::size_t total = 1;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    choices.push_back(subsets(free[i], site_components(sites[i], dims[i]).size(), limit));
    total = std::min(total * choices.back().size(), limit + 1);
  }
  check(total <= limit, where,
        context + ": more than " + std::to_string(limit) + " placebos; draw some with placebo:<seed>");
  std::vector<std::vector<AblationSite>> out;
  for (std::size_t n = 0; n < total; ++n) {
    std::size_t rest = n;
    std::vector<AblationSite> placebo = sites;
    std::map<Key, std::set<int64_t>> used;
    bool overlaps = false;
    for (std::size_t i = 0; i < placebo.size(); ++i) {
      const std::vector<int64_t>& c = choices[i][rest % choices[i].size()];
      rest /= choices[i].size();
      std::set<int64_t>& u = used[site_key(placebo[i], dims[i])];
      for (int64_t x : c) overlaps = overlaps || !u.insert(x).second;
      set_site_components(placebo[i], dims[i], c);
    }
    if (!overlaps) out.push_back(std::move(placebo));
  }
  check(!out.empty(), where, context + ": no placebo whose sites do not overlap");
  return out;
}

}  // namespace

bool is_control_task(const std::string& control) { return control.rfind("control_task", 0) == 0; }

bool runs_on_checkpoint(const std::string& control) {
  return control.rfind("placebo", 0) == 0 || is_control_task(control);
}

uint64_t control_seed(const std::string& control, const std::string& name, const std::string& where) {
  const std::string expected = name == "placebo" ? "placebo, placebo:<seed> (a seed below 2^31) or placebo:all"
                                                 : name + " or " + name + ":<seed> (a seed below 2^31)";
  if (control == name) return 0;
  const std::string digits = control.substr(std::min(control.size(), name.size() + 1));
  check(control.compare(0, name.size() + 1, name + ":") == 0 && !digits.empty() && digits.size() <= 10 &&
            digits.find_first_not_of("0123456789") == std::string::npos && std::stoll(digits) < (int64_t{1} << 31),
        where, "control " + quote(control) + ": expected " + expected);
  return static_cast<uint64_t>(std::stoll(digits));
}

std::vector<MovedSites> moved_sites(const std::vector<AblationSite>& sites, const std::string& control,
                                    const Config& config, const std::string& where) {
  const std::string context = "control " + quote(control);
  std::vector<Dim> dims;
  for (const AblationSite& s : sites) dims.push_back(placebo_dim(s, config));
  const std::vector<std::vector<int64_t>> free = free_components(sites, dims, config, where, context);
  if (control != kAllPlacebos)
    return {{control, drawn_placebo(sites, dims, free, control_seed(control, "placebo", where), where, context)}};
  std::vector<MovedSites> out;
  for (std::vector<AblationSite>& placebo : every_placebo(sites, dims, free, where, context)) {
    std::string label = control + "/";
    for (std::size_t i = 0; i < placebo.size(); ++i) label += (i ? "+" : "") + describe(placebo[i], dims[i]);
    out.push_back({label, std::move(placebo)});
  }
  return out;
}

std::vector<PlaceboRun> placebo_runs(const Claim& claim, const std::string& control, const Config& config,
                                     const std::string& where) {
  const bool control_task = is_control_task(control);
  const auto takes = [control_task](const KindEntry& k) { return control_task ? k.control_task != nullptr : k.placebos != nullptr; };
  if (!takes(*claim.kind)) {
    std::vector<std::string> kinds;
    for (const KindEntry& k : claim_kinds())
      if (takes(k)) kinds.push_back(k.name);
    fail(where, "control " + quote(control) + ": kind " + quote(claim.kind->name) + " takes no " +
                    (control_task ? "control task" : "placebo") + " (the kinds that do: " + joined(kinds) + ")");
  }
  if (control_task)
    return {{control, control, claim.kind->control_task(claim, control_seed(control, "control_task", where))}};
  return claim.kind->placebos(claim, control, config, where);
}

}  // namespace circuitcheck
