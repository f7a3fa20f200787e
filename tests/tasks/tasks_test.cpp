#include "circuits/tasks/builtin/arithmetic.h"
#include "circuits/tasks/builtin/array_index.h"
#include "circuits/formats/error.h"
#include "circuits/tasks/builtin/modular_addition.h"
#include "circuits/tasks/task.h"
#include "circuits/tasks/builtin/tree_path.h"
#include "circuits/tasks/builtin/variable_renaming.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>

namespace circuitcheck {
namespace {

// The values of an int64 tensor [batch] or [batch, k], read as grid(b, k).
struct Grid {
  explicit Grid(const at::Tensor& t) : cols(t.dim() == 2 ? t.size(1) : 1) {
    at::Tensor c = t.contiguous();
    values.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  }
  int64_t operator()(int64_t b, int64_t k = 0) const { return values[b * cols + k]; }
  std::vector<int64_t> values;
  int64_t cols;
};

// Every tensor of a role or class map, as Grids.
std::map<std::string, Grid> grids(const std::map<std::string, at::Tensor>& tensors) {
  std::map<std::string, Grid> out;
  for (const auto& [name, t] : tensors) out.emplace(name, Grid(t));
  return out;
}

uint64_t any_seed() { return *rc::gen::inRange<uint64_t>(0, uint64_t{1} << 40); }
Scale any_scale() { return *rc::gen::element(Scale::kSeed, Scale::kCpu); }
const Task& any_task() { return all_tasks()[*rc::gen::inRange<std::size_t>(0, all_tasks().size())]; }

// n examples drawn from a seed, or from an Rng replaying arbitrary choices
// (any values, any length), as property claims replay shrunk examples: every
// property of a task's examples must hold for both.
Batch any_batch(const Task& task, int64_t n, Scale scale) {
  if (*rc::gen::arbitrary<bool>()) return task.sample(n, any_seed(), scale);
  Rng rng(*rc::gen::container<std::vector<int64_t>>(rc::gen::arbitrary<int64_t>()), any_seed());
  return task.draw(rng, n, scale);
}

bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && at::equal(a, b);
}

bool same_batch(const Batch& a, const Batch& b) {
  auto same_maps = [](const std::map<std::string, at::Tensor>& x, const std::map<std::string, at::Tensor>& y) {
    if (x.size() != y.size()) return false;
    for (const auto& [name, t] : x)
      if (!y.count(name) || !same(t, y.at(name))) return false;
    return true;
  };
  return same(a.tokens, b.tokens) && same(a.targets, b.targets) && same_maps(a.roles, b.roles) &&
         same_maps(a.classes, b.classes);
}

// Expects `f` to throw an InputError whose message contains `part`.
template <typename F>
void expect_input_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no InputError; expected one mentioning '" << part << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------
// Every task.

RC_GTEST_PROP(Tasks, ShapesTypesAndRanges, ()) {
  const Task& task = any_task();
  const Scale scale = any_scale();
  const int64_t n = *rc::gen::inRange<int64_t>(0, 20);
  const Config config = task.config(scale);
  const Batch batch = any_batch(task, n, scale);
  RC_ASSERT(batch.tokens.sizes() == at::IntArrayRef({n, config.n_ctx}));
  RC_ASSERT(batch.targets.sizes() == batch.tokens.sizes());
  RC_ASSERT(batch.tokens.scalar_type() == at::kLong && batch.targets.scalar_type() == at::kLong);
  if (n > 0) {
    RC_ASSERT(batch.tokens.min().item<int64_t>() >= 0);
    RC_ASSERT(batch.tokens.max().item<int64_t>() < config.d_vocab);
    RC_ASSERT(batch.targets.min().item<int64_t>() >= -1);
    RC_ASSERT(batch.targets.max().item<int64_t>() < config.d_vocab_out);
  }
  for (const auto& [name, role] : batch.roles) {
    RC_ASSERT(role.scalar_type() == at::kLong);
    RC_ASSERT((role.dim() == 1 || role.dim() == 2) && role.size(0) == n);
    if (n > 0) RC_ASSERT(role.min().item<int64_t>() >= -1 && role.max().item<int64_t>() < config.n_ctx);
  }
  for (const auto& [name, cls] : batch.classes) {
    RC_ASSERT(cls.scalar_type() == at::kLong);
    RC_ASSERT((cls.dim() == 1 || cls.dim() == 2) && cls.size(0) == n);
  }
  // Its classes are those the task declares, each with a name for every value it takes where it names them.
  check_classes(task, batch, "test");
  for (const TaskClass& c : task.classes)
    if (n > 0 && !c.value_names.empty())
      RC_ASSERT(batch.classes.at(c.name).max().item<int64_t>() < static_cast<int64_t>(c.value_names.size()));
}

RC_GTEST_PROP(Tasks, SameSeedSameBatchOtherSeedOtherTokens, ()) {
  const Task& task = any_task();
  const Scale scale = any_scale();
  const uint64_t seed = any_seed();
  const uint64_t other = *rc::gen::distinctFrom(rc::gen::inRange<uint64_t>(0, uint64_t{1} << 40), seed);
  RC_ASSERT(same_batch(task.sample(16, seed, scale), task.sample(16, seed, scale)));
  RC_ASSERT(!same(task.sample(16, seed, scale).tokens, task.sample(16, other, scale).tokens));
}

RC_GTEST_PROP(Tasks, TokenizeInvertsDetokenizeOnSamples, ()) {
  const Task& task = any_task();
  const Scale scale = any_scale();
  const Batch batch = task.sample(4, any_seed(), scale);
  for (int64_t b = 0; b < 4; ++b) RC_ASSERT(same(task.tokenize(task.detokenize(batch.tokens[b])), batch.tokens[b]));
}

RC_GTEST_PROP(Tasks, TokenizeInvertsDetokenizeOnAnyTokens, ()) {
  const Task& task = any_task();
  const int d_vocab = task.config(Scale::kSeed).d_vocab;
  const auto ids = *rc::gen::nonEmpty(rc::gen::container<std::vector<int64_t>>(rc::gen::inRange<int64_t>(0, d_vocab)));
  const at::Tensor row = to_tensor(ids, {static_cast<int64_t>(ids.size())});
  RC_ASSERT(same(task.tokenize(task.detokenize(row)), row));
}

TEST(Rng, ReplaysClampedChoicesThenTheSeedsStreamAndRecordsEveryDraw) {
  Rng replay({3, 99, -4}, 5);
  EXPECT_EQ(replay.below(10), 3);
  EXPECT_EQ(replay.below(10), 9);  // 99 clamped to n - 1
  EXPECT_EQ(replay.below(10), 0);  // -4 clamped to 0
  Rng seeded(5);
  const int64_t next = seeded.below(1000);
  EXPECT_EQ(replay.below(1000), next);  // then the seed's stream, from its start
  EXPECT_EQ(replay.choices(), (std::vector<int64_t>{3, 9, 0, next}));
  EXPECT_TRUE(seeded.choices().empty());  // a seeded Rng keeps nothing
}

RC_GTEST_PROP(Rng, RecordedChoicesReplayTheSameExample, ()) {
  const Task& task = any_task();
  const Scale scale = any_scale();
  const uint64_t seed = any_seed();
  Rng recording(std::vector<int64_t>{}, seed);
  const Batch first = task.draw(recording, 1, scale);
  RC_ASSERT(same_batch(first, task.sample(1, seed, scale)));
  Rng replay(recording.choices(), seed + 1);  // another stream: only the choices decide
  RC_ASSERT(same_batch(task.draw(replay, 1, scale), first));
}

// A class value's name is the one its task declares, and "" wherever it names none.
TEST(ClassValueName, OnlyWhatTheTaskNames) {
  Task t;
  t.classes = {{"operator", true, {"+", "-"}}, {"depth", true, {}}};
  const struct {
    const char* name;
    int64_t value;
    const char* expected;
  } cases[] = {{"operator", 0, "+"}, {"operator", 1, "-"}, {"operator", 2, ""}, {"operator", -1, ""}, {"depth", 0, ""}};
  for (const auto& c : cases) EXPECT_EQ(class_value_name(t, c.name, c.value), c.expected) << c.name << " " << c.value;
}

// A batch must carry exactly the classes its task declares, each of the
// declared shape; anything else is a bug of the task (InternalError).
TEST(CheckClasses, ABatchHasExactlyTheDeclaredClasses) {
  Task t;
  t.name = "toy";
  t.classes = {{"depth", false, {}}, {"operator", true, {}}};
  const at::Tensor per_example = at::zeros({3}, at::kLong), per_item = at::zeros({3, 2}, at::kLong);
  const struct {
    const char* name;
    std::map<std::string, at::Tensor> classes;
    const char* error;  // "" when none
  } cases[] = {
      {"as declared", {{"depth", per_item}, {"operator", per_example}}, ""},
      {"one missing", {{"operator", per_example}},
       "test: toy declares the classes [depth, operator] but its batch has [operator]"},
      {"one more", {{"depth", per_item}, {"operator", per_example}, {"sign", per_example}},
       "test: toy declares the classes [depth, operator] but its batch has [depth, operator, sign]"},
      {"another shape", {{"depth", per_example}, {"operator", per_example}},
       "test: toy's class 'depth' is declared [batch, k] but is [batch] in its batch"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Batch b;
    b.classes = c.classes;
    if (std::string(c.error).empty()) {
      EXPECT_NO_THROW(check_classes(t, b, "test"));
      continue;
    }
    try {
      check_classes(t, b, "test");
      ADD_FAILURE() << "no error";
    } catch (const InternalError& e) {
      EXPECT_EQ(std::string(e.what()), c.error);
    }
  }
}

TEST(Tasks, FindsEveryTaskByNameAndAlias) {
  const std::vector<std::string> names = {"modular_addition", "array_index", "tree_path", "variable_renaming",
                                          "arithmetic"};
  ASSERT_EQ(all_tasks().size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(find_task(names[i]).name, names[i]);
    EXPECT_EQ(find_task("S" + std::to_string(i + 1)).name, names[i]);
  }
}

TEST(Tasks, UnknownSystemsAreRejected) {
  for (const std::string name : {"", "x", "S0", "S6", "s1", "Modular_Addition", "tree path"})
    expect_input_error([&] { find_task(name); },
                       "unknown system '" + name +
                           "' (valid: modular_addition, array_index, tree_path, variable_renaming, arithmetic)");
}

// A NUL byte is shown, not the end of the message; a long name is cut (issue 23, finding 8).
TEST(Tasks, UnknownSystemNamesAreQuotedWholeAndShort) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("bogus\0tail", 10), "'bogus\\0tail'"},
      {std::string(1'000'000, 'x'), "'" + std::string(100, 'x') + "...'"},
  };
  for (const auto& c : cases)
    expect_input_error([&] { find_task(c.first); },
                       "find_task: unknown system " + c.second +
                           " (valid: modular_addition, array_index, tree_path, variable_renaming, arithmetic)");
}

