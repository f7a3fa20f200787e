// Fourier claims: the basis, energies, projections and the logit fit against
// known answers; claims on S1-shaped models with a hand-set embedding (three
// Fourier frequencies: pass; random: fail); the parser's errors on the shipped
// S1 claim file; `circuitcheck verify claims/modular_addition.json` on the
// shipped and the reference checkpoint.
#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"
#include "circuits/claims/kinds/fourier_claim.h"
#include "circuits/claims/kinds/registry.h"
#include "circuits/tasks/builtin/modular_addition.h"
#include "circuits/claims/verify.h"
#include "tests/test_util.h"
#include "tests/claims/claim_test_util.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

constexpr int64_t kP = kModulus;

// cos or sin of frequency k over x = 0..p-1: [p] float64.
at::Tensor wave(int64_t k, bool cosine) {
  const at::Tensor angle = at::arange(kP, at::kDouble) * (2.0 * M_PI * static_cast<double>(k) / kP);
  return cosine ? at::cos(angle) : at::sin(angle);
}

// [p, d] with every column a random mix of cos and sin of `frequencies` (seeded).
at::Tensor fourier_matrix(const std::vector<int64_t>& frequencies, int64_t d, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor m = at::zeros({kP, d}, at::kDouble);
  for (int64_t k : frequencies)
    for (bool cosine : {true, false})
      m += wave(k, cosine).unsqueeze(1) * at::randn({1, d}, gen, at::kDouble);
  return m;
}

at::Tensor random_matrix(int64_t rows, int64_t d, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, d}, gen, at::kDouble);
}

double share_in(const FrequencyEnergy& e, const std::vector<int64_t>& frequencies) {
  double in = 0.0;
  for (int64_t k : frequencies) in += e.per_frequency[k - 1].sum().item<double>();
  return in / e.total.sum().item<double>();
}

TEST(FourierBasis, IsOrthonormalWithCosAndSinRows) {
  const at::Tensor f = fourier_basis(kP);
  ASSERT_EQ(f.sizes(), (at::IntArrayRef{kP, kP}));
  EXPECT_TRUE(at::allclose(f.matmul(f.t()), at::eye(kP, at::kDouble), 0, 1e-12));
  EXPECT_TRUE(at::allclose(f[2 * 7 - 1], wave(7, true) * std::sqrt(2.0 / kP), 0, 1e-12));
  EXPECT_TRUE(at::allclose(f[2 * 7], wave(7, false) * std::sqrt(2.0 / kP), 0, 1e-12));
  EXPECT_THROW(fourier_basis(8), InputError);
}

TEST(FrequencyEnergy, ThreeFrequenciesHoldAllTheEnergyAndRandomSpreads) {
  const FrequencyEnergy planted = frequency_energy(fourier_matrix({3, 17, 40}, 16, 1), kP);
  const std::vector<int64_t> top = top_frequencies(planted, 3);
  EXPECT_EQ(std::set<int64_t>(top.begin(), top.end()), (std::set<int64_t>{3, 17, 40}));
  EXPECT_NEAR(share_in(planted, top), 1.0, 1e-12);
  // The constant is not energy: adding it changes nothing.
  const FrequencyEnergy shifted = frequency_energy(fourier_matrix({3, 17, 40}, 16, 1) + 5.0, kP);
  EXPECT_TRUE(at::allclose(shifted.per_frequency, planted.per_frequency, 1e-9, 1e-9));

  const FrequencyEnergy noise = frequency_energy(random_matrix(kP, 16, 2), kP);
  EXPECT_LT(share_in(noise, top_frequencies(noise, 3)), 0.15);  // 3 of 56 evenly: 5.4%
}

TEST(FrequencyEnergy, GridGroupsEachFrequencysComponents) {
  // Over the pairs (a, b): cos(w5 (a + b)) is all frequency 5; cos(w2 a) + sin(w9 b) splits evenly.
  const at::Tensor i = at::arange(kP * kP, at::kLong);
  const at::Tensor a = at::div(i, kP, "floor").to(at::kDouble), b = (i % kP).to(at::kDouble);
  const double w = 2.0 * M_PI / kP;
  const at::Tensor m = at::stack({at::cos(w * 5 * (a + b)), at::cos(w * 2 * a) + at::sin(w * 9 * b)}, 1);
  const FrequencyEnergy e = frequency_energy(m, kP);
  ASSERT_EQ(e.per_frequency.sizes(), (at::IntArrayRef{56, 2}));
  EXPECT_NEAR(e.per_frequency[4][0].item<double>() / e.total[0].item<double>(), 1.0, 1e-9);
  EXPECT_NEAR(e.per_frequency[1][1].item<double>() / e.total[1].item<double>(), 0.5, 1e-9);
  EXPECT_NEAR(e.per_frequency[8][1].item<double>() / e.total[1].item<double>(), 0.5, 1e-9);
  EXPECT_THROW(frequency_energy(m.slice(0, 1), kP), InputError);
}

