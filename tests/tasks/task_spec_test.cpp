// Task specs (tasks/task_spec.h) and their expression language
// (tasks/expression.h): values, errors naming the pointer, and S1 and S2
// re-expressed as specs generating the built-in tasks' examples exactly.
#include "circuits/formats/error.h"
#include "circuits/tasks/expression.h"
#include "circuits/tasks/task_spec.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace circuitcheck {
namespace {

using nlohmann::json;

struct ExpressionCase {
  std::string text;
  std::string value;  // Value::to_string(), or the error expected in the message
};

void PrintTo(const ExpressionCase& c, std::ostream* os) { *os << c.text; }

const std::map<std::string, Value> kNames = {{"a", Value::of(7)}, {"b", Value::of(-3)}, {"xs", Value::of({4, 1, 3})}};

class ExpressionValues : public ::testing::TestWithParam<ExpressionCase> {};

TEST_P(ExpressionValues, Evaluate) {
  EXPECT_EQ(Expression::parse(GetParam().text, "t").evaluate(kNames).to_string(), GetParam().value);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExpressionValues,
    ::testing::Values(ExpressionCase{"abs(abs(abs(abs(abs(abs(abs(abs(b))))))))", "3"}, ExpressionCase{"1 + 2 * 3", "7"}, ExpressionCase{"(1 + 2) * 3", "9"},
                      ExpressionCase{"(a + b) % 5", "4"}, ExpressionCase{"b % 5", "2"}, ExpressionCase{"b / 2", "-2"},
                      ExpressionCase{"-a", "-7"}, ExpressionCase{"a - b - 1", "9"}, ExpressionCase{"a > b && b < 0", "1"},
                      ExpressionCase{"a <= b || !a", "0"}, ExpressionCase{"a != 7 ? 1 : a == 7 ? 2 : 3", "2"},
                      ExpressionCase{"xs[0] + xs[-1]", "7"}, ExpressionCase{"sort(xs)", "[1, 3, 4]"},
                      ExpressionCase{"reverse(xs)", "[3, 1, 4]"}, ExpressionCase{"set(xs, 1, a)", "[4, 7, 3]"},
                      ExpressionCase{"len(xs) + sum(xs)", "11"}, ExpressionCase{"min(xs) * max(xs)", "4"},
                      ExpressionCase{"min(a, b, 2)", "-3"}, ExpressionCase{"max(a, b)", "7"},
                      ExpressionCase{"abs(b)", "3"}, ExpressionCase{"count([1, 2, 1], 1)", "2"},
                      ExpressionCase{"index(xs, 3)", "2"}, ExpressionCase{"[a, b][1]", "-3"}));

class ExpressionErrors : public ::testing::TestWithParam<ExpressionCase> {};

TEST_P(ExpressionErrors, OneInputErrorNamingWhere) {
  try {
    Expression::parse(GetParam().text, "spec.json: /let/x").evaluate(kNames);
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("spec.json: /let/x: ", 0), 0u) << message;
    EXPECT_NE(message.find(GetParam().value), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExpressionErrors,
    ::testing::Values(ExpressionCase{"a / 0", "division by zero"}, ExpressionCase{"a % (b + 3)", "modulo by zero"},
                      ExpressionCase{"xs[3]", "index 3 out of range for a list of 3"},
                      ExpressionCase{"frob(a)", "unknown function 'frob'"}, ExpressionCase{"c + 1", "unknown name 'c'"},
                      ExpressionCase{"a +", "unexpected end"}, ExpressionCase{"(a", "expected ')'"},
                      ExpressionCase{"a $ b", "unexpected '$'"}, ExpressionCase{"xs + 1", "must be an integer"},
                      ExpressionCase{"len(a)", "must be a list"}, ExpressionCase{"set(xs, 0)", "takes 3 arguments"},
                      ExpressionCase{"index(xs, 9)", "9 is not in the list"},
                      ExpressionCase{"922337203685477580 * 100", "integer overflow"},
                      ExpressionCase{std::string(100, '(') + "a" + std::string(100, ')'), "nested deeper than 64"},
                      ExpressionCase{std::string(5000, '1'), "longer than 4096"},
                      ExpressionCase{[] {
                                       std::string chain = "a";
                                       for (int i = 0; i < 70; ++i) chain += " + a";
                                       return chain;
                                     }(),
                                     "nested deeper than 64"}));

// Arbitrary text never crashes the parser: it parses or throws InputError.
RC_GTEST_PROP(ExpressionFuzz, ArbitraryTextParsesOrIsRefused, ()) {
  const std::string text = *rc::gen::container<std::string>(rc::gen::element<char>(
      'a', 'b', 'x', 's', '1', '0', '(', ')', '[', ']', '+', '-', '*', '/', '%', '?', ':', '!', '=', '<', '&', '|', ',', ' '));
  try {
    Expression::parse(text, "t").evaluate(kNames);
  } catch (const InputError&) {
  }
}

std::string spec_path(const std::string& name) {
  return testing_util::source_dir() + "/examples/task_specs/" + name + ".json";
}

// The spec's examples equal the built-in task's, token for token, with the
// same roles and classes: in domain order and in seeded samples.
void expect_same_examples(const Task& spec, const Task& builtin, const Batch& a, const Batch& b) {
  EXPECT_TRUE(at::equal(a.tokens, b.tokens)) << spec.detokenize(a.tokens[0]) << " vs " << builtin.detokenize(b.tokens[0]);
  EXPECT_TRUE(at::equal(a.targets, b.targets));
  ASSERT_EQ(a.roles.size(), b.roles.size());
  for (const auto& [name, t] : b.roles) EXPECT_TRUE(at::equal(a.roles.at(name), t)) << name;
  ASSERT_EQ(a.classes.size(), b.classes.size());
  for (const auto& [name, t] : b.classes) EXPECT_TRUE(at::equal(a.classes.at(name), t)) << name;
}

TEST(TaskSpec, ModularAdditionSpecIsS1) {
  const Task spec = read_task_spec(spec_path("modular_addition"), "s1_spec");
  const Task& s1 = find_task("S1");
  ASSERT_EQ(spec.domain_size, s1.domain_size);
  expect_same_examples(spec, s1, spec.domain_batch(0, 12769), s1.domain_batch(0, 12769));
  expect_same_examples(spec, s1, spec.sample(500, 3, Scale::kCpu), s1.sample(500, 3, Scale::kCpu));
  ASSERT_TRUE(spec.cyclic);
  EXPECT_EQ(spec.cyclic->modulus, 113);
  EXPECT_EQ(spec.detokenize(spec.domain_batch(120, 1).tokens[0]), s1.detokenize(s1.domain_batch(120, 1).tokens[0]));
}

TEST(TaskSpec, ArrayIndexSpecIsS2) {
  const Task spec = read_task_spec(spec_path("array_index"), "s2_spec");
  const Task& s2 = find_task("S2");
  ASSERT_EQ(spec.domain_size, s2.domain_size);
  expect_same_examples(spec, s2, spec.domain_batch(18000000, 4096), s2.domain_batch(18000000, 4096));
  expect_same_examples(spec, s2, spec.sample(4096, 11, Scale::kCpu), s2.sample(4096, 11, Scale::kCpu));
  Rng replay_spec({3, 0, 2, 1, 7}, 5), replay_s2({3, 0, 2, 1, 7}, 5);
  expect_same_examples(spec, s2, spec.draw(replay_spec, 3, Scale::kCpu), s2.draw(replay_s2, 3, Scale::kCpu));
  EXPECT_EQ(spec.answer_role_prefix, "predict_");
}

TEST(TaskSpec, DistinctListsDrawWithoutRepeatsAndEnumerateThePermutations) {
  const json doc = {{"format", kTaskSpecFormat},
                    {"vocab", {{"numbers", 4}}},
                    {"fields", {{{"name", "xs"}, {"length", 3}, {"min", 0}, {"max", 3}, {"distinct", true}}}},
                    {"sequence", {{{"value", "xs"}, {"role", "xs"}, {"target", "sort(xs)"}}}}};
  const Task task = parse_task_spec(doc, "perm.json", "perm");
  ASSERT_EQ(task.domain_size, 24);  // 4 * 3 * 2
  const Batch all = task.domain_batch(0, 24);
  std::set<std::vector<int64_t>> seen;
  for (int64_t i = 0; i < 24; ++i) {
    const at::Tensor row = all.tokens[i].contiguous();
    std::vector<int64_t> xs(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + 3);
    EXPECT_EQ(std::set<int64_t>(xs.begin(), xs.end()).size(), 3u);
    seen.insert(xs);
  }
  EXPECT_EQ(seen.size(), 24u);
  EXPECT_EQ(all.roles.at("xs").sizes(), (std::vector<int64_t>{24, 3}));
}

// Row i of a [batch, pos] tensor as values.
std::vector<int64_t> row_of(const at::Tensor& t, int64_t i) {
  const at::Tensor row = t[i].contiguous();
  return {row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel()};
}

// A source redraws the named fields only; the base's targets are those of
// set(a, idx from the source, elt), whatever else the source redrew.
TEST(TaskSpec, CounterfactualsTakeTheVariableFromTheSource) {
  json doc = json::parse(testing_util::read_file(spec_path("array_index")));
  doc["counterfactuals"] = {{"idx_only", {{"variable", "idx"}, {"redraw", {"idx"}}}}, {"idx_of_any", {{"variable", "idx"}}}};
  const Task task = parse_task_spec(doc, "s2.json", "s2");
  const Batch b = task.sample(300, 4, Scale::kCpu);
  int64_t moved = 0, elsewhere = 0;
  for (int64_t i = 0; i < 300; ++i) {
    const std::vector<int64_t> base = row_of(b.tokens, i);
    for (const std::string name : {"idx_only", "idx_of_any"}) {
      const std::vector<int64_t> source = row_of(b.counterfactuals.at(name), i);
      const int64_t idx = source[5];
      std::vector<int64_t> expected(11, -1);
      for (int64_t k = 0; k < 3; ++k) expected[7 + k] = k == idx ? base[6] : base[1 + k];
      EXPECT_EQ(row_of(b.counterfactual_targets.at(name), i), expected) << name << " " << task.detokenize(b.tokens[i]);
      if (name == std::string("idx_only")) {
        for (int64_t p : {1, 2, 3, 6}) EXPECT_EQ(source[p], base[p]) << p;
        moved += source[5] != base[5];
      } else {
        elsewhere += source[6] != base[6];
      }
    }
  }
  EXPECT_GT(moved, 150);  // about 2/3 draw another idx
  EXPECT_GT(elsewhere, 250);
  // An example has the same source wherever it is enumerated or drawn.
  const Batch one = task.domain_batch(18000001, 1), two = task.domain_batch(18000000, 2);
  for (const std::string name : {"idx_only", "idx_of_any"})
    EXPECT_EQ(row_of(one.counterfactuals.at(name), 0), row_of(two.counterfactuals.at(name), 1)) << name;
}

// A derived value as the variable: min(a, b) set to the source's.
TEST(TaskSpec, ADerivedVariableIsSetAndWhatReadsItReevaluated) {
  const json doc = {{"format", kTaskSpecFormat},
                    {"vocab", {{"numbers", 20}, {"words", {"="}}}},
                    {"fields", {{{"name", "a"}, {"min", 0}, {"max", 9}}, {{"name", "b"}, {"min", 0}, {"max", 9}}}},
                    {"let", {{"m", "min(a, b)"}, {"answer", "m + 10"}}},
                    {"sequence", {{{"value", "a"}}, {{"value", "b"}}, {{"token", "="}, {"target", "answer"}}}},
                    {"counterfactuals", {{"new_min", {{"variable", "m"}}}}}};
  const Task task = parse_task_spec(doc, "min.json", "min");
  const Batch all = task.domain_batch(0, 100);
  for (int64_t i = 0; i < 100; ++i) {
    const std::vector<int64_t> source = row_of(all.counterfactuals.at("new_min"), i);
    EXPECT_EQ(row_of(all.counterfactual_targets.at("new_min"), i), (std::vector<int64_t>{-1, -1, std::min(source[0], source[1]) + 10}));
  }
}

struct BadSpec {
  std::string name;
  std::function<void(json&)> change;
  std::string message;
};

void PrintTo(const BadSpec& c, std::ostream* os) { *os << c.name; }

json good_spec() {
  return {{"format", kTaskSpecFormat},
          {"vocab", {{"numbers", 10}, {"words", {"="}}}},
          {"fields", {{{"name", "a"}, {"min", 0}, {"max", 9}}, {{"name", "b"}, {"min", 0}, {"max", 9}}}},
          {"let", {{"c", "(a + b) % 10"}}},
          {"sequence", {{{"value", "a"}, {"role", "a"}}, {{"value", "b"}}, {{"token", "="}, {"target", "c"}}}},
          {"roles", {{"other", "@a + 1"}}},
          {"classes", {{"carry", "a + b >= 10"}}},
          {"counterfactuals", {{"new_a", {{"variable", "a"}, {"redraw", {"a"}}}}}}};
}

// A field as the variable, read through a derived value: good_spec's c = (a +
// b) % 10 with a from the source (which redraws a alone).
TEST(TaskSpec, AFieldVariableReachesTheTargetsThroughDerivedValues) {
  const Task task = parse_task_spec(good_spec(), "spec.json", "t");
  const Batch all = task.domain_batch(0, 100);
  int64_t moved = 0;
  for (int64_t i = 0; i < 100; ++i) {
    const std::vector<int64_t> base = row_of(all.tokens, i), source = row_of(all.counterfactuals.at("new_a"), i);
    EXPECT_EQ(source[1], base[1]);  // b is the base's
    EXPECT_EQ(row_of(all.counterfactual_targets.at("new_a"), i), (std::vector<int64_t>{-1, -1, (source[0] + base[1]) % 10}));
    moved += source[0] != base[0];
  }
  EXPECT_GT(moved, 80);
}

// A source whose sequence has another length is refused, naming the example.
TEST(TaskSpec, ASourceOfAnotherLengthIsRefused) {
  json doc = good_spec();
  doc["fields"].push_back({{"name", "n"}, {"min", 1}, {"max", 2}});
  doc["sequence"].push_back({{"value", "n == 1 ? [0] : [0, 0]"}});
  doc["sequence"][2]["target"] = "(c + n) % 10";
  doc["counterfactuals"]["new_n"] = {{"variable", "n"}, {"redraw", {"n"}}};
  try {
    parse_task_spec(doc, "spec.json", "t").sample(50, 1, Scale::kCpu);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("spec.json: /sequence: a sequence of 5 positions; the first example has 4 (example a = "),
              std::string::npos)
        << e.what();
  }
}

// A role or class whose width changes between examples is refused where it is
// defined: its entry of "roles" or "classes", or its element's roles.
TEST(TaskSpec, ARoleOrClassThatChangesWidthNamesWhereItIsDefined) {
  const auto refusal = [](const std::function<void(json&)>& change) {
    json doc = good_spec();
    change(doc);
    try {
      parse_task_spec(doc, "spec.json", "t").sample(200, 1, Scale::kCpu);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(refusal([](json& d) { d["roles"]["other"] = "a == 0 ? [1, 2] : [1]"; })
                .find("spec.json: /roles/other: role 'other': "),
            std::string::npos);
  EXPECT_NE(refusal([](json& d) { d["classes"]["carry"] = "a == 0 ? [1, 2] : [1]"; })
                .find("spec.json: /classes/carry: class 'carry': "),
            std::string::npos);
  const std::string element = refusal([](json& d) {  // the same length, another width
    d["sequence"][0]["value"] = "a == 0 ? [1, 2] : [1]";
    d["sequence"][1]["value"] = "a == 0 ? [b] : [b, b]";
  });
  EXPECT_NE(element.find("spec.json: /sequence/0/role: role 'a': "), std::string::npos) << element;
}

class TaskSpecErrors : public ::testing::TestWithParam<BadSpec> {};

TEST_P(TaskSpecErrors, OneErrorNamingTheFileAndPointer) {
  json doc = good_spec();
  ASSERT_NO_THROW(parse_task_spec(doc, "spec.json", "t"));
  GetParam().change(doc);
  try {
    parse_task_spec(doc, "spec.json", "t");
    FAIL() << "parsed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().message), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, TaskSpecErrors,
    ::testing::Values(
        BadSpec{"Format", [](json& d) { d["format"] = "x"; }, "spec.json: /format: unknown format 'x'"},
        BadSpec{"UnknownKey", [](json& d) { d["loop"] = true; }, "spec.json: /loop: unknown field"},
        BadSpec{"EmptyRange", [](json& d) { d["fields"][0]["max"] = -1; }, "spec.json: /fields/0/max: empty range [0, -1]"},
        BadSpec{"DistinctTooLong",
                [](json& d) { d["fields"][0] = {{"name", "a"}, {"length", 11}, {"min", 0}, {"max", 9}, {"distinct", true}}; },
                "spec.json: /fields/0/length: a distinct list of 11 values from a range of 10"},
        BadSpec{"DuplicateField", [](json& d) { d["fields"][1]["name"] = "a"; }, "/fields/1/name: duplicate field 'a'"},
        BadSpec{"UnknownName", [](json& d) { d["let"]["c"] = "a + z"; }, "spec.json: /let/c: unknown name 'z'"},
        BadSpec{"UnknownFunction", [](json& d) { d["let"]["c"] = "exp(a)"; }, "spec.json: /let/c: unknown function 'exp'"},
        BadSpec{"Cyclic", [](json& d) { d["let"] = {{"c", "e + 1"}, {"e", "c"}}; }, "spec.json: /let/c: cyclic definition among c, e"},
        BadSpec{"DivisionByZero", [](json& d) { d["let"]["c"] = "a / (b - b)"; }, "spec.json: /let/c: division by zero"},
        BadSpec{"ModuloByZero", [](json& d) { d["let"]["c"] = "a % b"; }, "spec.json: /let/c: modulo by zero"},
        BadSpec{"WordNotInVocab", [](json& d) { d["sequence"][2]["token"] = "+"; }, "/sequence/2/token: '+' is not in the vocabulary"},
        BadSpec{"TokenOutOfVocab", [](json& d) { d["sequence"][1]["value"] = "b + 11"; },
                "spec.json: /sequence/1/value: token id 11 outside the vocabulary [0, 11) (example a = 0, b = 0)"},
        BadSpec{"TargetOutOfRange", [](json& d) { d["outputs"] = 5; d["sequence"][2]["target"] = "c + 5"; },
                "/sequence/2/target: target 5 outside [0, 5)"},
        BadSpec{"TargetLength", [](json& d) { d["sequence"][2]["target"] = "[c, c]"; },
                "/sequence/2/target: expected a target for each of the element's 1 positions"},
        BadSpec{"RoleOutsideSequence", [](json& d) { d["roles"]["other"] = "@a + 3"; },
                "spec.json: /roles/other: position 3 outside the sequence [0, 3)"},
        BadSpec{"UnknownRole", [](json& d) { d["roles"]["other"] = "@b"; }, "/roles/other: unknown name '@b'"},
        BadSpec{"NothingScored", [](json& d) { d["sequence"][2].erase("target"); d.erase("counterfactuals"); }, "/sequence: no element has a target"},
        BadSpec{"TokenAndValue", [](json& d) { d["sequence"][0]["token"] = "="; },
                "/sequence/0: expected one of 'token' (a word of the vocabulary) and 'value' (an expression)"},
        BadSpec{"NegativeClass", [](json& d) { d["classes"]["carry"] = "a - 5"; }, "/classes/carry: class value -5 below -1"},
        BadSpec{"EmptyListClass", [](json& d) { d["classes"]["carry"] = "a == 0 ? [] : [a]"; },
                "spec.json: /classes/carry: an empty list cannot give positions or classes (example a = 0, b = 0)"},
        BadSpec{"NumberWord", [](json& d) { d["vocab"]["words"] = {"=", "5"}; },
                "/vocab/words/1: a word must not be a number"},
        BadSpec{"EvenModulus", [](json& d) { d["cyclic"] = {{"modulus", 10}, {"operands", {"a", "b"}}}; },
                "/cyclic/modulus: the Fourier basis of the fourier kind needs an odd modulus, got 10"},
        BadSpec{"TooManyLets", [](json& d) { for (int i = 0; i < 1100; ++i) d["let"]["x" + std::to_string(i)] = "1"; },
                "spec.json: /let: more than 1024 entries"},
        BadSpec{"SequenceTooLong",
                [](json& d) {
                  d["fields"].push_back({{"name", "xs"}, {"length", 4096}, {"min", 0}, {"max", 9}});
                  for (int i = 0; i < 17; ++i) d["sequence"].push_back({{"value", "xs"}});
                },
                "the sequence grows past 65536 positions"},
        // A spec whose examples would take hours to generate (review: 15
        // distinct lists of 4,096, or hundreds of sums over them, loaded or
        // sampled for hours) is refused at load.
        BadSpec{"CostlyDistinctLists",
                [](json& d) {
                  for (int i = 0; i < 15; ++i)
                    d["fields"].push_back({{"name", "d" + std::to_string(i)}, {"length", 4096}, {"min", 0},
                                           {"max", 1000000000}, {"distinct", true}});
                },
                "spec.json: generating one example may take up to"},
        BadSpec{"CostlyLets",
                [](json& d) {
                  d["fields"].push_back({{"name", "xs"}, {"length", 4096}, {"min", 0}, {"max", 9}});
                  for (int i = 0; i < 100; ++i) d["let"]["s" + std::to_string(i)] = "sum(xs) + sum(xs) + sum(xs)";
                },
                "more than the 10000000 a task spec may"},
        BadSpec{"UnknownVariable", [](json& d) { d["counterfactuals"]["new_a"]["variable"] = "z"; },
                "spec.json: /counterfactuals/new_a/variable: unknown variable 'z': expected a field or a derived value"},
        BadSpec{"VariableNoTargetReads", [](json& d) { d["let"]["e"] = "a * 2"; d["counterfactuals"]["new_a"]["variable"] = "e"; },
                "spec.json: /counterfactuals/new_a/variable: no target reads 'e'"},
        BadSpec{"EmptyRedraw", [](json& d) { d["counterfactuals"]["new_a"]["redraw"] = json::array(); },
                "spec.json: /counterfactuals/new_a/redraw: expected a non-empty array"},
        BadSpec{"UnknownRedraw", [](json& d) { d["counterfactuals"]["new_a"]["redraw"] = {"q"}; },
                "spec.json: /counterfactuals/new_a/redraw/0: unknown field 'q'"},
        BadSpec{"RepeatedRedraw", [](json& d) { d["counterfactuals"]["new_a"]["redraw"] = {"a", "a"}; },
                "spec.json: /counterfactuals/new_a/redraw/1: duplicate field 'a'"},
        BadSpec{"RedrawMissesVariable", [](json& d) { d["counterfactuals"]["new_a"]["redraw"] = {"b"}; },
                "spec.json: /counterfactuals/new_a/redraw: 'a' reads none of the redrawn fields"},
        BadSpec{"MissingVariable", [](json& d) { d["counterfactuals"]["new_a"].erase("variable"); },
                "spec.json: /counterfactuals/new_a"},
        BadSpec{"CyclicNotTheFields", [](json& d) { d["cyclic"] = {{"modulus", 11}, {"operands", {"a", "b"}}}; },
                "/cyclic/operands/0: the cyclic operands must be the spec's only two fields"}),
    [](const auto& info) { return info.param.name; });

// Random edits of a good spec never crash: each parses or throws InputError.
RC_GTEST_PROP(TaskSpecFuzz, MutatedSpecsParseOrAreRefused, ()) {
  std::string text = good_spec().dump();
  const int edits = *rc::gen::inRange(1, 6);
  for (int i = 0; i < edits; ++i) text[*rc::gen::inRange<std::size_t>(0, text.size())] = *rc::gen::element<char>('0', '9', '-', '[', '"', '/', '%', 'a', '@', '}');
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception&) {
    return;
  }
  try {
    const Task task = parse_task_spec(doc, "spec.json", "t");
    task.sample(20, 1, Scale::kCpu);
  } catch (const InputError& e) {
    RC_ASSERT(std::string(e.what()).find("spec.json") != std::string::npos);
  }
}

}  // namespace
}  // namespace circuitcheck
