#include "circuits/claims/placebo.h"

#include "circuits/claims/kinds/ablation_claim.h"
#include "circuits/formats/error.h"

#include <map>
#include <set>
#include <tuple>

namespace circuitcheck {
namespace {

uint64_t placebo_seed(const std::string& control, const std::string& where) {
  if (control == "placebo") return 0;
  const std::string digits = control.substr(8);
  check(control.compare(0, 8, "placebo:") == 0 && !digits.empty() && digits.size() <= 10 &&
            digits.find_first_not_of("0123456789") == std::string::npos && std::stoll(digits) < (int64_t{1} << 31),
        where, "control " + quote(control) + ": expected placebo or placebo:<seed>, a seed below 2^31");
  return static_cast<uint64_t>(std::stoll(digits));
}

// `n` of the components [0, size) outside `taken`, drawn with `seed`; they join `taken`.
std::vector<int64_t> draw_others(int64_t n, int64_t size, std::set<int64_t>& taken, uint64_t seed,
                                 const std::string& where, const std::string& site, const std::string& what) {
  std::vector<int64_t> free;
  for (int64_t i = 0; i < size; ++i)
    if (!taken.count(i)) free.push_back(i);
  check(static_cast<int64_t>(free.size()) >= n, where,
        site + ": " + what + ": " + std::to_string(free.size()) + " other components left, the placebo needs " + std::to_string(n));
  const at::Tensor picked = sample_rows(n, static_cast<int64_t>(free.size()), seed, where);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(free[picked[i].item<int64_t>()]);
  taken.insert(out.begin(), out.end());
  return out;
}

}  // namespace

bool is_placebo(const std::string& control) { return control.compare(0, 7, "placebo") == 0; }

Claim placebo_claim(const Claim& claim, const std::string& control, const Config& config, const std::string& where) {
  const std::string context = "control " + quote(control);
  const uint64_t seed = placebo_seed(control, where);
  const AblationSpec* spec = std::get_if<AblationSpec>(&claim.spec);
  check(spec && claim.pass.drop_to_at_most, where,
        "control " + quote(control) + ": a placebo reaches a necessity ablation (kind ablation with drop_to_at_most) only");
  // Components each site names, by (hook, layer, what): 0 heads, 1 neurons, 2 layers of the hook.
  std::map<std::tuple<HookType, int, int>, std::set<int64_t>> taken;
  for (const AblationSite& s : spec->sites) {
    if (!s.heads.empty()) taken[{s.hook.type, s.hook.layer, 0}].insert(s.heads.begin(), s.heads.end());
    else if (!s.neurons.empty()) taken[{s.hook.type, s.hook.layer, 1}].insert(s.neurons.begin(), s.neurons.end());
    else taken[{s.hook.type, -1, 2}].insert(s.hook.layer);
  }
  Claim out = claim;
  AblationSpec& placebo = std::get<AblationSpec>(out.spec);
  for (std::size_t i = 0; i < placebo.sites.size(); ++i) {
    AblationSite& s = placebo.sites[i];
    const std::string site = context + ": site " + std::to_string(i) + " (" + hook_name(s.hook) + ")";
    const uint64_t site_seed = seed * 1000003 + i;
    if (!s.heads.empty()) {
      s.heads = draw_others(static_cast<int64_t>(s.heads.size()), config.n_heads, taken[{s.hook.type, s.hook.layer, 0}],
                            site_seed, where, site, "heads");
    } else if (!s.neurons.empty()) {
      s.neurons = draw_others(static_cast<int64_t>(s.neurons.size()), config.d_mlp,
                              taken[{s.hook.type, s.hook.layer, 1}], site_seed, where, site, "neurons");
    } else {
      check(s.hook.layer >= 0, where, site + ": a hook outside the blocks has no other layer");
      s.hook.layer = static_cast<int>(
          draw_others(1, config.n_layers, taken[{s.hook.type, -1, 2}], site_seed, where, site, "layers").front());
    }
  }
  return out;
}

}  // namespace circuitcheck
