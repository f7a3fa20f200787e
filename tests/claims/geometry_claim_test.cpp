// Spectrum and geometry claims: singular-value energy, principal components,
// silhouettes and cosines against known answers; claims on hand-set models (a
// rank-3 embedding, planted clusters, orthogonal and near-parallel
// embeddings) that pass, and their opposites (random, shuffled labels) that
// fail; the parser's errors.
#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"
#include "circuits/claims/kinds/geometry_claim.h"
#include "circuits/claims/kinds/spectrum_claim.h"
#include "circuits/claims/verify.h"
#include "tests/claims/claim_test_util.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace circuitcheck {
namespace {

double mean_silhouette(const at::Tensor& points, const at::Tensor& labels) {
  return silhouettes(points, labels).mean().item<double>();
}

using nlohmann::json;

at::Tensor random_matrix(int64_t rows, int64_t columns, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, columns}, gen, at::kDouble);
}

TEST(SingularEnergy, KnownRankHoldsAllTheEnergy) {
  const at::Tensor rank3 = random_matrix(20, 3, 1).matmul(random_matrix(3, 16, 2));
  const at::Tensor shares = singular_energy(rank3, false);
  ASSERT_EQ(shares.size(0), 16);
  EXPECT_NEAR(shares.slice(0, 0, 3).sum().item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(shares.sum().item<double>(), 1.0, 1e-12);
  EXPECT_LT(singular_energy(random_matrix(20, 16, 3), false).slice(0, 0, 3).sum().item<double>(), 0.6);
  // A constant offset is one direction more, unless centred away.
  const at::Tensor shifted = rank3 + 4.0;
  EXPECT_LT(singular_energy(shifted, false).slice(0, 0, 3).sum().item<double>(), 1.0 - 1e-6);
  EXPECT_NEAR(singular_energy(shifted, true).slice(0, 0, 3).sum().item<double>(), 1.0, 1e-12);
  EXPECT_EQ(singular_energy(at::zeros({4, 3}), false).sum().item<double>(), 0.0);
}

TEST(Silhouette, MatchesAHandComputedValue) {
  // Points 0, 1 (label 0) and 10, 11 (label 1) on a line: a = 1 for each point;
  // b = 10.5, 9.5, 9.5, 10.5.
  const at::Tensor points = at::tensor({0.0, 1.0, 10.0, 11.0}, at::kDouble).unsqueeze(1);
  const at::Tensor labels = at::tensor({0, 0, 1, 1}, at::kLong);
  const double expected = (9.5 / 10.5 + 8.5 / 9.5) / 2;
  EXPECT_NEAR(mean_silhouette(points, labels), expected, 1e-12);
  // Labels need not be 0..n-1; a point alone in its label scores 0.
  EXPECT_NEAR(mean_silhouette(points, at::tensor({7, 7, 3, 3}, at::kLong)), expected, 1e-12);
  const at::Tensor three = at::tensor({0, 0, 1, 2}, at::kLong);
  const double b0 = 10.0, b1 = 9.0;  // nearest other labels: {10} for 0 and 1
  EXPECT_NEAR(mean_silhouette(points, three), ((b0 - 1) / b0 + (b1 - 1) / b1) / 4, 1e-12);
  EXPECT_THROW(mean_silhouette(points, at::zeros({4}, at::kLong)), InputError);
}

TEST(Silhouette, PlantedClustersSeparateAndShuffledLabelsDoNot) {
  // 3 clusters of 200 points in 5-D, centres 10 apart, unit noise.
  const at::Tensor labels = at::arange(600, at::kLong) % 3;
  const at::Tensor centres = 10.0 * random_matrix(3, 5, 4).sign();
  const at::Tensor points = centres.index_select(0, labels) + random_matrix(600, 5, 5);
  const at::Tensor projected = principal_components(points, 2);
  ASSERT_EQ(projected.sizes(), (at::IntArrayRef{600, 2}));
  EXPECT_GT(mean_silhouette(projected, labels), 0.7);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(6);
  const at::Tensor shuffled = labels.index_select(0, at::randperm(600, gen, at::TensorOptions().dtype(at::kLong)));
  EXPECT_LT(std::abs(mean_silhouette(projected, shuffled)), 0.1);
  EXPECT_THROW(principal_components(points, 6), InputError);
}

TEST(CosineMatrix, OrthogonalRowsAreZeroAndParallelRowsOne) {
  const at::Tensor orthogonal = 3.0 * at::eye(5, 8, at::kDouble);
  EXPECT_TRUE(at::allclose(cosine_matrix(orthogonal), at::eye(5, at::kDouble)));
  const at::Tensor parallel = at::ones({4, 8}, at::kDouble) + 0.01 * random_matrix(4, 8, 7);
  EXPECT_GT(cosine_matrix(parallel).min().item<double>(), 0.99);
  EXPECT_EQ(cosine_matrix(at::zeros({2, 3}))[0][1].item<double>(), 0.0);
}

// ---------------------------------------------------------------------------
// A toy task with classes: two tokens from a vocabulary of 6; "group" is
// first / 3, "parity" first % 2 (unrelated to the group), "both" [batch, 2]
// the group of each token. The model is a 1-layer attention-only one whose
// embedding is planted per test.

constexpr int64_t kVocab = 6, kCtx = 2, kModel = 8;

Config toy_config() {
  return config_from_json({{"n_layers", 1}, {"d_model", kModel}, {"n_heads", 1}, {"d_head", 4}, {"n_ctx", kCtx},
                           {"d_vocab", kVocab}, {"d_vocab_out", kVocab}, {"d_mlp", nullptr}, {"act_fn", nullptr},
                           {"attn_only", true}, {"normalization_type", nullptr}},
                          "toy_config");
}

Batch toy_batch(const at::Tensor& tokens) {
  const int64_t n = tokens.size(0);
  Batch b;
  b.tokens = tokens;
  b.targets = at::full({n, kCtx}, -1, at::kLong);
  b.targets.select(1, 1).copy_(tokens.select(1, 0));
  b.roles["first"] = fixed_role(n, 0);
  b.roles["tokens"] = fixed_roles(n, {0, 1});
  b.classes["group"] = at::div(tokens.select(1, 0), 3, "floor");
  b.classes["parity"] = tokens.select(1, 0) % 2;
  b.classes["both"] = at::div(tokens, 3, "floor");
  return b;
}

Task toy_task() {
  Task t;
  t.name = "toy_groups";
  t.alias = "T1";
  t.classes = {{"both", false, {}}, {"group", true, {"low", "high"}}, {"parity", true, {}}};
  t.config = [](Scale) { return toy_config(); };
  t.sample = [](int64_t n, uint64_t seed, Scale) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> values(static_cast<std::size_t>(n * kCtx));
    for (auto& v : values) v = uniform_int(rng, kVocab);
    return toy_batch(to_tensor(values, {n, kCtx}));
  };
  t.domain_size = kVocab * kVocab;
  t.domain_batch = [](int64_t start, int64_t count) {
    std::vector<int64_t> values;
    for (int64_t i = start; i < start + count; ++i) values.insert(values.end(), {i / kVocab, i % kVocab});
    return toy_batch(to_tensor(values, {count, kCtx}));
  };
  return t;
}