TEST(Tasks, ConfigsAreValidAndFitTheirOwnTask) {
  for (const Task& task : all_tasks())
    for (Scale scale : {Scale::kSeed, Scale::kCpu}) {
      const Config config = task.config(scale);
      EXPECT_NO_THROW(validate_config(config, task.name));
      EXPECT_NO_THROW(check_fits(task, scale, config, task.name));
    }
}

TEST(Tasks, ConfigsFollowSystemsMd) {
  const auto cfg = [](const std::string& name, Scale scale) { return find_task(name).config(scale); };
  for (const char* name : {"modular_addition", "array_index"})
    EXPECT_EQ(cfg(name, Scale::kSeed), cfg(name, Scale::kCpu)) << name;
  EXPECT_EQ(cfg("tree_path", Scale::kSeed).d_model, 128);
  EXPECT_EQ(cfg("tree_path", Scale::kSeed).d_mlp, 512);
  const Config s4 = cfg("variable_renaming", Scale::kSeed), s4_cpu = cfg("variable_renaming", Scale::kCpu);
  EXPECT_EQ(s4.n_ctx, 128);
  EXPECT_EQ(s4.positional_embedding_type, PositionalEmbedding::kRotary);
  EXPECT_EQ(s4.rotary_dim, 64);
  EXPECT_DOUBLE_EQ(s4.rotary_base, 2000.0);
  EXPECT_EQ(s4.d_vocab, 39);
  EXPECT_EQ(s4_cpu.n_ctx, 64);
  EXPECT_EQ(s4_cpu.d_model, 64);
  EXPECT_EQ(s4_cpu.d_head, 32);
  EXPECT_EQ(s4_cpu.d_mlp, 256);
  EXPECT_EQ(s4_cpu.rotary_dim, 32);
  const Config s5 = cfg("arithmetic", Scale::kSeed), s5_cpu = cfg("arithmetic", Scale::kCpu);
  EXPECT_EQ(s5.d_model, 510);
  EXPECT_EQ(s5.d_head, 170);
  EXPECT_EQ(s5.d_mlp, 2040);
  EXPECT_EQ(s5.n_heads, 4);
  EXPECT_EQ(s5.n_ctx, 22);
  EXPECT_EQ(s5.d_vocab, 15);
  EXPECT_EQ(s5_cpu.d_model, 128);
  EXPECT_EQ(s5_cpu.d_head, 32);
  EXPECT_EQ(s5_cpu.d_mlp, 512);
}

