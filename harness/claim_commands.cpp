#include "harness/claim_commands.h"

#include "circuits/checkpoint.h"
#include "circuits/claim.h"
#include "circuits/error.h"
#include "circuits/runtime.h"
#include "circuits/verify.h"
#include "harness/args.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>

namespace circuitcheck {
namespace {

// A claim file ready to run: its checkpoint loaded and every claim validated.
struct PreparedFile {
  ClaimFile file;
  const Task* task = nullptr;
  Checkpoint checkpoint;
  std::vector<Claim> claims;
};

PreparedFile prepare(const std::string& path, const Args& args) {
  PreparedFile p;
  p.file = read_claim_file(path);
  p.task = &claim_task(p.file);
  const std::optional<std::string> override_path = args.get("--checkpoint");
  const std::string where = path + ": /checkpoint" + (override_path ? " (--checkpoint)" : "");
  try {
    p.checkpoint = load_checkpoint(override_path.value_or(p.file.checkpoint), args.get("--config"));
  } catch (const InputError& e) {
    fail(where, e.what());
  }
  const std::string& system = p.checkpoint.system;
  if (!system.empty() && find_task(system).name != p.task->name)
    fail(where, p.checkpoint.path + " is a " + system + " checkpoint, not " + p.task->name);
  const Config& config = p.checkpoint.model.config;
  check_fits(*p.task, scale_for(*p.task, config), config, where);
  p.claims = parse_claims(p.file, *p.task, config);
  return p;
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string temp_path = path + ".tmp." + std::to_string(::getpid());
  std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  std::error_code ec;
  if (out) std::filesystem::rename(temp_path, path, ec);
  if (!out || ec) {
    std::filesystem::remove(temp_path, ec);
    fail("verify --report-dir: " + path, "cannot write the report");
  }
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

int verify_command(int argc, char** argv) {
  const std::string usage =
      "circuitcheck verify CLAIMS.json... [--checkpoint F] [--config CFG] [--threads N] [--seed N] [--only ID] "
      "[--report-dir D]";
  Args args = parse_args(argc, argv, 2, "verify",
                         {"--checkpoint", "--config", "--threads", "--seed", "--only", "--report-dir"});
  expect_positionals(args, 1, std::numeric_limits<std::size_t>::max(), usage);
  set_threads(args.get_int("--threads", 2, 1, 1024));
  std::vector<PreparedFile> files;
  for (const auto& path : args.positional) files.push_back(prepare(path, args));

  const std::optional<std::string> only = args.get("--only");
  if (only) {
    bool found = false;
    for (auto& f : files) {
      f.claims.erase(std::remove_if(f.claims.begin(), f.claims.end(), [&](const Claim& c) { return c.id != *only; }),
                     f.claims.end());
      found = found || !f.claims.empty();
    }
    check(found, "verify --only", "no claim has id '" + *only + "'");
  }
  if (args.has("--seed")) {
    const uint64_t seed = static_cast<uint64_t>(args.get_int("--seed", 0, 0, std::numeric_limits<int>::max()));
    for (auto& f : files)
      for (auto& c : f.claims)
        if (!c.domain.exhaustive) c.domain.seed = seed;
  }
  const std::optional<std::string> report_dir = args.get("--report-dir");
  if (report_dir) {
    std::set<std::string> systems;
    for (const auto& f : files)
      check(systems.insert(f.task->name).second, "verify --report-dir",
            "two claim files for " + f.task->name + " would write the same report");
    std::error_code ec;
    std::filesystem::create_directories(*report_dir, ec);
    check(!ec, "verify --report-dir: " + *report_dir, "cannot create the folder: " + ec.message());
  }

  bool all_pass = true;
  for (const auto& f : files) {
    ControlCache controls{&f.checkpoint.model, {}};
    nlohmann::json summary = {{"passed", 0}, {"failed", 0}, {"not_falsifiable", 0}, {"errors", 0}};
    nlohmann::json claims = nlohmann::json::array();
    for (const auto& claim : f.claims) {
      ClaimResult r = verify_claim(*f.task, claim, f.checkpoint.model, controls);
      std::cout << upper(r.verdict) << "  " << f.task->name << "/" << claim.id << ": " << r.explanation << "\n"
                << std::flush;
      const char* counter = r.verdict == "pass" ? "passed" : r.verdict == "error" ? "errors" : "failed";
      summary[counter] = summary[counter].get<int>() + 1;
      if (r.verdict == "not_falsifiable") summary["not_falsifiable"] = summary["not_falsifiable"].get<int>() + 1;
      all_pass = all_pass && r.verdict == "pass";
      claims.push_back(r.to_json());
    }
    std::cout << f.task->name << ": " << summary["passed"] << " passed, " << summary["failed"] << " failed, "
              << summary["errors"] << " errors (" << f.checkpoint.path << ")\n";
    if (!report_dir) continue;
    const nlohmann::json report = {
        {"schema", "circuitcheck.report/1"},
        {"system", f.task->name},
        {"claims_file", f.file.path},
        {"checkpoint",
         {{"path", f.checkpoint.path}, {"format", f.checkpoint.format}, {"sha256", f.checkpoint.sha256},
          {"config_source", f.checkpoint.config_source}}},
        {"circuitcheck_version", circuitcheck_version()},
        {"summary", summary},
        {"claims", claims}};
    write_text_atomically((std::filesystem::path(*report_dir) / (f.task->name + ".json")).string(),
                          report.dump(2) + "\n");
  }
  return all_pass ? 0 : 1;
}

int list_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "list", {"--checkpoint", "--config"});
  expect_positionals(args, 1, 1, "circuitcheck list CLAIMS.json [--checkpoint F] [--config CFG]");
  const PreparedFile f = prepare(args.positional[0], args);
  for (const auto& c : f.claims)
    std::cout << f.task->name << "/" << c.id << "  " << to_string(c.kind) << "  " << c.hypothesis << "\n";
  return 0;
}

}  // namespace circuitcheck
