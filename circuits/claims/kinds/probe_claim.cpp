#include "circuits/claims/kinds/probe_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/claims/probe.h"

#include <ATen/CPUGeneratorImpl.h>

namespace circuitcheck {
namespace {

bool probeable(HookType type) {
  switch (type) {
    case HookType::kEmbed: case HookType::kPosEmbed: case HookType::kResidPre: case HookType::kResidMid:
    case HookType::kResidPost: case HookType::kAttnOut: case HookType::kMlpOut: case HookType::kMlpPre:
    case HookType::kMlpPost: case HookType::kLn1Normalized: case HookType::kLn2Normalized:
    case HookType::kLnFinalNormalized:
      return true;
    default:
      return false;
  }
}

HookPoint probe_hook_at(const nlohmann::json& v, const At& at, const Config& config) {
  HookPoint hook = hook_at(v, at, config);
  if (!probeable(hook.type) || ((config.use_split_qkv_input || config.use_attn_in) && hook.type == HookType::kLn1Normalized))
    at.fail(hook_name(hook) + " is not a [batch, pos, d] activation (probe hook_embed, resid_*, attn_out, mlp_*, "
                              "ln*.hook_normalized)");
  return hook;
}

// [batch, k] view of a [batch] or [batch, k] tensor.
at::Tensor items(const at::Tensor& t) { return t.dim() == 1 ? t.unsqueeze(1) : t; }

// `labels` [n] permuted across items with `seed`.
at::Tensor permuted(const at::Tensor& labels, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return labels.index_select(0, at::randperm(labels.size(0), gen, at::TensorOptions().dtype(at::kLong)));
}

// The checkpoint's selectivity: `fit`'s held-out accuracy minus that of the
// same probe on the control task (labels permuted with kControlTaskSeed).
Check selectivity(const at::Tensor& x, const at::Tensor& labels, const at::Tensor& groups, const ProbeSpec& p,
                  const ProbeFit& fit) {
  const ProbeFit control = fit_probe(x, permuted(labels, kControlTaskSeed), groups, p.train_fraction, p.seed);
  const double control_rate = control.test.accuracy();
  return value_check("probe_selectivity",
                     "selectivity (held-out accuracy minus " + percent(control_rate) +
                         " on the control task, labels permuted across items with seed " +
                         std::to_string(kControlTaskSeed) + "):",
                     fit.test.accuracy() - control_rate,
                     Rule::kNone, 0.0);
}

}  // namespace

void parse_probe(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Config& config = context.config;
  const Batch& sample = context.sample;
  ProbeSpec& p = claim.spec.emplace<ProbeSpec>();
  p.hook = probe_hook_at(v["hook"], at / "hook", config);
  const at::Tensor& role = role_at(v["role"], at / "role", sample);
  p.role = v["role"].get<std::string>();
  const At label_at = at / "label";
  check_object(v["label"], label_at, {"token_at", "class"}, {});
  if (v["label"].size() != 1) label_at.fail("expected exactly one of token_at, class");
  if (v["label"].contains("token_at")) {
    const At where = label_at / "token_at";
    const at::Tensor& source = role_at(v["label"]["token_at"], where, sample);
    p.token_at = v["label"]["token_at"].get<std::string>();
    check_pairs(source, p.token_at, role, p.role, where);
  } else {
    const At where = label_at / "class";
    const at::Tensor& label = class_at(v["label"]["class"], where, context.task, sample);
    p.label_class = v["label"]["class"].get<std::string>();
    if (label.dim() == 2 && (role.dim() != 2 || label.size(1) != role.size(1)))
      where.fail("class " + quote(p.label_class) + " is per item and does not pair with role " + quote(p.role));
  }
  if (v.contains("compare")) {
    const nlohmann::json& compare = array_at(v["compare"], at / "compare");
    for (std::size_t i = 0; i < compare.size(); ++i)
      p.compare.push_back(probe_hook_at(compare[i], at / "compare" / i, config));
  }
  if (v.contains("train_fraction")) {
    p.train_fraction = number_at(v["train_fraction"], at / "train_fraction");
    if (!(p.train_fraction > 0.0 && p.train_fraction < 1.0))
      (at / "train_fraction").fail(v["train_fraction"].dump() + " outside (0, 1)");
  }
  if (v.contains("seed"))
    p.seed = static_cast<uint64_t>(integer_at(v["seed"], at / "seed", 0, std::numeric_limits<int64_t>::max()));
  claim.pass = pass_at(v["pass"], at / "pass", {"rate_at_least", "rate_at_most", "compare_at_most"}, {}, {});
  if (claim.pass.compare_at_most && p.compare.empty())
    (at / "pass" / "compare_at_most").fail("needs hooks to compare (\"compare\": [...])");
  if (!claim.pass.rate_at_least && !claim.pass.rate_at_most)
    (at / "pass").fail("needs rate_at_least or rate_at_most for the probed hook");
}

void run_probe(const RunContext& context, const Claim& claim, Outcome& out) {
  const Task& task = context.task;
  const HookedTransformer& model = context.model;
  const Scale scale = context.scale;
  const ProbeSpec& p = spec_of<ProbeSpec>(claim.spec);
  std::vector<HookPoint> hooks = {p.hook};
  if (!context.control || claim.pass.compare_at_most) hooks.insert(hooks.end(), p.compare.begin(), p.compare.end());
  RunOptions options;
  options.cache = hooks;
  options.logits = false;
  std::vector<std::vector<at::Tensor>> features(hooks.size());
  std::vector<at::Tensor> labels, groups;
  int64_t examples = 0;
  for_each_batch(task, claim.domain, scale, [&](const Batch& b) {
    at::Tensor positions = items(b.roles.at(p.role));  // [batch, k]
    at::Tensor label = p.token_at.empty() ? items(b.classes.at(p.label_class))
                                          : b.tokens.gather(1, items(b.roles.at(p.token_at)).clamp_min(0));
    const at::Tensor source_present =
        p.token_at.empty() ? label >= 0 : items(b.roles.at(p.token_at)) >= 0;
    label = label.expand_as(positions);
    at::Tensor present = (positions >= 0) & source_present.expand_as(positions);  // [batch, k]
    RunResult r = run(model, b.tokens, options);
    for (std::size_t h = 0; h < hooks.size(); ++h) {
      const at::Tensor& act = r.cache.at(hooks[h]);  // [batch, pos, d]
      at::Tensor at_items = act.gather(1, positions.clamp_min(0).to(act.device()).unsqueeze(-1).expand(
                                              {positions.size(0), positions.size(1), act.size(2)}));
      features[h].push_back(at_items.cpu().masked_select(present.unsqueeze(-1)).view({-1, act.size(2)}));
    }
    labels.push_back(label.masked_select(present));
    const at::Tensor example = at::arange(examples, examples + positions.size(0), at::kLong).unsqueeze(1);
    groups.push_back(example.expand_as(positions).masked_select(present.cpu()));
    examples += positions.size(0);
  });
  const at::Tensor all_groups = at::cat(groups);
  const at::Tensor true_labels = at::cat(labels).cpu();
  const at::Tensor all_labels = p.control_task_seed ? permuted(true_labels, *p.control_task_seed) : true_labels;
  const std::string label_name = p.token_at.empty() ? "class " + p.label_class : "the token at " + p.token_at;
  Figure figure;
  figure.type = "bars";
  figure.title = "probe held-out accuracy for " + label_name + " at " + p.role;
  figure.y_title = "accuracy";
  figure.series = {"held-out accuracy", "majority class"};
  figure.values.assign(2, {});
  for (std::size_t h = 0; h < hooks.size(); ++h) {
    const at::Tensor x = at::cat(features[h]);
    const ProbeFit fit = fit_probe(x, all_labels, all_groups, p.train_fraction, p.seed);
    const std::string what = "probe at " + hook_name(hooks[h]) + " [" + p.role + "] for " + label_name + " (" +
                             std::to_string(fit.n_classes) + " classes, trained on " + std::to_string(fit.train_n) +
                             ", majority " + percent(fit.majority_rate) + "): held-out correct on";
    const std::size_t accuracy = out.checks.size();  // this hook's held-out accuracy check
    if (h == 0) {
      const bool at_most = claim.pass.rate_at_most.has_value();
      out.checks.push_back(rate_check("probe_accuracy", what, "items", fit.test,
                                      claim.domain.exhaustive, at_most ? Rule::kRateAtMost : Rule::kRateAtLeast,
                                      at_most ? *claim.pass.rate_at_most : *claim.pass.rate_at_least,
                                      claim.pass.bound));
      if (claim.pass.rate_at_most && claim.pass.rate_at_least)
        out.checks.push_back(rate_check("probe_accuracy", what, "items", fit.test,
                                        claim.domain.exhaustive, Rule::kRateAtLeast, *claim.pass.rate_at_least,
                                        claim.pass.bound));
      if (!context.control && !p.control_task_seed) out.checks.push_back(selectivity(x, true_labels, all_groups, p, fit));
    } else {
      out.checks.push_back(rate_check("probe_accuracy " + hook_name(hooks[h]), what, "items", fit.test,
                                      claim.domain.exhaustive, claim.pass.compare_at_most ? Rule::kCompareAtMost : Rule::kNone,
                                      claim.pass.compare_at_most.value_or(0.0), claim.pass.bound));
    }
    figure.x_labels.push_back(hook_name(hooks[h]));
    figure.values[0].push_back(out.checks[accuracy].value);
    figure.values[1].push_back(fit.majority_rate);
  }
  if (claim.pass.rate_at_least) figure.reference.push_back(*claim.pass.rate_at_least);
  if (claim.pass.rate_at_most) figure.reference.push_back(*claim.pass.rate_at_most);
  if (claim.pass.compare_at_most) figure.reference.push_back(*claim.pass.compare_at_most);
  out.figures.push_back(figure);
}

ClaimSpec probe_control_task(const Claim& claim, uint64_t seed) {
  ProbeSpec control_task = spec_of<ProbeSpec>(claim.spec);
  control_task.control_task_seed = seed;
  return control_task;
}

}  // namespace circuitcheck
