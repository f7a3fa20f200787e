#include "circuits/discovery/attribution.h"

#include "circuits/claims/domain.h"
#include "circuits/claims/patching.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>

namespace circuitcheck {

const char* to_string(AttributionMethod method) { return method == AttributionMethod::kAtp ? "atp" : "eap-ig"; }

std::string AttributionUnit::name() const {
  if (edge) return edge->name();
  const std::string at = "@" + std::to_string(position);
  if (neuron >= 0) return "MLP" + std::to_string(hook.layer) + "[" + std::to_string(neuron) + "]" + at;
  if (head < 0) return "MLP" + std::to_string(hook.layer) + at;
  return "L" + std::to_string(hook.layer) + "H" + std::to_string(head) + at;
}

std::vector<AttributionUnit> attribution_nodes(const Config& config, int64_t length, bool neurons) {
  std::vector<AttributionUnit> out;
  for (int layer = 0; layer < config.n_layers; ++layer) {
    for (int64_t head = 0; head < config.n_heads; ++head)
      for (int64_t p = 0; p < length; ++p) out.push_back({{HookType::kZ, layer}, head, p});
    if (config.attn_only) continue;
    for (int64_t p = 0; p < length; ++p) {
      if (!neurons) out.push_back({{HookType::kMlpOut, layer}, -1, p});
      else
        for (int64_t n = 0; n < config.d_mlp; ++n) out.push_back({{HookType::kMlpPost, layer}, -1, p, {}, n});
    }
  }
  return out;
}

namespace {

// What one slice and one gradient step give: the activations of the model's
// own run and their ablation (at the hooks asked for), and the gradient of
// the summed metric at the probed hooks; `last`: the step at the model's own
// input (AtP's).
using Step = std::function<void(const std::map<HookPoint, at::Tensor>& clean,
                                const std::map<HookPoint, at::Tensor>& ablated,
                                const std::map<HookPoint, at::Tensor>& gradients, bool last)>;

// EAP-IG's schedule over the claim's domain: for j = 1..k, a run of `model`
// whose input residual is x' + (j/k)(x - x'), with a zero added at each
// `probes` hook to take the gradient there. Returns the examples seen.
int64_t gradient_steps(const RunContext& context, const Claim& claim, const CircuitAblation& ablation,
                       const HookedTransformer& model, const std::vector<HookPoint>& probes, int64_t ig_steps,
                       int64_t length, const Step& step) {
  const CircuitSpec& c = spec_of<CircuitSpec>(claim.spec);
  check(c.metric != CircuitMetric::kAccuracy, claim.pointer + "/metric",
        "accuracy has no gradient to attribute with; use logit_diff or target_log_prob");
  check(ig_steps >= 1, claim.pointer, "EAP-IG needs at least one step");
  const HookPoint input{HookType::kResidPre, 0};
  std::map<HookPoint, at::Tensor> values = ablation.values;
  if ((c.ablation == InterventionKind::kMean || c.ablation == InterventionKind::kResample) && !values.count(input))
    values[input] = ablation_values(context.task, c.ablation, {input}, c.reference, context.model, context.scale).at(input);
  std::vector<HookPoint> hooks = ablation.hooks;
  if (std::find(hooks.begin(), hooks.end(), input) == hooks.end()) hooks.push_back(input);
  int64_t examples = 0;
  for_each_slice(context.task, claim.domain, context.scale, kVerifyBatch, [&](const Batch& b) {
    check(length < 0 || b.tokens.size(1) == length, claim.pointer,
          "the task's sequences have " + std::to_string(b.tokens.size(1)) + " positions, the units " +
              std::to_string(length) + "; attribution needs one length");
    std::map<HookPoint, at::Tensor> clean, ablated, probed;
    {
      at::NoGradGuard no_grad;
      RunOptions own;
      own.cache = hooks;
      for (const HookPoint& hook : probes)
        if (std::find(hooks.begin(), hooks.end(), hook) == hooks.end()) own.cache.push_back(hook);
      own.logits = false;
      const ActivationCache cached = run(model, b.tokens, own).cache;
      for (const HookPoint& hook : hooks) clean[hook] = cached.at(hook);
      for (const HookPoint& hook : probes) probed[hook] = cached.at(hook);
      ablated = ablated_activations(context, c, b, clean, values);
    }
    for (int64_t j = 1; j <= ig_steps; ++j) {
      RunOptions options;
      if (j < ig_steps) {
        const double alpha = static_cast<double>(j) / static_cast<double>(ig_steps);
        Intervention interpolate;
        interpolate.hook = input;
        interpolate.kind = InterventionKind::kPatch;
        interpolate.value = ablated.at(input) + alpha * (clean.at(input) - ablated.at(input));
        options.interventions.push_back(interpolate);
      }
      std::map<HookPoint, at::Tensor> delta;  // a zero added at each probe: the gradient lands on it
      for (const HookPoint& hook : probes) {
        Intervention add;
        add.hook = hook;
        add.kind = InterventionKind::kAdd;
        add.value = delta[hook] = at::zeros_like(probed.at(hook)).requires_grad_(true);
        options.interventions.push_back(add);
      }
      circuit_metric(c.metric, run(model, b.tokens, options).logits, circuit_targets(c, b), 0).sum().backward();
      std::map<HookPoint, at::Tensor> gradients;
      for (const HookPoint& hook : probes) gradients[hook] = delta[hook].grad();
      step(clean, ablated, gradients, j == ig_steps);
    }
    examples += b.tokens.size(0);
  });
  return examples;
}

void attribute_nodes(const RunContext& context, const Claim& claim, const CircuitAblation& ablation, int64_t ig_steps,
                     std::vector<AttributionUnit>& units) {
  int64_t length = 0;
  for (const AttributionUnit& u : units) length = std::max(length, u.position + 1);
  std::map<HookPoint, at::Tensor> atp, ig;  // per hook: summed over examples, [pos, heads] or [pos]
  const auto add = [](std::map<HookPoint, at::Tensor>& sums, const HookPoint& hook, const at::Tensor& s) {
    sums[hook] = sums.count(hook) ? sums[hook] + s : s;
  };
  const int64_t examples = gradient_steps(
      context, claim, ablation, context.model, ablation.hooks, ig_steps, length,
      [&](const auto& clean, const auto& ablated, const auto& gradients, bool last) {
        for (const HookPoint& hook : ablation.hooks) {
          // [pos, heads] (hook_z), [pos] (hook_mlp_out) or [pos, d_mlp] (hook_post: per neuron)
          at::Tensor s = (ablated.at(hook) - clean.at(hook)) * gradients.at(hook);
          s = (hook.type == HookType::kMlpPost ? s : s.sum(-1)).sum(0).to(at::kDouble);
          add(ig, hook, s);
          if (last) add(atp, hook, s);
        }
      });
  const auto per_example = [&](const at::Tensor& sums, const AttributionUnit& u) {
    const at::Tensor at_position = sums[u.position];
    const at::Tensor unit = u.neuron >= 0 ? at_position[u.neuron] : u.head >= 0 ? at_position[u.head] : at_position;
    return unit.item<double>() / static_cast<double>(examples);
  };
  for (AttributionUnit& u : units) {
    u.atp = per_example(atp.at(u.hook), u);
    u.eap_ig = per_example(ig.at(u.hook), u) / static_cast<double>(ig_steps);
  }
}

void attribute_edges(const RunContext& context, const Claim& claim, const CircuitAblation& ablation, int64_t ig_steps,
                     std::vector<AttributionUnit>& units) {
  const Config& config = context.model.config;
  const HookedTransformer split = edge_model(context.model);
  // Units by position need one sequence length, past their last position.
  int64_t length = -1;
  for (const AttributionUnit& u : units)
    for (int64_t p : u.edge->positions) length = std::max(length, p + 1);
  at::Tensor atp, ig;  // [receivers, senders, pos] (by position) or [receivers, senders, 1], summed over examples
  const int64_t examples = gradient_steps(
      context, claim, ablation, split, receiver_hooks(config), ig_steps, length,
      [&](const auto& clean, const auto& ablated, const auto& gradients, bool last) {
        const at::Tensor d = sender_outputs(config, ablated) - sender_outputs(config, clean);
        at::Tensor s = at::einsum("sbpd,rbpd->rsp", {d, receiver_inputs(config, gradients)}).to(at::kDouble);
        if (length < 0) s = s.sum(2, true);
        ig = ig.defined() ? ig + s : s;
        if (last) atp = atp.defined() ? atp + s : s;
      });
  const std::vector<EdgePoint> senders = edge_senders(config), receivers = edge_receivers(config);
  const auto at_positions = [](const at::Tensor& by_position, const std::vector<int64_t>& positions) {
    const at::Tensor chosen = positions.empty() ? by_position
                                                : by_position.index_select(
                                                      0, to_tensor(positions, {static_cast<int64_t>(positions.size())})
                                                             .to(by_position.device()));
    return chosen.sum().item<double>();
  };
  for (AttributionUnit& u : units) {
    const at::Tensor edge_atp = atp[point_index(receivers, u.edge->receiver)][point_index(senders, u.edge->sender)];
    const at::Tensor edge_ig = ig[point_index(receivers, u.edge->receiver)][point_index(senders, u.edge->sender)];
    u.atp = at_positions(edge_atp, u.edge->positions) / static_cast<double>(examples);
    u.eap_ig = at_positions(edge_ig, u.edge->positions) / static_cast<double>(examples) / static_cast<double>(ig_steps);
  }
}

}  // namespace

std::vector<AttributionUnit> attribution_edges(const Config& config, int64_t length) {
  std::vector<AttributionUnit> out;
  for (const Edge& e : all_edges(config))
    for (int64_t p = 0; p < std::max<int64_t>(length, 1); ++p) {
      out.emplace_back();
      out.back().edge = e;
      if (length > 0) out.back().edge->positions = {p};
    }
  return out;
}

void attribute(const RunContext& context, const Claim& claim, const CircuitAblation& ablation, int64_t ig_steps,
               std::vector<AttributionUnit>& units) {
  const bool edges = !spec_of<CircuitSpec>(claim.spec).edges.empty();
  for (const AttributionUnit& u : units)
    check_internal(u.edge.has_value() == edges, "attribute",
                   u.name() + (edges ? " is a node, but the claim is a circuit of edges"
                                     : " is an edge, but the claim is a circuit of nodes"));
  if (!edges) attribute_nodes(context, claim, ablation, ig_steps, units);
  else attribute_edges(context, claim, ablation, ig_steps, units);
}

std::vector<int64_t> ranking(const std::vector<AttributionUnit>& nodes, AttributionMethod method) {
  std::vector<int64_t> order(nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::fabs(nodes[static_cast<std::size_t>(a)].score(method)) >
           std::fabs(nodes[static_cast<std::size_t>(b)].score(method));
  });
  return order;
}

