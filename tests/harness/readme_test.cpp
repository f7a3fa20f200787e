// The README's "Verify your own model" and "Discover a circuit" run as
// written. The first: its Python block
// writes the dataset (python3, standard library only), its JSON block is the
// claim file, and each line of its shell block runs in the model's folder,
// on ckkissane's min_int model, with every claim passing.
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

namespace circuitcheck {
namespace {

// The first ```<language> block after `heading` in `text`, without its fences.
std::string block_after(const std::string& text, const std::string& heading, const std::string& language) {
  const std::size_t section = text.find(heading);
  if (section == std::string::npos) return "";
  const std::string fence = "```" + language + "\n";
  const std::size_t open = text.find(fence, section);
  const std::size_t close = text.find("\n```", open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return text.substr(open + fence.size(), close + 1 - open - fence.size());
}

// Runs each line of a shell block (each a circuitcheck command, a " #"
// comment stripped) in `dir`, expecting exit 0; returns how many ran.
int run_block(const std::string& shell, const std::string& dir) {
  std::istringstream lines(shell);
  std::string line;
  int commands = 0;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find(" #"));
    if (line.rfind("circuitcheck ", 0) != 0) {
      ADD_FAILURE() << "not a circuitcheck command: " << line;
      continue;
    }
    const auto r = testing_util::run_command("cd " + dir + " && " + CIRCUITCHECK_CLI + line.substr(12));
    EXPECT_EQ(r.exit_code, 0) << line << "\n" << r.output;
    ++commands;
  }
  return commands;
}

TEST(Readme, VerifyYourOwnModelRunsAsWritten) {
  const std::string readme = testing_util::read_file(testing_util::source_dir() + "/README.md");
  const std::string heading = "## Verify your own model";
  const std::string python = block_after(readme, heading, "python");
  const std::string claims = block_after(readme, heading, "json");
  const std::string shell = block_after(readme, heading, "sh");
  ASSERT_FALSE(python.empty() || claims.empty() || shell.empty()) << "a block of the section is missing";

  const std::string dir = testing_util::scratch_dir("ReadmeOwnModel");
  for (const char* name : {"model.pt", "config.json"})
    std::filesystem::copy_file(testing_util::fixture(std::string("external/ckk_min_int/") + name), dir + "/" + name);
  std::filesystem::create_directories(dir + "/claims");
  testing_util::write_file(dir + "/claims/mine.json", claims);
  testing_util::write_file(dir + "/make.py", python);
  const auto made = testing_util::run_command("cd " + dir + " && /usr/bin/python3 make.py");
  ASSERT_EQ(made.exit_code, 0) << made.output;

  const int commands = run_block(shell, dir);
  EXPECT_EQ(commands, 3);
  const nlohmann::json report = nlohmann::json::parse(testing_util::read_file(dir + "/out/mine.json"));
  EXPECT_EQ(report["summary"]["claims"], 3);
  EXPECT_EQ(report["summary"]["passed"], 3) << report["summary"];
  EXPECT_EQ(report["claims"][0]["domain"]["n"], 1000);
}

// "Discover a circuit": each line of its shell block, in a folder holding the
// shipped S2 checkpoint as checkpoints/ does; the claim it writes verifies.
TEST(Readme, DiscoverACircuitRunsAsWritten) {
  const std::string readme = testing_util::read_file(testing_util::source_dir() + "/README.md");
  const std::string shell = block_after(readme, "## Discover a circuit", "sh");
  ASSERT_FALSE(shell.empty()) << "the section's shell block is missing";
  const std::string dir = testing_util::scratch_dir("ReadmeDiscover");
  std::filesystem::create_directories(dir + "/checkpoints");
  std::filesystem::copy_file(testing_util::source_dir() + "/checkpoints/array_index.safetensors",
                             dir + "/checkpoints/array_index.safetensors");
  const int commands = run_block(shell, dir);
  EXPECT_EQ(commands, 2);
  const nlohmann::json found = nlohmann::json::parse(testing_util::read_file(dir + "/found/report/attribution.json"));
  EXPECT_EQ(found["chosen"]["count"], 7) << found["chosen"];
}

}  // namespace
}  // namespace circuitcheck
