// tally_batch keeps the units a model gets wrong (Miss): which example and
// unit, the wrong positions, the predicted and expected tokens as text, the
// unit's classes; at most max_misses, the first in example order, numbered
// across batches.
#include "circuits/tasks/evaluate.h"

#include <gtest/gtest.h>

#include <utility>

namespace circuitcheck {
namespace {

struct MissCase {
  std::string name;
  std::string system;
  std::vector<std::pair<int64_t, int64_t>> flipped;  // (example, position) predicted wrongly
  int64_t max_misses;
  struct Want {
    int64_t example;
    int64_t unit;
    std::vector<int64_t> positions;
  };
  std::vector<Want> want;  // the misses of one tally of the batch, in order
};

void PrintTo(const MissCase& c, std::ostream* os) { *os << c.name; }

class KeepsMisses : public ::testing::TestWithParam<MissCase> {};

// Logits [batch, pos - from, d_vocab_out] that predict every target, except
// at `flipped`, where they predict the next token of the output vocabulary.
at::Tensor logits_with_flips(const Batch& b, const Task& task, const MissCase& c) {
  const int64_t from = first_scored_position(b.targets);
  const int64_t vocab = task.config(Scale::kCpu).d_vocab_out;
  at::Tensor predicted = b.targets.clamp_min(0).clone();
  for (const auto& [i, p] : c.flipped) predicted[i][p] = (b.targets[i][p].item<int64_t>() + 1) % vocab;
  return at::one_hot(predicted.slice(1, from), vocab).to(at::kFloat);
}

TEST_P(KeepsMisses, NamesEachWrongUnit) {
  const MissCase& c = GetParam();
  const Task& task = find_task(c.system);
  const Batch b = task.sample(4, 1, Scale::kCpu);
  const at::Tensor logits = logits_with_flips(b, task, c);
  Evaluation e = empty_evaluation(task);
  e.max_misses = c.max_misses;
  tally_batch(task, b, logits, e);
  ASSERT_EQ(e.misses.size(), c.want.size()) << e.to_json().dump();
  for (size_t k = 0; k < c.want.size(); ++k) {
    const Miss& m = e.misses[k];
    SCOPED_TRACE(m.to_string());
    EXPECT_EQ(m.example, c.want[k].example);
    EXPECT_EQ(m.unit, c.want[k].unit);
    EXPECT_EQ(m.positions, c.want[k].positions);
    EXPECT_EQ(m.text, task.detokenize(b.tokens[m.example]));
    std::vector<int64_t> want_expected, want_predicted;
    for (int64_t p : m.positions) {
      want_expected.push_back(b.targets[m.example][p].item<int64_t>());
      want_predicted.push_back((want_expected.back() + 1) % task.config(Scale::kCpu).d_vocab_out);
    }
    EXPECT_EQ(m.expected, task.detokenize(at::tensor(want_expected)));
    EXPECT_EQ(m.predicted, task.detokenize(at::tensor(want_predicted)));
    if (m.unit >= 0)
      EXPECT_EQ(m.classes.at("depth"), b.classes.at("depth")[m.example][m.unit].item<int64_t>());
    else
      for (const auto& [name, values] : b.classes)
        if (values.dim() == 1) EXPECT_EQ(m.classes.at(name), values[m.example].item<int64_t>()) << name;
  }
  // A second batch numbers its examples after the first's.
  e.max_misses += static_cast<int64_t>(c.want.size());
  tally_batch(task, b, logits, e);
  ASSERT_EQ(e.misses.size(), 2 * c.want.size());
  for (size_t k = 0; k < c.want.size(); ++k) EXPECT_EQ(e.misses[c.want.size() + k].example, c.want[k].example + 4);
}

INSTANTIATE_TEST_SUITE_P(
    Systems, KeepsMisses,
    ::testing::Values(
        MissCase{"s4_one_assignment", "variable_renaming", {{1, 22}, {1, 23}}, 8, {{1, 5, {22, 23}}}},
        MissCase{"s4_example_then_unit_order", "variable_renaming", {{2, 0}, {1, 63}, {1, 4}}, 8,
                 {{1, 1, {4}}, {1, 15, {63}}, {2, 0, {0}}}},
        MissCase{"s4_capped", "variable_renaming", {{2, 0}, {1, 63}, {1, 4}}, 1, {{1, 1, {4}}}},
        MissCase{"s4_none_kept", "variable_renaming", {{2, 0}}, 0, {}},
        MissCase{"s4_all_correct", "variable_renaming", {}, 8, {}},
        MissCase{"s2_example_unit", "array_index", {{0, 7}, {3, 9}}, 8, {{0, -1, {7}}, {3, -1, {9}}}},
        MissCase{"s5_example_unit", "arithmetic", {{2, 20}}, 8, {{2, -1, {20}}}}),
    [](const auto& info) { return info.param.name; });

// The first and last positions where any example is scored, table-driven
// over [batch, pos] targets (-1: not scored); none scored: 0 and pos - 1.
// A model may predict a token outside the task's vocabulary (its
// d_vocab_out is larger): a miss names it instead of failing the run
// (review: the run ended in an error, and a property claim in "error"
// where the model was simply wrong).
TEST(DetokenizePredicted, TokensOutsideTheVocabularyAreNamed) {
  const Task& s2 = find_task("array_index");
  EXPECT_EQ(detokenize_predicted(s2, {1, 2}), s2.detokenize(at::tensor({int64_t{1}, int64_t{2}})));
  EXPECT_EQ(detokenize_predicted(s2, {1, 500}), "1 <token 500>");
  EXPECT_EQ(detokenize_predicted(s2, {-3}), "<token -3>");
}

TEST(ScoredPositions, FirstAndLastOverEveryExample) {
  struct Case {
    std::vector<int64_t> targets;  // [2, 6], row-major
    int64_t first, last;
  };
  for (const Case& c : std::vector<Case>{{{-1, -1, 3, -1, -1, -1, -1, -1, -1, -1, 4, -1}, 2, 4},
                                         {{-1, -1, -1, -1, -1, 7, -1, -1, -1, -1, -1, -1}, 5, 5},
                                         {{0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1}, 0, 5},
                                         {std::vector<int64_t>(12, -1), 0, 5}}) {
    const at::Tensor targets = at::tensor(c.targets, at::kLong).reshape({2, 6});
    EXPECT_EQ(first_scored_position(targets), c.first) << targets;
    EXPECT_EQ(last_scored_position(targets), c.last) << targets;
  }
}

}  // namespace
}  // namespace circuitcheck
