#include "circuits/claims/kinds/path_patching_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/claims/domain.h"
#include "circuits/claims/edges.h"
#include "circuits/tasks/evaluate.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace circuitcheck {
namespace {

// Examples per slice: each runs three times.
constexpr int64_t kPathBatch = 1024;

bool is_logits(const PathReceiver& r, const Config& config) {
  return r.hook == HookPoint{HookType::kResidPost, config.n_layers - 1};
}

std::string receiver_name(const PathReceiver& r, const Config& config) {
  if (is_logits(r, config)) return "logits";
  std::string s = hook_name(r.hook);
  if (!r.heads.empty()) s += " heads " + c10::str(at::IntArrayRef(r.heads));
  if (!r.positions.empty()) s += " positions " + c10::str(at::IntArrayRef(r.positions));
  return s;
}

// 1 at the listed indices of [0, n) (every one when `list` is empty), else 0: [n] float.
at::Tensor indicator(const std::vector<int64_t>& list, int64_t n) {
  if (list.empty()) return at::ones({n});
  at::Tensor out = at::zeros({n});
  for (int64_t i : list) out[i] = 1.0;
  return out;
}

// What the sender writes into the residual stream [batch, pos, d_model] from its activation `act`.
at::Tensor written(const HookedTransformer& model, const AblationSite& sender, const at::Tensor& act) {
  const at::Tensor positions = indicator(sender.positions, act.size(1)).to(act.device(), act.scalar_type());
  if (sender.hook.type == HookType::kMlpOut) return act * positions.view({1, -1, 1});
  const at::Tensor heads = indicator(sender.heads, act.size(2)).to(act.device(), act.scalar_type());
  const at::Tensor& W_O = model.params.at("blocks." + std::to_string(sender.hook.layer) + ".attn.W_O");
  return at::einsum("bphd,hdm->bpm", {act * heads.view({1, 1, -1, 1}), W_O}) * positions.view({1, -1, 1});
}

// The sweep on one slice: adds to gains[e] how much edge e alone, carrying
// its sender's clean output into the counterfactual run, raises the clean
// targets' log-probability (summed over the slice's examples). Every edge
// kept is the counterfactual run; each edge's run starts from its state at
// the edge's receiver, and computes the last layer from the first scored
// position on.
void add_edge_gains(const HookedTransformer& model, const Batch& b, const at::Tensor& corrupt_tokens,
                    const std::vector<Edge>& edges, std::vector<double>& gains) {
  RunOptions senders;
  senders.cache = sender_hooks(model.config);
  senders.logits = false;
  const at::Tensor clean = sender_outputs(model.config, run(model, b.tokens, senders).cache);
  const int64_t from = first_scored_position(b.targets), pos = corrupt_tokens.size(1);
  const at::Tensor every = edge_mask(model.config, edges);
  EdgeRunStates states;
  const double base =
      target_log_prob(run_edges(model, corrupt_tokens, clean, every, from, {&states, nullptr, 0}), b.targets, from)
          .sum()
          .item<double>();
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const at::Tensor kept = every.logical_and(edge_mask(model.config, {edges[e]}).logical_not());
    const EdgeRunReuse reuse{nullptr, &states, first_differing_part(model.config, kept, every, pos)};
    gains[e] += target_log_prob(run_edges(model, corrupt_tokens, clean, kept, from, reuse), b.targets, from)
                    .sum()
                    .item<double>() -
                base;
  }
}