TEST(Tasks, ConfigsMatchTheReferenceCheckpoints) {
  const std::string dir = testing_util::shared_dir() + "/reference/";
  EXPECT_EQ(find_task("S1").config(Scale::kSeed), read_config(dir + "modular_addition_seed1.json"));
  EXPECT_EQ(find_task("S2").config(Scale::kSeed), read_config(dir + "array_index_seed1.json"));
  EXPECT_EQ(find_task("S3").config(Scale::kCpu), read_config(dir + "tree_path_cpuscale_seed1.json"));
}

struct BadFit {
  std::string system;
  Scale scale;
  std::string field;
  int value;
};

TEST(Tasks, CheckFitsNamesTheFieldThatIsTooSmall) {
  const std::vector<BadFit> cases = {
      {"modular_addition", Scale::kSeed, "n_ctx", 2},      {"modular_addition", Scale::kSeed, "d_vocab", 113},
      {"modular_addition", Scale::kCpu, "d_vocab_out", 112}, {"array_index", Scale::kSeed, "n_ctx", 10},
      {"array_index", Scale::kSeed, "d_vocab", 51},         {"tree_path", Scale::kCpu, "n_ctx", 64},
      {"tree_path", Scale::kSeed, "d_vocab_out", 34},       {"variable_renaming", Scale::kSeed, "n_ctx", 64},
      {"variable_renaming", Scale::kCpu, "d_vocab", 38},    {"arithmetic", Scale::kCpu, "n_ctx", 21},
      {"arithmetic", Scale::kSeed, "d_vocab_out", 14}};
  for (const BadFit& c : cases) {
    const Task& task = find_task(c.system);
    Config config = task.config(c.scale);
    if (c.field == "n_ctx") config.n_ctx = c.value;
    if (c.field == "d_vocab") config.d_vocab = c.value;
    if (c.field == "d_vocab_out") config.d_vocab_out = c.value;
    expect_input_error([&] { check_fits(task, c.scale, config, "load: model.pt"); },
                       "load: model.pt: /" + c.field + ": " + std::to_string(c.value) + " is too small for " +
                           c.system);
  }
}

TEST(Tasks, CheckFitsAcceptsBiggerModels) {
  const Task& s4 = find_task("variable_renaming");
  EXPECT_NO_THROW(check_fits(s4, Scale::kCpu, s4.config(Scale::kSeed), "t"));
  expect_input_error([&] { check_fits(s4, Scale::kSeed, s4.config(Scale::kCpu), "t"); }, "t: /n_ctx");
}

struct BadText {
  std::string system;
  std::string text;
  std::string message;
};

TEST(Tasks, TokenizeRejectsBadTextNamingTheOffender) {
  const std::vector<BadText> cases = {
      {"modular_addition", "5 7 +", "tokenize(modular_addition): unknown token '+' at offset 4"},
      {"modular_addition", "5 113 =", "unknown token '113'"},
      {"modular_addition", "-1 2 =", "unknown token '-1'"},
      {"modular_addition", "   ", "tokenize(modular_addition): the text holds no tokens"},
      {"array_index", "BOS 3 17 50 \\n 1 9 \\n 3 9 50", "tokenize(array_index): unknown token '50'"},
      {"array_index", "bos 3", "unknown token 'bos'"},
      {"array_index", "BOS 99999999999999999999", "unknown token '99999999999999999999'"},
      {"tree_path", "12>10,4>16", "tokenize(tree_path): node '>16' at offset 7 is outside 0..15"},
      {"tree_path", "12>x", "'>' at offset 2 is not followed by a node number"},
      {"tree_path", "12;3", "unexpected character ';' at offset 2"},
      {"tree_path", "", "the text holds no tokens"},
      {"variable_renaming", "2>l;0>C;", "tokenize(variable_renaming): unexpected character 'C' at offset 6"},
      {"variable_renaming", "2=l;", "unexpected character '='"},
      {"arithmetic", "133357+182243=+0315600x", "tokenize(arithmetic): unexpected character 'x' at offset 22"},
      {"arithmetic", "1/2", "unexpected character '/' at offset 1"}};
  for (const BadText& c : cases)
    expect_input_error([&] { find_task(c.system).tokenize(c.text); }, c.message);
}

TEST(Tasks, DetokenizeRejectsTokensOutsideTheVocabulary) {
  for (const Task& task : all_tasks()) {
    const int64_t d_vocab = task.config(Scale::kSeed).d_vocab;
    expect_input_error([&] { task.detokenize(to_tensor({0, d_vocab}, {2})); },
                       "detokenize(" + task.name + "): token " + std::to_string(d_vocab) + " at position 1");
    expect_input_error([&] { task.detokenize(to_tensor({-1}, {1})); }, "token -1 at position 0");
    expect_input_error([&] { task.detokenize(to_tensor({0, 1}, {1, 2})); }, "expected a 1-D int64 row");
    expect_input_error([&] { task.detokenize(at::zeros({3}, at::kFloat)); }, "expected a 1-D int64 row");
  }
}

TEST(Tasks, BadCountsAndRangesAreRejected) {
  for (const Task& task : all_tasks()) {
    expect_input_error([&] { task.sample(-1, 0, Scale::kSeed); }, "sample(" + task.name + ")");
    if (!task.domain_size)
      expect_input_error([&] { task.domain_batch(0, 1); }, "system '" + task.name + "' has no finite domain");
  }
  expect_input_error([] { sample_hard(-5, 0); }, "sample_hard: the number of examples must be non-negative");
  expect_input_error([] { find_task("S4").sample_hard(-1, 0, Scale::kCpu); }, "sample_hard(variable_renaming)");
  const Task& s1 = find_task("S1");
  const Task& s2 = find_task("S2");
  expect_input_error([&] { s1.domain_batch(-1, 2); }, "domain_batch(modular_addition): range [-1, -1 + 2)");
  expect_input_error([&] { s1.domain_batch(12768, 2); }, "outside the domain [0, 12769)");
  expect_input_error([&] { s2.domain_batch(0, -1); }, "domain_batch(array_index)");
  expect_input_error([&] { s2.domain_batch(18750000 - 1, 2); }, "outside the domain [0, 18750000)");
  expect_input_error([&] { s2.domain_batch(INT64_MAX, 1); }, "outside the domain");
  expect_input_error([] { modular_addition_batch({0, 12769}); }, "modular_addition_batch: domain index 12769");
}

