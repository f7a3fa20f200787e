#include "circuits/reports/timeline.h"

#include "circuits/reports/checkpoint_table.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const Check* find_check(const Outcome& outcome, const std::string& name) {
  for (const auto& c : outcome.checks)
    if (c.name == name) return &c;
  return nullptr;
}

const Check* first_thresholded(const Outcome& outcome) {
  for (const auto& c : outcome.checks)
    if (c.rule != Rule::kNone) return &c;
  return nullptr;
}

Timeline::Series series_of(const std::vector<const SystemReport*>& reports, std::size_t i) {
  const ClaimResult& last = reports.back()->results[i];
  Timeline::Series s;
  s.claim = last.claim.id;
  s.scope = last.claim.scope;
  for (auto r = reports.rbegin(); r != reports.rend() && s.metric.empty(); ++r)  // the last snapshot that has one
    if (const Check* c = first_thresholded((*r)->results[i].checkpoint)) {
      s.metric = c->name;
      s.rule = c->rule;
      s.threshold = c->threshold;
      s.rate = is_rate(*c);
    }
  for (const SystemReport* r : reports) {
    const ClaimResult& result = r->results[i];
    Timeline::Point p{r->provenance.snapshot->step, result.verdict, std::nullopt, std::nullopt};
    if (const Check* c = s.metric.empty() ? nullptr : find_check(result.checkpoint, s.metric)) {
      p.value = c->value;
      p.bound = c->bound;
    }
    for (const Check& c : result.checkpoint.checks)
      if (c.rule != Rule::kNone) p.checks.emplace_back(c.name, c.value);
    s.passed += p.verdict == Verdict::kPass;
    s.points.push_back(p);
  }
  for (auto it = s.points.rbegin(); it != s.points.rend() && it->verdict == Verdict::kPass; ++it)
    s.formed_at_step = it->step;
  return s;
}

json optional_json(const std::optional<double>& x) { return x ? json(*x) : json(nullptr); }

double or_nan(const std::optional<double>& x) { return x ? *x : kNaN; }

// "0.951" or "95.1%", as the reports print the check.
std::string quantity(const Timeline::Series& s, double x) { return s.rate ? percent(x) : number(x); }

}  // namespace

std::vector<Timeline> timelines(const std::vector<SystemReport>& reports) {
  std::vector<Timeline> out;
  for (auto& group : reports_by_claims_file(reports))
    if (group.size() >= 2 &&
        std::all_of(group.begin(), group.end(), [](const SystemReport* r) { return r->provenance.snapshot.has_value(); }))
      out.push_back({group[0]->system, group[0]->provenance.claims_file, group, {}});
  for (auto& t : out) {
    std::stable_sort(t.reports.begin(), t.reports.end(), [](const SystemReport* a, const SystemReport* b) {
      return a->provenance.snapshot->step < b->provenance.snapshot->step;
    });
    for (std::size_t k = 1; k < t.reports.size(); ++k)
      if (t.reports[k]->provenance.snapshot->step == t.reports[k - 1]->provenance.snapshot->step)
        throw std::invalid_argument("timelines: " + t.claims_file + ": " + t.reports[k - 1]->provenance.checkpoint +
                                    " and " + t.reports[k]->provenance.checkpoint + " are both at step " +
                                    std::to_string(t.reports[k]->provenance.snapshot->step));
    const std::vector<ClaimResult>& first = t.reports.front()->results;
    for (const SystemReport* r : t.reports) {
      bool same = r->results.size() == first.size();
      for (std::size_t i = 0; same && i < first.size(); ++i) same = r->results[i].claim.id == first[i].claim.id;
      if (!same)
        throw std::invalid_argument("timelines: " + t.claims_file + " ran different claims on " +
                                    r->provenance.checkpoint);
    }
    for (std::size_t i = 0; i < first.size(); ++i) t.series.push_back(series_of(t.reports, i));
  }
  return out;
}