// TL's random init with W_E replaced by `embedding` [6, 8].
HookedTransformer toy_model(const at::Tensor& embedding) {
  TensorMap params = init_params(toy_config(), 3);
  if (embedding.defined()) params["embed.W_E"] = embedding.to(at::kFloat);
  return make_model(toy_config(), params, "toy_model");
}

json toy_file(const json& claims) {
  return {{"schema", "circuitcheck.claims/1"}, {"system", "toy_groups"}, {"checkpoint", "x.safetensors"},
          {"claims", claims}};
}

ClaimResult verify_one(const json& claim, const HookedTransformer& model) {
  const Task task = toy_task();
  const ClaimFile file = parse_claim_file(toy_file(json::array({claim})), "toy/claims.json");
  ControlCache controls{&model, {}};
  return verify_claim(task, parse_claims(file, task, model.config).at(0), model, controls);
}

// Tokens 0..2 near one point, 3..5 near another, 12 apart.
at::Tensor clustered_embedding() {
  at::Tensor e = 0.3 * random_matrix(kVocab, kModel, 8);
  e.slice(0, 0, 3).select(1, 0) += 6.0;
  e.slice(0, 3, 6).select(1, 0) -= 6.0;
  return e;
}

json silhouette_claim(const std::string& cls) {
  return {{"id", "clusters"}, {"hypothesis", "the first token's embedding clusters by " + cls}, {"kind", "geometry"},
          {"measure", "silhouette"}, {"source", {{"activation", "hook_embed"}, {"role", "first"}}}, {"class", cls},
          {"domain", {{"sample", 300}, {"seed", 1}}}, {"pass", {{"value_at_least", 0.8}}}};
}