TEST(Tasks, OnlyS4AndS5HaveHardCases) {
  for (const Task& task : all_tasks()) {
    const bool has = task.alias == "S4" || task.alias == "S5";
    EXPECT_EQ(static_cast<bool>(task.sample_hard), has) << task.name;
    EXPECT_EQ(task.hard_name.empty(), !has) << task.name;
  }
  EXPECT_TRUE(same_batch(find_task("S5").sample_hard(50, 3, Scale::kCpu), sample_hard(50, 3)));
}

TEST(Tasks, ConcatBatchesKeepsTheRowsInOrderAndRefusesMismatches) {
  const Task& s4 = find_task("S4");
  const Batch a = s4.sample(3, 1, Scale::kCpu), b = s4.sample_hard(2, 2, Scale::kCpu);
  const Batch both = concat_batches(a, b, "test");
  EXPECT_TRUE(same(both.tokens, at::cat({a.tokens, b.tokens})));
  EXPECT_TRUE(same(both.roles.at("x_source").slice(0, 3), b.roles.at("x_source")));
  EXPECT_TRUE(same(both.classes.at("max_depth").slice(0, 0, 3), a.classes.at("max_depth")));
  expect_input_error([&] { concat_batches(a, s4.sample(2, 1, Scale::kSeed), "test"); },
                     "test: sequence lengths differ: 64 and 128");
  expect_input_error([&] { concat_batches(a, find_task("S5").sample(2, 1, Scale::kCpu), "mix"); },
                     "sequence lengths differ");
  Batch fewer = b;
  fewer.roles.erase("digit");
  expect_input_error([&] { concat_batches(a, fewer, "mix"); }, "mix: roles: 'digit' is in the first batch only");
  Batch wider = b;
  wider.classes["max_depth"] = wider.classes["max_depth"].unsqueeze(1);
  expect_input_error([&] { concat_batches(a, wider, "mix"); }, "mix: classes: 'max_depth' differs in shape");
}

// Cutting a batch after position to - 1: every per-position tensor is cut,
// roles at or after `to` become absent, classes stay.
TEST(Tasks, LeadingPositionsCutsEveryPositionAndDropsLaterRoles) {
  const Task& s4 = find_task("S4");
  const Batch a = s4.sample(6, 1, Scale::kCpu);
  for (const int64_t to : {int64_t{1}, int64_t{30}, a.tokens.size(1)}) {
    SCOPED_TRACE(to);
    const Batch cut = leading_positions(a, to);
    EXPECT_TRUE(same(cut.tokens, a.tokens.slice(1, 0, to)));
    EXPECT_TRUE(same(cut.targets, a.targets.slice(1, 0, to)));
    for (const auto& [name, r] : a.roles) {
      EXPECT_TRUE(same(cut.roles.at(name), at::where(r < to, r, at::full_like(r, -1)))) << name;
      EXPECT_TRUE(same(role_mask(cut, name), role_mask(a, name).slice(1, 0, to))) << name;
    }
    for (const auto& [name, c] : a.classes) EXPECT_TRUE(same(cut.classes.at(name), c)) << name;
    for (const auto& [name, t] : a.counterfactuals) EXPECT_TRUE(same(cut.counterfactuals.at(name), t.slice(1, 0, to)));
  }
  EXPECT_THROW(leading_positions(a, 0), InternalError);
  EXPECT_THROW(leading_positions(a, a.tokens.size(1) + 1), InternalError);
}

// ---------------------------------------------------------------------------
// S1: modular addition.

void expect_modular_addition_rows(const Batch& batch) {
  const Grid tokens(batch.tokens), targets(batch.targets);
  for (int64_t b = 0; b < batch.tokens.size(0); ++b) {
    EXPECT_EQ(tokens(b, 2), 113);
    EXPECT_EQ(targets(b, 0), -1);
    EXPECT_EQ(targets(b, 1), -1);
    EXPECT_EQ(targets(b, 2), (tokens(b, 0) + tokens(b, 1)) % 113);
  }
  const int64_t n = batch.tokens.size(0);
  EXPECT_TRUE(same(batch.roles.at("a"), at::zeros({n}, at::kLong)));
  EXPECT_TRUE(same(batch.roles.at("b"), at::ones({n}, at::kLong)));
  EXPECT_TRUE(same(batch.roles.at("equals"), at::full({n}, 2, at::kLong)));
}

TEST(ModularAddition, DomainCoversEveryPairOnceInOrder) {
  const Task& task = find_task("modular_addition");
  ASSERT_EQ(task.domain_size, std::optional<int64_t>(12769));
  const Batch all = task.domain_batch(0, 12769);
  expect_modular_addition_rows(all);
  const Grid tokens(all.tokens);
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = 0; i < 12769; ++i) {
    EXPECT_EQ(tokens(i, 0) * 113 + tokens(i, 1), i);
    pairs.insert({tokens(i, 0), tokens(i, 1)});
  }
  EXPECT_EQ(pairs.size(), 12769u);
  EXPECT_TRUE(same_batch(task.domain_batch(12760, 9), modular_addition_batch({12760, 12761, 12762, 12763, 12764,
                                                                              12765, 12766, 12767, 12768})));
  EXPECT_EQ(task.domain_batch(12769, 0).tokens.size(0), 0);
}

TEST(ModularAddition, SamplesAreLabelledSums) { expect_modular_addition_rows(find_task("S1").sample(500, 3, Scale::kSeed)); }

TEST(ModularAddition, TextIsNumbersAndEquals) {
  const Task& task = find_task("S1");
  EXPECT_EQ(task.detokenize(to_tensor({5, 7, 113}, {3})), "5 7 =");
  EXPECT_TRUE(same(task.tokenize(" 112\t0  = "), to_tensor({112, 0, 113}, {3})));
}

RC_GTEST_PROP(ModularAddition, TrainSplitIsASeededThirtyPercent, ()) {
  const uint64_t seed = any_seed();
  const std::vector<int64_t> train = train_indices(seed), test = test_indices(seed);
  RC_ASSERT(train.size() == 3830u);  // floor(0.3 * 12769)
  RC_ASSERT(test.size() == 12769u - 3830u);
  RC_ASSERT(std::is_sorted(train.begin(), train.end()) && std::is_sorted(test.begin(), test.end()));
  std::vector<int64_t> all;
  std::merge(train.begin(), train.end(), test.begin(), test.end(), std::back_inserter(all));
  for (int64_t i = 0; i < 12769; ++i) RC_ASSERT(all[i] == i);
  RC_ASSERT(train_indices(seed) == train);
  RC_ASSERT(train_indices(seed + 1) != train);
}