TEST(ProjectFrequencies, RestrictedAndExcludedSplitTheMatrix) {
  const at::Tensor signal = fourier_matrix({4, 11}, 3, 3), other = fourier_matrix({20}, 3, 4);
  const at::Tensor m = signal + other + 2.0;
  EXPECT_TRUE(at::allclose(project_frequencies(m, kP, {4, 11}, true), signal + 2.0, 0, 1e-9));
  EXPECT_TRUE(at::allclose(project_frequencies(m, kP, {4, 11}, false), other + 2.0, 0, 1e-9));
  // On the grid: restricted + excluded = the matrix + its constant component.
  const at::Tensor grid = random_matrix(kP * kP, 2, 5);
  const at::Tensor kept = project_frequencies(grid, kP, {1, 30}, true), removed = project_frequencies(grid, kP, {1, 30}, false);
  EXPECT_TRUE(at::allclose(kept + removed, grid + grid.mean(0, true), 0, 1e-9));
}

TEST(FitLogits, RecoversPlantedCoefficients) {
  const at::Tensor i = at::arange(kP * kP, at::kLong);
  const at::Tensor s = (at::div(i, kP, "floor") + i % kP).unsqueeze(1) - at::arange(kP, at::kLong).unsqueeze(0);
  const double w = 2.0 * M_PI / kP;
  const at::Tensor per_pair = random_matrix(kP * kP, 1, 6);  // constant over c: removed by centring
  const at::Tensor logits = 2.0 * at::cos(w * 5 * s.to(at::kDouble)) + 0.5 * at::cos(w * 9 * s.to(at::kDouble)) + per_pair;
  const LogitFit fit = fit_logits(logits, kP, {5, 9});
  EXPECT_NEAR(fit.r2, 1.0, 1e-9);
  ASSERT_EQ(fit.coefficients.size(), 2u);
  EXPECT_NEAR(fit.coefficients[0], 2.0, 1e-9);
  EXPECT_NEAR(fit.coefficients[1], 0.5, 1e-9);
  EXPECT_LT(fit_logits(random_matrix(kP * kP, kP, 7), kP, {5, 9}).r2, 0.01);
}

// ---------------------------------------------------------------------------
// Claims on S1-shaped models: TL's random init, with W_E rows 0..112 replaced.

const Task& s1() { return find_task("modular_addition"); }

HookedTransformer s1_model(const at::Tensor& embedding) {
  const Config config = s1().config(Scale::kCpu);
  TensorMap params = init_params(config, 11);
  if (embedding.defined()) params["embed.W_E"].slice(0, 0, kP).copy_(embedding);
  return make_model(config, params, "s1_model");
}

json fourier_file(const json& claim) {
  return {{"schema", "circuitcheck.claims/1"}, {"system", "modular_addition"}, {"checkpoint", "x.safetensors"},
          {"claims", json::array({claim})}};
}

ClaimResult verify_one(const json& claim, const HookedTransformer& model) {
  const ClaimFile file = parse_claim_file(fourier_file(claim), "toy/claims.json");
  ControlCache controls{&model, {}};
  return verify_claim(s1(), parse_claims(file, s1(), model.config).at(0), model, controls);
}

const json kEmbedding = {{"param", "embed.W_E"}, {"rows", {{"from", 0}, {"to", 112}}}};

