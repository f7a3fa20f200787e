#include "circuits/claims/kinds/registry.h"

#include "circuits/claims/kinds/ablation_claim.h"
#include "circuits/claims/kinds/attention_claim.h"
#include "circuits/claims/kinds/behaviour_claim.h"
#include "circuits/claims/kinds/circuit_claim.h"
#include "circuits/claims/kinds/fourier_claim.h"
#include "circuits/claims/kinds/geometry_claim.h"
#include "circuits/claims/kinds/interchange_claim.h"
#include "circuits/claims/kinds/item_patching_claim.h"
#include "circuits/claims/kinds/patching_claim.h"
#include "circuits/claims/kinds/path_patching_claim.h"
#include "circuits/claims/kinds/probe_claim.h"
#include "circuits/claims/kinds/property_claim.h"
#include "circuits/claims/kinds/scrubbing_claim.h"
#include "circuits/claims/kinds/spectrum_claim.h"

namespace circuitcheck {

const std::vector<KindEntry>& claim_kinds() {
  static const std::vector<KindEntry> kinds = {
      {"behaviour", {"metric", "by_class", "class_values"}, {}, true, parse_behaviour,
       behaviour_reads, run_behaviour, true},
      {"attention", {"layer", "head", "query", "keys", "min_mass"},
       {"layer", "head", "query", "keys", "min_mass"}, true, parse_attention, attention_reads, run_attention},
      {"ablation", {"method", "sites", "metric", "reference", "keep_only", "by_class"},
       {"method", "sites"}, true, parse_ablation, ablation_reads, run_ablation, true, ablation_placebos},
      // "domain" is their own field: required for an activation source, refused on weights.
      {"fourier", {"measure", "source", "keys_from", "k", "min_explained", "domain"},
       {"measure", "source", "k"}, false, parse_fourier, fourier_reads, run_fourier, false, fourier_placebos},
      {"spectrum", {"source", "k", "center", "domain"}, {"source", "k"}, false, parse_spectrum,
       spectrum_reads, run_spectrum},
      {"geometry", {"measure", "source", "class", "class_item", "components", "domain"},
       {"measure", "source"}, false, parse_geometry, geometry_reads, run_geometry},
      {"probe", {"hook", "role", "label", "compare", "train_fraction", "seed"},
       {"hook", "role", "label"}, true, parse_probe, nullptr, run_probe, false, nullptr, probe_control_task},
      {"patching", {"counterfactual", "sites", "sweep"}, {"counterfactual", "sites"}, true,
       parse_patching, nullptr, run_patching},
      {"item_patching", {"counterfactual", "items", "by_class"},
       {"counterfactual", "items", "by_class"}, true, parse_item_patching, nullptr, run_item_patching, false,
       item_patching_placebos},
      // "domain" is its own field: RapidCheck's test count and seed, never exhaustive.
      {"property", {"predicate", "margin", "domain"}, {"predicate", "domain"}, false,
       parse_property, nullptr, run_property},
      {"circuit", {"nodes", "edges", "ablation", "reference", "counterfactual", "metric", "score_at", "completeness"},
       {}, true, parse_circuit, nullptr, run_circuit, false, circuit_placebos},
      {"interchange", {"counterfactual", "sites", "by_class"}, {"counterfactual", "sites"},
       true, parse_interchange, nullptr, run_interchange, true},
      {"path_patching", {"counterfactual", "sender", "receivers", "sweep"},
       {"counterfactual", "sender", "receivers"}, true, parse_path_patching, nullptr, run_path_patching},
      {"scrubbing", {"sites"}, {"sites"}, true, parse_scrubbing, nullptr, run_scrubbing},
  };
  return kinds;
}

const KindEntry* find_kind(const std::string& name) {
  for (const KindEntry& k : claim_kinds())
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace circuitcheck
