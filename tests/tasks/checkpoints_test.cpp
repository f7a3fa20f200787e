// The shipped checkpoints (checkpoints/<system>.safetensors) reach the
// accuracies the systems issue sets: S1 exhaustively, the others on a sample
// with a fixed seed. A system whose checkpoint is not shipped yet is skipped
// with a message saying so.
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/evaluate.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace circuitcheck {
namespace {

struct Target {
  std::string system;
  int64_t n;          // sample size (ignored for exhaustive domains)
  double accuracy;    // at least this, per unit
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const Target& c, std::ostream* os) { *os << c.system; }

class ShippedCheckpoint : public ::testing::TestWithParam<Target> {};

TEST_P(ShippedCheckpoint, ReachesItsAccuracy) {
  const Target& t = GetParam();
  const std::string path = testing_util::source_dir() + "/checkpoints/" + t.system + ".safetensors";
  ASSERT_TRUE(std::filesystem::exists(path)) << t.system << ": no shipped checkpoint " << path;
  Checkpoint ck = load_checkpoint(path);
  const Task& task = find_task(t.system);
  ASSERT_EQ(ck.metadata.at("system"), t.system);
  Evaluation e = evaluate(task, ck.model, Scale::kCpu, t.n, 777);
  EXPECT_GE(e.overall.accuracy(), t.accuracy) << e.to_json().dump();
  if (t.system == "modular_addition") EXPECT_EQ(e.domain, "exhaustive");
  // The shipped S4 model (213,000 steps, the last 183,000 with hard cases and the last 108,000 focused
  // on programs that chain to depth 5 or 6, checkpoints/README.md) reaches >= 99 % at every depth it
  // chains (here depth 4: 99.61 %, 5: 99.43 % of 1,232, 6: 99.50 % of 199, 7-9: 100 % of 33).
  if (t.system == "variable_renaming")
    for (const auto& [depth, tally] : e.by_class.at("depth"))
      EXPECT_GE(tally.accuracy(), t.accuracy) << "depth " << depth << ": " << e.to_json().dump();
  // The shipped S3 model reaches 99.76 % of paths here, 100 % at depths 1-4 and 99.23 % at depth 5 (n 1,176).
  if (t.system == "tree_path")
    for (const auto& [depth, tally] : e.by_class.at("depth"))
      if (depth <= 5) EXPECT_GE(tally.accuracy(), 0.99) << "depth " << depth << ": " << e.to_json().dump();
  // S4's deep chains (99.94 % of assignments with seed 778) and S5's cascades (99.988 %) reach the same figure.
  if (task.sample_hard) {
    Evaluation hard = evaluate_batch(task, ck.model, task.sample_hard(t.n, 778, Scale::kCpu));
    EXPECT_GE(hard.overall.accuracy(), t.accuracy) << task.hard_name << ": " << hard.to_json().dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Systems, ShippedCheckpoint,
                         ::testing::Values(Target{"modular_addition", 0, 1.0}, Target{"array_index", 100000, 0.999},
                                           Target{"tree_path", 10000, 0.99}, Target{"variable_renaming", 10000, 0.99},
                                           Target{"arithmetic", 100000, 0.999}),
                         [](const auto& info) { return info.param.system; });

}  // namespace
}  // namespace circuitcheck
