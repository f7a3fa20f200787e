// Node ablation maps (QuantaTools style): which answer positions and which
// question classes fail when one node is ablated.
//
// A node is (position role, layer, head): the head's output
// blocks.L.attn.hook_z [batch, pos, n_heads, d_head] at the role's position,
// mean-ablated (replaced by its mean over a reference sample). For each node
// the map records, over a sampled domain, the example accuracy (correct at
// every scored position), the token accuracy at each scored position (named
// by the [batch] role that sits there, e.g. S5's "predict_A3") and the example
// accuracy for each value of every [batch] class (e.g. "operator" 0 and 1),
// and tags what it breaks: "breaks:<role>" for a scored position and
// "fails:<class>=<value>" for a class value (with at least min_examples
// examples) whose accuracy is at least `threshold` without the ablation and
// below it with. The ablated runs start
// at the node's layer from the unablated run's residual stream (layers below
// it do not change).
//
// Errors: InputError naming the function for an unknown role, a role that is
// not at one fixed position in every example, a model without attention
// heads' hook_z (n_heads 0), n < 1, a threshold outside [0, 1].
#pragma once

#include "circuits/claims/check.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

struct NodeMapOptions {
  std::vector<std::string> roles;  // node positions; empty: every role at a scored position
  Domain domain{false, 2000, 1};     // the questions each node is measured on
  Domain reference{false, 512, 5};   // the mean-ablation reference sample
  double threshold = 0.9;            // a rate in [0, 1]
  int64_t min_examples = 50;         // a class value is tagged only with at least this many examples
};

// What one node's ablation leaves (or the unablated model, for the baseline).
struct NodeEffect {
  std::string role;  // empty for the baseline
  int64_t position = -1;
  int layer = -1;
  int head = -1;
  int64_t n = 0;                                  // examples
  double accuracy = 0.0;                          // every scored position right
  std::map<std::string, double> position_accuracy;  // scored position's role -> token accuracy
  std::map<std::string, std::map<int64_t, double>> class_accuracy;  // [batch] class -> value -> accuracy
  std::map<std::string, std::map<int64_t, int64_t>> class_examples;  // [batch] class -> value -> examples
  std::vector<std::string> tags;

  // "P17L0H2" (position, layer, head); "baseline" for the unablated model.
  std::string name() const;
  nlohmann::json to_json() const;
};

struct NodeMap {
  std::string system;
  NodeMapOptions options;
  NodeEffect baseline;
  std::vector<NodeEffect> nodes;  // by role (in options' order), then layer, then head

  // {"schema": "circuitcheck.nodes/1", "system", "domain", "reference",
  //  "method": "mean", "hook": "attn.hook_z", "threshold", "min_examples", "baseline", "nodes"}
  nlohmann::json to_json() const;
};

// Maps every (role, layer, head) of `model` on `task` (at the config's scale).
NodeMap node_map(const Task& task, const HookedTransformer& model, const NodeMapOptions& options);

}  // namespace circuitcheck