// ---------------------------------------------------------------------------
// S2: array index.

void check_array_index(const Batch& batch) {
  const int64_t n = batch.tokens.size(0);
  const Grid tokens(batch.tokens), targets(batch.targets), idx_class(batch.classes.at("idx"));
  const std::map<std::string, Grid> roles = grids(batch.roles);
  const auto role = [&](const std::string& name) -> const Grid& { return roles.at(name); };
  const Grid &idx_pos = role("idx"), &elt_pos = role("elt");
  for (int64_t b = 0; b < n; ++b) {
    RC_ASSERT(tokens(b, 0) == 50 && tokens(b, 4) == 51 && tokens(b, 7) == 51);
    const int64_t idx = tokens(b, idx_pos(b)), elt = tokens(b, elt_pos(b));
    RC_ASSERT(idx_pos(b) == 5 && elt_pos(b) == 6);
    RC_ASSERT(idx >= 0 && idx < 3 && idx == idx_class(b));
    RC_ASSERT(elt >= 0 && elt < 50);
    for (int64_t i = 0; i < 3; ++i) {
      const std::string s = std::to_string(i);
      const int64_t a = tokens(b, role("a" + s)(b)), out = tokens(b, role("b" + s)(b));
      RC_ASSERT(role("a" + s)(b) == 1 + i && role("b" + s)(b) == 8 + i);
      RC_ASSERT(a < 50);
      RC_ASSERT(out == (i == idx ? elt : a));  // b is a with exactly the one write
      RC_ASSERT(tokens(b, role("source_of_b" + s)(b)) == out);
      RC_ASSERT(role("source_of_b" + s)(b) == (i == idx ? 6 : 1 + i));
      RC_ASSERT(role("predict_b" + s)(b) == 7 + i);
      RC_ASSERT(targets(b, role("predict_b" + s)(b)) == out);
    }
    for (int64_t p = 0; p < 11; ++p) RC_ASSERT((targets(b, p) == -1) == (p < 7 || p > 9));
  }
}

RC_GTEST_PROP(ArrayIndex, BIsAWithTheOneWriteAndRolesPointAtTheirTokens, ()) {
  check_array_index(any_batch(find_task("array_index"), *rc::gen::inRange<int64_t>(1, 64), any_scale()));
}

RC_GTEST_PROP(ArrayIndex, DomainBatchIsConsistentWithDomainSize, ()) {
  const Task& task = find_task("array_index");
  const int64_t size = *task.domain_size;
  RC_ASSERT(size == 18750000);
  const int64_t count = *rc::gen::inRange<int64_t>(0, 40);
  const int64_t start = *rc::gen::oneOf(rc::gen::just(int64_t{0}), rc::gen::just(size - count),
                                        rc::gen::inRange<int64_t>(0, size - count + 1));
  const Batch batch = task.domain_batch(start, count);
  RC_ASSERT(batch.tokens.size(0) == count);
  check_array_index(batch);
  const Grid tokens(batch.tokens);
  for (int64_t e = 0; e < count; ++e) {
    const int64_t index = (((tokens(e, 1) * 50 + tokens(e, 2)) * 50 + tokens(e, 3)) * 3 + tokens(e, 5)) * 50 +
                          tokens(e, 6);
    RC_ASSERT(index == start + e);
  }
}

TEST(ArrayIndex, TextMatchesTheSeedNotation) {
  const Task& task = find_task("S2");
  const at::Tensor row = to_tensor({50, 3, 17, 42, 51, 1, 9, 51, 3, 9, 42}, {11});
  EXPECT_EQ(task.detokenize(row), "BOS 3 17 42 \\n 1 9 \\n 3 9 42");
  EXPECT_TRUE(same(task.tokenize("BOS 3 17 42 \\n 1 9 \\n 3 9 42"), row));
}

// ---------------------------------------------------------------------------
// S3: tree path.

constexpr int64_t kTreeComma = 0, kTreeColon = 1, kTreeBar = 2;
int64_t tree_arrow(int64_t node) { return 18 - node; }
int64_t tree_number(int64_t node) { return 34 - node; }
bool is_tree_arrow(int64_t token) { return token >= 3 && token <= 18; }
bool is_tree_number(int64_t token) { return token >= 19 && token <= 34; }

// The parent of each node label in row b's edge list (-1 for the root),
// asserting that the edges form one binary tree rooted at the `root` token
// (position 47): each child once, at most two children, all reach the root.
std::vector<int64_t> tree_parents(const Grid& tokens, int64_t b) {
  std::vector<int64_t> parent(16, -1), n_children(16, 0);
  for (int64_t k = 0; k < 15; ++k) {
    const int64_t p = tokens(b, 3 * k), c = tokens(b, 3 * k + 1);
    RC_ASSERT(is_tree_number(p) && is_tree_arrow(c));
    RC_ASSERT(parent[18 - c] == -1);  // each child once
    parent[18 - c] = 34 - p;
    ++n_children[34 - p];
  }
  const int64_t root = 34 - tokens(b, 47);
  RC_ASSERT(root >= 0 && root < 16 && parent[root] == -1);
  for (int64_t v = 0; v < 16; ++v) {
    RC_ASSERT(n_children[v] <= 2);
    int64_t u = v, steps = 0;
    while (u != root && steps <= 16) u = parent[u], ++steps;
    RC_ASSERT(u == root);  // every node reachable from the root
  }
  return parent;
}

