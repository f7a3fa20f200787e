// Datasets (tasks/dataset.h): both file forms read to the same task, bad
// files give one error naming the file and the tensor or JSON pointer, and a
// sample of rows is drawn without replacement.
#include "circuits/formats/error.h"
#include "circuits/formats/safetensors.h"
#include "circuits/tasks/dataset.h"
#include "circuits/tasks/evaluate.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

namespace circuitcheck {
namespace {

using testing_util::scratch_dir;
using testing_util::write_file;

// Three examples "x y =" whose target at '=' is max(x, y), with roles and classes.
const char* kLines =
    R"({"format": "circuitcheck.dataset/1", "vocab": ["0", "1", "2", "="], "class_names": {"order": ["x<y", "x>=y"]}})"
    "\n"
    R"({"tokens": [0, 2, 3], "targets": [-1, -1, 2], "roles": {"eq": 2, "xy": [0, 1]}, "classes": {"order": 0}, "counterfactuals": {"swap": [2, 0, 3]}})"
    "\n\n"
    R"({"tokens": [1, 0, 3], "targets": [-1, -1, 1], "roles": {"eq": 2, "xy": [0, 1]}, "classes": {"order": 1}, "counterfactuals": {"swap": [0, 1, 3]}})"
    "\n"
    R"({"tokens": [2, 1, 3], "targets": [-1, -1, 2], "roles": {"eq": 2, "xy": [0, 1]}, "classes": {"order": 1}, "counterfactuals": {"swap": [1, 2, 3]}})"
    "\n";

Dataset lines_dataset() { return parse_dataset_lines(kLines, "toy.jsonl"); }

void expect_same(const Dataset& a, const Dataset& b) {
  EXPECT_TRUE(at::equal(a.examples.tokens, b.examples.tokens));
  EXPECT_TRUE(at::equal(a.examples.targets, b.examples.targets));
  ASSERT_EQ(a.examples.roles.size(), b.examples.roles.size());
  for (const auto& [name, t] : a.examples.roles) EXPECT_TRUE(at::equal(t, b.examples.roles.at(name))) << name;
  for (const auto& [name, t] : a.examples.classes) EXPECT_TRUE(at::equal(t, b.examples.classes.at(name))) << name;
  for (const auto& [name, t] : a.examples.counterfactuals) EXPECT_TRUE(at::equal(t, b.examples.counterfactuals.at(name))) << name;
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.class_names, b.class_names);
  EXPECT_EQ(a.description, b.description);
}

TEST(Dataset, JsonLinesReadToTensors) {
  const Dataset d = lines_dataset();
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.positions(), 3);
  EXPECT_EQ(d.examples.roles.at("eq").sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(d.examples.roles.at("xy").sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(d.examples.classes.at("order")[1].item<int64_t>(), 1);
  EXPECT_EQ(d.examples.counterfactuals.at("swap")[2][1].item<int64_t>(), 2);
  EXPECT_EQ(d.vocab.size(), 4u);
}

TEST(Dataset, ConvertsBothWaysWithoutLoss) {
  const std::string dir = scratch_dir("DatasetConvert");
  const Dataset d = lines_dataset();
  write_dataset(d, dir + "/d.safetensors");
  const Dataset from_tensors = read_dataset(dir + "/d.safetensors");
  expect_same(d, from_tensors);
  write_dataset(from_tensors, dir + "/d.jsonl");
  expect_same(d, read_dataset(dir + "/d.jsonl"));
}

TEST(Dataset, TaskFitsItsDataAndWritesItsVocabulary) {
  const Task task = dataset_task(lines_dataset(), "toy");
  const Config need = task.config(Scale::kCpu);
  EXPECT_EQ(need.n_ctx, 3);
  EXPECT_EQ(need.d_vocab, 4);      // the vocabulary's size (token '=' is 3)
  EXPECT_EQ(need.d_vocab_out, 3);  // the largest target is 2
  EXPECT_EQ(task.domain_size, 3);
  EXPECT_EQ(task.detokenize(task.domain_batch(1, 1).tokens[0]), "1 0 =");
  EXPECT_TRUE(at::equal(task.tokenize("2 1 ="), task.domain_batch(2, 1).tokens[0]));
  EXPECT_FALSE(task.draw);  // no generator: property claims refuse a dataset
  EXPECT_THROW(task.sample(4, 0, Scale::kCpu), InputError);  // more rows than it has
  // A counterfactual's targets are predictions too (review: a target of 5000
  // there passed a model of 113 outputs, and the claim failed silently).
  Dataset with_targets = lines_dataset();
  with_targets.examples.counterfactual_targets["swap"] = at::full({3, 3}, -1, at::kLong);
  with_targets.examples.counterfactual_targets["swap"][0][2] = 7;
  EXPECT_EQ(dataset_task(with_targets, "toy").config(Scale::kCpu).d_vocab_out, 8);
}

// The worked examples' datasets (examples/*/make_dataset.py) hold what their
// READMEs say: min_int's target at '=' is min(a, b) and its roles point at the
// smaller and larger operand; sort_fixed_len_list's targets are the sorted list
// and `source` says where each sorted value sits; each counterfactual changes
// exactly what its name says.
TEST(Dataset, ExampleDatasetsHoldTheirTasks) {
  const std::string root = testing_util::source_dir() + "/examples/";
  const Batch m = read_dataset(root + "min_int/min_int.jsonl").examples;
  const at::Tensor a = m.tokens.select(1, 0), b = m.tokens.select(1, 1);
  EXPECT_TRUE(at::equal(m.targets.select(1, 2), at::min(a, b)));
  EXPECT_TRUE(at::equal(m.tokens.gather(1, m.roles.at("min").unsqueeze(1)).squeeze(1), at::min(a, b)));
  EXPECT_TRUE(at::equal(m.tokens.gather(1, m.roles.at("max").unsqueeze(1)).squeeze(1), at::max(a, b)));
  const at::Tensor raised = m.counterfactuals.at("raise_min");
  EXPECT_TRUE(at::equal(raised.gather(1, m.roles.at("max").unsqueeze(1)), m.tokens.gather(1, m.roles.at("max").unsqueeze(1))));
  const at::Tensor above = raised.gather(1, m.roles.at("min").unsqueeze(1)).squeeze(1) > at::max(a, b);
  const at::Tensor unchanged = (raised == m.tokens).all(1) & (at::max(a, b) == 199);  // nothing is above 199
  EXPECT_TRUE((above | unchanged).all().item<bool>());

  const Batch s = read_dataset(root + "sort_fixed_len_list/sort_fixed_len_list.jsonl").examples;
  const at::Tensor list = s.tokens.slice(1, 1, 11);
  EXPECT_TRUE(at::equal(s.targets.slice(1, 11, 21), std::get<0>(list.sort(1))));
  EXPECT_TRUE(at::equal(s.tokens.gather(1, s.roles.at("source")), s.targets.slice(1, 11, 21)));
  const at::Tensor changed = (s.counterfactuals.at("change_one") != s.tokens).sum(1);
  EXPECT_TRUE((changed == 1).all().item<bool>());
}

TEST(Dataset, WithoutVocabularyTokensPrintAsNumbers) {
  Dataset d = lines_dataset();
  d.vocab.clear();
  const Task task = dataset_task(d, "toy");
  EXPECT_EQ(task.detokenize(task.domain_batch(0, 1).tokens[0]), "0 2 3");
}

// With unit ids, each (example, id) group of scored positions is one unit of
// accuracy, broken down by the example's classes; a miss names its unit.
TEST(Dataset, UnitIdsGroupScoredPositions) {
  Dataset d;
  d.examples.tokens = at::zeros({2, 4}, at::kLong);
  d.examples.targets = at::tensor({1, 1, 1, 1, 1, 1, 1, -1}, at::kLong).view({2, 4});
  d.examples.units = at::tensor({0, 0, 1, 1, 0, 1, 1, 2}, at::kLong).view({2, 4});  // unit 2: no scored position
  d.examples.classes["kind"] = at::tensor({0, 1}, at::kLong);
  check_dataset(d, "units.jsonl");
  const Task task = dataset_task(d, "units");
  at::Tensor logits = at::zeros({2, 4, 2});
  logits.select(2, 1).fill_(1.0);  // predicts 1 everywhere ...
  logits[0][1][0] = 5.0;           // ... but 0 at example 0, position 1: unit 0 of example 0 is wrong
  Evaluation e = empty_evaluation(task);
  e.max_misses = 5;
  tally_batch(task, d.examples, logits, e);
  EXPECT_EQ(e.unit, "unit");
  EXPECT_EQ(e.overall.n, 4);  // two units in each example
  EXPECT_EQ(e.overall.correct, 3);
  EXPECT_EQ(e.tokens.n, 7);
  EXPECT_EQ(e.by_class.at("kind").at(0).n, 2);
  EXPECT_EQ(e.by_class.at("kind").at(0).correct, 1);
  EXPECT_EQ(e.by_class.at("kind").at(1).correct, 2);
  ASSERT_EQ(e.misses.size(), 1u);
  EXPECT_EQ(e.misses[0].unit, 0);
  EXPECT_EQ(e.misses[0].positions, (std::vector<int64_t>{1}));
  EXPECT_EQ(e.misses[0].classes.at("kind"), 0);
}

RC_GTEST_PROP(SampleRows, DistinctRowsInRangeAndTheSameForASeed, ()) {
  const int64_t size = *rc::gen::inRange<int64_t>(0, 300);
  const int64_t n = *rc::gen::inRange<int64_t>(0, size + 1);
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const at::Tensor rows = sample_rows(n, size, seed, "test");
  RC_ASSERT(rows.size(0) == n);
  std::set<int64_t> seen;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows[i].item<int64_t>();
    RC_ASSERT(r >= 0 && r < size);
    RC_ASSERT(seen.insert(r).second);
  }
  RC_ASSERT(at::equal(rows, sample_rows(n, size, seed, "test")));
}

TEST(SampleRows, MoreRowsThanThereAreIsAnError) {
  EXPECT_THROW(sample_rows(11, 10, 0, "test"), InputError);
  EXPECT_THROW(sample_rows(-1, 10, 0, "test"), InputError);
}

// One bad dataset: how it is made, and what its one error must say.
struct BadDataset {
  std::string name;
  std::function<void(const std::string& path)> write;  // writes the file at path
  std::string extension;
  std::string message;
};

void PrintTo(const BadDataset& c, std::ostream* os) { *os << c.name; }

TensorMap good_tensors() {
  return {{"tokens", at::zeros({2, 3}, at::kLong)}, {"targets", at::tensor({-1, -1, 0, -1, -1, 1}, at::kLong).view({2, 3})}};
}

std::function<void(const std::string&)> tensors_with(std::function<void(TensorMap&)> change,
                                                     Metadata metadata = {{"format", kDatasetFormat}}) {
  return [=](const std::string& path) {
    TensorMap t = good_tensors();
    change(t);
    write_safetensors(path, t, metadata);
  };
}

std::function<void(const std::string&)> text(const std::string& content) {
  return [=](const std::string& path) { write_file(path, content); };
}

class DatasetErrors : public ::testing::TestWithParam<BadDataset> {};

TEST_P(DatasetErrors, OneErrorNamingTheFileAndTheTensorOrPointer) {
  const std::string path = scratch_dir("DatasetErrors_" + GetParam().name) + "/bad" + GetParam().extension;
  GetParam().write(path);
  try {
    read_dataset(path);
    FAIL() << "read";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(GetParam().message), std::string::npos) << message;
  }
}

