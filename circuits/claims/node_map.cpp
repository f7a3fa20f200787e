#include "circuits/claims/node_map.h"

#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <c10/core/InferenceMode.h>

namespace circuitcheck {
namespace {

using nlohmann::json;

// One node's counts (Tally: evaluate.h).
struct NodeTally {
  Tally examples;
  std::map<int64_t, Tally> positions;                        // scored position -> tokens
  std::map<std::string, std::map<int64_t, Tally>> classes;  // [batch] class -> value -> examples
};

// logits [batch, pos, d_vocab_out] against the batch's targets.
void tally(const Batch& b, const at::Tensor& logits, NodeTally& t) {
  const at::Tensor targets = b.targets.to(logits.device());
  const at::Tensor scored = targets != -1;
  const at::Tensor ok = (logits.argmax(-1) == targets) | ~scored;  // [batch, pos]
  const at::Tensor n = scored.sum(0).cpu(), correct = (ok & scored).sum(0).cpu();
  for (int64_t q = 0; q < n.size(0); ++q) {
    if (n[q].item<int64_t>() == 0) continue;
    t.positions[q].n += n[q].item<int64_t>();
    t.positions[q].correct += correct[q].item<int64_t>();
  }
  const at::Tensor example_ok = ok.all(1).cpu();
  t.examples.n += example_ok.size(0);
  t.examples.correct += example_ok.sum().item<int64_t>();
  for (const auto& [name, values] : b.classes) {
    if (values.dim() != 1) continue;
    const at::Tensor v = values.cpu();
    for (int64_t i = 0; i < v.size(0); ++i) {
      const int64_t value = v[i].item<int64_t>();
      if (value < 0) continue;
      Tally& c = t.classes[name][value];
      ++c.n;
      c.correct += example_ok[i].item<bool>() ? 1 : 0;
    }
  }
}

// The position of a [batch] role that sits at one position in every example of `b`.
int64_t fixed_position(const Batch& b, const std::string& role) {
  auto it = b.roles.find(role);
  check(it != b.roles.end(), "node_map", "unknown role " + quote(role));
  const at::Tensor& r = it->second;
  check(r.dim() == 1 && r.size(0) > 0 && (r == r[0]).all().item<bool>() && r[0].item<int64_t>() >= 0, "node_map",
        "role " + quote(role) + " is not at one fixed position in every example");
  return r[0].item<int64_t>();
}

// Each scored position's name: a [batch] role fixed there (one with the
// task's answer_role_prefix first), else "position q".
std::map<int64_t, std::string> position_names(const Task& task, const Batch& b) {
  const std::string& prefix = task.answer_role_prefix;
  const auto answer = [&](const std::string& name) { return !prefix.empty() && name.rfind(prefix, 0) == 0; };
  const at::Tensor any = (b.targets != -1).any(0).cpu();
  std::map<int64_t, std::string> out;
  for (int64_t q = 0; q < any.size(0); ++q) {
    if (!any[q].item<bool>()) continue;
    std::string name = "position " + std::to_string(q);
    for (const auto& [role, r] : b.roles) {
      if (r.dim() != 1 || !(r == q).all().item<bool>()) continue;
      const bool better = name.rfind("position ", 0) == 0 || (answer(role) && !answer(name));
      if (better) name = role;
    }
    out[q] = name;
  }
  return out;
}

NodeEffect effect(const NodeTally& t, const std::map<int64_t, std::string>& names) {
  NodeEffect e;
  e.n = t.examples.n;
  e.accuracy = t.examples.accuracy();
  for (const auto& [q, c] : t.positions) e.position_accuracy[names.at(q)] = c.accuracy();
  for (const auto& [name, values] : t.classes)
    for (const auto& [v, c] : values) {
      e.class_accuracy[name][v] = c.accuracy();
      e.class_examples[name][v] = c.n;
    }
  return e;
}

void add_tags(const NodeEffect& baseline, const NodeMapOptions& options, NodeEffect& e) {
  const double threshold = options.threshold;
  for (const auto& [name, rate] : e.position_accuracy)
    if (baseline.position_accuracy.at(name) >= threshold && rate < threshold) e.tags.push_back("breaks:" + name);
  for (const auto& [cls, values] : e.class_accuracy)
    for (const auto& [v, rate] : values)
      if (e.class_examples.at(cls).at(v) >= options.min_examples && baseline.class_accuracy.at(cls).at(v) >= threshold &&
          rate < threshold)
        e.tags.push_back("fails:" + cls + "=" + std::to_string(v));
}

json rates(const std::map<int64_t, double>& m) {
  json j = json::object();
  for (const auto& [v, r] : m) j[std::to_string(v)] = r;
  return j;
}

}  // namespace

std::string NodeEffect::name() const {
  if (role.empty()) return "baseline";
  return "P" + std::to_string(position) + "L" + std::to_string(layer) + "H" + std::to_string(head);
}

json NodeEffect::to_json() const {
  json j = {{"node", name()}, {"n", n}, {"accuracy", accuracy}, {"position_accuracy", position_accuracy},
            {"class_accuracy", json::object()}, {"tags", tags}};
  if (!role.empty()) {
    j["role"] = role;
    j["position"] = position;
    j["layer"] = layer;
    j["head"] = head;
  }
  for (const auto& [cls, values] : class_accuracy) j["class_accuracy"][cls] = rates(values);
  j["class_examples"] = json::object();
  for (const auto& [cls, values] : class_examples)
    for (const auto& [v, count] : values) j["class_examples"][cls][std::to_string(v)] = count;
  return j;
}

json NodeMap::to_json() const {
  json j = {{"schema", "circuitcheck.nodes/1"},
            {"system", system},
            {"domain", options.domain.to_json()},
            {"reference", options.reference.to_json()},
            {"method", "mean"},
            {"hook", "attn.hook_z"},
            {"threshold", options.threshold},
            {"min_examples", options.min_examples},
            {"baseline", baseline.to_json()},
            {"nodes", json::array()}};
  for (const auto& node : nodes) j["nodes"].push_back(node.to_json());
  return j;
}

NodeMap node_map(const Task& task, const HookedTransformer& model, const NodeMapOptions& options) {
  c10::InferenceMode guard;
  const Config& c = model.config;
  check(c.n_heads > 0, "node_map", "the model has no attention heads");
  check(options.domain.sample >= 1 && options.reference.sample >= 1, "node_map", "the samples need at least 1 example");
  check(options.threshold >= 0.0 && options.threshold <= 1.0, "node_map",
        "threshold " + number(options.threshold) + " out of range [0, 1]");
  const Scale scale = scale_for(task, c);
  check_fits(task, scale, c, "node_map");

  NodeMap out;
  out.system = task.name;
  out.options = options;
  const Batch first = task.sample(1, options.domain.seed, scale);
  const std::map<int64_t, std::string> names = position_names(task, first);
  if (out.options.roles.empty())
    for (const auto& [q, name] : names)
      if (first.roles.count(name)) out.options.roles.push_back(name);
  std::vector<int64_t> positions;
  for (const auto& role : out.options.roles) positions.push_back(fixed_position(first, role));

  // Mean of every layer's hook_z over the reference sample: [1, pos, n_heads, d_head].
  RunOptions all_z;
  for (int l = 0; l < c.n_layers; ++l) all_z.cache.push_back({HookType::kZ, l});
  std::vector<at::Tensor> means(c.n_layers);
  for_each_batch(task, options.reference, scale, [&](const Batch& b) {
    RunResult r = run(model, b.tokens, all_z);
    for (int l = 0; l < c.n_layers; ++l) {
      const at::Tensor sum = r.cache.at({HookType::kZ, l}).sum(0, true);
      means[l] = means[l].defined() ? means[l] + sum : sum;
    }
  });
  for (auto& m : means) m = m / static_cast<double>(options.reference.sample);

  RunOptions base_options;
  for (int l = 0; l < c.n_layers; ++l) base_options.cache.push_back({HookType::kResidPre, l});
  NodeTally base;
  std::vector<NodeTally> tallies(out.options.roles.size() * static_cast<std::size_t>(c.n_layers * c.n_heads));
  for_each_batch(task, options.domain, scale, [&](const Batch& b) {
    RunResult clean = run(model, b.tokens, base_options);
    tally(b, clean.logits, base);
    std::size_t i = 0;
    for (std::size_t r = 0; r < out.options.roles.size(); ++r) {
      check(fixed_position(b, out.options.roles[r]) == positions[r], "node_map",
            "role " + quote(out.options.roles[r]) + " is not at one fixed position in every example");
      for (int l = 0; l < c.n_layers; ++l)
        for (int h = 0; h < c.n_heads; ++h, ++i) {
          RunOptions o;
          o.start_layer = l;
          o.start_resid = clean.cache.at({HookType::kResidPre, l});
          Intervention iv;
          iv.hook = {HookType::kZ, l};
          iv.kind = InterventionKind::kMean;
          iv.value = means[l];
          iv.heads = {h};
          iv.positions = {positions[r]};
          o.interventions = {iv};
          tally(b, run(model, b.tokens, o).logits, tallies[i]);
        }
    }
  });
  out.baseline = effect(base, names);
  std::size_t i = 0;
  for (std::size_t r = 0; r < out.options.roles.size(); ++r)
    for (int l = 0; l < c.n_layers; ++l)
      for (int h = 0; h < c.n_heads; ++h, ++i) {
        NodeEffect e = effect(tallies[i], names);
        e.role = out.options.roles[r];
        e.position = positions[r];
        e.layer = l;
        e.head = h;
        add_tags(out.baseline, out.options, e);
        out.nodes.push_back(e);
      }
  return out;
}

}  // namespace circuitcheck
