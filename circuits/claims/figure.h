// The pictures of a claim's evidence, drawn by the HTML report.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace circuitcheck {

// A picture of the evidence, drawn by the HTML report.
//   "heatmap": values [rows][cols], y_labels (rows) x x_labels (cols), e.g. query x key attention;
//   "bars":    values [series][category], x_labels the categories, series the legend;
//   "scatter": points [n][2] (x, y), classes [n] (an index into series, the legend).
// Optional `reference` lines (bars: a threshold) are drawn across.
struct Figure {
  std::string type;
  std::string title;
  std::string x_title, y_title;
  std::vector<std::string> x_labels, y_labels, series;
  std::vector<std::vector<double>> values;
  std::vector<int> classes;
  std::vector<double> reference;

  nlohmann::json to_json() const;
};

}  // namespace circuitcheck
