#include "circuits/claims/kinds/registry.h"

namespace circuitcheck {

const std::vector<KindEntry>& claim_kinds() {
  static const std::vector<KindEntry> kinds = {
      {ClaimKind::kBehaviour, "behaviour", {"metric", "by_class", "class_values"}, {}, true, parse_behaviour,
       behaviour_hooks, run_behaviour, true},
      {ClaimKind::kAttention, "attention", {"layer", "head", "query", "keys", "min_mass"},
       {"layer", "head", "query", "keys", "min_mass"}, true, parse_attention, attention_hooks, run_attention},
      {ClaimKind::kAblation, "ablation", {"method", "sites", "metric", "reference", "keep_only", "by_class"},
       {"method", "sites"}, true, parse_ablation, ablation_hooks, run_ablation, true},
      // "domain" is their own field: required for an activation source, refused on weights.
      {ClaimKind::kFourier, "fourier", {"measure", "source", "keys_from", "k", "min_explained", "domain"},
       {"measure", "source", "k"}, false, parse_fourier, fourier_hooks, run_fourier},
      {ClaimKind::kSpectrum, "spectrum", {"source", "k", "center", "domain"}, {"source", "k"}, false, parse_spectrum,
       spectrum_hooks, run_spectrum},
      {ClaimKind::kGeometry, "geometry", {"measure", "source", "class", "class_item", "components", "domain"},
       {"measure", "source"}, false, parse_geometry, geometry_hooks, run_geometry},
      {ClaimKind::kProbe, "probe", {"hook", "role", "label", "compare", "train_fraction", "seed"},
       {"hook", "role", "label"}, true, parse_probe, nullptr, run_probe},
      {ClaimKind::kPatching, "patching", {"counterfactual", "sites", "sweep"}, {"counterfactual", "sites"}, true,
       parse_patching, nullptr, run_patching},
      {ClaimKind::kItemPatching, "item_patching", {"counterfactual", "items", "by_class"},
       {"counterfactual", "items", "by_class"}, true, parse_item_patching, nullptr, run_item_patching},
      // "domain" is its own field: RapidCheck's test count and seed, never exhaustive.
      {ClaimKind::kProperty, "property", {"predicate", "margin", "domain"}, {"predicate", "domain"}, false,
       parse_property, nullptr, run_property},
      {ClaimKind::kCircuit, "circuit", {"nodes", "edges", "ablation", "reference", "counterfactual", "metric", "score_at", "completeness"},
       {}, true,
       parse_circuit, nullptr, run_circuit},
      {ClaimKind::kInterchange, "interchange", {"counterfactual", "sites", "by_class"}, {"counterfactual", "sites"},
       true, parse_interchange, nullptr, run_interchange, true},
      {ClaimKind::kPathPatching, "path_patching", {"counterfactual", "sender", "receivers", "sweep"},
       {"counterfactual", "sender", "receivers"}, true, parse_path_patching, nullptr, run_path_patching},
      {ClaimKind::kScrubbing, "scrubbing", {"sites"}, {"sites"}, true, parse_scrubbing, nullptr, run_scrubbing},
  };
  return kinds;
}

const KindEntry& kind_entry(ClaimKind kind) { return claim_kinds().at(static_cast<std::size_t>(kind)); }

const KindEntry* find_kind(const std::string& name) {
  for (const KindEntry& k : claim_kinds())
    if (name == k.name) return &k;
  return nullptr;
}

std::string to_string(ClaimKind kind) { return kind_entry(kind).name; }

}  // namespace circuitcheck