TEST(FourierClaim, ThreeFrequencyEmbeddingPassesAndRandomFails) {
  const json claim = {{"id", "sparse"}, {"hypothesis", "three frequencies"}, {"kind", "fourier"},
                      {"measure", "energy"}, {"source", kEmbedding}, {"k", 3},
                      {"pass", {{"value_at_least", 0.95}}}, {"controls", {"shuffled_embed"}}};
  const ClaimResult planted = verify_one(claim, s1_model(fourier_matrix({3, 17, 40}, 128, 8).to(at::kFloat)));
  EXPECT_EQ(planted.verdict, Verdict::kPass) << planted.explanation;
  EXPECT_NEAR(planted.checkpoint.checks.at(0).value, 1.0, 1e-5);
  EXPECT_NE(planted.explanation.find("top 3 frequencies {"), std::string::npos) << planted.explanation;
  ASSERT_EQ(planted.checkpoint.figures.size(), 1u);
  const Figure& bars = planted.checkpoint.figures[0];
  EXPECT_EQ(bars.type, "bars");
  EXPECT_EQ(bars.x_labels.size(), 56u);
  EXPECT_NEAR(bars.values.at(1).at(2), 1.0, 1e-5);  // cumulative share after the 3 key frequencies
  EXPECT_EQ(bars.reference, std::vector<double>{0.95});
  ASSERT_EQ(planted.controls.size(), 2u);
  EXPECT_FALSE(planted.controls[1].pass) << planted.controls[1].explanation;  // shuffled_embed

  const ClaimResult random = verify_one(claim, s1_model(at::Tensor()));
  EXPECT_EQ(random.verdict, Verdict::kFail) << random.explanation;
  EXPECT_LT(random.checkpoint.checks.at(0).value, 0.2);
}

TEST(FourierClaim, AgreementAndSingleFrequencyOnPlantedWeights) {
  // W_E uses frequencies 3, 17, 40; W_U (transposed) 3, 17, 41.
  const HookedTransformer base = s1_model(fourier_matrix({3, 17, 40}, 128, 9).to(at::kFloat));
  TensorMap params = base.params;
  params["unembed.W_U"] = fourier_matrix({3, 17, 41}, 128, 10).t().to(at::kFloat);
  const HookedTransformer model = make_model(base.config, params, "planted");
  const json agree = {{"id", "agree"}, {"hypothesis", "W_U shares W_E's frequencies"}, {"kind", "fourier"},
                      {"measure", "agreement"}, {"source", {{"param", "unembed.W_U"}, {"transpose", true}}},
                      {"keys_from", kEmbedding}, {"k", 3}, {"pass", {{"value_at_least", 2}}}};
  const ClaimResult agreed = verify_one(agree, model);
  EXPECT_EQ(agreed.verdict, Verdict::kPass) << agreed.explanation;
  EXPECT_EQ(agreed.checkpoint.checks.at(0).value, 2.0);
  // Every column of W_E mixes three frequencies: about a third each, never 90 % in one.
  const json single = {{"id", "single"}, {"hypothesis", "one frequency per column"}, {"kind", "fourier"},
                       {"measure", "single_frequency"}, {"source", kEmbedding}, {"k", 3}, {"min_explained", 0.9},
                       {"pass", {{"rate_at_least", 0.5}}}};
  const ClaimResult mixed = verify_one(single, model);
  EXPECT_EQ(mixed.verdict, Verdict::kFail) << mixed.explanation;
  EXPECT_EQ(mixed.checkpoint.checks.at(0).trials, 128);
  EXPECT_EQ(mixed.checkpoint.checks.at(0).basis, Basis::kExact);
}

// ---------------------------------------------------------------------------
// Malformed fourier and spectrum claims in the shipped S1 file.

std::string shipped_claims() { return testing_util::source_dir() + "/claims/modular_addition.json"; }

json shipped_document() {
  std::ifstream in(shipped_claims());
  return json::parse(in);
}

struct Malformed {
  std::string name;
  std::function<void(json&)> mutate;
  std::string message;  // the error starts with "claims/modular_addition.json: " + message
};

