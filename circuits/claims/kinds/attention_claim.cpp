#include "circuits/claims/kinds/attention_claim.h"

#include "circuits/claims/claim.h"

#include <cstdint>

namespace circuitcheck {
namespace {

// The head's mean pattern over one batch, query x key, positions labelled
// with the roles that sit there in every example.
Figure mean_pattern(const AttentionSpec& a, const Batch& b, const at::Tensor& pattern) {
  Figure figure;
  figure.type = "heatmap";
  figure.title = "L" + std::to_string(a.layer) + "H" + std::to_string(a.head) + " mean attention pattern over " +
                 std::to_string(b.tokens.size(0)) + " examples";
  figure.x_title = "key position";
  figure.y_title = "query position";
  const at::Tensor mean = pattern.mean(0).to(at::kDouble).cpu();
  for (int64_t q = 0; q < mean.size(0); ++q) {
    std::string label = std::to_string(q);
    for (const auto& [name, role] : b.roles)
      if (role.dim() == 1 && (role == q).all().item<bool>()) label += " " + name;
    figure.x_labels.push_back(label);
    figure.y_labels.push_back(label);
    figure.values.emplace_back();
    for (int64_t k = 0; k < mean.size(1); ++k) figure.values.back().push_back(mean[q][k].item<double>());
  }
  return figure;
}

// Adds to `into` the items whose mass from the query role to the key roles is
// >= min_mass, grouped by example: pattern [batch, query_pos, key_pos] (one
// head); roles [batch] or [batch, k] (negative positions are absent items).
void count_attention(const at::Tensor& pattern, const at::Tensor& query_role, const std::vector<at::Tensor>& key_roles,
                     double min_mass, Tally& into) {
  const int64_t batch = pattern.size(0), n_keys = pattern.size(2);
  at::Tensor query = (query_role.dim() == 1 ? query_role.unsqueeze(1) : query_role).to(pattern.device());
  const int64_t m = query.size(1);
  at::Tensor counts = at::zeros({batch, m, n_keys}, pattern.options());
  for (const auto& key_role : key_roles) {
    at::Tensor role = key_role.to(pattern.device());
    at::Tensor positions = role.dim() == 1         ? role.view({batch, 1, 1}).expand({batch, m, 1})
                           : query_role.dim() == 2 ? role.unsqueeze(-1)
                                                   : role.unsqueeze(1).expand({batch, m, role.size(1)});
    positions = positions.contiguous();
    counts.scatter_add_(2, positions.clamp_min(0), (positions >= 0).to(pattern.scalar_type()));
  }
  at::Tensor rows = pattern.gather(1, query.clamp_min(0).unsqueeze(-1).expand({batch, m, n_keys}));
  at::Tensor mass = (rows * (counts > 0)).sum(-1);  // [batch, m]
  at::Tensor present = query >= 0;
  add_rows(into, mass >= min_mass, present);
}

}  // namespace

void parse_attention(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  AttentionSpec& a = claim.spec.emplace<AttentionSpec>();
  a.layer = layer_at(v["layer"], at / "layer", context.config);
  a.head = head_at(v["head"], at / "head", context.config);
  const at::Tensor& query = role_at(v["query"], at / "query", context.sample);
  a.query = v["query"].get<std::string>();
  const nlohmann::json& keys = array_at(v["keys"], at / "keys");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const at::Tensor& key = role_at(keys[i], at / "keys" / i, context.sample);
    if (query.dim() == 2 && key.dim() == 2 && key.size(1) != query.size(1))
      (at / "keys" / i).fail("role '" + keys[i].get<std::string>() + "' has " + std::to_string(key.size(1)) +
                             " items per example but the query role " + quote(a.query) + " has " +
                             std::to_string(query.size(1)) + "; [batch, k] roles pair item by item");
    a.keys.push_back(keys[i].get<std::string>());
  }
  a.min_mass = rate_at(v["min_mass"], at / "min_mass");
  claim.pass = pass_at(v["pass"], at / "pass", {"rate_at_least"}, {}, {"rate_at_least"});
}

PlainReads attention_reads(const Claim& claim) {
  return {{HookPoint{HookType::kPattern, spec_of<AttentionSpec>(claim.spec).layer}}, false};
}

void run_attention(const RunContext& context, const Claim& claim, Outcome& out) {
  const AttentionSpec& a = spec_of<AttentionSpec>(claim.spec);
  const HookPoint hook{HookType::kPattern, a.layer};
  Tally items;
  bool per_item = false;
  Figure figure;
  context.visit(claim.domain, attention_reads(claim), [&](const Batch& b, const RunResult& r) {
    std::vector<at::Tensor> keys;
    for (const auto& k : a.keys) keys.push_back(b.roles.at(k));
    const at::Tensor& query = b.roles.at(a.query);
    per_item = query.dim() == 2;
    const at::Tensor pattern = r.cache.at(hook).select(1, a.head);  // [batch, query_pos, key_pos]
    count_attention(pattern, query, keys, a.min_mass, items);
    if (figure.values.empty()) figure = mean_pattern(a, b, pattern);
  }, nullptr);
  if (!figure.values.empty()) out.figures.push_back(figure);
  std::string keys;
  for (const auto& k : a.keys) keys += (keys.empty() ? "" : ", ") + k;
  const std::string what = "L" + std::to_string(a.layer) + "H" + std::to_string(a.head) + " attention mass " + a.query +
                           " -> {" + keys + "} >= " + number(a.min_mass) + " on";
  out.checks.push_back(rate_check("attention", what, per_item ? "(example, k) items" : "examples", items,
                                  claim.domain.exhaustive, Rule::kRateAtLeast, *claim.pass.rate_at_least, claim.pass.bound));
}

}  // namespace circuitcheck
