// The trainer on tiny configs (seconds): the loss falls, runs are bit-reproducible,
// a resumed run equals an uninterrupted one; train/eval bad input exits 2.
#include "circuits/formats/error.h"
#include "circuits/model/checkpoint.h"
#include "circuits/training/snapshot.h"
#include "circuits/training/trainer.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

namespace circuitcheck {
namespace {

using testing_util::run_command;

std::string cli() { return CIRCUITCHECK_CLI; }

TrainRecipe tiny_recipe(const std::string& system, int64_t steps) {
  TrainRecipe r = default_recipe(find_task(system), Scale::kCpu);
  r.steps = steps;
  r.warmup_steps = 0;
  r.adamw.lr = 1e-2;
  for (const char* kv : {"d_model=32", "d_head=8", "n_heads=4"}) apply_setting(r, kv);
  if (system == "modular_addition") apply_setting(r, "d_mlp=64");
  else apply_setting(r, "batch_size=64");
  return r;
}

std::vector<double> losses(const std::string& system, int64_t steps) {
  TrainState s = start_training(tiny_recipe(system, steps));
  std::vector<double> out;
  TrainHooks hooks;
  hooks.log_every = 1;
  hooks.on_progress = [&](const TrainProgress& p) { out.push_back(p.loss); };
  train(s, hooks);
  return out;
}

class TinyRetrain : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyRetrain, LossFalls) {
  std::vector<double> l = losses(GetParam(), 60);
  ASSERT_EQ(l.size(), 60u);
  EXPECT_LT(l.back(), 0.85 * l.front()) << GetParam() << ": " << l.front() << " -> " << l.back();
}

INSTANTIATE_TEST_SUITE_P(Systems, TinyRetrain, ::testing::Values("modular_addition", "array_index"));

bool same_params(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a)
    if (!at::equal(t, b.at(name))) return false;
  return true;
}

TEST(Trainer, SameRecipeGivesBitIdenticalWeights) {
  TrainState a = start_training(tiny_recipe("array_index", 15));
  TrainState b = start_training(tiny_recipe("array_index", 15));
  train(a);
  train(b);
  EXPECT_TRUE(same_params(a.model.params, b.model.params));
  TrainRecipe other = tiny_recipe("array_index", 15);
  other.seed = 2;
  TrainState c = start_training(other);
  train(c);
  EXPECT_FALSE(same_params(a.model.params, c.model.params));
}

TEST(Trainer, ResumedRunEqualsUninterruptedRun) {
  TrainState whole = start_training(tiny_recipe("modular_addition", 12));
  train(whole);

  const std::string path = testing_util::scratch_dir("TrainerResume") + "/run.state.safetensors";
  TrainState first = start_training(tiny_recipe("modular_addition", 12));
  int64_t calls = 0;
  TrainHooks hooks;
  hooks.stop = [&] { return ++calls > 5; };
  train(first, hooks);
  EXPECT_EQ(first.step, 5);
  EXPECT_TRUE(first.stop_reason.empty());
  save_training(path, first);
  TrainState resumed = load_training(path);
  EXPECT_EQ(resumed.step, 5);
  train(resumed);
  EXPECT_EQ(resumed.step, 12);
  EXPECT_EQ(resumed.stop_reason, "max_steps");
  EXPECT_TRUE(same_params(resumed.model.params, whole.model.params));
}

// Snapshots come at every multiple of snapshot_every and at the last step,
// with S1's held-out loss at that very step, and their metadata reads back.
TEST(Trainer, SnapshotsAtEveryMultipleAndTheLastStep) {
  TrainState s = start_training(tiny_recipe("modular_addition", 12));
  TrainHooks hooks;
  hooks.snapshot_every = 5;
  std::vector<int64_t> steps;
  std::vector<Metadata> metadata;
  hooks.on_snapshot = [&](const TrainState& state, const TrainProgress& p) {
    steps.push_back(state.step);
    metadata.push_back(snapshot_metadata(state, p));
  };
  train(s, hooks);
  EXPECT_EQ(steps, (std::vector<int64_t>{5, 10, 12}));
  const std::optional<SnapshotInfo> info = snapshot_info(metadata[1], "m");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->step, 10);
  ASSERT_TRUE(info->train_loss && info->test_loss);
  EXPECT_GT(*info->test_loss, 0.0);
  EXPECT_EQ(metadata[1].at("system"), "modular_addition");
  EXPECT_EQ(nlohmann::json::parse(metadata[1].at("training"))["recipe"]["steps"], 12);
  EXPECT_EQ(snapshot_path("d", 10), "d/step_00000010.safetensors");
  EXPECT_EQ(snapshot_dir_for("out/m.safetensors"), "out/m_snapshots");
  EXPECT_FALSE(snapshot_info({{"system", "x"}}, "m"));
}

