// Atomic writes (text_file.h): a run killed between writing its temporary
// file and renaming it leaves "<path>.tmp.<pid>"; the next write of that path
// removes it, and leaves the temporaries of live processes and other paths.
#include "circuits/formats/safetensors.h"
#include "circuits/formats/text_file.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>

namespace circuitcheck {
namespace {

// The pid of a process that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

struct Writer {
  std::string name;
  std::string file;
  std::function<void(const std::string&)> write;
};

void PrintTo(const Writer& w, std::ostream* os) { *os << w.name; }

class StaleTemporaries : public ::testing::TestWithParam<Writer> {};

TEST_P(StaleTemporaries, TheNextWriteRemovesThoseOfDeadRuns) {
  const std::string dir = testing_util::scratch_dir("StaleTemporaries_" + GetParam().name);
  const std::string path = dir + "/" + GetParam().file;
  const std::string dead = path + ".tmp." + std::to_string(dead_pid());
  const std::string live = path + ".tmp." + std::to_string(::getppid());
  const std::string other = dir + "/other.json.tmp." + std::to_string(dead_pid());
  const std::string not_a_pid = path + ".tmp.12ab";
  for (const std::string& f : {dead, live, other, not_a_pid}) testing_util::write_file(f, "partial");
  GetParam().write(path);
  std::set<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir)) left.insert(e.path().string());
  EXPECT_EQ(left, (std::set<std::string>{path, live, other, not_a_pid}));
}

INSTANTIATE_TEST_SUITE_P(
    Writers, StaleTemporaries,
    ::testing::Values(Writer{"text", "r.json", [](const std::string& p) { write_text_atomically(p, "{}", "test"); }},
                      Writer{"safetensors", "m.safetensors",
                             [](const std::string& p) { write_safetensors(p, {{"x", at::ones({2})}}); }}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace circuitcheck
