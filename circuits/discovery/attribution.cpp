#include "circuits/discovery/attribution.h"

#include "circuits/claims/domain.h"
#include "circuits/claims/patching.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace circuitcheck {

const char* to_string(AttributionMethod method) { return method == AttributionMethod::kAtp ? "atp" : "eap-ig"; }

std::string AttributionNode::name() const {
  const std::string at = "@" + std::to_string(position);
  if (head < 0) return "MLP" + std::to_string(hook.layer) + at;
  return "L" + std::to_string(hook.layer) + "H" + std::to_string(head) + at;
}

std::vector<AttributionNode> attribution_nodes(const Config& config, int64_t length) {
  std::vector<AttributionNode> out;
  for (int layer = 0; layer < config.n_layers; ++layer) {
    for (int64_t head = 0; head < config.n_heads; ++head)
      for (int64_t p = 0; p < length; ++p) out.push_back({{HookType::kZ, layer}, head, p});
    if (!config.attn_only)
      for (int64_t p = 0; p < length; ++p) out.push_back({{HookType::kMlpOut, layer}, -1, p});
  }
  return out;
}

void attribute(const RunContext& context, const Claim& claim, const CircuitAblation& ablation, int64_t ig_steps,
               std::vector<AttributionNode>& nodes) {
  const CircuitSpec& c = std::get<CircuitSpec>(claim.spec);
  check(c.metric != CircuitMetric::kAccuracy, claim.pointer + "/metric",
        "accuracy has no gradient to attribute with; use logit_diff or target_log_prob");
  check(ig_steps >= 1, claim.pointer, "EAP-IG needs at least one step");
  const HookPoint input{HookType::kResidPre, 0};
  std::map<HookPoint, at::Tensor> values = ablation.values;
  if (c.ablation == InterventionKind::kMean || c.ablation == InterventionKind::kResample)
    values[input] = ablation_values(context.task, c.ablation, {input}, c.reference, context.model, context.scale).at(input);
  std::vector<HookPoint> hooks = ablation.hooks;
  hooks.push_back(input);
  int64_t length = 0;
  for (const AttributionNode& node : nodes) length = std::max(length, node.position + 1);
  std::map<HookPoint, at::Tensor> atp, ig;  // per hook: summed over examples, [pos, heads] or [pos]
  int64_t examples = 0;
  for_each_slice(context.task, claim.domain, context.scale, kVerifyBatch, [&](const Batch& b) {
    check(b.tokens.size(1) == length, claim.pointer,
          "the task's sequences have " + std::to_string(b.tokens.size(1)) + " positions, the nodes " +
              std::to_string(length) + "; attribution needs one length");
    std::map<HookPoint, at::Tensor> clean, ablated;
    {
      at::NoGradGuard no_grad;
      RunOptions own;
      own.cache = hooks;
      own.logits = false;
      clean = run(context.model, b.tokens, own).cache;
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
      std::map<HookPoint, at::Tensor> delta;
      for (const HookPoint& hook : ablation.hooks) {
        delta[hook] = at::zeros_like(clean.at(hook)).requires_grad_(true);
        Intervention add;
        add.hook = hook;
        add.kind = InterventionKind::kAdd;
        add.value = delta[hook];
        options.interventions.push_back(add);
      }
      circuit_metric(c.metric, run(context.model, b.tokens, options).logits, b.targets, 0).sum().backward();
      for (const HookPoint& hook : ablation.hooks) {
        const at::Tensor s = ((ablated.at(hook) - clean.at(hook)) * delta[hook].grad()).sum(-1).sum(0).to(at::kDouble);
        ig[hook] = ig.count(hook) ? ig[hook] + s : s;
        if (j == ig_steps) atp[hook] = atp.count(hook) ? atp[hook] + s : s;
      }
    }
    examples += b.tokens.size(0);
  });
  const auto per_example = [&](const at::Tensor& sums, const AttributionNode& node) {
    const at::Tensor at_position = sums[node.position];
    return (node.head < 0 ? at_position : at_position[node.head]).item<double>() / static_cast<double>(examples);
  };
  for (AttributionNode& node : nodes) {
    node.atp = per_example(atp.at(node.hook), node);
    node.eap_ig = per_example(ig.at(node.hook), node) / static_cast<double>(ig_steps);
  }
}

std::vector<int64_t> ranking(const std::vector<AttributionNode>& nodes, AttributionMethod method) {
  std::vector<int64_t> order(nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::fabs(nodes[static_cast<std::size_t>(a)].score(method)) >
           std::fabs(nodes[static_cast<std::size_t>(b)].score(method));
  });
  return order;
}

std::vector<AblationSite> circuit_sites(const std::vector<AttributionNode>& nodes) {
  std::map<std::pair<int, int64_t>, std::vector<int64_t>> positions;  // (layer, head or n_heads for the MLP)
  for (const AttributionNode& node : nodes)
    positions[{node.hook.layer, node.head < 0 ? INT64_MAX : node.head}].push_back(node.position);
  std::vector<AblationSite> out;
  for (auto& [key, at] : positions) {
    std::sort(at.begin(), at.end());
    at.erase(std::unique(at.begin(), at.end()), at.end());
    if (key.second == INT64_MAX) out.push_back({{HookType::kMlpOut, key.first}, {}, at, {}});
    else out.push_back({{HookType::kZ, key.first}, {key.second}, at, {}});
  }
  return out;
}

}  // namespace circuitcheck
