#include "circuits/model/decompose.h"

#include "circuits/formats/error.h"

namespace circuitcheck {

Decomposition run_decomposition(const HookedTransformer& m, const at::Tensor& tokens) {
  const Config& c = m.config;
  const bool standard = c.positional_embedding_type == PositionalEmbedding::kStandard;
  const HookPoint last{HookType::kResidPost, c.n_layers - 1};
  RunOptions options;
  options.cache = {{HookType::kEmbed, -1}, last};
  if (standard) options.cache.push_back({HookType::kPosEmbed, -1});
  if (c.normalization_type != Normalization::kNone) options.cache.push_back({HookType::kLnFinalScale, -1});
  for (int l = 0; l < c.n_layers; ++l) {
    options.cache.push_back({HookType::kResult, l});
    if (!c.attn_only) options.cache.push_back({HookType::kMlpOut, l});
  }
  RunResult r = run(m, tokens, options);

  Decomposition d;
  std::vector<at::Tensor> parts;
  auto add = [&](std::string label, at::Tensor t) {
    d.labels.push_back(std::move(label));
    parts.push_back(std::move(t));
  };
  add("embed", r.cache.at({HookType::kEmbed, -1}));
  if (standard) add("pos_embed", r.cache.at({HookType::kPosEmbed, -1}));
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string L = "L" + std::to_string(l);
    at::Tensor result = r.cache.at({HookType::kResult, l});
    for (int h = 0; h < c.n_heads; ++h) add(L + "H" + std::to_string(h), result.select(2, h));
    add(L + ".b_O", m.params.at("blocks." + std::to_string(l) + ".attn.b_O").expand_as(parts[0]));
    if (!c.attn_only) add(L + ".mlp", r.cache.at({HookType::kMlpOut, l}));
  }
  d.components = at::stack(parts);
  d.resid_final = r.cache.at(last);
  if (c.normalization_type != Normalization::kNone) d.ln_final_scale = r.cache.at({HookType::kLnFinalScale, -1});
  d.logits = r.logits;
  d.max_abs_error = (d.components.sum(0) - d.resid_final).abs().max().item<double>();
  const double bound = 1e-4 * (1.0 + d.resid_final.abs().max().item<double>());
  check_internal(d.max_abs_error <= bound, "run_decomposition",
                 "components miss the residual stream by " + std::to_string(d.max_abs_error));
  return d;
}

at::Tensor direct_logit_attribution(const HookedTransformer& m, const Decomposition& d) {
  const at::Tensor& W_U = m.params.at("unembed.W_U");
  at::Tensor x = d.components;
  at::Tensor bias = m.params.at("unembed.b_U");
  if (m.config.normalization_type != Normalization::kNone) {
    x = (x - x.mean(-1, true)) / d.ln_final_scale.unsqueeze(0);
    if (m.config.normalization_type == Normalization::kLN) {
      x = x * m.params.at("ln_final.w");
      bias = bias + at::matmul(m.params.at("ln_final.b"), W_U);
    }
  }
  at::Tensor dla = at::matmul(x, W_U);
  at::Tensor bias_row = bias.expand_as(dla.select(0, 0)).unsqueeze(0);
  return at::cat({dla, bias_row}, 0);
}

}  // namespace circuitcheck