// Claims of the shipped file: 1 energy (W_E), 3 spectrum, 4 energy (W_U), 5 energy (neurons),
// 6 agreement, 7 single_frequency, 8 restricted_excluded (logits), 10 logit_fit.
std::vector<Malformed> malformed_cases() {
  const json post = {{"activation", "blocks.0.mlp.hook_post"}, {"role", "equals"}};
  return {
      {"unknown_measure", [](json& d) { d["claims"][1]["measure"] = "power"; }, "/claims/1/measure: unknown measure 'power'"},
      {"unknown_param", [](json& d) { d["claims"][1]["source"]["param"] = "embed.W_X"; },
       "/claims/1/source/param: unknown parameter 'embed.W_X'"},
      {"row_out_of_range", [](json& d) { d["claims"][1]["source"]["rows"]["to"] = 200; },
       "/claims/1/source/rows/to: 200 out of range [0, 113]"},
      {"rows_empty", [](json& d) { d["claims"][1]["source"]["rows"] = json::array(); },
       "/claims/1/source/rows: expected a non-empty array of indices"},
      {"not_the_inputs", [](json& d) { d["claims"][1]["source"].erase("rows"); },
       "/claims/1/source: the Fourier basis is over the 113 inputs 0..112: the matrix needs 113 rows, embed.W_E has 114"},
      {"two_sources", [](json& d) { d["claims"][1]["source"]["activation"] = "logits"; },
       "/claims/1/source: expected exactly one of 'param', 'product', 'activation'"},
      {"head_of_embedding", [](json& d) { d["claims"][1]["source"]["head"] = 0; },
       "/claims/1/source/head: embed.W_E has no head dimension"},
      {"k_too_large", [](json& d) { d["claims"][1]["k"] = 57; }, "/claims/1/k: 57 out of range [1, 56]"},
      {"k_string", [](json& d) { d["claims"][1]["k"] = "5"; }, "/claims/1/k: expected an integer, got a string"},
      {"domain_on_weights", [](json& d) { d["claims"][1]["domain"] = {{"exhaustive", true}}; },
       "/claims/1/domain: a claim on weights has no domain"},
      {"rate_rule_on_energy", [](json& d) { d["claims"][1]["pass"] = {{"rate_at_least", 0.5}}; },
       "/claims/1/pass/rate_at_least: unknown field"},
      {"min_explained_on_energy", [](json& d) { d["claims"][1]["min_explained"] = 0.5; },
       "/claims/1/min_explained: only the single_frequency measure takes min_explained"},
      {"per_head_without_head", [](json& d) { d["claims"][3]["source"] = {{"param", "blocks.0.attn.W_V"}}; },
       "/claims/3/source: blocks.0.attn.W_V is per head [4, 128, 32]; give \"head\""},
      {"head_out_of_range", [](json& d) { d["claims"][3]["source"] = {{"param", "blocks.0.attn.W_V"}, {"head", 4}}; },
       "/claims/3/source/head: head 4 out of range, the model has 4 heads"},
      {"product_shapes", [](json& d) { d["claims"][3]["source"] = {{"product", {{{"param", "embed.W_E"}}, {{"param", "embed.W_E"}}}}}; },
       "/claims/3/source/product/1: cannot multiply embed.W_E [114, 128] by embed.W_E [114, 128]"},
      {"spectrum_k_above_rank", [](json& d) { d["claims"][3]["k"] = 114; }, "/claims/3/k: 114 out of range [1, 113]"},
      {"spectrum_center_type", [](json& d) { d["claims"][3]["center"] = "yes"; },
       "/claims/3/center: expected a boolean, got a string"},
      {"transpose_type", [](json& d) { d["claims"][4]["source"]["transpose"] = 1; },
       "/claims/4/source/transpose: expected a boolean, got an integer"},
      {"unknown_hook", [](json& d) { d["claims"][5]["source"]["activation"] = "blocks.0.mlp.hook_postt"; },
       "/claims/5/source/activation: unknown hook 'blocks.0.mlp.hook_postt'"},
      {"pattern_hook", [](json& d) { d["claims"][5]["source"]["activation"] = "blocks.0.attn.hook_pattern"; },
       "/claims/5/source/activation: blocks.0.attn.hook_pattern is indexed by query and key positions"},
      {"unknown_role", [](json& d) { d["claims"][5]["source"]["role"] = "c"; }, "/claims/5/source/role: unknown role 'c'"},
      {"activation_without_domain", [](json& d) { d["claims"][5].erase("domain"); },
       "/claims/5: missing field 'domain' (an activation source runs on a domain)"},
      {"sampled_grid", [](json& d) { d["claims"][5]["domain"] = {{"sample", 100}, {"seed", 1}}; },
       "/claims/5/domain: the Fourier transform of an activation is over the whole 113 x 113 grid"},
      {"agreement_without_keys", [](json& d) { d["claims"][6].erase("keys_from"); },
       "/claims/6: missing field 'keys_from' (agreement compares two sources)"},
      {"missing_min_explained", [](json& d) { d["claims"][7].erase("min_explained"); }, "/claims/7: missing field 'min_explained'"},
      {"min_explained_above_one", [](json& d) { d["claims"][7]["min_explained"] = 1.5; },
       "/claims/7/min_explained: threshold 1.5 outside [0, 1] for a rate"},
      {"restricted_on_weights", [](json& d) { d["claims"][8]["source"] = d["claims"][1]["source"]; },
       "/claims/8/source: restricted_excluded edits an activation or the logits"},
      {"fit_of_neurons", [post](json& d) { d["claims"][10]["source"] = post; }, "/claims/10/source: logit_fit fits the logits"},
      {"placebo_on_energy", [](json& d) { d["claims"][1]["controls"] = {"placebo"}; },
       "/claims/1/controls/0: control 'placebo': a fourier claim takes a placebo with measure restricted_excluded only"},
      {"placebo_all_on_frequencies", [](json& d) { d["claims"][8]["controls"] = {"placebo:all"}; },
       "/claims/8/controls/0: control 'placebo:all': more than 16 placebos; draw some with placebo:<seed>"},
      {"unknown_kind_lists_new_kinds", [](json& d) { d["claims"][1]["kind"] = "spectra"; },
       "/claims/1/kind: unknown kind 'spectra' (valid: ablation, attention, behaviour, circuit, fourier, geometry"},
  };
}