json timelines_json(const std::vector<Timeline>& timelines) {
  json out = json::array();
  for (const auto& t : timelines) {
    json checkpoints = json::array(), claims = json::array();
    for (const SystemReport* r : t.reports) {
      const SnapshotInfo& snapshot = *r->provenance.snapshot;
      json c = {{"step", snapshot.step},
                {"path", r->provenance.checkpoint},
                {"sha256", r->provenance.checkpoint_sha256},
                {"report", report_name(*r)}};
      if (snapshot.train_loss) c["train_loss"] = *snapshot.train_loss;
      if (snapshot.test_loss) c["test_loss"] = *snapshot.test_loss;
      checkpoints.push_back(c);
    }
    for (const auto& s : t.series) {
      json points = json::array();
      for (const auto& p : s.points) {
        json checks = json::object();
        for (const auto& [name, value] : p.checks) checks[name] = value;
        points.push_back({{"step", p.step},
                          {"verdict", to_string(p.verdict)},
                          {"value", optional_json(p.value)},
                          {"bound", optional_json(p.bound)},
                          {"checks", checks}});
      }
      claims.push_back({{"id", s.claim},
                        {"scope", to_string(s.scope)},
                        {"metric", s.metric},
                        {"rule", to_string(s.rule)},
                        {"threshold", s.threshold},
                        {"rate", s.rate},
                        {"points", points},
                        {"passed", s.passed},
                        {"formed_at_step", s.formed_at_step ? json(*s.formed_at_step) : json(nullptr)}});
    }
    out.push_back({{"system", t.system}, {"claims_file", t.claims_file}, {"checkpoints", checkpoints}, {"claims", claims}});
  }
  return {{"schema", kTimelineSchema}, {"timelines", out}};
}

std::vector<Figure> timeline_figures(const Timeline& t) {
  std::vector<Figure> figures;
  std::vector<double> steps, train_loss, test_loss;
  bool any_loss = false;
  for (const SystemReport* r : t.reports) {
    const SnapshotInfo& snapshot = *r->provenance.snapshot;
    steps.push_back(static_cast<double>(snapshot.step));
    train_loss.push_back(or_nan(snapshot.train_loss));
    test_loss.push_back(or_nan(snapshot.test_loss));
    any_loss = any_loss || snapshot.train_loss || snapshot.test_loss;
  }
  if (any_loss) {
    Figure loss;
    loss.type = "lines";
    loss.title = "loss";
    loss.x_title = "step";
    loss.y_title = "loss (nats)";
    loss.series = {"training batch", "held out"};
    loss.values = {train_loss, test_loss};
    loss.x = steps;
    loss.log_y = true;
    figures.push_back(loss);
  }
  for (std::size_t i = 0; i < t.series.size(); ++i) {
    const Timeline::Series& s = t.series[i];
    Figure f;
    f.type = "lines";
    f.title = s.claim;
    f.x_title = "step";
    f.y_title = s.metric;
    f.x = steps;
    // Each thresholded check's value, in the order the last snapshot gives them, then the metric's bound.
    for (const auto& last : s.points.back().checks) {
      const std::string& name = last.first;  // a plain reference: clang 14 cannot capture a structured binding
      std::vector<double> line;
      for (const auto& p : s.points) {
        const auto it = std::find_if(p.checks.begin(), p.checks.end(), [&](const auto& c) { return c.first == name; });
        line.push_back(it == p.checks.end() ? kNaN : it->second);
      }
      f.values.push_back(line);
      f.series.push_back(name);
    }
    std::vector<double> value, bound;
    for (const auto& p : s.points) value.push_back(or_nan(p.value)), bound.push_back(or_nan(p.bound));
    if (bound != value) {
      f.values.push_back(bound);
      f.series.push_back(s.metric + " (compared bound)");
    }
    for (const Check& c : t.reports.back()->results[i].checkpoint.checks)
      if (c.rule != Rule::kNone) f.reference.push_back(c.threshold);
    if (s.formed_at_step) f.x_reference = {static_cast<double>(*s.formed_at_step)};
    figures.push_back(f);
  }
  return figures;
}

std::string timeline_text(const Timeline& t) {
  const std::size_t n = t.reports.size();
  std::size_t width = 0;
  for (const auto& s : t.series) width = std::max(width, s.claim.size());
  std::string text = t.system + " over " + std::to_string(n) + " snapshots (steps " +
                     std::to_string(t.reports.front()->provenance.snapshot->step) + " to " +
                     std::to_string(t.reports.back()->provenance.snapshot->step) + "):\n";
  for (const auto& s : t.series) {
    std::string line = "  " + s.claim + std::string(width - s.claim.size() + 2, ' ');
    line += s.formed_at_step ? "holds from step " + std::to_string(*s.formed_at_step) : std::string("never holds for good");
    line += "  (" + std::to_string(s.passed) + "/" + std::to_string(n) + ")";
    const Timeline::Point& last = s.points.back();
    if (!s.metric.empty() && last.bound)
      line += "  " + s.metric + " " + quantity(s, *last.bound) + " " + comparison(direction(s.rule)) + " " +
              quantity(s, s.threshold) + " at step " + std::to_string(last.step);
    if (s.scope == ClaimScope::kCheckpoint) line += " (scope checkpoint)";
    text += line + "\n";
  }
  return text;
}

}  // namespace circuitcheck
