// Claims along a training run: when verify runs one claim file on snapshots
// of one run (train --snapshot-every; circuits/training/snapshot.h), each
// claim's headline metric against the step, and the step from which the claim
// holds for good ("when the circuit formed"). The run writes it as
// D/timeline.json, schema "circuitcheck.timeline/1" (reports/timeline.schema.json):
//
//   { "schema": "circuitcheck.timeline/1",
//     "timelines": [ { "system", "claims_file",
//        "checkpoints": [ {"step", "path", "sha256", "report", "train_loss"?, "test_loss"?} ],
//        "claims": [ {"id", "scope", "metric", "rule", "threshold", "rate",
//                     "points": [ {"step", "verdict", "value", "bound", "checks": {name: value}} ],
//                     "passed", "formed_at_step"} ] } ] }
//
// The metric of a claim is the name of the first thresholded check of its
// outcome on the last snapshot that has one (the headline of the trained
// model; an error on the last snapshot leaves the earlier ones'); "value" and
// "bound" are that check's value and compared bound on each snapshot (null
// where the snapshot's outcome has no such check, e.g. an error). "checks"
// holds the value of every thresholded check of the snapshot's outcome (S1's
// restricted_excluded: "accuracy restricted" and "accuracy excluded").
// "formed_at_step" is the first step from which the claim passes on every
// later snapshot, null when it fails on the last. Like checkpoints.json, it
// holds no timings. The HTML index draws each claim's metric as a line chart
// (svg_figure's "lines") with its threshold and formation step, and the
// training and held-out loss beside them.
#pragma once

#include "circuits/claims/figure.h"
#include "circuits/reports/report.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kTimelineSchema = "circuitcheck.timeline/1";

// One claim file run on the snapshots of one training run, in step order.
struct Timeline {
  struct Point {
    int64_t step = 0;
    Verdict verdict = Verdict::kError;
    std::optional<double> value, bound;  // the metric's check on this snapshot
    std::vector<std::pair<std::string, double>> checks;  // every thresholded check: name, value
  };
  struct Series {
    std::string claim;
    ClaimScope scope = ClaimScope::kRecipe;
    std::string metric;  // a check name; "" when no outcome has a thresholded check
    Rule rule = Rule::kNone;
    double threshold = 0.0;
    bool rate = false;  // is_rate: a fraction in [0, 1]
    std::vector<Point> points;
    int passed = 0;
    std::optional<int64_t> formed_at_step;
  };

  std::string system;
  std::string claims_file;
  std::vector<const SystemReport*> reports;  // in step order
  std::vector<Series> series;                // in the claim order of the reports
};

// A timeline for each claim file that `reports` ran on two or more
// checkpoints that all carry a snapshot step, ordered by step. The reports
// of one file must hold the same claims in the same order, with distinct
// steps; std::invalid_argument otherwise. Points into `reports`.
std::vector<Timeline> timelines(const std::vector<SystemReport>& reports);

// The document above.
nlohmann::json timelines_json(const std::vector<Timeline>& timelines);

// The pictures of one timeline: the training and held-out loss against the
// step (log scale; none when no snapshot carries a loss), then one per claim:
// its metric's compared bound and the value of each of its thresholded checks
// against the step, their thresholds and the formation step as reference lines.
std::vector<Figure> timeline_figures(const Timeline& timeline);

// The terminal's view: a heading, then a line per claim,
//   "modular_addition over 40 snapshots (steps 500 to 20000):"
//   "  fourier_embedding_sparse  holds from step 9500  (23/40)  top_k_energy 0.951 >= 0.9 at step 20000"
// ("never holds for good" when it fails on the last snapshot).
std::string timeline_text(const Timeline& timeline);

}  // namespace circuitcheck