std::vector<AttributionUnit> top_units(const std::vector<AttributionUnit>& units, const std::vector<int64_t>& order,
                                       int64_t count) {
  std::vector<AttributionUnit> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(units[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
  return out;
}

CircuitConfiguration circuit_of(const std::vector<AttributionUnit>& units) {
  CircuitConfiguration out{true, {}, {}};
  for (const AttributionUnit& u : units) {
    if (!u.edge) continue;
    const auto same =
        std::find_if(out.edges.begin(), out.edges.end(), [&](const Edge& e) { return same_pair(e, *u.edge); });
    if (same == out.edges.end()) {
      out.edges.push_back(*u.edge);
    } else if (same->positions.empty() || u.edge->positions.empty()) {
      same->positions.clear();
    } else {
      same->positions.insert(same->positions.end(), u.edge->positions.begin(), u.edge->positions.end());
      std::sort(same->positions.begin(), same->positions.end());
      same->positions.erase(std::unique(same->positions.begin(), same->positions.end()), same->positions.end());
    }
  }
  if (out.edges.empty()) out.sites = circuit_sites(units);
  return out;
}

std::vector<AblationSite> circuit_sites(const std::vector<AttributionUnit>& nodes) {
  std::map<std::pair<int, int64_t>, std::vector<int64_t>> positions;  // (layer, head or n_heads for the MLP)
  std::map<std::pair<int, int64_t>, std::vector<int64_t>> neurons;    // (layer, position) -> its neurons
  for (const AttributionUnit& node : nodes) {
    if (node.neuron >= 0) neurons[{node.hook.layer, node.position}].push_back(node.neuron);
    else positions[{node.hook.layer, node.head < 0 ? INT64_MAX : node.head}].push_back(node.position);
  }
  std::vector<AblationSite> out;
  for (auto& [key, at] : positions) {
    std::sort(at.begin(), at.end());
    at.erase(std::unique(at.begin(), at.end()), at.end());
    if (key.second == INT64_MAX) out.push_back({{HookType::kMlpOut, key.first}, {}, at, {}});
    else out.push_back({{HookType::kZ, key.first}, {key.second}, at, {}});
  }
  for (auto& [key, at] : neurons) {
    std::sort(at.begin(), at.end());
    out.push_back({{HookType::kMlpPost, key.first}, {}, {key.second}, at});
  }
  return out;
}

}  // namespace circuitcheck
