// Claims on a dataset task (tasks/dataset.h): its domains, and claims that
// hold on ckkissane's min_int model (examples/min_int) and fail on a dataset
// where the mechanism they name is absent.
#include "circuits/claims/claim.h"
#include "circuits/claims/domain.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/dataset.h"
#include "tests/claims/claim_test_util.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

namespace circuitcheck {
namespace {

using nlohmann::json;

Dataset min_int_dataset() { return read_dataset(testing_util::source_dir() + "/examples/min_int/min_int.jsonl"); }

json claim_file_with(const json& claim) {
  return {{"schema", "circuitcheck.claims/1"}, {"task", "min_int.jsonl"}, {"checkpoint", "x"}, {"claims", {claim}}};
}

json accuracy_claim(const json& domain) {
  return {{"id", "accuracy"}, {"hypothesis", "h"}, {"kind", "behaviour"}, {"domain", domain}, {"pass", {{"rate_at_least", 0.99}}}};
}

TEST(DatasetDomain, AllRowsInOrderOrASampleWithoutReplacement) {
  const Task task = dataset_task(min_int_dataset(), "min_int");
  Domain all;
  all.all = true;
  all.sample = *task.domain_size;
  std::vector<int64_t> first;
  for_each_batch(task, all, Scale::kCpu, [&](const Batch& b) {
    for (int64_t i = 0; i < b.tokens.size(0); ++i) first.push_back(b.tokens[i][0].item<int64_t>());
  });
  ASSERT_EQ(static_cast<int64_t>(first.size()), 2000);
  EXPECT_EQ(first[0], 120);  // the file's first line
  Domain sampled{false, 1500, 9};
  std::set<std::vector<int64_t>> seen;
  int64_t n = 0;
  for_each_batch(task, sampled, Scale::kCpu, [&](const Batch& b) {
    const at::Tensor rows = b.tokens.contiguous();
    for (int64_t i = 0; i < rows.size(0); ++i, ++n)
      seen.insert(std::vector<int64_t>(rows[i].data_ptr<int64_t>(), rows[i].data_ptr<int64_t>() + 3));
  });
  EXPECT_EQ(n, 1500);
  // Pairs repeat in the file only where two of its rows are the same question.
  std::set<std::vector<int64_t>> file;
  const at::Tensor all_rows = task.domain_batch(0, 2000).tokens.contiguous();
  for (int64_t i = 0; i < 2000; ++i)
    file.insert(std::vector<int64_t>(all_rows[i].data_ptr<int64_t>(), all_rows[i].data_ptr<int64_t>() + 3));
  EXPECT_GE(static_cast<int64_t>(seen.size()), 1500 - (2000 - static_cast<int64_t>(file.size())));
  Domain ties{false, 6, 1, "order", 2};
  int64_t tied = 0;
  for_each_batch(task, ties, Scale::kCpu, [&](const Batch& b) {
    tied += b.tokens.size(0);
    EXPECT_TRUE(at::equal(b.tokens.select(1, 0), b.tokens.select(1, 1)));
  });
  EXPECT_EQ(tied, 6);  // every a = b row of the file
}

// The first `n` rows of min_int's dataset, repeated as often as it takes.
Task min_int_rows(int64_t n) {
  Dataset d = min_int_dataset();
  Batch rows = d.examples;
  while (rows.tokens.size(0) < n) rows = concat_batches(rows, d.examples, "min_int_rows");
  d.examples = slice_rows(rows, 0, n);
  return dataset_task(d, "min_int");
}

struct SliceCase {
  int64_t rows;
  std::vector<int64_t> slices;  // of 256
};

class DatasetSlices : public ::testing::TestWithParam<SliceCase> {};

// Slices run across for_each_batch's batches of 4096 and never leave one row
// alone, which no row could take its counterfactual from.
TEST_P(DatasetSlices, NeverLeaveOneRowAlone) {
  const Task task = min_int_rows(GetParam().rows);
  Domain all;
  all.all = true;
  all.sample = GetParam().rows;
  std::vector<int64_t> sizes;
  int64_t first = 0;
  for_each_slice(task, all, Scale::kCpu, 256, [&](const Batch& b) {
    EXPECT_TRUE(at::equal(b.tokens, task.domain_batch(first, b.tokens.size(0)).tokens)) << "slice at " << first;
    first += b.tokens.size(0);
    sizes.push_back(b.tokens.size(0));
  });
  EXPECT_EQ(sizes, GetParam().slices);
}

INSTANTIATE_TEST_SUITE_P(Table, DatasetSlices,
                         ::testing::Values(SliceCase{1, {1}}, SliceCase{2, {2}}, SliceCase{256, {256}},
                                           SliceCase{257, {129, 128}}, SliceCase{258, {256, 2}},
                                           SliceCase{513, {256, 129, 128}},
                                           SliceCase{4097, {256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
                                                            256, 256, 256, 256, 129, 128}}));

// A role counterfactual (min taken from another row) on every row of a
// dataset of 257 rows: the last slice used to hold one row and fail.
TEST(DatasetClaims, RoleCounterfactualOnEveryRowOfAnOddDataset) {
  Checkpoint ck = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt"));
  const Task task = min_int_rows(257);
  const json claim = {{"id", "head_carries_min"},
                      {"hypothesis", "h"},
                      {"kind", "patching"},
                      {"counterfactual", "min"},
                      {"sites", {{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}}}},
                      {"domain", {{"all", true}}},
                      {"pass", {{"value_at_least", 0.9}}}};
  const ClaimFile file = parse_claim_file(claim_file_with(claim), "ex/claims.json");
  ControlCache controls{&ck.model, {}};
  const ClaimResult r = verify_claim(task, parse_claims(file, task, ck.model.config).at(0), ck.model, controls);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.explanation;
  EXPECT_NE(r.explanation.find("over 257 examples"), std::string::npos) << r.explanation;
}

// A scrubbed role site takes its donor's activation at the donor's own role
// positions: with the role at position 0 in even rows and 1 in odd ones, and
// the feature the token there, every scrubbed embedding is the example's own,
// so the scrubbed loss is the model's. At the base's positions it would be
// another token's embedding, and the loss would move.
TEST(DatasetClaims, AScrubbedRoleSiteReadsTheDonorAtItsOwnRolePositions) {
  Checkpoint ck = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt"));
  Dataset d = min_int_dataset();
  const at::Tensor role = at::arange(d.size(), at::kLong) % 2;
  d.examples.roles["r"] = role;
  d.examples.classes["tok"] = d.examples.tokens.gather(1, role.unsqueeze(1)).squeeze(1);
  const Task task = dataset_task(d, "min_int");
  const json claim = {{"id", "embedding_is_its_token"},
                      {"hypothesis", "h"},
                      {"kind", "scrubbing"},
                      {"sites", {{{"hook", "hook_embed"}, {"role", "r"}, {"feature", "tok"}}}},
                      {"domain", {{"all", true}}},
                      {"pass", {{"value_at_least", 0.5}}}};
  const ClaimFile file = parse_claim_file(claim_file_with(claim), "ex/claims.json");
  ControlCache controls{&ck.model, {}};
  const ClaimResult r = verify_claim(task, parse_claims(file, task, ck.model.config).at(0), ck.model, controls);
  std::map<std::string, double> value;
  for (const Check& c : r.checkpoint.checks) value[c.name] = c.value;
  EXPECT_EQ(value.at("loss scrubbed"), value.at("loss model")) << r.explanation;
  EXPECT_GT(value.at("loss random"), value.at("loss model") + 1.0) << r.explanation;
}

struct DatasetDomainError {
  std::string name;
  json domain;
  std::string message;
};

void PrintTo(const DatasetDomainError& c, std::ostream* os) { *os << c.name; }

class DatasetDomainErrors : public ::testing::TestWithParam<DatasetDomainError> {};

TEST_P(DatasetDomainErrors, NameThePointer) {
  const Task task = dataset_task(min_int_dataset(), "min_int");
  EXPECT_EQ(testing_util::claim_parse_error(claim_file_with(accuracy_claim(GetParam().domain)), "ex/claims.json",
                                            task.config(Scale::kCpu), &task),
            GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DatasetDomainErrors,
    ::testing::Values(
        DatasetDomainError{"Exhaustive", {{"exhaustive", true}},
                           "ex/claims.json: /claims/0/domain/exhaustive: min_int is a dataset, itself a sample of its "
                           "task; take all of its rows with {\"all\": true} or some with {\"sample\": N, \"seed\": S}"},
        DatasetDomainError{"MoreRowsThanItHas", {{"sample", 2001}, {"seed", 0}},
                           "ex/claims.json: /claims/0/domain/sample: 2001 out of range [1, 2000]"},
        DatasetDomainError{"AllFalse", {{"all", false}},
                           "ex/claims.json: /claims/0/domain/all: must be true; a sample of the rows is {\"sample\": "
                           "N, \"seed\": S}"},
        DatasetDomainError{"AllWithSeed", {{"all", true}, {"seed", 1}},
                           "ex/claims.json: /claims/0/domain/seed: unknown field (valid: all, where)"}),
    [](const auto& info) { return info.param.name; });

TEST(DatasetClaimFile, NamesExactlyOneOfSystemAndTask) {
  json both = claim_file_with(accuracy_claim({{"all", true}}));
  both["system"] = "S1";
  EXPECT_EQ(testing_util::claim_parse_error(both, "ex/claims.json", Config{}),
            "ex/claims.json: expected one of 'system' (a built-in task) and 'task' (a task file)");
  json spec = claim_file_with(accuracy_claim({{"all", true}}));
  spec["task"] = "task.txt";
  EXPECT_EQ(testing_util::claim_parse_error(spec, "ex/claims.json", Config{}),
            "ex/claims.json: /task: a task file is a dataset (.safetensors, .jsonl) or a task spec (.json)");
  json missing = claim_file_with(accuracy_claim({{"all", true}}));
  missing["task"] = "none.jsonl";
  EXPECT_NE(testing_util::claim_parse_error(missing, "ex/claims.json", Config{}).find("ex/claims.json: /task: "),
            std::string::npos);
}

TEST(DatasetClaimFile, PropertyClaimsNeedAGenerator) {
  const Task task = dataset_task(min_int_dataset(), "min_int");
  const json property = {{"id", "p"},
                         {"hypothesis", "h"},
                         {"kind", "property"},
                         {"predicate", {{"correct", true}}},
                         {"domain", {{"sample", 10}, {"seed", 0}}},
                         {"pass", {{"rate_at_least", 0.9}}}};
  EXPECT_NE(testing_util::claim_parse_error(claim_file_with(property), "ex/claims.json", task.config(Scale::kCpu), &task)
                .find("'min_int' is a dataset; property claims need a task that generates examples"),
            std::string::npos);
}

// The shipped example's claims hold on the model; on a dataset whose targets
// are max(a, b) instead (the mechanism the claims name is absent) the
// accuracy and attention claims fail.
TEST(DatasetClaims, HoldOnMinIntAndFailWhereTheMechanismIsAbsent) {
  const std::string root = testing_util::source_dir() + "/examples/min_int";
  Checkpoint ck = load_checkpoint(testing_util::fixture("external/ckk_min_int/model.pt"));
  const ClaimFile file = read_claim_file(root + "/claims/min_int.json");
  Dataset swapped = min_int_dataset();
  const at::Tensor a = swapped.examples.tokens.select(1, 0), b = swapped.examples.tokens.select(1, 1);
  swapped.examples.targets.select(1, 2).copy_(at::max(a, b));
  std::swap(swapped.examples.roles.at("min"), swapped.examples.roles.at("max"));
  const Task real = *claim_task(file);
  const Task wrong = dataset_task(swapped, "max_int");
  ControlCache controls{&ck.model, {}};
  for (const Claim& claim : parse_claims(file, real, ck.model.config)) {
    const ClaimResult holds = verify_claim(real, claim, ck.model, controls);
    EXPECT_EQ(holds.verdict, Verdict::kPass) << claim.id << ": " << holds.explanation;
    if (claim.id != "accuracy" && claim.id != "head_attends_to_min") continue;
    const ClaimResult fails = verify_claim(wrong, claim, ck.model, controls);
    EXPECT_EQ(fails.verdict, Verdict::kFail) << claim.id << ": " << fails.explanation;
  }
}

struct BuiltinClaim {
  std::string system;
  std::string id;
};

void PrintTo(const BuiltinClaim& c, std::ostream* os) { *os << c.system << "/" << c.id; }

class DatasetMatchesBuiltin : public ::testing::TestWithParam<BuiltinClaim> {};

// The rows a shipped claim visits on its built-in task, written as a dataset
// (write_dataset, read back) and claimed on with {"all": true}, give the same
// verdict and the same checks on the checkpoint and on every control: the
// kinds that take [N, K] roles, items and classes (item_patching, probe,
// geometry) run on a dataset as on the task.
TEST_P(DatasetMatchesBuiltin, SameVerdictAndChecksOnTheSameRows) {
  const std::string path = testing_util::source_dir() + "/claims/" + GetParam().system + ".json";
  const ClaimFile builtin_file = read_claim_file(path);
  const std::shared_ptr<const Task> builtin = claim_task(builtin_file);
  Checkpoint ck = load_checkpoint(builtin_file.checkpoint);
  json document = builtin_file.document;
  json claim_json;
  for (const json& c : document["claims"])
    if (c["id"] == GetParam().id) claim_json = c;
  ASSERT_FALSE(claim_json.is_null()) << GetParam().id;
  document["claims"] = {claim_json};
  const Claim claim = parse_claims(parse_claim_file(document, path), *builtin, ck.model.config).at(0);
  std::optional<Batch> rows;
  for_each_batch(*builtin, claim.domain, Scale::kCpu,
                 [&](const Batch& b) { rows = rows ? concat_batches(*rows, b, "rows") : b; });
  const std::string dataset_path =
      testing_util::scratch_dir("DatasetMatchesBuiltin_" + GetParam().id) + "/rows.safetensors";
  write_dataset(Dataset{"the rows of " + GetParam().id, *rows, {}}, dataset_path);
  document.erase("system");
  document["task"] = dataset_path;
  document["claims"][0]["domain"] = {{"all", true}};
  const ClaimFile dataset_file = parse_claim_file(document, path);
  const std::shared_ptr<const Task> dataset = claim_task(dataset_file);
  ControlCache controls{&ck.model, {}};
  const ClaimResult a = verify_claim(*builtin, claim, ck.model, controls);
  const ClaimResult b =
      verify_claim(*dataset, parse_claims(dataset_file, *dataset, ck.model.config).at(0), ck.model, controls);
  EXPECT_EQ(a.verdict, Verdict::kPass) << a.explanation;
  EXPECT_EQ(b.verdict, Verdict::kPass) << b.explanation;
  ASSERT_EQ(a.controls.size(), b.controls.size());
  for (std::size_t i = 0; i <= a.controls.size(); ++i) {
    const Outcome& x = i == 0 ? a.checkpoint : a.controls[i - 1];
    const Outcome& y = i == 0 ? b.checkpoint : b.controls[i - 1];
    ASSERT_EQ(x.checks.size(), y.checks.size()) << x.model;
    for (std::size_t k = 0; k < x.checks.size(); ++k) {
      EXPECT_EQ(x.checks[k].name, y.checks[k].name) << x.model;
      EXPECT_NEAR(x.checks[k].value, y.checks[k].value, 1e-9) << x.model << " " << x.checks[k].name;
      EXPECT_EQ(x.checks[k].pass, y.checks[k].pass) << x.model << " " << x.checks[k].name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shipped, DatasetMatchesBuiltin,
                         ::testing::Values(BuiltinClaim{"variable_renaming", "depth_needs_layers"},
                                           BuiltinClaim{"tree_path", "parent_readable_after_layer_0"},
                                           BuiltinClaim{"arithmetic", "carry_node_A3_addition_clusters"}),
                         [](const auto& info) { return info.param.id; });

}  // namespace
}  // namespace circuitcheck