RC_GTEST_PROP(TreePath, EdgesFormOneTreeAndThePathRunsRootToGoal, ()) {
  const int64_t n = *rc::gen::inRange<int64_t>(1, 32);
  const Batch batch = any_batch(find_task("tree_path"), n, any_scale());
  const Grid tokens(batch.tokens), targets(batch.targets);
  const std::map<std::string, Grid> roles = grids(batch.roles), classes = grids(batch.classes);
  const auto role = [&](const std::string& name) -> const Grid& { return roles.at(name); };
  const Grid &edge_parent = role("edge_parent"), &edge_child = role("edge_child"), &edge_comma = role("edge_comma");
  const Grid &child_of_node = role("edge_child_of_node"), &parent_of_node = role("edge_parent_of_node");
  const Grid &path = role("path"), &predict = role("predict_path"), &path_child = role("path_edge_child"),
             &path_parent = role("path_edge_parent");
  const Grid &depth = classes.at("depth"), &path_depth = classes.at("path_depth"),
             &last_on_path = classes.at("last_edge_on_path");
  for (int64_t b = 0; b < n; ++b) {
    const std::vector<int64_t> parent = tree_parents(tokens, b);
    for (int64_t k = 0; k < 15; ++k) {
      RC_ASSERT(edge_parent(b, k) == 3 * k && edge_child(b, k) == 3 * k + 1);
      const int64_t child = 18 - tokens(b, 3 * k + 1);
      RC_ASSERT(child_of_node(b, child) == 3 * k + 1 && parent_of_node(b, child) == 3 * k);
      if (k < 14) RC_ASSERT(edge_comma(b, k) == 3 * k + 2 && tokens(b, 3 * k + 2) == kTreeComma);
    }
    RC_ASSERT(edge_comma(b, 14) == -1);
    RC_ASSERT(tokens(b, role("goal_delim")(b)) == kTreeBar && tokens(b, role("root_delim")(b)) == kTreeColon);
    const int64_t root = 34 - tokens(b, role("root")(b)), goal = 34 - tokens(b, role("goal")(b));
    RC_ASSERT(role("root")(b) == 47 && role("goal")(b) == 45);
    RC_ASSERT(goal != root && child_of_node(b, root) == -1 && parent_of_node(b, root) == -1);
    RC_ASSERT(role("goal_edge_child")(b) == child_of_node(b, goal) && role("goal_edge_parent")(b) == parent_of_node(b, goal));
    // The path: root's child first, each a child of the previous, ending at the goal.
    int64_t prev = root, k = 0;
    for (; k < 15 && path(b, k) >= 0; ++k) {
      const int64_t pos = path(b, k), token = tokens(b, pos);
      RC_ASSERT(pos == 48 + k && is_tree_arrow(token));
      const int64_t v = 18 - token;
      RC_ASSERT(parent[v] == prev);
      RC_ASSERT(predict(b, k) == pos - 1 && targets(b, pos - 1) == token);
      RC_ASSERT(tokens(b, path_child(b, k)) == token && path_child(b, k) == child_of_node(b, v));
      RC_ASSERT(tokens(b, path_parent(b, k)) == tree_number(prev));
      RC_ASSERT(path_depth(b, k) == k + 1);
      prev = v;
    }
    RC_ASSERT(prev == goal && k == depth(b) && k >= 1);
    for (int64_t j = k; j < 15; ++j)
      RC_ASSERT(path(b, j) == -1 && predict(b, j) == -1 && path_child(b, j) == -1 && path_parent(b, j) == -1 &&
                path_depth(b, j) == -1);
    for (int64_t pos = 48 + k; pos < 65; ++pos) RC_ASSERT(tokens(b, pos) == kTreeComma);
    for (int64_t pos = 0; pos < 65; ++pos) RC_ASSERT((targets(b, pos) == -1) == (pos < 47 || pos >= 47 + k));
    bool uses_last = false;
    for (int64_t j = 0; j < k; ++j) uses_last = uses_last || path_child(b, j) == 43;
    RC_ASSERT(last_on_path(b) == (uses_last ? 1 : 0));
  }
}

// reparent_goal: the same edges but the goal's, whose parent is another node
// outside the goal's subtree, so the source is a tree; its path runs through
// the new parent, and its targets are that path up to where it leaves the base's.
RC_GTEST_PROP(TreePath, ReparentGoalIsAnotherTreeAndItsTargetsFollowItsPath, ()) {
  const int64_t n = *rc::gen::inRange<int64_t>(1, 32);
  const Batch batch = any_batch(find_task("tree_path"), n, any_scale());
  const Grid tokens(batch.tokens), targets(batch.targets), source(batch.counterfactuals.at("reparent_goal")),
      cf_targets(batch.counterfactual_targets.at("reparent_goal")), goal_parent(batch.roles.at("goal_edge_parent"));
  for (int64_t b = 0; b < n; ++b) {
    const bool paired = cf_targets(b, 47) >= 0;
    for (int64_t pos = 0; pos < 48; ++pos)
      RC_ASSERT(source(b, pos) == tokens(b, pos) || (paired && pos == goal_parent(b)));
    if (!paired) {
      for (int64_t pos = 0; pos < 65; ++pos) RC_ASSERT(source(b, pos) == tokens(b, pos) && cf_targets(b, pos) == -1);
      continue;
    }
    RC_ASSERT(source(b, goal_parent(b)) != tokens(b, goal_parent(b)));
    const std::vector<int64_t> parent = tree_parents(source, b);
    std::vector<int64_t> path;  // the source tree's root-to-goal path, by label
    for (int64_t v = 34 - tokens(b, 45); parent[v] != -1; v = parent[v]) path.insert(path.begin(), v);
    int64_t k = 0;
    for (; k < static_cast<int64_t>(path.size()); ++k) RC_ASSERT(source(b, 48 + k) == tree_arrow(path[k]));
    for (int64_t pos = 48 + k; pos < 65; ++pos) RC_ASSERT(source(b, pos) == kTreeComma);
    int64_t j = 0;  // the first path token that differs
    while (targets(b, 47 + j) == tree_arrow(path[j])) RC_ASSERT(++j < static_cast<int64_t>(path.size()));
    for (int64_t pos = 0; pos < 65; ++pos)
      RC_ASSERT(cf_targets(b, pos) == (pos >= 47 && pos <= 47 + j ? tree_arrow(path[pos - 47]) : -1));
  }
}

// Nearly every tree has another valid parent for its goal: 999 in 1,000 here.
TEST(TreePath, ReparentGoalPairsNearlyEveryTree) {
  const Batch batch = find_task("tree_path").sample(1000, 13, Scale::kCpu);
  const int64_t paired = (batch.counterfactual_targets.at("reparent_goal") >= 0).any(1).sum().item<int64_t>();
  EXPECT_GE(paired, 990);
  EXPECT_LE(paired, 1000);
}

