// The pictures of a claim's evidence, drawn by the HTML report.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace circuitcheck {

// A picture of the evidence, drawn by the HTML report.
//   "heatmap": values [rows][cols], y_labels (rows) x x_labels (cols), e.g. query x key attention;
//   "bars":    values [series][category], x_labels the categories, series the legend;
//   "scatter": points [n][2] (x, y), classes [n] (an index into series, the legend);
//   "lines":   values [series][i] at x[i] (x ascending; NaN: no point), series the legend,
//              e.g. a claim's metric against the training step.
// Optional `reference` lines (bars, lines: a threshold) are drawn across;
// `x_reference` lines (lines: the step a claim starts to hold) are drawn
// upright. `log_y` draws a lines figure's y axis in powers of ten (a loss);
// values <= 0 are left out.
struct Figure {
  std::string type;
  std::string title;
  std::string x_title, y_title;
  std::vector<std::string> x_labels, y_labels, series;
  std::vector<std::vector<double>> values;
  std::vector<int> classes;
  std::vector<double> reference;
  std::vector<double> x;            // lines only
  std::vector<double> x_reference;  // lines only
  bool log_y = false;               // lines only

  nlohmann::json to_json() const;
};

}  // namespace circuitcheck
