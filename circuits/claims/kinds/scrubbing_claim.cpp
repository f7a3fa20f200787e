#include "circuits/claims/kinds/scrubbing_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/claims/domain.h"
#include "circuits/tasks/evaluate.h"

#include <map>
#include <random>

namespace circuitcheck {
namespace {

// For each example of a batch, another example: one with the same value of
// `values` [batch] (`agree`; itself when no other has it or its value is -1,
// none), or any other one. [batch] int64. Adds to `alone` the examples with a
// value that no other example of the batch has (their own donors).
at::Tensor partners(const at::Tensor& values_in, bool agree, std::mt19937_64& rng, int64_t& alone) {
  const at::Tensor values = values_in.to(at::kCPU, at::kLong).contiguous();
  const int64_t n = values.size(0);
  std::map<int64_t, std::vector<int64_t>> groups;
  std::vector<int64_t> out(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t value = values[i].item<int64_t>();
    if (agree && value < 0) out[static_cast<std::size_t>(i)] = i;  // no value (-1): not resampled
    else groups[agree ? value : 0].push_back(i);
  }
  for (const auto& [value, members] : groups) {
    const int64_t m = static_cast<int64_t>(members.size());
    for (int64_t k = 0; k < m; ++k) {
      if (m == 1) {
        out[static_cast<std::size_t>(members[0])] = members[0];
        ++alone;
        continue;
      }
      int64_t pick = uniform_int(rng, m - 1);
      if (pick >= k) ++pick;  // anyone but itself
      out[static_cast<std::size_t>(members[static_cast<std::size_t>(k)])] = members[static_cast<std::size_t>(pick)];
    }
  }
  return to_tensor(out, {n});
}

// Each example's summed cross-entropy over its scored positions (nats): [batch] double.
at::Tensor example_loss(const at::Tensor& logits, const at::Tensor& targets) {
  return -target_log_prob(logits, targets, 0).to(at::kCPU, at::kDouble);
}

}  // namespace

void parse_scrubbing(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  ScrubbingSpec& s = claim.spec.emplace<ScrubbingSpec>();
  const nlohmann::json& sites = array_at(v["sites"], at / "sites");
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const At where = at / "sites" / i;
    nlohmann::json site = object_at(sites[i], where);
    if (!site.contains("feature")) (where / "feature").fail("missing field 'feature' (the class the site depends on)");
    const nlohmann::json feature = site["feature"];
    site.erase("feature");
    ScrubbedSite scrubbed{patch_site_at(site, where, context.config, context.sample), ""};
    if (class_at(feature, where / "feature", context.task, context.sample).dim() != 1)
      (where / "feature").fail("class " + quote(feature.get<std::string>()) + " has several values per example");
    scrubbed.feature = feature.get<std::string>();
    s.sites.push_back(scrubbed);
  }
  claim.pass = pass_at(v["pass"], at / "pass", {}, {"value_at_least", "value_at_most"}, {});
}