TEST(FourierClaimParser, ShippedFileParses) {
  const ClaimFile file = parse_claim_file(shipped_document(), "claims/modular_addition.json");
  const auto claims = parse_claims(file, *claim_task(file), s1().config(Scale::kCpu));
  ASSERT_EQ(claims.size(), 12u);
  EXPECT_STREQ(claims[1].kind->name, "fourier");
  EXPECT_EQ(spec_of<FourierSpec>(claims[1].spec).source.rows, kP);
  EXPECT_STREQ(claims[3].kind->name, "spectrum");
  EXPECT_TRUE(spec_of<FourierSpec>(claims[5].spec).source.is_activation());
  EXPECT_TRUE(claims[5].domain.exhaustive);
  EXPECT_EQ(claims[1].controls, (std::vector<std::string>{"random_init", "shuffled_embed"}));
  // restricted_excluded claims take a placebo: 5 other frequencies, seed 0.
  const Claim& restricted = claims[8];
  ASSERT_EQ(restricted.id, "logits_restricted_excluded");
  ASSERT_EQ(restricted.placebos.size(), 1u);
  EXPECT_EQ(restricted.placebos[0].label, "placebo");
  EXPECT_EQ(spec_of<FourierSpec>(restricted.placebos[0].spec).placebo_seed, std::optional<uint64_t>(0));
  EXPECT_FALSE(spec_of<FourierSpec>(restricted.spec).placebo_seed.has_value());
}

// Fourier claims on activations read the plain runs shared with the other
// claims of the file (fourier_hooks): S1's seven claims over the 113 x 113
// grid (accuracy, three on the neurons, two restricted_excluded, logit_fit)
// make one forward pass per slice (16: draws of 4,096 in 7, 4 and 4 slices,
// domain.h, and one of 481), and replay it for
// every later visit, with the values that runs of their own give. The
// others are on weights, or (the circuit claim) on a sample of their own.
TEST(FourierClaim, ActivationClaimsShareOneForwardPassOverTheGrid) {
  const ClaimFile file = parse_claim_file(shipped_document(), "claims/modular_addition.json");
  const HookedTransformer model = s1_model(at::Tensor());
  const std::vector<Claim> claims = parse_claims(file, s1(), model.config);
  EXPECT_TRUE(fourier_reads(claims[1]).hooks.empty());  // weights
  EXPECT_TRUE(fourier_reads(claims[8]).hooks.empty());  // the logits
  EXPECT_TRUE(fourier_reads(claims[8]).logits);
  EXPECT_EQ(fourier_reads(claims[9]).hooks, std::vector<HookPoint>{spec_of<FourierSpec>(claims[9].spec).source.hook});
  SharedRuns shared;
  for (const Claim& c : claims) shared.plan(c, "checkpoint");
  int64_t visits = 0;
  for (const Claim& c : claims) {
    SCOPED_TRACE(c.id);
    const Outcome together = run_claim(s1(), c, model, "checkpoint", &shared);
    shared.release(c, "checkpoint");
    if (!c.domain.exhaustive) continue;  // weights, or a sample run by passes of its own (the circuit claim)
    const bool edits = c.kind == find_kind("fourier") &&
                       spec_of<FourierSpec>(c.spec).measure == FourierMeasure::kRestrictedExcluded;
    visits += edits ? 2 : 1;
    const Outcome alone = run_claim(s1(), c, model, "checkpoint");
    ASSERT_EQ(together.checks.size(), alone.checks.size());
    for (std::size_t i = 0; i < alone.checks.size(); ++i)
      // Float32 rounding: the shared pass and a run of its own need not
      // compute the logits in the same matrix shapes, and BLAS rounds some
      // shapes differently on some CPUs (logit_fit_r2 1.63737332e-09 against
      // 1.63737354e-09 on one, equal on another).
      EXPECT_NEAR(together.checks[i].value, alone.checks[i].value, 1e-6 * std::max(1.0, std::abs(alone.checks[i].value)))
          << alone.checks[i].name;
  }
  EXPECT_EQ(visits, 9);
  EXPECT_EQ(shared.batches_run(), 16);
  EXPECT_EQ(shared.batches_replayed(), 16 * (visits - 1));
  EXPECT_EQ(shared.kept_bytes(), 0);
}

