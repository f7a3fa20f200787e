#include "circuits/claims/kinds/patching_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/tasks/evaluate.h"
#include "circuits/claims/patching.h"

#include <string>
#include <vector>

namespace circuitcheck {
namespace {

// Examples per patched run (a sweep runs up to n_ctx copies of them).
constexpr int64_t kPatchBatch = 256;

}  // namespace

void parse_patching(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Config& config = context.config;
  const Batch& sample = context.sample;
  PatchingSpec& p = claim.spec.emplace<PatchingSpec>();
  p.counterfactual = counterfactual_at(v["counterfactual"], at / "counterfactual", sample);
  const nlohmann::json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i) p.sites.push_back(patch_site_at(sites[i], at / "sites" / i, config, sample));
  if (v.contains("sweep")) {
    p.sweep = named_at<HookType>(v["sweep"], at / "sweep", "sweep",
                                 {{"resid_pre", HookType::kResidPre}, {"resid_mid", HookType::kResidMid},
                                  {"resid_post", HookType::kResidPost}, {"attn_out", HookType::kAttnOut},
                                  {"mlp_out", HookType::kMlpOut}});
    if (config.attn_only && (*p.sweep == HookType::kResidMid || *p.sweep == HookType::kMlpOut))
      (at / "sweep").fail("the model is attn_only: it has no " + v["sweep"].get<std::string>());
  }
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
}

void run_patching(const RunContext& context, const Claim& claim, Outcome& out) {
  const Task& task = context.task;
  const HookedTransformer& model = context.model;
  const Scale scale = context.scale;
  const PatchingSpec& p = spec_of<PatchingSpec>(claim.spec);
  RunOptions cached, corrupt_cached;  // with a sweep, the runs it patches between too
  for (const auto& site : p.sites) cached.cache.push_back(site.hook);
  for (int l = 0; p.sweep && l < model.config.n_layers; ++l) {
    cached.cache.push_back({*p.sweep, l});
    corrupt_cached.cache.push_back({*p.sweep, l});
  }
  double clean_sum = 0.0, corrupt_sum = 0.0, patched_sum = 0.0;
  int64_t examples = 0;
  std::vector<at::Tensor> gains, gaps;  // per example: patched - corrupt, clean - corrupt
  at::Tensor sweep_sum;  // [n_layers, pos]: sum over examples of patched - corrupt
  out.liveness.resize(p.sites.size());
  for_each_slice(task, claim.domain, scale, kPatchBatch, [&](const Batch& b) {
    const int64_t n = b.tokens.size(0);
    const at::Tensor corrupt_tokens = counterfactual_tokens(p.counterfactual, b);
    const int64_t from = first_scored_position(b.targets);
    auto metric = [&](const at::Tensor& logits) {
      return target_log_prob(logits.slice(1, logits.size(1) - (b.tokens.size(1) - from)), b.targets, from);
    };
    RunResult clean = run(model, b.tokens, cached);
    RunOptions patched;
    for (const auto& site : p.sites) patched.interventions.push_back(patch_intervention(site, clean.cache.at(site.hook), b));
    RunResult corrupt = run(model, corrupt_tokens, corrupt_cached);
    RunResult r = run(model, corrupt_tokens, patched);
    const at::Tensor m_clean = metric(clean.logits).to(at::kCPU, at::kDouble);
    const at::Tensor m_corrupt = metric(corrupt.logits).to(at::kCPU, at::kDouble);
    const at::Tensor m_patched = metric(r.logits).to(at::kCPU, at::kDouble);
    clean_sum += m_clean.sum().item<double>();
    corrupt_sum += m_corrupt.sum().item<double>();
    patched_sum += m_patched.sum().item<double>();
    gains.push_back(m_patched - m_corrupt);
    gaps.push_back(m_clean - m_corrupt);
    for (std::size_t i = 0; i < r.liveness.size(); ++i) accumulate(out.liveness[i], r.liveness[i]);
    examples += n;
    if (!p.sweep) return;
    PatchingSweep s = patching_sweep(model, clean, corrupt, corrupt_tokens, *p.sweep, metric, from);
    at::Tensor gain = (s.patched - s.corrupt).sum(-1).to(at::kDouble).cpu();
    sweep_sum = sweep_sum.defined() ? sweep_sum + gain : gain;
  });
  const double gap = (clean_sum - corrupt_sum) / static_cast<double>(examples);
  const std::string changed = to_string(p.counterfactual);
  out.checks.push_back(value_check("gap", "clean minus counterfactual (" + changed +
                                              ") log-probability of the targets, nats per example over " +
                                              std::to_string(examples) + " examples:", gap, Rule::kNone, 0.0));
  const std::string sites = patch_site_names(p.sites);
  const bool real_gap = has_gap(at::cat(gaps), claim.domain.exhaustive, claim.domain.seed);
  const double recovered = gap > 1e-6 ? (patched_sum - corrupt_sum) / (clean_sum - corrupt_sum) : 0.0;
  const std::string what = "patching " + sites + " from the clean run restores a fraction";
  std::optional<Bootstrap> interval;
  if (!claim.domain.exhaustive && real_gap) interval = ratio_bootstrap(at::cat(gains), at::cat(gaps), claim.domain.seed);
  for (Check& c : value_checks("recovery", what, recovered, claim.pass, interval ? &*interval : nullptr)) {
    if (!real_gap) mark_undefined(c, "the counterfactual does not change the output beyond its noise: no gap to recover");
    out.checks.push_back(std::move(c));
  }
  if (!sweep_sum.defined()) return;
  Figure f;
  f.type = "heatmap";
  f.title = "recovery when patching " + hook_name({*p.sweep, 0}).substr(9) + " at (layer, position), " + changed;
  f.x_title = "position";
  f.y_title = "layer";
  at::Tensor rec = sweep_sum / (clean_sum - corrupt_sum);
  for (int64_t q = 0; q < rec.size(1); ++q) f.x_labels.push_back(std::to_string(q));
  for (int64_t l = 0; l < rec.size(0); ++l) {
    f.y_labels.push_back("L" + std::to_string(l));
    f.values.emplace_back();
    for (int64_t q = 0; q < rec.size(1); ++q) f.values.back().push_back(rec[l][q].item<double>());
  }
  out.figures.push_back(f);
}

}  // namespace circuitcheck