TEST(GeometryClaim, PlantedClustersPassAndShuffledLabelsFail) {
  const HookedTransformer model = toy_model(clustered_embedding());
  const ClaimResult by_group = verify_one(silhouette_claim("group"), model);
  EXPECT_EQ(by_group.verdict, Verdict::kPass) << by_group.explanation;
  EXPECT_GT(by_group.checkpoint.checks.at(0).value, 0.9);
  ASSERT_EQ(by_group.checkpoint.figures.size(), 1u);
  const Figure& scatter = by_group.checkpoint.figures[0];
  EXPECT_EQ(scatter.type, "scatter");
  EXPECT_EQ(scatter.values.size(), 300u);
  EXPECT_EQ(scatter.series, (std::vector<std::string>{"low", "high"}));
  EXPECT_EQ(scatter.classes.size(), 300u);

  const ClaimResult by_parity = verify_one(silhouette_claim("parity"), model);
  EXPECT_EQ(by_parity.verdict, Verdict::kFail) << by_parity.explanation;
  EXPECT_LT(by_parity.checkpoint.checks.at(0).value, 0.3);
}

TEST(GeometryClaim, ItemClassesPairWithItemRoles) {
  json claim = silhouette_claim("both");
  claim["source"]["role"] = "tokens";
  const ClaimResult r = verify_one(claim, toy_model(clustered_embedding()));
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.explanation;
  EXPECT_NE(r.explanation.find("over 600 items"), std::string::npos) << r.explanation;
}

// class_item picks one item of a [batch, k] class as each example's label:
// item 0 of "both" is the first token's group (the planted clusters), item 1
// the second token's (unrelated to the first token's embedding).
TEST(GeometryClaim, ClassItemLabelsEachExampleByOneItem) {
  const HookedTransformer model = toy_model(clustered_embedding());
  json first = silhouette_claim("both");
  first["class_item"] = 0;
  const ClaimResult by_first = verify_one(first, model);
  EXPECT_EQ(by_first.verdict, Verdict::kPass) << by_first.explanation;
  EXPECT_DOUBLE_EQ(by_first.checkpoint.checks.at(0).value,
                   verify_one(silhouette_claim("group"), model).checkpoint.checks.at(0).value);
  EXPECT_NE(by_first.explanation.find("silhouette by both[0] of hook_embed"), std::string::npos) << by_first.explanation;
  json second = silhouette_claim("both");
  second["class_item"] = 1;
  const ClaimResult by_second = verify_one(second, model);
  EXPECT_EQ(by_second.verdict, Verdict::kFail) << by_second.explanation;
  EXPECT_LT(by_second.checkpoint.checks.at(0).value, 0.3);
}

json cosine_claim() {
  return {{"id", "orthogonal"}, {"hypothesis", "token embeddings are near orthogonal"}, {"kind", "geometry"},
          {"measure", "cosines"}, {"source", {{"param", "embed.W_E"}}}, {"pass", {{"value_at_most", 0.1}}}};
}

TEST(GeometryClaim, OrthogonalEmbeddingsPassTheCosineBoundAndParallelOnesFail) {
  const ClaimResult orthogonal = verify_one(cosine_claim(), toy_model(2.0 * at::eye(kVocab, kModel, at::kDouble)));
  EXPECT_EQ(orthogonal.verdict, Verdict::kPass) << orthogonal.explanation;
  EXPECT_NEAR(orthogonal.checkpoint.checks.at(0).value, 0.0, 1e-6);
  EXPECT_EQ(orthogonal.checkpoint.checks.at(1).name, "max_abs_cosine");
  EXPECT_EQ(orthogonal.checkpoint.figures.at(0).type, "heatmap");
  EXPECT_EQ(orthogonal.checkpoint.figures.at(0).values.size(), static_cast<std::size_t>(kVocab));

  const at::Tensor parallel = at::ones({kVocab, kModel}, at::kDouble) + 0.05 * random_matrix(kVocab, kModel, 9);
  const ClaimResult near_parallel = verify_one(cosine_claim(), toy_model(parallel));
  EXPECT_EQ(near_parallel.verdict, Verdict::kFail) << near_parallel.explanation;
  EXPECT_GT(near_parallel.checkpoint.checks.at(0).value, 0.9);
}