// The sweep's heatmap: each edge's recovery, senders down, receivers across (NaN: no edge).
Figure sweep_figure(const Config& config, const std::vector<Edge>& edges, const std::vector<double>& gains,
                    const at::Tensor& gap, const std::string& changed) {
  Figure f;
  f.type = "heatmap";
  f.title = "recovery when one edge alone carries its sender's clean output, " + changed;
  f.x_title = "receiver";
  f.y_title = "sender";
  const std::vector<EdgePoint> senders = edge_senders(config), receivers = edge_receivers(config);
  for (const EdgePoint& r : receivers) f.x_labels.push_back(r.name());
  for (const EdgePoint& s : senders) {
    f.y_labels.push_back(s.name());
    f.values.emplace_back(receivers.size(), std::numeric_limits<double>::quiet_NaN());
  }
  const double total = gap.sum().item<double>();
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const int64_t s = point_index(senders, edges[e].sender);
    const int64_t r = point_index(receivers, edges[e].receiver);
    f.values[static_cast<std::size_t>(s)][static_cast<std::size_t>(r)] = gains[e] / total;
  }
  return f;
}

}  // namespace

void parse_path_patching(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  PathPatchingSpec& p = claim.spec.emplace<PathPatchingSpec>();
  const Config split = edge_config(context.config);  // the per-head input hooks exist with split inputs
  p.counterfactual = counterfactual_at(v["counterfactual"], at / "counterfactual", context.sample);
  p.sender = ablation_site_at(v["sender"], at / "sender", context.config);
  if (p.sender.hook.type != HookType::kZ && p.sender.hook.type != HookType::kMlpOut)
    (at / "sender" / "hook").fail("a sender is heads of blocks.L.attn.hook_z or blocks.L.hook_mlp_out, not " +
                                  hook_name(p.sender.hook));
  check_within_sequence(p.sender.positions, at / "sender" / "positions", context.sample);
  const nlohmann::json& receivers = array_at(v["receivers"], at / "receivers");
  for (std::size_t i = 0; i < receivers.size(); ++i) {
    const At where = at / "receivers" / i;
    PathReceiver r;
    if (receivers[i].is_string() && receivers[i].get<std::string>() == "logits") {
      r.hook = {HookType::kResidPost, context.config.n_layers - 1};
      for (const PathReceiver& earlier : p.receivers)
        if (is_logits(earlier, context.config)) where.fail("\"logits\" is a receiver already");
    } else {
      check_object(receivers[i], where, {"hook", "heads", "positions"}, {"hook"});
      r.hook = hook_at(receivers[i]["hook"], where / "hook", split);
      if (r.hook.type != HookType::kQInput && r.hook.type != HookType::kKInput && r.hook.type != HookType::kVInput)
        (where / "hook").fail("a receiver is a head's input (blocks.L.hook_q_input, hook_k_input, hook_v_input) or "
                              "\"logits\", not " + hook_name(r.hook));
      if (receivers[i].contains("heads")) r.heads = heads_at(receivers[i]["heads"], where / "heads", split);
      if (receivers[i].contains("positions"))
        r.positions = positions_at(receivers[i]["positions"], where / "positions", split);
      check_within_sequence(r.positions, where / "positions", context.sample);
      for (std::size_t j = 0; j < p.receivers.size(); ++j)
        if (p.receivers[j].hook == r.hook)
          (where / "hook").fail("receiver " + std::to_string(j) + " has the same hook: give its heads and positions "
                                "in one receiver, so that no input receives the sender's output twice");
      if (r.hook.layer <= p.sender.hook.layer)
        (where / "hook").fail("a receiver sits after its sender: layer " + std::to_string(r.hook.layer) +
                              " is not after the sender's layer " + std::to_string(p.sender.hook.layer));
    }
    p.receivers.push_back(r);
  }
  if (v.contains("sweep")) p.sweep = boolean_at(v["sweep"], at / "sweep");
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
}