// A reader at a role (source_reads: S1's neurons at "=") lets the shared
// runs start the last layer there: the kept hook covers [2, 3), a third of
// every position's, and source_matrix indexes it from the end to the same
// rows as runs that cover every position. A reader at every position is not
// served by those runs: its visit runs its own.
TEST(FourierClaim, ReadersAtARoleKeepTheLastLayerFromThatRoleOn) {
  const ClaimFile file = parse_claim_file(shipped_document(), "claims/modular_addition.json");
  const HookedTransformer model = s1_model(at::Tensor());
  const std::vector<Claim> claims = parse_claims(file, s1(), model.config);
  const Claim& neurons = claims[9];
  ASSERT_EQ(neurons.id, "neurons_restricted_excluded");
  const MatrixSource& source = spec_of<FourierSpec>(neurons.spec).source;
  const PlainReads at_role = fourier_reads(neurons);
  EXPECT_EQ(at_role.roles, std::vector<std::string>{"equals"});
  PlainReads every_position = at_role;
  every_position.roles.clear();
  const Scale scale = scale_for(s1(), model.config);
  SharedRuns shared;
  for (const Claim& c : claims) shared.plan(c, "checkpoint");
  const auto visit_shared = [&](const Domain& d, const PlainReads& reads, const RunVisitor& fn,
                                const std::function<bool()>& done) {
    shared.visit(s1(), model, "checkpoint", scale, d, reads, [&](const Batch& b, const RunResult& r) {
      EXPECT_EQ(r.cache.at(source.hook).size(1), reads.roles.empty() ? 3 : 1);
      fn(b, r);
    }, done);
  };
  const auto every = [&](const Domain& d, const PlainReads&, const RunVisitor& fn, const std::function<bool()>& done) {
    visit_shared(d, every_position, fn, done);
  };
  const at::Tensor kept = source_matrix(model, source, neurons.domain, visit_shared);
  const int64_t run = shared.batches_run();
  EXPECT_EQ(run, 16);
  const at::Tensor full = source_matrix(model, source, neurons.domain, every);
  EXPECT_EQ(shared.batches_run(), 2 * run);  // not covered by the kept runs
  EXPECT_EQ(kept.sizes(), full.sizes());
  EXPECT_TRUE(at::allclose(kept, full, 1e-5, 1e-6)) << (kept - full).abs().max().item<double>();
  EXPECT_GT(kept.abs().sum().item<double>(), 0.0);
}

TEST(FourierClaimParser, MalformedClaimsNameTheFileAndThePath) {
  const Config config = s1().config(Scale::kCpu);
  for (const auto& c : malformed_cases()) {
    SCOPED_TRACE(c.name);
    json d = shipped_document();
    c.mutate(d);
    const std::string expected = "claims/modular_addition.json: " + c.message;
    const std::string error = testing_util::claim_parse_error(d, "claims/modular_addition.json", config);
    EXPECT_EQ(error.rfind(expected, 0), 0u) << error << "\nexpected: " << expected;
  }
}

TEST(FourierClaimParser, OnlyModularAdditionHasACyclicInput) {
  json d = shipped_document();
  d["system"] = "array_index";
  d["claims"] = json::array({d["claims"][1]});
  const std::string error =
      testing_util::claim_parse_error(d, "claims/s2.json", find_task("array_index").config(Scale::kCpu));
  EXPECT_EQ(error.rfind("claims/s2.json: /claims/0/kind: fourier claims are over a task's cyclic input", 0), 0u) << error;
}

// The shipped S1 claim file through the CLI: SpecMatchesBuiltin in
// task_spec_claims_test.cpp; on the reference checkpoint: ShippedClaimsOnReference
// in claims_test.cpp.

}  // namespace
}  // namespace circuitcheck