TEST(SpectrumClaim, KnownRankPassesAndRandomFails) {
  const json claim = {{"id", "rank3"}, {"hypothesis", "W_E has rank 3"}, {"kind", "spectrum"},
                      {"source", {{"param", "embed.W_E"}}}, {"k", 3}, {"pass", {{"value_at_least", 0.99}}}};
  const ClaimResult low = verify_one(claim, toy_model(random_matrix(kVocab, 3, 10).matmul(random_matrix(3, kModel, 11))));
  EXPECT_EQ(low.verdict, Verdict::kPass) << low.explanation;
  EXPECT_NEAR(low.checkpoint.checks.at(0).value, 1.0, 1e-6);
  const Figure& bars = low.checkpoint.figures.at(0);
  EXPECT_EQ(bars.type, "bars");
  EXPECT_EQ(bars.x_labels.size(), static_cast<std::size_t>(kVocab));
  EXPECT_EQ(bars.reference, std::vector<double>{0.99});

  const ClaimResult random = verify_one(claim, toy_model(at::Tensor()));
  EXPECT_EQ(random.verdict, Verdict::kFail) << random.explanation;
}

TEST(SpectrumClaim, ActivationsOverADomainAndProducts) {
  // hook_embed rows over all 36 examples are W_E's rows: the same spectrum.
  const HookedTransformer model = toy_model(random_matrix(kVocab, 2, 12).matmul(random_matrix(2, kModel, 13)));
  const json activation = {{"id", "embed_rank2"}, {"hypothesis", "embeddings span 2 directions"}, {"kind", "spectrum"},
                           {"source", {{"activation", "hook_embed"}, {"role", "first"}}}, {"k", 2},
                           {"domain", {{"exhaustive", true}}}, {"pass", {{"value_at_least", 0.99}}}};
  EXPECT_EQ(verify_one(activation, model).verdict, Verdict::kPass);
  const json product = {{"id", "ov_rank2"}, {"hypothesis", "the OV circuit of W_E has rank <= 2"}, {"kind", "spectrum"},
                        {"source", {{"product", {{{"param", "embed.W_E"}}, {{"param", "blocks.0.attn.W_V"}, {"head", 0}},
                                                 {{"param", "blocks.0.attn.W_O"}, {"head", 0}}}}}},
                        {"k", 2}, {"pass", {{"value_at_least", 0.99}}}};
  const ClaimResult ov = verify_one(product, model);
  EXPECT_EQ(ov.verdict, Verdict::kPass) << ov.explanation;
  EXPECT_NE(ov.explanation.find("embed.W_E @ blocks.0.attn.W_V[head 0] @ blocks.0.attn.W_O[head 0]"), std::string::npos)
      << ov.explanation;
}

// ---------------------------------------------------------------------------
// Malformed geometry and spectrum claims: one InputError naming the file and the JSON pointer.

struct Malformed {
  std::string name;
  std::function<void(json&)> mutate;
  std::string message;  // the error starts with "toy/claims.json: " + message
};

json valid_claims() {
  json spectrum = {{"id", "spectrum"}, {"hypothesis", "low rank"}, {"kind", "spectrum"},
                   {"source", {{"param", "embed.W_E"}, {"rows", {0, 1, 2}}}}, {"k", 2}, {"pass", {{"value_at_least", 0.5}}}};
  return {silhouette_claim("group"), cosine_claim(), spectrum};
}