struct BadSnapshotMetadata {
  Metadata metadata;
  std::string message;
};

TEST(Snapshot, MalformedFieldsNameTheFileAndKey) {
  for (const auto& c : std::vector<BadSnapshotMetadata>{
           {{{"step", "-3"}}, "m.safetensors: metadata \"step\": '-3' is not a non-negative integer"},
           {{{"step", ""}}, "metadata \"step\": '' is not"},
           {{{"step", "99999999999999999999"}}, "is not a non-negative integer"},
           {{{"step", "4"}, {"train_loss", "nan"}}, "metadata \"train_loss\": 'nan' is not a finite number"},
           {{{"step", "4"}, {"test_loss", "1e"}}, "metadata \"test_loss\": '1e' is not a finite number"}}) {
    try {
      snapshot_info(c.metadata, "m.safetensors");
      ADD_FAILURE() << c.message;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
}

// train --snapshot-every writes the snapshots into the folder beside --out.
TEST(TrainCommand, SnapshotEveryWritesCheckpointsWithTheirStep) {
  const std::string dir = testing_util::scratch_dir("TrainSnapshots");
  auto r = run_command(cli() + " train array_index --out " + dir +
                                     "/m.safetensors --steps 4 --snapshot-every 2 --set d_model=32 --set d_head=32 "
                                     "--set batch_size=8 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int64_t step : {2, 4}) {
    const Checkpoint ck = load_checkpoint(snapshot_path(dir + "/m_snapshots", step));
    EXPECT_EQ(ck.system, "array_index");
    const std::optional<SnapshotInfo> info = snapshot_info(ck.metadata, ck.path);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->step, step);
    EXPECT_FALSE(info->test_loss);  // S2 has no held-out split
  }
  EXPECT_FALSE(std::filesystem::exists(snapshot_path(dir + "/m_snapshots", 3)));
}

TEST(Trainer, ResumeAmendsTheScheduleAndRecordsIt) {
  TrainState s = start_training(tiny_recipe("modular_addition", 6));
  train(s);
  ASSERT_EQ(s.stop_reason, "max_steps");
  // Anneal: cosine from step 6 (lr as before) to 0.1 lr at step 10.
  amend_recipe(s, {"steps=10", "warmup_steps=6", "schedule=cosine", "min_lr_ratio=0.1"});
  EXPECT_TRUE(s.stop_reason.empty());
  std::vector<double> lrs;
  TrainHooks hooks;
  hooks.log_every = 1;
  hooks.on_progress = [&](const TrainProgress& p) { lrs.push_back(p.lr); };
  train(s, hooks);
  ASSERT_EQ(lrs.size(), 4u);
  EXPECT_GT(lrs[0], lrs[3]);
  EXPECT_NEAR(lrs[3], 0.1 * s.recipe.adamw.lr, 1e-12);
  const std::string path = testing_util::scratch_dir("TrainerAmend") + "/run.state.safetensors";
  save_training(path, s);
  TrainState loaded = load_training(path);
  ASSERT_EQ(loaded.amendments.size(), 1u);
  EXPECT_EQ(loaded.amendments[0].at("step"), 6);
  EXPECT_EQ(loaded.recipe.schedule, "cosine");
  // The model, its data and its initialisation cannot change on resume.
  for (const char* kv : {"seed=2", "batch_size=8", "d_model=64"}) {
    try {
      amend_recipe(loaded, {kv});
      ADD_FAILURE() << kv << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot change when resuming"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(loaded.amendments.size(), 1u);
}

TEST(Trainer, HardFractionMixesHardCasesIntoEveryBatch) {
  const Task& s4 = find_task("S4");
  TrainRecipe r = default_recipe(s4, Scale::kCpu);
  const Batch plain = training_batch(s4, r, 7);
  EXPECT_EQ(plain.tokens.size(0), 64);
  apply_setting(r, "hard_fraction=0.5");
  const Batch mixed = training_batch(s4, r, 7);
  ASSERT_EQ(mixed.tokens.size(0), 64);
  // The plain half is the plain batch's first 32 programs; the hard half chains deeper.
  EXPECT_TRUE(at::equal(mixed.tokens.slice(0, 0, 32), plain.tokens.slice(0, 0, 32)));
  const auto mean_depth = [](const at::Tensor& t) { return t.to(at::kDouble).mean().item<double>(); };
  const at::Tensor depth = mixed.classes.at("max_depth");
  EXPECT_GT(mean_depth(depth.slice(0, 32)), mean_depth(depth.slice(0, 0, 32)) + 1.0);
  EXPECT_TRUE(at::equal(training_batch(s4, r, 7).tokens, mixed.tokens));
  EXPECT_FALSE(at::equal(training_batch(s4, r, 8).tokens, mixed.tokens));
}

TEST(Trainer, FocusDrawsPlainExamplesThatPassItsClassBound) {
  const Task& s4 = find_task("S4");
  TrainRecipe r = default_recipe(s4, Scale::kCpu);
  const Batch plain = training_batch(s4, r, 7);
  apply_setting(r, "focus=max_depth>=5");
  EXPECT_TRUE(at::equal(training_batch(s4, r, 7).tokens, plain.tokens));  // a focus alone takes no share
  apply_setting(r, "focus_fraction=0.5");
  apply_setting(r, "hard_fraction=0.25");
  const Batch mixed = training_batch(s4, r, 7);
  ASSERT_EQ(mixed.tokens.size(0), 64);
  // 16 plain programs (the plain batch's first 16), 32 that chain to depth 5 or more, 16 hard ones.
  EXPECT_TRUE(at::equal(mixed.tokens.slice(0, 0, 16), plain.tokens.slice(0, 0, 16)));
  const at::Tensor depth = mixed.classes.at("max_depth");
  EXPECT_TRUE(depth.slice(0, 16, 48).ge(5).all().item<bool>()) << depth;
  EXPECT_FALSE(depth.slice(0, 0, 16).ge(5).all().item<bool>()) << depth;
  EXPECT_TRUE(at::equal(training_batch(s4, r, 7).tokens, mixed.tokens));
  EXPECT_FALSE(at::equal(training_batch(s4, r, 8).tokens.slice(0, 16, 48), mixed.tokens.slice(0, 16, 48)));
}

struct BadFocus {
  std::string settings;  // applied in order, separated by spaces
  std::string message;
};

TEST(Trainer, BadFocusGetsOneClearError) {
  const std::vector<BadFocus> cases = {
      {"focus=max_depth>5", "focus must read CLASS>=N, got 'max_depth>5'"},
      {"focus=max_depth>=five", "focus bound 'five' is not an integer"},
      {"focus=depth>=5", "'depth' is not a per-example class of variable_renaming (valid: max_depth)"},
      {"focus=>=5", "focus must read CLASS>=N"},
      {"focus_fraction=1.5", "focus_fraction must lie in [0, 1]"},
      {"focus_fraction=0.5", "focus_fraction > 0 needs focus=CLASS>=N"},
      {"focus=max_depth>=5 focus_fraction=0.75 hard_fraction=0.5", "hard_fraction + focus_fraction exceed 1"},
      {"focus=max_depth>=16 focus_fraction=0.5", "only 0 of 32 examples pass in 16384 drawn; the focus is too rare"},
  };
  const Task& s4 = find_task("S4");
  for (const auto& c : cases) {
    try {
      TrainRecipe r = default_recipe(s4, Scale::kCpu);
      std::istringstream in(c.settings);
      for (std::string kv; in >> kv;) apply_setting(r, kv);
      training_batch(s4, r, 1);
      ADD_FAILURE() << c.settings << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.settings << ": " << e.what();
    }
  }
  TrainRecipe s1 = default_recipe(find_task("S1"), Scale::kCpu);
  EXPECT_THROW(apply_setting(s1, "focus_fraction=0.5"), InputError);  // a full batch has no focus
}

TEST(Trainer, FocusCanBeAddedOnResumeAndIsKept) {
  TrainRecipe r = tiny_recipe("variable_renaming", 2);
  apply_setting(r, "rotary_dim=8");
  TrainState s = start_training(r);
  train(s);
  amend_recipe(s, {"steps=3", "focus=max_depth>=4", "focus_fraction=0.5"});
  train(s);
  EXPECT_EQ(s.step, 3);
  const std::string path = testing_util::scratch_dir("TrainerFocus") + "/run.state.safetensors";
  save_training(path, s);
  const TrainState loaded = load_training(path);
  EXPECT_EQ(loaded.recipe.focus, "max_depth>=4");
  EXPECT_EQ(loaded.recipe.focus_fraction, 0.5);
  EXPECT_EQ(loaded.amendments.back().at("set").dump(), R"(["steps=3","focus=max_depth>=4","focus_fraction=0.5"])");
}

TEST(Trainer, HardFractionCanBeAddedOnResume) {
  TrainRecipe r = tiny_recipe("arithmetic", 4);
  TrainState s = start_training(r);
  train(s);
  amend_recipe(s, {"steps=6", "hard_fraction=0.25"});
  EXPECT_EQ(s.recipe.hard_fraction, 0.25);
  train(s);
  EXPECT_EQ(s.step, 6);
  const std::string path = testing_util::scratch_dir("TrainerHard") + "/run.state.safetensors";
  save_training(path, s);
  EXPECT_EQ(load_training(path).recipe.hard_fraction, 0.25);
}

TEST(Trainer, SettingsAreChecked) {
  TrainRecipe r = default_recipe(find_task("S1"), Scale::kCpu);
  EXPECT_THROW(apply_setting(r, "learning_rate=1"), InputError);
  EXPECT_THROW(apply_setting(r, "lr"), InputError);
  EXPECT_THROW(apply_setting(r, "steps=many"), InputError);
  EXPECT_THROW(apply_setting(r, "schedule=linear"), InputError);
  EXPECT_THROW(apply_setting(r, "hard_fraction=0.5"), InputError);  // S1 has no hard cases
  TrainRecipe s5 = default_recipe(find_task("S5"), Scale::kCpu);
  EXPECT_THROW(apply_setting(s5, "hard_fraction=1.5"), InputError);
  EXPECT_THROW(apply_setting(s5, "hard_fraction=-0.1"), InputError);
  apply_setting(s5, "hard_fraction=1");
  apply_setting(r, "n_ctx=2");
  EXPECT_THROW(recipe_config(r), InputError);  // S1 needs n_ctx 3
  EXPECT_THROW(load_training(testing_util::fixture("tl/modadd/golden.safetensors")), InputError);
}

struct BadTrainCli {
  std::string name;
  std::string args;
  std::string message;
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const BadTrainCli& c, std::ostream* os) { *os << c.name; }

class TrainCliErrors : public ::testing::TestWithParam<BadTrainCli> {};

TEST_P(TrainCliErrors, ExitTwo) {
  const std::string dir = testing_util::scratch_dir("TrainCliErrors_" + GetParam().name);
  const std::string args = testing_util::expand(GetParam().args, {{"{dir}", dir}, {"{sh}", testing_util::shared_dir()}});
  auto r = run_command(cli() + " " + args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Table, TrainCliErrors,
    ::testing::Values(
        BadTrainCli{"unknown_system", "train S9 --out {dir}/x.safetensors", "unknown system 'S9'"},
        BadTrainCli{"ctx_too_small", "train S1 --out {dir}/x.safetensors --set n_ctx=2", "n_ctx"},
        BadTrainCli{"vocab_too_small", "train S2 --out {dir}/x.safetensors --set d_vocab=40", "d_vocab"},
        BadTrainCli{"unknown_setting", "train S2 --out {dir}/x.safetensors --set colour=blue", "unknown setting 'colour'"},
        BadTrainCli{"full_batch_without_split", "train S2 --out {dir}/x.safetensors --set batch_size=0",
                    "full batch (batch_size=0) needs a task with a training split (array_index has none)"},
        BadTrainCli{"stop_test_loss_without_split", "train S3 --out {dir}/x.safetensors --set stop_test_loss=0.01",
                    "stop_test_loss needs a task with a held-out split (tree_path has none)"},
        BadTrainCli{"focus_not_a_class", "train S4 --out {dir}/x.safetensors --set 'focus=depth>=5'",
                    "--set focus=depth>=5: 'depth' is not a per-example class of variable_renaming"},
        BadTrainCli{"focus_too_rare", "train S4 --out {dir}/x.safetensors --set 'focus=max_depth>=16' --set focus_fraction=0.5",
                    "the focus is too rare"},
        BadTrainCli{"eval_other_system", "eval {sh}/reference/array_index_seed1.pt --system modular_addition", "d_vocab"},
        BadTrainCli{"eval_unknown_system", "eval {sh}/fixtures/tl/modadd/model.pt", "pass --system"},
        BadTrainCli{"eval_negative_misses", "eval {sh}/reference/array_index_seed1.pt --misses -1",
                    "--misses: expected an integer in [0, 1048576], got '-1'"}),
    [](const auto& info) { return info.param.name; });

TEST(TrainCli, TrainsAndEvaluatesATinyModel) {
  const std::string dir = testing_util::scratch_dir("TrainCliTiny");
  auto t = run_command(cli() + " train S2 --out " + dir + "/m.safetensors --steps 30 --set d_model=32 --set d_head=32 --log-every 10");
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("steps/s"), std::string::npos) << t.output;
  auto e = run_command(cli() + " eval " + dir + "/m.safetensors --n 500 --misses 3 --json");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto j = nlohmann::json::parse(e.output);
  EXPECT_EQ(j[0]["system"], "array_index");
  EXPECT_EQ(j[0]["n"], 500);
  // 30 steps leave most sequences wrong: the first three are listed as text.
  ASSERT_EQ(j[0]["misses"].size(), 3u) << e.output;
  EXPECT_NE(j[0]["misses"][0]["predicted"], j[0]["misses"][0]["expected"]);
  EXPECT_EQ(j[0]["misses"][0]["text"].get<std::string>().rfind("BOS", 0), 0u) << e.output;
}

}  // namespace
}  // namespace circuitcheck
