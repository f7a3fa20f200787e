// What `circuitcheck attribute` found (attribution.h, faithfulness_curve.h),
// as a JSON report (schema "circuitcheck.attribution/1"), a self-contained
// HTML page (inline SVG, no JavaScript), a terminal summary, and the claim
// it writes: the smallest circuit of its ranking whose faithfulness clears
// the threshold, as a circuit claim to verify on a fresh sample.
#pragma once

#include "circuits/discovery/attribution.h"
#include "circuits/discovery/faithfulness_curve.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace circuitcheck {

struct Attribution {
  std::string checkpoint;  // as given on the command line
  std::string task;        // the built-in system, or the task file
  nlohmann::json claim;    // the circuit claim measured with (its ablation, metric and domain; its units not yet chosen)
  AttributionMethod method = AttributionMethod::kEapIg;  // the ranking the circuit is chosen from
  int64_t ig_steps = 5;
  int64_t examples = 0;      // the domain's
  int64_t domain_size = -1;  // the task's examples when finite (a dataset's rows), else -1
  std::vector<AttributionUnit> units;  // nodes, or edges
  double whole = 0.0;  // m(N), mean per example
  double empty = 0.0;  // m(empty)
  std::vector<CurvePoint> atp_curve, eap_ig_curve;
  CurveAreas atp_areas, eap_ig_areas;
  double threshold = 0.9;  // on f's bootstrap lower bound
  CurvePoint chosen;       // the smallest circuit of `method`'s ranking that clears it
  double seconds = 0.0;    // wall time

  const std::vector<CurvePoint>& curve(AttributionMethod m) const {
    return m == AttributionMethod::kAtp ? atp_curve : eap_ig_curve;
  }
};

// The chosen circuit's units: the top `chosen.count` of `method`'s ranking.
std::vector<AttributionUnit> chosen_units(const Attribution& a);

// {"schema": "circuitcheck.attribution/1", "checkpoint", "task", "claim",
//  "method", "ig_steps", "examples", "metric": {"whole", "empty"},
//  "units": "nodes" or "edges",
//  "nodes" or "edges": [{"name", then a node's "hook", "head" (null for an
//             MLP), "position" and, for a neuron, "neuron", or an edge's
//             "sender" and "receiver",
//             then "atp", "eap_ig", "rank_atp", "rank_eap_ig"}] (in unit order),
//  "curves": {"atp"|"eap-ig": {"points": [{"percent", "count", "f", "lower",
//             "upper"}], "cpr", "cmd"}},
//  "threshold", "chosen": {"count", "f", "lower", "upper", "units": [names]},
//  "seconds"}.
nlohmann::json attribution_json(const Attribution& a);

// The page: the measured setting, both curves as one "lines" figure (f
// against the % of units, the threshold as a reference line) with CPR and
// CMD, the chosen circuit, and a table of the units by rank.
std::string attribution_html(const Attribution& a);

// A few lines for the terminal: the gap, each method's CPR and CMD, the
// chosen circuit, and its first units.
std::string attribution_text(const Attribution& a);

// The claim object to write: a.claim with the chosen circuit's sites
// (circuit_of: the sites of its nodes, or its edges) as its "nodes" or
// "edges", a hypothesis with what was measured, its
// domain's seed moved to seed + 1 (another sample than the one the circuit
// was chosen on; the hypothesis says how far apart they can be: on a finite
// domain they may share examples, and a sample of every example is the same
// examples) and "faithfulness_at_least" the threshold.
nlohmann::json discovered_claim(const Attribution& a);

}  // namespace circuitcheck