void run_scrubbing(const RunContext& context, const Claim& claim, Outcome& out) {
  const ScrubbingSpec& s = spec_of<ScrubbingSpec>(claim.spec);
  RunOptions cached;
  for (const ScrubbedSite& site : s.sites) cached.cache.push_back(site.site.hook);
  std::vector<at::Tensor> model_loss, scrubbed_loss, random_loss, scored;
  uint64_t batch_index = 0;
  int64_t alone = 0, resampled_sites = 0;  // (example, site) pairs scrubbed: their own donors, all
  out.liveness.resize(s.sites.size());
  for_each_slice(context.task, claim.domain, context.scale, kVerifyBatch, [&](const Batch& b) {
    std::mt19937_64 rng(claim.domain.seed * 1000003 + batch_index++);
    const RunResult plain = run(context.model, b.tokens, cached);
    const auto resampled = [&](bool agree) {
      RunOptions options;
      for (const ScrubbedSite& site : s.sites) {
        int64_t own = 0;
        const at::Tensor feature = b.classes.at(site.feature);
        const at::Tensor from = partners(feature, agree, rng, own).to(plain.cache.at(site.site.hook).device());
        if (agree) {
          alone += own;
          resampled_sites += (feature >= 0).sum().item<int64_t>();
        }
        const at::Tensor& activation = plain.cache.at(site.site.hook);
        options.interventions.push_back(patch_intervention(
            site.site,
            site.site.role.empty() ? activation.index_select(0, from) : donor_values(activation, from, b, site.site.role), b));
      }
      return run(context.model, b.tokens, options);
    };
    const RunResult scrubbed = resampled(true);
    for (std::size_t i = 0; i < scrubbed.liveness.size(); ++i) accumulate(out.liveness[i], scrubbed.liveness[i]);
    model_loss.push_back(example_loss(plain.logits, b.targets));
    scrubbed_loss.push_back(example_loss(scrubbed.logits, b.targets));
    random_loss.push_back(example_loss(resampled(false).logits, b.targets));
    scored.push_back((b.targets >= 0).sum(1).to(at::kCPU, at::kDouble));
  });
  const at::Tensor lm = at::cat(model_loss), ls = at::cat(scrubbed_loss), lr = at::cat(random_loss), n = at::cat(scored);
  const double positions = n.sum().item<double>();
  const auto mean = [&](const at::Tensor& l) { return positions > 0 ? l.sum().item<double>() / positions : 0.0; };
  const std::string per = " (nats per scored position over " + std::to_string(lm.size(0)) + " examples):";
  out.checks.push_back(value_check("loss model", "loss of the model" + per, mean(lm), Rule::kNone, 0.0));
  out.checks.push_back(value_check("loss scrubbed", "loss with each site resampled from an example that agrees on its feature" + per,
                                   mean(ls), Rule::kNone, 0.0));
  out.checks.push_back(value_check("loss random", "loss with each site resampled from any other example" + per, mean(lr),
                                   Rule::kNone, 0.0));
  // Donors come from the example's slice (at most 4,096 examples): a feature
  // value no other example there has leaves the example its own donor, which
  // scrubs nothing and counts as recovered. Reported, so that a feature of
  // many values shows it.
  out.checks.push_back(value_check(
      "own donors",
      "share of the (example, site) pairs scrubbed that kept their own activation, as no other example of their slice "
      "agrees on the feature (" + std::to_string(alone) + " of " + std::to_string(resampled_sites) + "):",
      resampled_sites > 0 ? static_cast<double>(alone) / static_cast<double>(resampled_sites) : 0.0, Rule::kNone, 0.0));
  const at::Tensor gap = lr - lm;
  const bool matters = has_gap(gap, claim.domain.exhaustive, claim.domain.seed, lr.to(at::kDouble).mean().item<double>());
  const double recovered = matters ? (lr - ls).sum().item<double>() / gap.sum().item<double>() : 0.0;
  std::optional<Bootstrap> interval;
  if (!claim.domain.exhaustive && matters) interval = ratio_bootstrap(lr - ls, gap, claim.domain.seed);
  for (Check& c : value_checks("loss recovered", "(L_random - L_scrubbed) / (L_random - L_model)", recovered, claim.pass,
                               interval ? &*interval : nullptr)) {
    if (!matters) mark_undefined(c, "resampling the sites from any example does not raise the loss beyond its noise, or by 1 % of itself: they do not matter");
    out.checks.push_back(std::move(c));
  }
  Figure figure;
  figure.type = "bars";
  figure.title = "loss: the model, its sites scrubbed by their features, and resampled at random";
  figure.y_title = "nats per scored position";
  figure.x_labels = {"model", "scrubbed", "random"};
  figure.series = {"loss"};
  figure.values = {{mean(lm), mean(ls), mean(lr)}};
  out.figures.push_back(figure);
}

}  // namespace circuitcheck
