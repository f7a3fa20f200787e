#include "circuits/claims/figure.h"

namespace circuitcheck {

using nlohmann::json;

json Figure::to_json() const {
  json j = {{"type", type}, {"title", title}, {"values", values}};
  if (!x_title.empty()) j["x_title"] = x_title;
  if (!y_title.empty()) j["y_title"] = y_title;
  if (!x_labels.empty()) j["x_labels"] = x_labels;
  if (!y_labels.empty()) j["y_labels"] = y_labels;
  if (!series.empty()) j["series"] = series;
  if (!classes.empty()) j["classes"] = classes;
  if (!reference.empty()) j["reference"] = reference;
  if (!x.empty()) j["x"] = x;
  if (!x_reference.empty()) j["x_reference"] = x_reference;
  if (log_y) j["log_y"] = true;
  return j;
}

}  // namespace circuitcheck