const auto none = [](TensorMap&) {};

INSTANTIATE_TEST_SUITE_P(
    Table, DatasetErrors,
    ::testing::Values(
        BadDataset{"NoFormat", tensors_with(none, {}), ".safetensors", "/__metadata__: missing \"format\""},
        BadDataset{"WrongFormat", tensors_with(none, {{"format", "circuitcheck.dataset/9"}}), ".safetensors",
                   "/__metadata__/format: unknown format"},
        BadDataset{"UnknownMetadata", tensors_with(none, {{"format", kDatasetFormat}, {"vocabulary", "[]"}}),
                   ".safetensors", "/__metadata__/vocabulary: unknown metadata key"},
        BadDataset{"VocabNotJson", tensors_with(none, {{"format", kDatasetFormat}, {"vocab", "[\"a\""}}), ".safetensors",
                   "/__metadata__/vocab: not valid JSON"},
        BadDataset{"VocabTooSmall", tensors_with(none, {{"format", kDatasetFormat}, {"vocab", "[\"a\"]"}}),
                   ".safetensors", "vocab: 1 token string, but the data use token id 1"},
        BadDataset{"ClassNamesOfNoClass",
                   tensors_with(none, {{"format", kDatasetFormat}, {"class_names", "{\"depth\": [\"a\"]}"}}),
                   ".safetensors", "names for 'depth', which is not a class"},
        BadDataset{"NoTargets", tensors_with([](TensorMap& t) { t.erase("targets"); }), ".safetensors",
                   "missing tensor 'targets'"},
        BadDataset{"FloatTokens", tensors_with([](TensorMap& t) { t["tokens"] = at::zeros({2, 3}); }), ".safetensors",
                   "tokens: dtype Float, expected I64"},
        BadDataset{"TargetsShape", tensors_with([](TensorMap& t) { t["targets"] = at::zeros({2, 4}, at::kLong); }),
                   ".safetensors", "targets: shape [2, 4], expected [2, 3]"},
        BadDataset{"NegativeToken", tensors_with([](TensorMap& t) { t["tokens"][1][2] = -3; }), ".safetensors",
                   "tokens: row 1 holds -3"},
        BadDataset{"NothingScored", tensors_with([](TensorMap& t) { t["targets"].fill_(-1); }), ".safetensors",
                   "no scored position"},
        BadDataset{"RolePastTheEnd", tensors_with([](TensorMap& t) { t["role.eq"] = at::tensor({2, 3}, at::kLong); }),
                   ".safetensors", "role.eq: row 1 holds 3, a position must lie in [0, 3)"},
        BadDataset{"ClassLength", tensors_with([](TensorMap& t) { t["class.depth"] = at::zeros({3}, at::kLong); }),
                   ".safetensors", "class.depth: shape [3], expected [2] or [2, K]"},
        BadDataset{"CounterfactualShape",
                   tensors_with([](TensorMap& t) { t["counterfactual.swap"] = at::zeros({2}, at::kLong); }),
                   ".safetensors", "counterfactual.swap: shape [2], expected [2, 3]"},
        BadDataset{"CounterfactualTargetsAlone",
                   tensors_with([](TensorMap& t) { t["counterfactual.swap.targets"] = at::zeros({2, 3}, at::kLong); }),
                   ".safetensors", "no counterfactual 'swap'"},
        BadDataset{"UnknownTensor", tensors_with([](TensorMap& t) { t["labels"] = at::zeros({2}, at::kLong); }),
                   ".safetensors", "labels: unknown tensor"},
        BadDataset{"UnitMissingAtAScoredPosition",
                   tensors_with([](TensorMap& t) { t["unit"] = at::tensor({-1, -1, 0, -1, -1, -1}, at::kLong).view({2, 3}); }),
                   ".safetensors", "unit: row 1 has a scored position without a unit id"},
        BadDataset{"UnitIdPastTheEnd",
                   tensors_with([](TensorMap& t) { t["unit"] = at::tensor({-1, -1, 3, -1, -1, 0}, at::kLong).view({2, 3}); }),
                   ".safetensors", "unit: row 0 holds 3, a unit id must lie in [0, 3), or be -1"},
        BadDataset{"TokenIdTooLarge", tensors_with([](TensorMap& t) { t["targets"][0][2] = int64_t{1} << 32; }),
                   ".safetensors", "targets: row 0 holds 4294967296"},
        BadDataset{"CounterfactualNamedTargets",
                   text(R"({"tokens": [0], "targets": [0], "counterfactuals": {"targets": [1]}})"), ".jsonl",
                   "counterfactual.targets: 'targets' is reserved"},
        BadDataset{"UnitShape", tensors_with([](TensorMap& t) { t["unit"] = at::zeros({2}, at::kLong); }), ".safetensors",
                   "unit: shape [2], expected [2, 3]"},
        BadDataset{"UnitOnSomeLines",
                   text(R"({"tokens": [0], "targets": [0], "unit": [0]})" "\n" R"({"tokens": [0], "targets": [0]})"),
                   ".jsonl", "bad.jsonl:2: 'unit' on some lines only"},
        BadDataset{"NotADatasetFile", text("{}"), ".json", "a dataset file ends in .safetensors or .jsonl"},
        BadDataset{"NoExamples", text("\n\n"), ".jsonl", "no examples"},
        // A token id past the largest is named on its line, not as a row of the tensors.
        BadDataset{"TokenIdTooLargeOnItsLine",
                   text(R"({"format": "circuitcheck.dataset/1"})" "\n\n" R"({"tokens": [0, 1], "targets": [-1, 1]})" "\n"
                        R"({"tokens": [0, 99999999], "targets": [-1, 1]})"),
                   ".jsonl", "bad.jsonl:4: /tokens/1: 99999999 is not a token id in [0, 16777216)"},
        BadDataset{"LineNotAnObject", text("[1, 2]\n"), ".jsonl", "bad.jsonl:1: expected a JSON object, got an array"},
        BadDataset{"LineNotJson", text(R"({"tokens": [0], "targets": [0]})" "\n{\n"), ".jsonl", "bad.jsonl:2: not valid JSON"},
        BadDataset{"UnknownField", text(R"({"tokens": [0], "targets": [0], "label": 1})"), ".jsonl",
                   "bad.jsonl:1: /label: unknown field"},
        BadDataset{"LengthsDiffer", text(R"({"tokens": [0, 1], "targets": [-1, 0]})" "\n" R"({"tokens": [0], "targets": [0]})"),
                   ".jsonl", "bad.jsonl:2: /tokens: 1 position, the first example has 2"},
        BadDataset{"TargetsLength", text(R"({"tokens": [0, 1], "targets": [0]})"), ".jsonl",
                   "bad.jsonl:1: /targets: 1 position, the first example has 2"},
        BadDataset{"RoleOutOfRange", text(R"({"tokens": [0, 1], "targets": [-1, 0], "roles": {"x": 2}})"), ".jsonl",
                   "bad.jsonl:1: /roles/x: 2 out of range [-1, 1]"},
        BadDataset{"RoleMissingOnALine",
                   text(R"({"tokens": [0], "targets": [0], "roles": {"x": 0}})" "\n" R"({"tokens": [0], "targets": [0]})"),
                   ".jsonl", "bad.jsonl:2: /roles: missing 'x', which the first example has"},
        BadDataset{"ClassChangesShape",
                   text(R"({"tokens": [0], "targets": [0], "classes": {"c": 0}})" "\n"
                        R"({"tokens": [0], "targets": [0], "classes": {"c": [0, 1]}})"),
                   ".jsonl", "bad.jsonl:2: /classes/c: 2 values, the first example has one integer"},
        BadDataset{"HeaderAfterExamples",
                   text(R"({"tokens": [0], "targets": [0]})" "\n" R"({"format": "circuitcheck.dataset/1"})"), ".jsonl",
                   "bad.jsonl:2: /format: unknown field"},
        BadDataset{"DuplicateVocab", text(R"({"format": "circuitcheck.dataset/1", "vocab": ["a", "a"]})" "\n"), ".jsonl",
                   "bad.jsonl:1: /vocab/1: token string 'a' appears twice"},
        BadDataset{"TokenNotAnInteger", text(R"({"tokens": [0, "1"], "targets": [0, 0]})"), ".jsonl",
                   "bad.jsonl:1: /tokens/1: expected an integer, got a string"}),
    [](const auto& info) { return info.param.name; });

// Random bytes and random edits of a good file never crash the reader: each
// is read, or refused with an InputError naming the file.
RC_GTEST_PROP(DatasetFuzz, MutatedFilesAreReadOrRefusedWithInputError, ()) {
  const std::string dir = scratch_dir("DatasetFuzz");
  const bool lines = *rc::gen::arbitrary<bool>();
  const std::string path = dir + (lines ? "/d.jsonl" : "/d.safetensors");
  if (lines) {
    write_file(path, kLines);
  } else {
    write_dataset(lines_dataset(), path);
  }
  std::string bytes = testing_util::read_file(path);
  const int edits = *rc::gen::inRange(1, 8);
  for (int i = 0; i < edits; ++i) {
    const std::size_t at = *rc::gen::inRange<std::size_t>(0, bytes.size());
    bytes[at] = static_cast<char>(*rc::gen::arbitrary<unsigned char>());
  }
  write_file(path, bytes);
  try {
    read_dataset(path);
  } catch (const InputError& e) {
    RC_ASSERT(std::string(e.what()).find(path) != std::string::npos);
  }
}

}  // namespace
}  // namespace circuitcheck
