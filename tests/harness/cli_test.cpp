// The circuitcheck binary: inspect, convert, forward, datasets and file
// tasks, and bad input (exit 2, one clear error, no partial output).
#include "circuits/formats/safetensors.h"
#include "circuits/formats/sha256.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace circuitcheck {
namespace {

using testing_util::fixture;
using testing_util::run_command;

std::string cli() { return CIRCUITCHECK_CLI; }

TEST(Cli, InspectPrintsConfigTensorsAndSha256) {
  auto r = run_command(cli() + " inspect " + fixture("external/arena_sum/model.pt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("torch-zip"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("blocks.0.attn.W_Q  Float [3, 48, 24]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sha256:"), std::string::npos);
  EXPECT_NE(r.output.find("config (side file"), std::string::npos) << r.output;
}

// A hostile file's names and metadata reach the terminal escaped, and a
// tensor of many dimensions as its first 8 and their count.
TEST(Cli, InspectEscapesNamesAndShortensShapes) {
  const std::string dir = testing_util::scratch_dir("CliInspectHostile");
  write_safetensors(dir + "/m.safetensors", {{"w\x1b[31m", at::zeros(std::vector<int64_t>(20, 1))}},
                    {{"note", "a\x1b[2Jb"}});
  auto r = run_command(cli() + " inspect " + dir + "/m.safetensors");
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("metadata note: a\\x1b[2Jb"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("w\\x1b[31m  Float [1, 1, 1, 1, 1, 1, 1, 1, ...] (20 dimensions)"), std::string::npos)
      << r.output;
}

TEST(Cli, InspectSaysWhatItInferredAndWhatItNeeds) {
  const std::string dir = testing_util::scratch_dir("CliInspect");
  std::filesystem::copy_file(fixture("tl/modadd/model.pt"), dir + "/model.pt");
  auto r = run_command(cli() + " inspect " + dir + "/model.pt --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["inferred_config"]["d_mlp"], 512);
  EXPECT_NE(j["config_needs"][0].get<std::string>().find("act_fn"), std::string::npos);
}

TEST(Cli, ConvertThenForwardMatchesTheGolden) {
  const std::string dir = testing_util::scratch_dir("CliForward");
  auto c = run_command(cli() + " convert " + fixture("tl/lnpre_gelunew_bidir/model.pt") + " " + dir + "/m.safetensors");
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto f = run_command(cli() + " forward " + dir + "/m.safetensors --tokens " +
                       fixture("tl/lnpre_gelunew_bidir/golden.safetensors") +
                       " --cache blocks.1.attn.hook_pattern,blocks.0.mlp.hook_post --out " + dir + "/out.safetensors");
  ASSERT_EQ(f.exit_code, 0) << f.output;
  Safetensors out = read_safetensors(dir + "/out.safetensors");
  Safetensors golden = read_safetensors(fixture("tl/lnpre_gelunew_bidir/golden.safetensors"));
  EXPECT_EQ(out.tensors.size(), 4u);  // logits, tokens and two activations: nothing else kept
  for (const char* name : {"logits", "blocks.1.attn.hook_pattern", "blocks.0.mlp.hook_post"})
    EXPECT_TRUE(at::allclose(out.tensors.at(name), golden.tensors.at(name), 1e-4, 1e-4)) << name;
}

TEST(Cli, DatasetInspectConvertAndEval) {
  const std::string dir = testing_util::scratch_dir("CliDataset");
  const std::string data = testing_util::source_dir() + "/examples/min_int/min_int.jsonl";
  auto inspect = run_command(cli() + " dataset inspect " + data + " --examples 1");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("examples:    2000 of 3 positions, 2000 scored positions"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("class.order  [2000]  values a<b (0): 988, a>b (1): 1003, a=b (2): 9"), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("0: 120 46 =\n     targets: @2 46"), std::string::npos) << inspect.output;
  auto convert = run_command(cli() + " dataset convert " + data + " " + dir + "/d.safetensors");
  ASSERT_EQ(convert.exit_code, 0) << convert.output;
  auto eval = run_command(cli() + " eval " + fixture("external/ckk_min_int/model.pt") + " --task " + dir +
                          "/d.safetensors --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const nlohmann::json e = nlohmann::json::parse(eval.output).at(0);
  EXPECT_EQ(e["domain"], "dataset");
  EXPECT_EQ(e["system"], "d");
  EXPECT_EQ(e["n"], 2000);
  EXPECT_EQ(e["correct"], 2000);  // ckkissane's SOURCE.md: 0.99965 over all 40,000 pairs
}

// A dataset's description and token strings reach the terminal with their
// control characters escaped: a file cannot clear the screen or forge a line.
TEST(Cli, DatasetInspectEscapesControlCharacters) {
  const std::string dir = testing_util::scratch_dir("CliDatasetControls");
  testing_util::write_file(dir + "/d.jsonl",
                           "{\"format\": \"circuitcheck.dataset/1\", \"description\": \"clear\\u001b[2J\\nfile: forged\", "
                           "\"vocab\": [\"a\", \"b\\u001b[31m\"], \"class_names\": {\"c\": [\"x\\u001b]0;t\\u0007\"]}}\n"
                           "{\"tokens\": [0, 1], \"targets\": [-1, 1], \"classes\": {\"c\": 0}}\n");
  auto inspect = run_command(cli() + " dataset inspect " + dir + "/d.jsonl");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_EQ(inspect.output.find_first_of("\x1b\x07"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("values x\\x1b]0;t\\x07 (0): 1"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("description: clear\\x1b[2J\\x0afile: forged\n"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("0: a b\\x1b[31m\n     targets: @1 b\\x1b[31m"), std::string::npos) << inspect.output;
}

// verify, diff and nodes on file tasks: the report names the dataset and its
// hash; a model whose head writes nothing (W_V zeroed) is a regression that
// diff names; nodes runs on a task spec and finds the head that breaks it.
TEST(Cli, FileTaskReportsDiffAndNodes) {
  const std::string dir = testing_util::scratch_dir("CliFileTask");
  const std::string example = testing_util::source_dir() + "/examples/min_int";
  auto ok = run_command(cli() + " verify " + example + "/claims/min_int.json --quiet --report-dir " + dir + "/ok");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  const nlohmann::json report = nlohmann::json::parse(testing_util::read_file(dir + "/ok/min_int.json"));
  EXPECT_EQ(report["system"], "min_int");
  EXPECT_EQ(report["provenance"]["task_file"]["sha256"], sha256_file(example + "/min_int.jsonl"));
  EXPECT_NE(testing_util::read_file(dir + "/ok/junit.xml").find("name=\"task_sha256\""), std::string::npos);

  auto convert = run_command(cli() + " convert " + fixture("external/ckk_min_int/model.pt") + " " + dir + "/m.safetensors");
  ASSERT_EQ(convert.exit_code, 0) << convert.output;
  Safetensors damaged = read_safetensors(dir + "/m.safetensors");
  damaged.tensors.at("blocks.0.attn.W_V").zero_();
  write_safetensors(dir + "/damaged.safetensors", damaged.tensors, damaged.metadata);
  auto bad = run_command(cli() + " verify " + example + "/claims/min_int.json --quiet --checkpoint " + dir +
                         "/damaged.safetensors --report-dir " + dir + "/damaged");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  auto diff = run_command(cli() + " diff " + dir + "/ok/min_int.json " + dir + "/damaged/min_int.json --markdown");
  EXPECT_EQ(diff.exit_code, 1) << diff.output;
  EXPECT_NE(diff.output.find("| `accuracy` | verdict | pass | fail | **regression** |"), std::string::npos)
      << diff.output;
  EXPECT_EQ(diff.output.find("`head_attends_to_min` | verdict"), std::string::npos) << diff.output;  // W_V leaves the pattern

  auto nodes = run_command(cli() + " nodes " + fixture("external/ckk_min_int/model.pt") + " --task " + example +
                           "/min_int_task.json --n 1000 --out " + dir + "/nodes.json");
  ASSERT_EQ(nodes.exit_code, 0) << nodes.output;
  const nlohmann::json map = nlohmann::json::parse(testing_util::read_file(dir + "/nodes.json"));
  EXPECT_EQ(map["system"], "min_int_task");
  EXPECT_EQ(map["baseline"]["n"], 1000);
  ASSERT_EQ(map["nodes"].size(), 1u);
  EXPECT_EQ(map["nodes"][0]["node"], "P2L0H0");
  EXPECT_LT(map["nodes"][0]["accuracy"].get<double>(), 0.05);
}

// What verify prints, piped: one line per claim of at most 120 characters
// (verdict, system/id, headline figure against its threshold, time) and the
// file's summary; --quiet the summary only; --verbose each claim's whole
// explanation. No progress line reaches a pipe (no \r, no escape sequence).
TEST(Cli, VerifyPrintsOneShortLinePerClaimTheSummaryQuietAndTheExplanationsVerbose) {
  const std::string verify = cli() + " verify " + testing_util::source_dir() + "/examples/min_int/claims/min_int.json";
  const auto lines_of = [](const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
      lines.push_back(text.substr(start, end - start));
    return lines;
  };
  const std::vector<std::string> ids = {"accuracy", "head_attends_to_min", "head_necessary",
                                        "raised_min_needs_key_and_value", "head_output_is_the_min_variable"};
  const auto plain = run_command(verify);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  const auto verbose = run_command(verify + " --verbose");
  ASSERT_EQ(verbose.exit_code, 0) << verbose.output;
  const auto quiet = run_command(verify + " --quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  for (const auto* r : {&plain, &verbose, &quiet}) {
    EXPECT_EQ(r->output.find('\r'), std::string::npos) << r->output;
    EXPECT_EQ(r->output.find('\033'), std::string::npos) << r->output;
  }
  const std::vector<std::string> lines = lines_of(plain.output), long_lines = lines_of(verbose.output);
  ASSERT_EQ(lines.size(), ids.size() + 1) << plain.output;
  ASSERT_EQ(long_lines.size(), ids.size() + 1) << verbose.output;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(lines[i].rfind("PASS  min_int/" + ids[i] + " ", 0), 0u) << lines[i];
    EXPECT_LE(lines[i].size(), 120u) << lines[i];
    EXPECT_NE(lines[i].find(" >= "), std::string::npos) << "no figure against its threshold: " << lines[i];
    EXPECT_EQ(lines[i].substr(lines[i].size() - 2), " s") << lines[i];
    EXPECT_EQ(long_lines[i].rfind("PASS  min_int/" + ids[i] + ": ", 0), 0u) << long_lines[i];
    EXPECT_NE(long_lines[i].find(": pass"), std::string::npos) << long_lines[i];
    EXPECT_GT(long_lines[i].size(), lines[i].size()) << long_lines[i];
  }
  EXPECT_NE(long_lines[1].find("control random_init fails as it must"), std::string::npos) << long_lines[1];
  const std::string summary = "min_int: 5 passed, 0 failed, 0 errors (";
  EXPECT_EQ(lines.back().rfind(summary, 0), 0u) << lines.back();
  EXPECT_EQ(long_lines.back().rfind(summary, 0), 0u) << long_lines.back();
  ASSERT_EQ(lines_of(quiet.output).size(), 1u) << quiet.output;
  EXPECT_EQ(quiet.output.rfind(summary, 0), 0u) << quiet.output;
}

// attribute on the shipped S2 model, by nodes and by edges: the claim it
// writes verifies as is, and its reports name what was measured.
TEST(Cli, AttributeWritesAClaimThatVerifies) {
  const std::string dir = testing_util::scratch_dir("CliAttribute");
  const std::string ck = testing_util::source_dir() + "/checkpoints/array_index.safetensors";
  auto found = run_command(cli() + " attribute " + ck + " --n 500 --out-claim " + dir + "/claims/found.json --report-dir " +
                           dir + "/out");
  ASSERT_EQ(found.exit_code, 0) << found.output;
  EXPECT_NE(found.output.find("chosen (eap-ig): top "), std::string::npos) << found.output;
  const nlohmann::json report = nlohmann::json::parse(testing_util::read_file(dir + "/out/attribution.json"));
  EXPECT_EQ(report["schema"], "circuitcheck.attribution/1");
  EXPECT_EQ(report["nodes"].size(), 22u);
  EXPECT_GE(report["chosen"]["lower"].get<double>(), 0.9);
  EXPECT_NE(testing_util::read_file(dir + "/out/attribution.html").find("<svg"), std::string::npos);
  auto verified = run_command(cli() + " verify " + dir + "/claims/found.json --quiet");
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  // Edges: the same, written as a circuit of edges.
  auto edges = run_command(cli() + " attribute " + ck + " --edges --n 500 --out-claim " + dir + "/claims/edges.json");
  ASSERT_EQ(edges.exit_code, 0) << edges.output;
  const nlohmann::json written = nlohmann::json::parse(testing_util::read_file(dir + "/claims/edges.json"));
  EXPECT_FALSE(written["claims"][0].contains("nodes"));
  EXPECT_FALSE(written["claims"][0]["edges"].empty());
  auto edges_verified = run_command(cli() + " verify " + dir + "/claims/edges.json --quiet");
  EXPECT_EQ(edges_verified.exit_code, 0) << edges_verified.output;
  // Edges by position: each edge written once, at its positions.
  auto at = run_command(cli() + " attribute " + ck + " --edges --by-position --n 500 --out-claim " + dir + "/claims/at.json");
  ASSERT_EQ(at.exit_code, 0) << at.output;
  EXPECT_NE(at.output.find(" of 132 edges at one position each"), std::string::npos) << at.output;
  const nlohmann::json at_positions = nlohmann::json::parse(testing_util::read_file(dir + "/claims/at.json"));
  std::set<std::pair<std::string, std::string>> named;
  for (const nlohmann::json& e : at_positions["claims"][0]["edges"]) {
    EXPECT_TRUE(named.insert({e["sender"].get<std::string>(), e["receiver"].get<std::string>()}).second) << e;
    ASSERT_TRUE(e.contains("positions")) << e;
    EXPECT_FALSE(e["positions"].empty()) << e;
  }
  auto at_verified = run_command(cli() + " verify " + dir + "/claims/at.json --quiet");
  EXPECT_EQ(at_verified.exit_code, 0) << at_verified.output;
  // One answer's circuit: --score-at goes into the claim.
  auto one = run_command(cli() + " attribute " + ck + " --score-at predict_b2 --n 500 --out-claim " + dir + "/claims/b2.json");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(nlohmann::json::parse(testing_util::read_file(dir + "/claims/b2.json"))["claims"][0]["score_at"], "predict_b2");
}

// Bad input to attribute: exit 2, one error naming the flag or the claim's
// field, nothing written.
TEST(Cli, AttributeRefusesBadInputBeforeWriting) {
  const std::string dir = testing_util::scratch_dir("CliAttributeBad");
  const std::string ck = testing_util::source_dir() + "/checkpoints/array_index.safetensors";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--metric accuracy", "--metric: unknown metric 'accuracy' (valid: logit_diff, target_log_prob; accuracy has no gradient)"},
      {"--method acdc", "--method: unknown method 'acdc' (valid: eap-ig, atp)"},
      {"--ablation patch", "--ablation: unknown ablation 'patch' (valid: zero, mean, resample, counterfactual)"},
      {"--ablation counterfactual", "--counterfactual: counterfactual ablation and --counterfactual ROLE|input:NAME go together"},
      {"--counterfactual nonsense", "/claims/0/counterfactual: "},
      {"--threshold 1.5", "--threshold"},
      {"--ig-steps 0", "--ig-steps"},
      {"--system modular_addition", "attribute: "},
      {"--edges --neurons", "attribute --neurons: --edges and --neurons do not go together"},
      {"--neurons", "attribute --neurons: " + ck + " has no MLP"},
      {"--by-position", "attribute --by-position: --by-position ranks edges at each position: give --edges too"},
      {"--score-at elt", "/claims/0/score_at: role 'elt' holds no scored target"},
  };
  for (const auto& [flags, message] : cases) {
    auto r = run_command(cli() + " attribute " + ck + " --n 100 " + flags + " --out-claim " + dir + "/claims/x.json --report-dir " +
                         dir + "/out");
    EXPECT_EQ(r.exit_code, 2) << flags << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << flags << "\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/claims/x.json")) << flags;
    EXPECT_FALSE(std::filesystem::exists(dir + "/out")) << flags;
  }
}

TEST(Cli, UnknownSystemInMetadataNamesTheFileAndField) {
  const std::string dir = testing_util::scratch_dir("CliMetadataSystem");
  Safetensors ck = read_safetensors(testing_util::source_dir() + "/checkpoints/modular_addition.safetensors");
  ck.metadata["system"] = "bogus";
  write_safetensors(dir + "/m.safetensors", ck.tensors, ck.metadata);
  auto r = run_command(cli() + " eval " + dir + "/m.safetensors");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("eval: " + dir + "/m.safetensors: metadata \"system\": unknown system 'bogus'"), std::string::npos)
      << r.output;
}

// forward on [1e6, 11] tokens with every activation cached would write tens of
// gigabytes: it is refused before the model runs, naming the flag that raises
// the limit (issue 23, finding 6).
TEST(Cli, ForwardRefusesAnOutputLargerThanTheLimitBeforeRunning) {
  const std::string dir = testing_util::scratch_dir("CliForwardTooLarge");
  write_safetensors(dir + "/tokens.safetensors", {{"tokens", at::zeros({1000000, 11}, at::kLong)}});
  const auto started = std::chrono::steady_clock::now();
  auto r = run_command(cli() + " forward " + fixture("tl/array_index/model.pt") + " --tokens " + dir +
                       "/tokens.safetensors --cache all --out " + dir + "/out.safetensors");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("forward: " + dir + "/tokens.safetensors: tokens: [1000000, 11] tokens would give "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("more than the limit of 4294967296 bytes; raise it with --max-output-bytes"),
            std::string::npos)
      << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.safetensors"));
}

// Paths that are not UTF-8 (a Latin-1 file name) are valid on Linux: verify
// reads them, and its JSON report shows them escaped, as printable() does
// (issue 23, finding 5); before, the report's JSON dump threw (exit 3).
TEST(Cli, APathThatIsNotUtf8IsEscapedInTheReport) {
  const std::string dir = testing_util::scratch_dir("CliPathNotUtf8");
  const std::string model = dir + "/caf\xe9";
  std::filesystem::create_directory(model);
  std::filesystem::copy_file(fixture("external/ckk_min_int/model.pt"), model + "/model.pt");
  std::filesystem::copy_file(fixture("external/ckk_min_int/config.json"), model + "/config.json");
  auto r = run_command(cli() + " verify " + testing_util::source_dir() + "/examples/min_int/claims/min_int.json " +
                       "--only accuracy --quiet --checkpoint '" + model + "/model.pt' --report-dir " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json report = nlohmann::json::parse(testing_util::read_file(dir + "/out/min_int.json"));
  EXPECT_EQ(report["provenance"]["checkpoint"]["path"], dir + "/caf\\xe9/model.pt") << report["provenance"];
}

struct BadCli {
  std::string name;
  std::string args;      // after the binary; {dir} is a scratch folder, {fx} the fixtures, {ex} examples/
  std::string message;   // expected in the output
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const BadCli& c, std::ostream* os) { *os << c.name; }

class CliErrors : public ::testing::TestWithParam<BadCli> {};

TEST_P(CliErrors, ExitTwoWithOneClearErrorAndNoOutputFile) {
  const std::string dir = testing_util::scratch_dir("CliErrors_" + GetParam().name);
  testing_util::write_file(dir + "/empty.pt", "");
  std::filesystem::create_symlink("loop", dir + "/loop");  // loop -> loop
  std::string legacy = testing_util::read_file(fixture("tl/array_index/model_legacy.pt"));
  for (std::size_t at = legacy.find("embed.W_E"); at != std::string::npos; at = legacy.find("embed.W_E", at))
    legacy.replace(at, 9, "embed\xffW_E");  // a key that is not UTF-8, in a format without a CRC
  testing_util::write_file(dir + "/key_not_utf8.pt", legacy);
  std::string model = testing_util::read_file(fixture("tl/array_index/model.pt"));
  testing_util::write_file(dir + "/truncated.pt", model.substr(0, model.size() / 2));
  write_safetensors(dir + "/long.safetensors", {{"tokens", at::zeros({1, 12}, at::kLong)}});
  write_safetensors(dir + "/oov.safetensors", {{"tokens", at::full({1, 3}, 60, at::kLong)}});
  write_safetensors(dir + "/float.safetensors", {{"tokens", at::zeros({1, 3})}});
  std::string too_deep = dir;
  while (too_deep.size() <= 5000) too_deep += "/" + std::string(200, 'd');
  const std::string args = testing_util::expand(
      GetParam().args, {{"{dir}", dir}, {"{fx}", fixture("")}, {"{ex}", testing_util::source_dir() + "/examples"},
                        {"{long_name}", dir + "/" + std::string(300, 'n')}, {"{too_deep}", too_deep}});
  auto r = run_command(cli() + " " + args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("error:"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.safetensors"));
}

INSTANTIATE_TEST_SUITE_P(
    Table, CliErrors,
    ::testing::Values(
        BadCli{"missing_file", "inspect {dir}/absent.pt", "no such file"},
        BadCli{"directory", "inspect {dir}", "not a regular file"},
        BadCli{"empty_file", "convert {dir}/empty.pt {dir}/out.safetensors", "empty.pt"},
        BadCli{"truncated", "convert {dir}/truncated.pt {dir}/out.safetensors", "truncated.pt"},
        BadCli{"unknown_hook",
               "forward {fx}/tl/array_index/model.pt --tokens {fx}/tl/array_index/golden.safetensors "
               "--cache blocks.0.hook_resid_pree --out {dir}/out.safetensors",
               "closest: blocks.0.hook_resid_pre"},
        BadCli{"tokens_too_long",
               "forward {fx}/tl/array_index/model.pt --tokens {dir}/long.safetensors --out {dir}/out.safetensors",
               "exceeds n_ctx 11"},
        BadCli{"tokens_out_of_vocabulary",
               "forward {fx}/tl/array_index/model.pt --tokens {dir}/oov.safetensors --out {dir}/out.safetensors",
               "out of the vocabulary"},
        BadCli{"tokens_not_int",
               "forward {fx}/tl/array_index/model.pt --tokens {dir}/float.safetensors --out {dir}/out.safetensors",
               "int64"},
        BadCli{"wrong_config",
               "convert {fx}/tl/modadd/model.pt {dir}/out.safetensors --config {fx}/tl/array_index/config.json",
               "contradicts the config"},
        BadCli{"unknown_option", "inspect {fx}/tl/modadd/model.pt --frobnicate", "unknown option --frobnicate"},
        BadCli{"bad_device",
               "forward {fx}/tl/array_index/model.pt --tokens {fx}/tl/array_index/golden.safetensors --device tpu "
               "--out {dir}/out.safetensors",
               "unknown device 'tpu'"},
        BadCli{"bad_threads",
               "forward {fx}/tl/array_index/model.pt --tokens {fx}/tl/array_index/golden.safetensors --threads 0 "
               "--out {dir}/out.safetensors",
               "--threads"},
        BadCli{"family_alpha_one", "verify {ex}/min_int/claims/min_int.json --family-alpha 1", "--family-alpha: expected a number in (0, 1), got '1'"},
        BadCli{"verify_checkpoints_list_missing", "verify {ex}/../claims/array_index.json --checkpoints {dir}/absent.txt",
               "absent.txt: no such file"},
        BadCli{"verify_checkpoints_list_empty", "verify {ex}/../claims/array_index.json --checkpoints {dir}/empty.pt",
               "empty.pt: lists no checkpoint"},
        BadCli{"verify_checkpoint_for_no_claim_file",
               "verify {ex}/../claims/array_index.json {ex}/../claims/modular_addition.json "
               "--checkpoint {ex}/../checkpoints/tree_path.safetensors",
               "a tree_path checkpoint, and no claim file is for tree_path"},
        BadCli{"verify_claim_file_without_checkpoint",
               "verify {ex}/../claims/array_index.json {ex}/../claims/modular_addition.json "
               "--checkpoint {ex}/../checkpoints/array_index.safetensors",
               "modular_addition.json: no --checkpoint is a modular_addition checkpoint"},
        BadCli{"verify_checkpoint_without_system_for_several_files",
               "verify {ex}/../claims/array_index.json {ex}/../claims/modular_addition.json "
               "--checkpoint {fx}/tl/array_index/model.pt",
               "model.pt: the checkpoint names no system in its metadata"},
        BadCli{"list_two_checkpoints",
               "list {ex}/../claims/array_index.json --checkpoint {ex}/../checkpoints/array_index.safetensors "
               "--checkpoint {ex}/../checkpoints/array_index.safetensors",
               "list --checkpoint: give it once"},
        BadCli{"unknown_command", "frobnicate", "unknown command"},
        BadCli{"dataset_unknown_subcommand", "dataset frobnicate", "unknown subcommand 'frobnicate'"},
        BadCli{"dataset_missing", "dataset inspect {dir}/absent.jsonl", "absent.jsonl: no such file"},
        BadCli{"dataset_convert_to_csv", "dataset convert {ex}/min_int/min_int.jsonl {dir}/out.csv",
               "a dataset file ends in .safetensors or .jsonl"},
        BadCli{"eval_dataset_longer_than_n_ctx",
               "eval {fx}/external/ckk_min_int/model.pt --task {ex}/sort_fixed_len_list/sort_fixed_len_list.jsonl",
               "n_ctx"},
        BadCli{"eval_task_and_system",
               "eval {fx}/external/ckk_min_int/model.pt --task {ex}/min_int/min_int.jsonl --system S1",
               "--task and --system exclude each other"},
        BadCli{"inspect_json_key_not_utf8", "inspect {dir}/key_not_utf8.pt --json",
               "key_not_utf8.pt: key 'embed\\xffW_E' is not valid UTF-8"},
        BadCli{"inspect_symlink_loop", "inspect {dir}/loop/model.pt", "Too many levels of symbolic links"},
        BadCli{"inspect_name_too_long", "inspect {long_name}", "File name too long"},
        BadCli{"inspect_path_too_long", "inspect {too_deep}/model.pt", "File name too long"},
        BadCli{"convert_out_in_symlink_loop", "convert {fx}/tl/array_index/model.pt {dir}/loop/out.safetensors",
               "Too many levels of symbolic links"},
        BadCli{"verify_junit_in_symlink_loop",
               "verify {ex}/min_int/claims/min_int.json --junit {dir}/loop/junit.xml",
               "Too many levels of symbolic links"},
        BadCli{"verify_claims_name_too_long", "verify {long_name}", "File name too long"},
        BadCli{"diff_symlink_loop", "diff {dir}/loop/a.json {dir}/loop/b.json", "Too many levels of symbolic links"},
        BadCli{"train_resume_in_symlink_loop", "train modular_addition --out {dir}/loop/m.safetensors --resume",
               "Too many levels of symbolic links"},
        BadCli{"forward_output_over_the_limit",
               "forward {fx}/tl/array_index/model.pt --tokens {fx}/tl/array_index/golden.safetensors --cache all "
               "--max-output-bytes 1000 --out {dir}/out.safetensors",
               "more than the limit of 1000 bytes; raise it with --max-output-bytes"},
        BadCli{"forward_max_output_bytes_zero",
               "forward {fx}/tl/array_index/model.pt --tokens {fx}/tl/array_index/golden.safetensors "
               "--max-output-bytes 0 --out {dir}/out.safetensors",
               "--max-output-bytes: expected an integer in [1, 9223372036854775807], got '0'"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace circuitcheck