TEST(TreePath, TextIsTheSeedNotation) {
  const Task& task = find_task("tree_path");
  const Batch batch = task.sample(1, 7, Scale::kCpu);
  const std::string text = task.detokenize(batch.tokens[0]);
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  EXPECT_EQ(text.substr(text.size() - 1), ",");
  const at::Tensor row = to_tensor({tree_number(12), tree_arrow(10), kTreeComma, tree_number(4), tree_arrow(15),
                                    kTreeBar, tree_number(15), kTreeColon, tree_number(12), tree_arrow(4)},
                                   {10});
  EXPECT_EQ(task.detokenize(row), "12>10,4>15|15:12>4");
  EXPECT_TRUE(same(task.tokenize("12>10, 4>15 |15:12>4"), row));
  EXPECT_EQ(task.detokenize(to_tensor({tree_number(1), tree_number(2), tree_arrow(1), tree_number(5)}, {4})),
            "1 2>1 5");
}

TEST(TreePath, DepthsVaryAndTheLastEdgeIsSometimesOnThePath) {
  const Batch batch = find_task("tree_path").sample(2000, 11, Scale::kSeed);
  const Grid depth(batch.classes.at("depth")), last(batch.classes.at("last_edge_on_path"));
  std::set<int64_t> depths(depth.values.begin(), depth.values.end());
  EXPECT_GE(depths.size(), 7u);
  EXPECT_EQ(*depths.begin(), 1);
  const int64_t on = std::count(last.values.begin(), last.values.end(), 1);
  EXPECT_GT(on, 100);
  EXPECT_LT(on, 1000);
}

// ---------------------------------------------------------------------------
// S4: variable renaming.

// Checks labels, roles and depths against the program's semantics.
void check_programs(const Batch& batch, Scale scale) {
  const int64_t n = batch.tokens.size(0), m = num_assignments(scale);
  RC_ASSERT(batch.tokens.size(1) == 4 * m);
  const Grid tokens(batch.tokens), targets(batch.targets), x(batch.roles.at("x")), y(batch.roles.at("y")),
      arrow(batch.roles.at("arrow")), end(batch.roles.at("end")), source(batch.roles.at("x_source")),
      depth(batch.classes.at("depth")), max_depth(batch.classes.at("max_depth"));
  for (int64_t b = 0; b < n; ++b) {
    std::map<int64_t, int64_t> value, var_depth, bound_at;  // by letter token
    std::set<int64_t> digits;
    int64_t deepest = 0;
    for (int64_t k = 0; k < m; ++k) {
      RC_ASSERT(x(b, k) == 4 * k && arrow(b, k) == 4 * k + 1 && y(b, k) == 4 * k + 2 && end(b, k) == 4 * k + 3);
      const int64_t xt = tokens(b, x(b, k)), yt = tokens(b, y(b, k));
      RC_ASSERT(tokens(b, arrow(b, k)) == 36 && tokens(b, end(b, k)) == 37);
      RC_ASSERT(yt >= 10 && yt < 36);
      int64_t val, d, src;
      if (k < 4) {
        RC_ASSERT(xt >= 0 && xt < 4 && digits.insert(xt).second);  // digits 0..3 once each
        RC_ASSERT(batch.roles.at("digit")[b][k].item<int64_t>() == x(b, k));
        RC_ASSERT(value.count(yt) == 0);                             // four distinct variables
        val = xt, d = 0, src = -1;
      } else {
        RC_ASSERT(value.count(xt) == 1);  // x holds a value
        val = value[xt], d = var_depth[xt] + 1, src = bound_at[xt];
        RC_ASSERT(tokens(b, src) == xt);
      }
      value[yt] = val, var_depth[yt] = d, bound_at[yt] = y(b, k);
      deepest = std::max(deepest, d);
      RC_ASSERT(depth(b, k) == d && source(b, k) == src);
      for (int64_t j = 0; j < 4; ++j) RC_ASSERT(targets(b, 4 * k + j) == val);
    }
    RC_ASSERT(max_depth(b) == deepest);
  }
}

RC_GTEST_PROP(VariableRenaming, LabelsAndDepthsFollowTheProgram, ()) {
  const Scale scale = any_scale();
  check_programs(any_batch(find_task("variable_renaming"), *rc::gen::inRange<int64_t>(1, 16), scale), scale);
}

RC_GTEST_PROP(VariableRenaming, DeepChainsFollowTheProgramToo, ()) {
  const Scale scale = any_scale();
  check_programs(find_task("variable_renaming").sample_hard(*rc::gen::inRange<int64_t>(1, 16), any_seed(), scale),
                 scale);
}

// The share of renames at depth >= 4, and the share whose x was bound by the
// previous assignment (an adjacent hop).
std::pair<double, double> deep_and_adjacent(const Batch& batch) {
  const at::Tensor renames = batch.classes.at("depth").slice(1, 4);
  const at::Tensor prev_y = batch.roles.at("y").slice(1, 3, -1);
  const auto share = [&](const at::Tensor& t) { return t.to(at::kDouble).mean().item<double>(); };
  return {share(renames >= 4), share(batch.roles.at("x_source").slice(1, 4) == prev_y)};
}

TEST(VariableRenaming, DeepChainsAreCommonAndRarelyAdjacent) {
  const Task& task = find_task("S4");
  const auto [plain_deep, plain_adjacent] = deep_and_adjacent(task.sample(2000, 7, Scale::kCpu));
  const auto [hard_deep, hard_adjacent] = deep_and_adjacent(task.sample_hard(2000, 7, Scale::kCpu));
  EXPECT_LT(plain_deep, 0.07);  // measured 5.8 %, deep chains 27.7 %
  EXPECT_GT(hard_deep, 4 * plain_deep);
  EXPECT_LT(hard_adjacent, plain_adjacent);
}

TEST(VariableRenaming, TextIsTheSeedNotation) {
  const Task& task = find_task("S4");
  const std::string program = "2>l;0>c;1>f;3>p;c>u;u>s;";
  const at::Tensor row = task.tokenize(program);
  EXPECT_TRUE(same(row, to_tensor({2, 36, 21, 37, 0, 36, 12, 37, 1, 36, 15, 37, 3, 36, 25, 37, 12, 36, 30, 37, 30, 36,
                                   28, 37},
                                  {24})));
  EXPECT_EQ(task.detokenize(row), program);
  EXPECT_EQ(task.detokenize(task.tokenize("a.z ")), "a.z");
}

TEST(VariableRenaming, ChainsGetDeep) {
  const Batch batch = find_task("S4").sample(200, 5, Scale::kSeed);
  EXPECT_GE(batch.classes.at("max_depth").max().item<int64_t>(), 6);
}

// ---------------------------------------------------------------------------
// S5: arithmetic.

int64_t number_at(const Grid& tokens, int64_t b, int64_t first, int64_t len) {
  int64_t value = 0;
  for (int64_t p = first; p < first + len; ++p) value = value * 10 + tokens(b, p);
  return value;
}

