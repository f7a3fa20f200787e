// Atomic writes (text_file.h): a run killed between writing its temporary
// file and renaming it leaves "<path>.tmp.<pid>"; the next write of that path
// removes it, and leaves the temporaries of live processes and other paths.
// Paths that cannot be looked up (a symlink loop, a name or path longer than
// the system allows) are an InputError naming the reason in every reader and
// writer of files, never a std::filesystem::filesystem_error.
#include "circuits/formats/error.h"
#include "circuits/formats/safetensors.h"
#include "circuits/formats/sha256.h"
#include "circuits/formats/text_file.h"
#include "circuits/formats/torch_checkpoint.h"
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

struct FileUser {
  std::string name;
  std::function<void(const std::string&)> use;
};

void PrintTo(const FileUser& u, std::ostream* os) { *os << u.name; }

class UnreachablePaths : public ::testing::TestWithParam<FileUser> {};

TEST_P(UnreachablePaths, AreAnInputErrorWithTheSystemsReason) {
  const std::string dir = testing_util::scratch_dir("UnreachablePaths_" + GetParam().name);
  std::filesystem::create_symlink("loop", dir + "/loop");  // loop -> loop
  std::string too_deep = dir;
  while (too_deep.size() <= 5000) too_deep += "/" + std::string(200, 'd');
  const std::vector<std::pair<std::string, std::string>> paths = {
      {dir + "/loop/model.safetensors", "Too many levels of symbolic links"},
      {dir + "/" + std::string(300, 'n'), "File name too long"},  // NAME_MAX is 255
      {too_deep + "/model.safetensors", "File name too long"},    // PATH_MAX is 4096
  };
  for (const auto& [path, reason] : paths) {
    SCOPED_TRACE(path.substr(dir.size()).substr(0, 40));
    try {
      GetParam().use(path);
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Readers, UnreachablePaths,
    ::testing::Values(
        FileUser{"path_status", [](const std::string& p) { path_status(p, "test"); }},
        FileUser{"read_text_file", [](const std::string& p) { read_text_file(p, "test", 100); }},
        FileUser{"check_replaceable", [](const std::string& p) { check_replaceable(p, "test"); }},
        FileUser{"read_safetensors", [](const std::string& p) { read_safetensors(p); }},
        FileUser{"read_torch_state_dict", [](const std::string& p) { read_torch_state_dict(p); }},
        FileUser{"sha256_file", [](const std::string& p) { sha256_file(p); }}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace circuitcheck