std::vector<Malformed> malformed_cases() {
  return {
      {"unknown_measure", [](json& d) { d["claims"][0]["measure"] = "pca"; },
       "/claims/0/measure: unknown measure 'pca' (valid: cosines, silhouette)"},
      {"unknown_class", [](json& d) { d["claims"][0]["class"] = "depth"; },
       "/claims/0/class: unknown class 'depth' (valid: both, group, parity)"},
      {"missing_class", [](json& d) { d["claims"][0].erase("class"); }, "/claims/0: missing field 'class'"},
      {"item_class_on_example_role", [](json& d) { d["claims"][0]["class"] = "both"; },
       "/claims/0/class: class 'both' has 2 values per example but role 'first' has 1 position"},
      {"class_item_of_example_class", [](json& d) { d["claims"][0]["class_item"] = 0; },
       "/claims/0/class_item: class 'group' has one value per example; only a class with several"},
      {"class_item_out_of_range",
       [](json& d) {
         d["claims"][0]["class"] = "both";
         d["claims"][0]["class_item"] = 2;
       },
       "/claims/0/class_item: 2 out of range [0, 1]"},
      {"class_item_on_cosines", [](json& d) { d["claims"][1]["class_item"] = 0; },
       "/claims/1/class_item: only the silhouette measure takes class_item"},
      {"components_zero", [](json& d) { d["claims"][0]["components"] = 0; },
       "/claims/0/components: 0 out of range [1, 1024]"},
      {"silhouette_of_weights", [](json& d) { d["claims"][0]["source"] = {{"param", "embed.W_E"}}; },
       "/claims/0/source: a silhouette clusters activations by a class"},
      {"unknown_role", [](json& d) { d["claims"][0]["source"]["role"] = "last"; },
       "/claims/0/source/role: unknown role 'last' (valid: first, tokens)"},
      {"head_of_embed_hook", [](json& d) { d["claims"][0]["source"]["head"] = 0; },
       "/claims/0/source/head: hook_embed has no head dimension"},
      {"sampled_domain_missing", [](json& d) { d["claims"][0].erase("domain"); },
       "/claims/0: missing field 'domain' (an activation source runs on a domain)"},
      {"class_on_cosines", [](json& d) { d["claims"][1]["class"] = "group"; },
       "/claims/1/class: only the silhouette measure takes class"},
      {"rate_rule", [](json& d) { d["claims"][1]["pass"] = {{"rate_at_most", 0.1}}; },
       "/claims/1/pass/rate_at_most: unknown field"},
      {"no_threshold", [](json& d) { d["claims"][1]["pass"] = json::object(); },
       "/claims/1/pass: needs a threshold (value_at_least, value_at_most)"},
      {"column_out_of_range", [](json& d) { d["claims"][1]["source"]["columns"] = {{"from", 2}, {"to", 8}}; },
       "/claims/1/source/columns/to: 8 out of range [2, 7]"},
      {"rows_not_indices", [](json& d) { d["claims"][2]["source"]["rows"] = {0, "1"}; },
       "/claims/2/source/rows/1: expected an integer, got a string"},
      {"k_above_rank", [](json& d) { d["claims"][2]["k"] = 4; }, "/claims/2/k: 4 out of range [1, 3]"},
      {"missing_k", [](json& d) { d["claims"][2].erase("k"); }, "/claims/2: missing field 'k'"},
      {"source_not_object", [](json& d) { d["claims"][2]["source"] = "embed.W_E"; },
       "/claims/2/source: expected an object, got a string"},
      {"short_product", [](json& d) { d["claims"][2]["source"] = {{"product", json::array({json{{"param", "embed.W_E"}}})}}; },
       "/claims/2/source/product: a product needs at least two factors"},
      {"unknown_source_field", [](json& d) { d["claims"][2]["source"]["heads"] = 1; },
       "/claims/2/source/heads: unknown field"},
  };
}

TEST(GeometryClaimParser, MalformedClaimsNameTheFileAndThePath) {
  const Task task = toy_task();
  {
    const ClaimFile file = parse_claim_file(toy_file(valid_claims()), "toy/claims.json");
    ASSERT_EQ(parse_claims(file, task, toy_config()).size(), 3u);
  }
  for (const auto& c : malformed_cases()) {
    SCOPED_TRACE(c.name);
    json d = toy_file(valid_claims());
    c.mutate(d);
    const std::string expected = "toy/claims.json: " + c.message;
    const std::string error = testing_util::claim_parse_error(d, "toy/claims.json", toy_config(), &task);
    EXPECT_EQ(error.rfind(expected, 0), 0u) << error << "\nexpected: " << expected;
  }
}

}  // namespace
}  // namespace circuitcheck
