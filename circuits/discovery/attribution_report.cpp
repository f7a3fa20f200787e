#include "circuits/discovery/attribution_report.h"

#include "circuits/claims/check.h"
#include "circuits/claims/figure.h"
#include "circuits/model/hooks.h"
#include "circuits/reports/html_report.h"
#include "circuits/reports/report.h"

#include <algorithm>
#include <sstream>

namespace circuitcheck {
namespace {

using nlohmann::json;

const AttributionMethod kMethods[] = {AttributionMethod::kAtp, AttributionMethod::kEapIg};

bool edges(const Attribution& a) { return !a.units.empty() && a.units.front().edge.has_value(); }

// Whether the units are nodes at neuron grain.
bool neurons(const Attribution& a) {
  return std::any_of(a.units.begin(), a.units.end(), [](const AttributionUnit& u) { return u.neuron >= 0; });
}

// "nodes" or "edges".
std::string kind(const Attribution& a) { return edges(a) ? "edges" : "nodes"; }

// Whether the units are edges at one position each.
bool by_position(const Attribution& a) {
  return std::any_of(a.units.begin(), a.units.end(), [](const AttributionUnit& u) { return u.edge && !u.edge->positions.empty(); });
}

// kind(a), saying when the edges are at one position each.
std::string units_named(const Attribution& a) { return kind(a) + (by_position(a) ? " at one position each" : ""); }

const CurveAreas& areas(const Attribution& a, AttributionMethod m) {
  return m == AttributionMethod::kAtp ? a.atp_areas : a.eap_ig_areas;
}

// rank[i]: unit i's place (0 = first) in `method`'s ranking.
std::vector<int64_t> ranks(const Attribution& a, AttributionMethod method) {
  const std::vector<int64_t> order = ranking(a.units, method);
  std::vector<int64_t> rank(order.size());
  for (std::size_t r = 0; r < order.size(); ++r) rank[static_cast<std::size_t>(order[r])] = static_cast<int64_t>(r);
  return rank;
}

json point_json(const CurvePoint& p) {
  return {{"percent", p.percent}, {"count", p.count}, {"f", p.f}, {"lower", p.lower}, {"upper", p.upper}};
}

json site_json(const AblationSite& site) {
  json out = {{"hook", hook_name(site.hook)}};
  if (!site.heads.empty()) out["heads"] = site.heads;
  if (!site.positions.empty()) out["positions"] = site.positions;
  if (!site.neurons.empty()) out["neurons"] = site.neurons;
  return out;
}

std::string names(const std::vector<AttributionUnit>& units) {
  std::string s;
  for (const AttributionUnit& n : units) s += (s.empty() ? "" : ", ") + n.name();
  return s;
}

std::string setting(const Attribution& a) {
  const json& c = a.claim;
  return c.value("metric", "logit_diff") + ", " + c.value("ablation", "mean") + " ablation, " +
         std::to_string(a.examples) + " examples (domain " + c["domain"].dump() + ")";
}

}  // namespace

std::vector<AttributionUnit> chosen_units(const Attribution& a) {
  return top_units(a.units, ranking(a.units, a.method), a.chosen.count);
}

json attribution_json(const Attribution& a) {
  const std::vector<int64_t> rank_atp = ranks(a, AttributionMethod::kAtp), rank_ig = ranks(a, AttributionMethod::kEapIg);
  json units = json::array();
  for (std::size_t i = 0; i < a.units.size(); ++i) {
    const AttributionUnit& n = a.units[i];
    json unit = {{"name", n.name()}};
    if (n.edge) {
      unit["sender"] = n.edge->sender.name();
      unit["receiver"] = n.edge->receiver.name();
      if (!n.edge->positions.empty()) unit["positions"] = n.edge->positions;
    } else {
      unit["hook"] = hook_name(n.hook);
      unit["head"] = n.head < 0 ? json(nullptr) : json(n.head);
      unit["position"] = n.position;
      if (n.neuron >= 0) unit["neuron"] = n.neuron;
    }
    unit.update({{"atp", n.atp}, {"eap_ig", n.eap_ig}, {"rank_atp", rank_atp[i]}, {"rank_eap_ig", rank_ig[i]}});
    units.push_back(unit);
  }
  json curves = json::object();
  for (AttributionMethod m : kMethods) {
    json points = json::array();
    for (const CurvePoint& p : a.curve(m)) points.push_back(point_json(p));
    curves[to_string(m)] = {{"points", points}, {"cpr", areas(a, m).cpr}, {"cmd", areas(a, m).cmd}};
  }
  json chosen = point_json(a.chosen);
  chosen["units"] = json::array();
  for (const AttributionUnit& n : chosen_units(a)) chosen["units"].push_back(n.name());
  return {{"schema", "circuitcheck.attribution/1"},
          {"checkpoint", a.checkpoint},
          {"task", a.task},
          {"claim", a.claim},
          {"method", to_string(a.method)},
          {"ig_steps", a.ig_steps},
          {"examples", a.examples},
          {"metric", {{"whole", a.whole}, {"empty", a.empty}}},
          {"units", kind(a)},
          {kind(a), units},
          {"curves", curves},
          {"threshold", a.threshold},
          {"chosen", chosen},
          {"seconds", a.seconds}};
}

std::string attribution_html(const Attribution& a) {
  Figure curve;
  curve.type = "lines";
  curve.title = "faithfulness of the top k % of " + kind(a);
  curve.x_title = "% of " + kind(a) + " kept";
  curve.y_title = "faithfulness f";
  curve.reference = {a.threshold};
  for (const CurvePoint& p : a.atp_curve) curve.x.push_back(p.percent);
  for (AttributionMethod m : kMethods) {
    curve.series.push_back(std::string(to_string(m)) + " (CPR " + number(areas(a, m).cpr) + ", CMD " +
                           number(areas(a, m).cmd) + ")");
    curve.values.emplace_back();
    for (const CurvePoint& p : a.curve(m)) curve.values.back().push_back(p.f);
  }
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>attribution: "
       << escape_markup(a.checkpoint) << "</title><style>body{font-family:sans-serif;margin:2em;max-width:70em}"
       << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
       << "td:first-child{text-align:left}</style></head><body>\n<h1>Attribution of " << escape_markup(a.checkpoint)
       << "</h1>\n<p>Task " << escape_markup(a.task) << "; " << escape_markup(setting(a)) << ". Whole model "
       << number(a.whole) << ", empty circuit " << number(a.empty) << ". EAP-IG over " << a.ig_steps
       << " steps. Time " << number(a.seconds) << " s.</p>\n"
       << svg_figure(curve) << "\n<h2>Chosen circuit</h2>\n<p class=\"chosen\" data-count=\"" << a.chosen.count
       << "\">The top " << a.chosen.count << " of " << a.units.size() << " " << units_named(a) << " by " << to_string(a.method)
       << ": f = " << number(a.chosen.f) << " (95 % bounds " << number(a.chosen.lower) << " to "
       << number(a.chosen.upper) << "; threshold " << number(a.threshold) << " on the lower bound): "
       << escape_markup(names(chosen_units(a))) << ".</p>\n<h2>Curve</h2>\n<table class=\"curve\"><tr><th>% of " << kind(a) << "</th>"
       << "<th>" << kind(a) << "</th><th>f (AtP ranking)</th><th>f (EAP-IG ranking)</th></tr>\n";
  for (std::size_t i = 0; i < a.atp_curve.size(); ++i)
    html << "<tr><td>" << number(a.atp_curve[i].percent) << "</td><td>" << a.atp_curve[i].count << "</td><td>"
         << number(a.atp_curve[i].f) << "</td><td>" << number(a.eap_ig_curve[i].f) << "</td></tr>\n";
  html << "</table>\n<h2>" << kind(a) << " by rank (" << to_string(a.method) << ")</h2>\n<table class=\"units\"><tr><th>"
       << kind(a) << "</th>"
       << "<th>AtP</th><th>EAP-IG</th></tr>\n";
  for (int64_t i : ranking(a.units, a.method)) {
    const AttributionUnit& n = a.units[static_cast<std::size_t>(i)];
    html << "<tr><td>" << escape_markup(n.name()) << "</td><td>" << number(n.atp) << "</td><td>" << number(n.eap_ig)
         << "</td></tr>\n";
  }
  html << "</table>\n</body></html>\n";
  return html.str();
}

std::string attribution_text(const Attribution& a) {
  std::ostringstream out;
  out << a.units.size() << " " << units_named(a) << "; " << setting(a) << ": whole model " << number(a.whole) << ", empty circuit "
      << number(a.empty) << "\n";
  for (AttributionMethod m : kMethods) {
    out << "  " << to_string(m) << ": CPR " << number(areas(a, m).cpr) << ", CMD " << number(areas(a, m).cmd)
        << "; f at";
    for (const CurvePoint& p : a.curve(m)) out << " " << number(p.percent) << "%:" << number(p.f);
    out << "\n";
  }
  std::vector<AttributionUnit> top = chosen_units(a);
  const std::size_t shown = 20;
  const std::string more = top.size() > shown ? ", ... (" + std::to_string(top.size() - shown) + " more)" : "";
  if (top.size() > shown) top.resize(shown);
  out << "chosen (" << to_string(a.method) << "): top " << a.chosen.count << " of " << a.units.size() << " " << units_named(a) << ", f "
      << number(a.chosen.f) << " (lower bound " << number(a.chosen.lower) << " >= " << number(a.threshold)
      << "): " << names(top) << more << "\n";
  return out.str();
}

json discovered_claim(const Attribution& a) {
  json claim = a.claim;
  const CircuitConfiguration circuit = circuit_of(chosen_units(a));
  claim.erase("nodes");
  claim.erase("edges");
  for (const AblationSite& site : circuit.sites) claim["nodes"].push_back(site_json(site));
  for (const Edge& e : circuit.edges) {
    claim["edges"].push_back({{"sender", e.sender.name()}, {"receiver", e.receiver.name()}});
    if (!e.positions.empty()) claim["edges"].back()["positions"] = e.positions;
  }
  const bool sampled = claim["domain"].contains("seed");
  if (sampled) claim["domain"]["seed"] = claim["domain"]["seed"].get<int64_t>() + 1;
  claim["pass"] = {{"faithfulness_at_least", a.threshold}};
  std::ostringstream h;
  h << "Found by circuitcheck attribute (" << to_string(a.method) << (a.method == AttributionMethod::kEapIg
                                                                          ? ", " + std::to_string(a.ig_steps) + " steps"
                                                                          : std::string())
    << ") on " << a.checkpoint << ": the top " << a.chosen.count << " of " << a.units.size()
    << (by_position(a) ? " edges at one position each (each a sender's output as one receiver reads it at one position; "
                         "written as " + std::to_string(circuit.edges.size()) + " edges at their positions)"
        : edges(a)     ? " edges (each a sender's output as one receiver reads it)"
        : neurons(a)   ? " nodes (each a head's output or an MLP neuron at one position)"
                       : " nodes (each a head's or an MLP's output at one position)")
    << " reproduce the model's " << a.claim.value("metric", "logit_diff")
    << " with every other " << (edges(a) ? "edge " : "node ") << a.claim.value("ablation", "mean") << "-ablated: f = " << number(a.chosen.f)
    << " (bootstrap 95 % lower bound " << number(a.chosen.lower) << ") on " << a.examples << " examples (domain "
    << a.claim["domain"].dump() << "). "
    << (!sampled ? "It is checked on the examples it was chosen on."
        : a.domain_size >= 0 && a.examples >= a.domain_size
            ? "It is checked on seed + 1's sample, which holds the same examples (the task has no others): "
              "the check is not independent of the choice."
        : a.domain_size >= 0
            ? "It is checked on seed + 1's sample, not the one it was chosen on (of " + std::to_string(a.domain_size) +
                  " examples, the two may share some)."
            : std::string("It is checked on seed + 1's sample, not the one it was chosen on."))
    << " Whole model " << number(a.whole) << ", empty circuit " << number(a.empty) << ".";
  claim["hypothesis"] = h.str();
  return claim;
}

}  // namespace circuitcheck