int64_t pow10(int64_t i) {
  int64_t p = 1;
  while (i-- > 0) p *= 10;
  return p;
}

// Checks answers, roles and classes against integer arithmetic; returns the
// number of addition questions.
int64_t check_arithmetic(const Batch& batch) {
  const int64_t n = batch.tokens.size(0);
  const Grid tokens(batch.tokens), targets(batch.targets);
  const std::map<std::string, Grid> roles = grids(batch.roles), classes = grids(batch.classes);
  for (const auto& [name, grid] : roles)  // every S5 role is at a fixed position
    RC_ASSERT(std::all_of(grid.values.begin(), grid.values.end(), [&grid = grid](int64_t p) { return p == grid(0); }));
  const auto role = [&](const std::string& name) { return roles.at(name)(0); };
  const Grid &op = classes.at("operator"), &negative = classes.at("negative"), &tricase = classes.at("tricase"),
             &carry = classes.at("carry_in"), &borrow = classes.at("borrow_in"), &cascade = classes.at("cascade");
  int64_t additions = 0;
  for (int64_t b = 0; b < n; ++b) {
    RC_ASSERT(tokens(b, role("operator")) == 10 || tokens(b, role("operator")) == 11);
    RC_ASSERT(tokens(b, role("equals")) == 12);
    const bool sub = tokens(b, role("operator")) == 11;
    const int64_t x = number_at(tokens, b, 0, 6), y = number_at(tokens, b, 7, 6);
    const int64_t sign = tokens(b, role("sign")) == 11 ? -1 : 1;
    RC_ASSERT(tokens(b, role("sign")) == 10 || tokens(b, role("sign")) == 11);
    const int64_t answer = sign * number_at(tokens, b, 15, 7);
    RC_ASSERT(answer == (sub ? x - y : x + y));
    RC_ASSERT(!(answer == 0 && sign < 0));
    RC_ASSERT(op(b) == (sub ? 1 : 0) && negative(b) == (sign < 0 ? 1 : 0));
    additions += !sub;
    RC_ASSERT(targets(b, role("predict_sign")) == tokens(b, role("sign")));
    for (int64_t p = 0; p < 22; ++p) RC_ASSERT((targets(b, p) == -1) == (p < 13 || p > 20));
    const int64_t top = std::max(x, y), bottom = std::min(x, y);
    int64_t chain = 0, longest = 0;
    for (int64_t i = 0; i < 7; ++i) {
      const int64_t a_digit = std::abs(answer) / pow10(i) % 10;
      RC_ASSERT(tokens(b, role("A" + std::to_string(i))) == a_digit);
      RC_ASSERT(targets(b, role("predict_A" + std::to_string(i))) == a_digit);
      // Carry into digit i: the low i digits overflow; borrow: the low digits underflow.
      const bool carry_in = !sub && x % pow10(i) + y % pow10(i) >= pow10(i);
      const bool borrow_in = sub && top % pow10(i) < bottom % pow10(i);
      RC_ASSERT((carry(b, i) != 0) == carry_in && (borrow(b, i) != 0) == borrow_in);
      if (i > 0 && (carry_in || borrow_in)) {
        const int64_t d = (sub ? top : x) / pow10(i - 1) % 10, e = (sub ? bottom : y) / pow10(i - 1) % 10;
        const bool made = sub ? d < e : d + e >= 10;
        RC_ASSERT((sub ? borrow(b, i) : carry(b, i)) == (made ? 1 : 2));
        chain = made ? 1 : chain + 1;
      } else {
        chain = 0;
      }
      longest = std::max(longest, chain);
      if (i == 6) continue;
      const int64_t d = x / pow10(i) % 10, e = y / pow10(i) % 10;
      RC_ASSERT(tokens(b, role("D" + std::to_string(i))) == d && tokens(b, role("E" + std::to_string(i))) == e);
      const int64_t expected = sub ? (d < e ? 0 : d == e ? 1 : 2) : (d + e < 9 ? 0 : d + e == 9 ? 1 : 2);
      RC_ASSERT(tricase(b, i) == expected);
    }
    RC_ASSERT(cascade(b) == longest);
  }
  return additions;
}

RC_GTEST_PROP(Arithmetic, AnswersAndClassesMatchIntegerArithmetic, ()) {
  check_arithmetic(any_batch(find_task("arithmetic"), *rc::gen::inRange<int64_t>(1, 64), any_scale()));
}

RC_GTEST_PROP(Arithmetic, HardCasesAllCascade, ()) {
  const Batch batch = sample_hard(*rc::gen::inRange<int64_t>(1, 64), any_seed());
  check_arithmetic(batch);
  RC_ASSERT(batch.classes.at("cascade").min().item<int64_t>() >= 2);
}

TEST(Arithmetic, MixIsTwentyPercentAdditionAndOverSamplesCascades) {
  const int64_t n = 20000;
  const Batch batch = find_task("S5").sample(n, 1, Scale::kCpu);
  const double additions = static_cast<double>(check_arithmetic(batch)) / n;
  EXPECT_NEAR(additions, 0.2, 0.02);
  // Uniform operands give a cascade >= 2 in about 17.6 % of questions (with
  // this operator mix); the hard cases (40 %) raise that to about 0.6 * 17.6 + 40 = 50.6 %.
  const double cascades = batch.classes.at("cascade").ge(2).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(cascades, 0.506, 0.02);
  const double negative = batch.classes.at("negative").to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(negative, 0.4, 0.03);
  const Batch hard = sample_hard(n, 2);
  EXPECT_NEAR(static_cast<double>(check_arithmetic(hard)) / n, 0.2, 0.02);
  EXPECT_GE(hard.classes.at("cascade").max().item<int64_t>(), 6);
}

TEST(Arithmetic, TextIsTheSeedNotation) {
  const Task& task = find_task("S5");
  for (const std::string text : {"133357+182243=+0315600", "123450-345670=-0222220"}) {
    const at::Tensor row = task.tokenize(text);
    EXPECT_EQ(task.detokenize(row), text);
    const Grid tokens(row.unsqueeze(0));
    const int64_t x = number_at(tokens, 0, 0, 6), y = number_at(tokens, 0, 7, 6);
    const int64_t answer = (tokens(0, 14) == 11 ? -1 : 1) * number_at(tokens, 0, 15, 7);
    EXPECT_EQ(answer, tokens(0, 6) == 10 ? x + y : x - y) << text;
  }
}

}  // namespace
}  // namespace circuitcheck