void run_path_patching(const RunContext& context, const Claim& claim, Outcome& out) {
  const PathPatchingSpec& p = spec_of<PathPatchingSpec>(claim.spec);
  const HookedTransformer split = edge_model(context.model);  // shares the weights
  RunOptions cached;
  cached.cache = {p.sender.hook};
  std::vector<at::Tensor> gains, gaps, corrupts;  // per example: path patched - counterfactual, clean - counterfactual
  out.liveness.resize(p.receivers.size());
  const std::vector<Edge> edges = p.sweep && !context.control ? all_edges(context.model.config) : std::vector<Edge>{};
  std::vector<double> edge_gains(edges.size(), 0.0);  // summed over examples
  for_each_slice(context.task, claim.domain, context.scale, kPathBatch, [&](const Batch& b) {
    const at::Tensor corrupt_tokens = counterfactual_tokens(p.counterfactual, b);
    const RunResult clean = run(split, b.tokens, cached);
    const RunResult corrupt = run(split, corrupt_tokens, cached);
    const at::Tensor delta = written(context.model, p.sender, clean.cache.at(p.sender.hook)) -
                             written(context.model, p.sender, corrupt.cache.at(p.sender.hook));
    RunOptions patched;
    for (const PathReceiver& r : p.receivers) {
      Intervention iv;
      iv.hook = r.hook;
      iv.kind = InterventionKind::kAdd;
      iv.value = is_logits(r, context.model.config) ? delta : delta.unsqueeze(2);  // per-head inputs: [batch, pos, head, d_model]
      iv.heads = r.heads;
      iv.positions = r.positions;
      patched.interventions.push_back(iv);
    }
    const RunResult path = run(split, corrupt_tokens, patched);
    if (!edges.empty()) add_edge_gains(context.model, b, corrupt_tokens, edges, edge_gains);
    for (std::size_t i = 0; i < path.liveness.size(); ++i) accumulate(out.liveness[i], path.liveness[i]);
    const auto metric = [&](const RunResult& r) { return target_log_prob(r.logits, b.targets, 0).to(at::kCPU, at::kDouble); };
    const at::Tensor m_corrupt = metric(corrupt);
    gains.push_back(metric(path) - m_corrupt);
    corrupts.push_back(m_corrupt);
    gaps.push_back(metric(clean) - m_corrupt);
  });
  const at::Tensor gain = at::cat(gains), gap = at::cat(gaps);
  const std::string changed = to_string(p.counterfactual);
  out.checks.push_back(value_check("gap", "clean minus counterfactual (" + changed +
                                              ") log-probability of the targets, nats per example over " +
                                              std::to_string(gap.size(0)) + " examples:",
                                   gap.mean().item<double>(), Rule::kNone, 0.0));
  std::string receivers;
  for (const PathReceiver& r : p.receivers)
    receivers += (receivers.empty() ? "" : ", ") + receiver_name(r, context.model.config);
  const bool real_gap = has_gap(gap, claim.domain.exhaustive, claim.domain.seed);
  const double recovered = real_gap ? gain.sum().item<double>() / gap.sum().item<double>() : 0.0;
  std::optional<Bootstrap> interval;
  if (!claim.domain.exhaustive && real_gap) interval = ratio_bootstrap(gain, gap, claim.domain.seed);
  const std::string what = "the path from " + site_name(p.sender) + " to " + receivers + " alone restores a fraction";
  for (Check& c : value_checks("path recovery", what, recovered, claim.pass, interval ? &*interval : nullptr)) {
    if (!real_gap) mark_undefined(c, "the counterfactual does not change the output beyond its noise: no gap to recover");
    out.checks.push_back(std::move(c));
  }
  const double corrupt = at::cat(corrupts).mean().item<double>();
  Figure figure;
  figure.type = "bars";
  figure.title = "log-probability of the clean targets: clean, path patched (" + receivers + "), counterfactual";
  figure.y_title = "nats per example";
  figure.x_labels = {"clean", "path patched", "counterfactual"};
  figure.series = {"target log-probability"};
  figure.values = {{corrupt + gap.mean().item<double>(), corrupt + gain.mean().item<double>(), corrupt}};
  out.figures.push_back(figure);
  if (!edges.empty() && real_gap) out.figures.push_back(sweep_figure(context.model.config, edges, edge_gains, gap, changed));
}

}  // namespace circuitcheck
