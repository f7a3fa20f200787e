#include "harness/claim_commands.h"

#include "circuits/model/checkpoint.h"
#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"
#include "circuits/formats/text_file.h"
#include "circuits/reports/checkpoint_table.h"
#include "circuits/reports/html_report.h"
#include "circuits/reports/junit.h"
#include "circuits/reports/report.h"
#include "circuits/reports/timeline.h"
#include "circuits/reports/shard.h"
#include "circuits/claims/result_record.h"
#include "circuits/formats/json_fields.h"
#include "circuits/formats/sha256.h"
#include "circuits/model/memory.h"
#include "circuits/model/runtime.h"
#include "circuits/claims/family.h"
#include "circuits/claims/verify.h"
#include "circuits/training/snapshot.h"
#include "harness/args.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include <unistd.h>

namespace circuitcheck {
namespace {

// A claim file and its task, read and checked.
struct ClaimSource {
  std::string path;
  ClaimFile file;
  std::shared_ptr<const Task> task;
};

ClaimSource read_source(const std::string& path) {
  ClaimSource s{path, read_claim_file(path), nullptr};
  s.task = claim_task(s.file);
  return s;
}

// A claim file ready to run on one checkpoint: the checkpoint read and every
// claim validated. When a run has several checkpoints, their weights are
// dropped after the check and read again just before their claims run, so
// that memory does not grow with the number of checkpoints.
struct PreparedFile {
  ClaimFile file;  // its document dropped once `claims` are parsed
  std::shared_ptr<const Task> task;
  Checkpoint checkpoint;
  // Parsed for the checkpoint's config, and shared by the file's checkpoints
  // of one config (a trajectory parses its claims once, not per snapshot).
  std::shared_ptr<std::vector<Claim>> claims;
  std::string checkpoint_label;  // SystemReport::checkpoint_label
  std::optional<SnapshotInfo> snapshot;
};

// The checkpoint at `path`, for errors named `where`.
Checkpoint load(const std::string& path, const std::string& where, const Args& args) {
  try {
    return load_checkpoint(path, args.get("--config"));
  } catch (const InputError& e) {
    fail(where, e.what());
  }
}

// The claims of a source parsed for each config (config_to_json, dumped) it runs on.
using ParsedClaims = std::map<std::string, std::shared_ptr<std::vector<Claim>>>;

// `source` on `checkpoint` (loaded from `where`): the checkpoint must be for
// the source's task and fit it. Its claims come from `parsed` when the source
// was parsed for its config already.
PreparedFile prepare(const ClaimSource& source, Checkpoint checkpoint, const std::string& where, ParsedClaims& parsed) {
  PreparedFile p{source.file, source.task, std::move(checkpoint), {}, {}};
  const std::string& system = p.checkpoint.system;
  if (!system.empty() && p.file.task.empty() &&
      find_task(system, where + ": " + p.checkpoint.path + ": metadata \"system\"").name != p.task->name)
    fail(where, p.checkpoint.path + " is a " + system + " checkpoint, not " + p.task->name);
  const Config& config = p.checkpoint.model.config;
  check_fits(*p.task, scale_for(*p.task, config), config, where);
  std::shared_ptr<std::vector<Claim>>& claims = parsed[config_to_json(config).dump()];
  if (!claims) claims = std::make_shared<std::vector<Claim>>(parse_claims(p.file, *p.task, config));
  p.claims = claims;
  p.file.document = nullptr;  // the claims hold what it said
  return p;
}

// A checkpoint to verify, where it was given, and whether it came from a
// snapshot folder (and so must carry a step).
struct CheckpointPath {
  std::string path;
  std::string given;
  bool snapshot = false;
};

// The checkpoints of a snapshot folder: its *.safetensors files, training
// states (*.state.safetensors) left out, by name.
std::vector<CheckpointPath> folder_checkpoints(const std::string& dir) {
  const std::string where = "verify --checkpoints: " + dir;
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto ends_with = [&](const std::string& suffix) {
      return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with(".safetensors") && !ends_with(".state.safetensors")) names.push_back(name);
  }
  check(!ec, where, "cannot read the folder: " + ec.message());
  check(!names.empty(), where, "the folder holds no checkpoint (*.safetensors)");
  std::sort(names.begin(), names.end());
  std::vector<CheckpointPath> paths;
  for (const auto& name : names) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    paths.push_back({path, "verify --checkpoints: " + path, true});
  }
  return paths;
}

// The --checkpoint values, then the --checkpoints folder of snapshots or the
// lines of the --checkpoints list (blank lines and "#" comments skipped,
// relative paths resolved against the list's folder).
std::vector<CheckpointPath> checkpoint_paths(const Args& args) {
  std::vector<CheckpointPath> paths;
  if (args.has("--checkpoint"))
    for (const auto& p : args.flags.at("--checkpoint")) paths.push_back({p, "--checkpoint " + p, false});
  if (const std::optional<std::string> list = args.get("--checkpoints")) {
    if (std::filesystem::is_directory(path_status(*list, "verify --checkpoints: " + *list))) {
      for (auto& p : folder_checkpoints(*list)) paths.push_back(std::move(p));
      return paths;
    }
    const std::string text = read_text_file(*list, "verify --checkpoints: " + *list, 1 << 20);
    std::size_t line_number = 0, start = 0, listed = 0;
    while (start <= text.size()) {
      const std::size_t end = std::min(text.find('\n', start), text.size());
      std::string line = text.substr(start, end - start);
      start = end + 1;
      ++line_number;
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty() || line[0] == '#') continue;
      const std::filesystem::path p(line);
      paths.push_back({p.is_absolute() ? line : (std::filesystem::path(*list).parent_path() / p).string(),
                       "verify --checkpoints: " + *list + ": line " + std::to_string(line_number), false});
      ++listed;
    }
    check(listed > 0, "verify --checkpoints: " + *list, "lists no checkpoint");
  }
  return paths;
}

// The first config field in which `b` differs from `a`: "d_mlp 512, not 256".
std::string config_difference(const nlohmann::json& a, const nlohmann::json& b) {
  for (const auto& [key, value] : b.items())
    if (!a.contains(key) || a[key] != value)
      return key + " " + value.dump() + ", not " + (a.contains(key) ? a[key].dump() : std::string("absent"));
  return "fields missing";
}

// Every claim file on the checkpoints it is run on: its own, or the given
// ones (checkpoint_paths). With one claim file it runs on each of them; with
// several, each checkpoint goes to the files of the system in its metadata,
// and every file must get one. A file's checkpoints run in step order when
// all are snapshots, and must share one config unless the file allows
// mixed_configs. With several checkpoints, weights are read again at run time
// (PreparedFile).
std::vector<PreparedFile> prepare_all(const Args& args) {
  std::vector<ClaimSource> sources;
  std::set<std::string> claim_files;  // each once: its runs would repeat, and their reports clash
  for (const auto& path : args.positional) {
    std::error_code ec;
    const std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
    check(claim_files.insert(ec ? path : canonical.string()).second, "verify: " + path, "the claim file is given twice");
    sources.push_back(read_source(path));
  }
  const std::vector<CheckpointPath> checkpoints = checkpoint_paths(args);
  const bool light = checkpoints.size() > 1;
  std::vector<std::vector<std::pair<Checkpoint, std::string>>> assigned(sources.size());
  for (const auto& given : checkpoints) {
    Checkpoint ck = load(given.path, given.given, args);
    if (light) ck.model.params.clear();
    check(!given.snapshot || snapshot_info(ck.metadata, given.path), given.given,
          "a snapshot without a step: its metadata has no \"step\" (train --snapshot-every writes it)");
    if (sources.size() == 1) {
      assigned[0].emplace_back(std::move(ck), sources[0].path + ": /checkpoint (" + given.given + ")");
      continue;
    }
    check(!ck.system.empty(), given.given,
          "the checkpoint names no system in its metadata, so it cannot be matched to one of several claim files; "
          "verify it with one claim file");
    const std::string system = find_task(ck.system, given.given + ": metadata \"system\"").name;
    bool matched = false;
    for (std::size_t i = 0; i < sources.size(); ++i)
      if (sources[i].file.task.empty() && sources[i].task->name == system) {
        assigned[i].emplace_back(ck, sources[i].path + ": /checkpoint (" + given.given + ")");
        matched = true;
      }
    check(matched, given.given, "a " + system + " checkpoint, and no claim file is for " + system);
  }
  std::vector<PreparedFile> files;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (checkpoints.empty()) {
      const std::string where = sources[i].path + ": /checkpoint";
      ParsedClaims parsed;
      files.push_back(prepare(sources[i], load(sources[i].file.checkpoint, where, args), where, parsed));
      continue;
    }
    check(!assigned[i].empty(), sources[i].path,
          "no --checkpoint is a " + sources[i].task->name + " checkpoint (give the file's own checkpoint too)");
    const std::size_t first = files.size();
    ParsedClaims parsed;
    for (auto& [ck, where] : assigned[i]) {
      const nlohmann::json config = config_to_json(ck.model.config), expected = config_to_json(assigned[i][0].first.model.config);
      check(sources[i].file.mixed_configs || config == expected, where,
            "its config differs from that of " + assigned[i][0].first.path + " (" + config_difference(expected, config) +
                "); a claim file whose checkpoints may differ says \"mixed_configs\": true");
      files.push_back(prepare(sources[i], std::move(ck), where, parsed));
      PreparedFile& f = files.back();
      f.snapshot = snapshot_info(f.checkpoint.metadata, f.checkpoint.path);
      if (assigned[i].size() > 1) f.checkpoint_label = std::filesystem::path(f.checkpoint.path).stem().string();
    }
    const auto begin = files.begin() + static_cast<std::ptrdiff_t>(first);
    if (std::all_of(begin, files.end(), [](const PreparedFile& f) { return f.snapshot.has_value(); }))
      std::stable_sort(begin, files.end(),
                       [](const PreparedFile& a, const PreparedFile& b) { return a.snapshot->step < b.snapshot->step; });
    for (auto it = begin; it != files.end() && it + 1 != files.end(); ++it)
      check(!it->snapshot || !(it + 1)->snapshot || it->snapshot->step != (it + 1)->snapshot->step,
            "verify: " + (it + 1)->checkpoint.path,
            "at step " + std::to_string(it->snapshot->step) + ", like " + it->checkpoint.path +
                ": a run's snapshots have distinct steps");
  }
  return files;
}

// The weights of a checkpoint that prepare_all read without them, read again;
// InputError when the file changed in between.
void reload_weights(PreparedFile& f, const Args& args) {
  if (!f.checkpoint.model.params.empty()) return;
  Checkpoint again = load(f.checkpoint.path, "verify: " + f.checkpoint.path, args);
  check(again.sha256 == f.checkpoint.sha256, "verify: " + f.checkpoint.path, "the file changed while verify ran");
  f.checkpoint.model = std::move(again.model);
}

// Drops a checkpoint's weights after its claims ran (reload_weights reads
// them again) and hands the memory its run freed back to the system: glibc
// keeps freed pages otherwise, and a trajectory of 12 S1 snapshots peaked at
// 1.20 GB against 0.69 GB with the trim.
void release_weights(PreparedFile& f) {
  f.checkpoint.model.params.clear();
  release_free_memory();
}

// "3 passed, 0 failed, 0 errors".
std::string summary_text(const Summary& s) {
  return std::to_string(s.passed) + " passed, " + std::to_string(s.failed) + " failed, " + std::to_string(s.errors) +
         " errors";
}

using Clock = std::chrono::steady_clock;

double elapsed(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// What verify prints on stdout: the per-system summaries only (--quiet), one
// line per claim (default) or each claim's whole explanation (--verbose).
enum class Verbosity { kQuiet, kLines, kVerbose };

// Checks every output path, and makes the report folder, before any claim runs.
void check_outputs(const std::optional<std::string>& report_dir, const std::optional<std::string>& junit,
                   const std::vector<SystemReport>& reports) {
  if (junit) {
    const auto folder_path = [](const std::filesystem::path& p) {
      return (std::filesystem::absolute(p) / "").lexically_normal();
    };
    const std::filesystem::path folder = folder_path(std::filesystem::absolute(*junit).parent_path());
    const bool in_report_dir = report_dir && folder == folder_path(*report_dir);
    check(in_report_dir || std::filesystem::is_directory(path_status(folder.string(), "verify --junit: " + *junit)),
          "verify --junit: " + *junit, "no folder " + folder.string());
    check_replaceable(*junit, "verify --junit");
  }
  if (report_dir) {
    std::set<std::string> names;
    for (const auto& r : reports)
      check(names.insert(report_name(r)).second, "verify --report-dir",
            "two runs would write the same report " + report_name(r) + " (two claim files for " + r.system +
                ", or two checkpoints with the same file name)");
    std::error_code ec;
    std::filesystem::create_directories(*report_dir, ec);
    check(!ec, "verify --report-dir: " + *report_dir, "cannot create the folder: " + ec.message());
    const std::filesystem::path dir(*report_dir);
    for (const auto& r : reports)
      for (const char* extension : {".json", ".html"})
        check_replaceable((dir / (report_name(r) + extension)).string(), "verify --report-dir");
    for (const char* name : {"index.html", "junit.xml", "checkpoints.json", "timeline.json"})
      check_replaceable((dir / name).string(), "verify --report-dir");
  }
}

// Claims done of n, the last one done and the time so far, on one line of stderr
// that the next line overwrites; only where stderr is a terminal.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), shown_(isatty(fileno(stderr)) != 0) {}

  void show(const std::string& name) {
    if (!shown_) return;
    ++done_;
    // Cut to fit one row of a narrow terminal, so that the next \r clears it all.
    std::fprintf(stderr, "\r\033[K[%zu/%zu] %.50s  %.0f s", done_, total_, name.c_str(), elapsed(started_));
    std::fflush(stderr);
  }
  void clear() const {
    if (shown_) std::fputs("\r\033[K", stderr);
  }

 private:
  std::size_t total_, done_ = 0;
  bool shown_;
  Clock::time_point started_ = Clock::now();
};

// Runs one file's claims into `report`, printing as `verbosity` says.
// `kept`: the outcomes of controls that do not depend on the checkpoint, shared
// by the runs of one claim file on checkpoints of one config (ControlCache::kept).
void run_file(PreparedFile& f, SystemReport& report, const at::Device& device, Verbosity verbosity, Progress& progress,
              std::map<std::string, Outcome>& kept) {
  to_device(f.checkpoint.model, device);
  ControlCache controls{&f.checkpoint.model, {}, &kept};
  SharedRuns shared;
  plan_claims(*f.claims, shared);
  report.run.date = utc_now();
  const std::string name = report_name(report);
  const Clock::time_point started = Clock::now();
  report.run.claim_seconds.resize(f.claims->size());
  report.results = verify_claims(*f.task, *f.claims, f.checkpoint.model, controls, shared,
                                 [&](std::size_t i, const ClaimResult& r, double seconds) {
                                   report.run.claim_seconds[i] = seconds;
                                   progress.clear();
                                   if (verbosity == Verbosity::kLines)
                                     std::cout << claim_line(name, r, seconds) << "\n" << std::flush;
                                   if (verbosity == Verbosity::kVerbose)
                                     std::cout << verdict_label(r.verdict) << "  " << name << "/" << r.claim.id << ": "
                                               << r.explanation << "\n" << std::flush;
                                   progress.show(name + "/" + r.claim.id);
                                 });
  progress.clear();
  report.run.wall_seconds = elapsed(started);
  std::cout << name << ": " << summary_text(summarize(report.results)) << " (" << f.checkpoint.path << ", "
            << seconds_text(report.run.wall_seconds) << ")\n";
}

// A report's two pages under `dir`, (path, text): its JSON and its HTML.
std::vector<std::pair<std::string, std::string>> report_pages(const std::filesystem::path& dir,
                                                              const SystemReport& report) {
  const std::string name = report_name(report);
  return {{(dir / (name + ".json")).string(), report_json(report).dump(2) + "\n"},
          {(dir / (name + ".html")).string(), html_report(report)}};
}

// The pages of a run on several checkpoints, drawn as each checkpoint is
// done, so that what only they show (figures, counterexamples, explanations,
// hypotheses) is not held until the end, and what the run's index, JUnit,
// timeline and checkpoint tables read waits on disk beside them until the
// last checkpoint is done (restore): while the claims run, the run holds
// nothing per finished checkpoint. They wait in a hidden folder of the report
// folder; write_reports moves the pages into place with the rest, and a run
// that stops before (an error) leaves nothing of them behind.
class StagedPages {
 public:
  explicit StagedPages(const std::string& report_dir)
      : dir_(report_dir), stage_(dir_ / (".circuitcheck-pages-" + std::to_string(getpid()))) {}
  StagedPages(const StagedPages&) = delete;
  StagedPages& operator=(const StagedPages&) = delete;
  ~StagedPages() {
    std::error_code ec;
    std::filesystem::remove_all(stage_, ec);
  }

  // Writes `report`'s pages, drops from it what only they show
  // (drop_page_details) and spills the rest (spill_results) until restore().
  void stage(SystemReport& report) {
    std::error_code ec;
    std::filesystem::create_directories(stage_, ec);
    check(!ec, "verify --report-dir: " + stage_.string(), "cannot create the folder: " + ec.message());
    for (const auto& [path, text] : report_pages(stage_, report)) {
      write_text_atomically(path, text, "verify");
      moves_.emplace_back(path, (dir_ / std::filesystem::path(path).filename()).string());
    }
    names_.insert(report_name(report));
    drop_page_details(report);
    spill_results(report, spilled(report));
  }
  // Reads back the results of `report`, a staged report of `claims`.
  void restore(SystemReport& report, const std::vector<Claim>& claims) const {
    restore_results(report, claims, spilled(report));
  }
  bool staged(const SystemReport& report) const { return names_.count(report_name(report)) > 0; }
  // Checks every staged page's place in the report folder, then moves them all there.
  void commit() const {
    for (const auto& [from, to] : moves_) check_replaceable(to, "verify");
    for (const auto& [from, to] : moves_) {
      std::error_code ec;
      std::filesystem::rename(from, to, ec);
      check(!ec, "verify: " + to, "cannot write: " + ec.message());
    }
  }

 private:
  std::string spilled(const SystemReport& report) const { return (stage_ / (report_name(report) + ".results")).string(); }

  std::filesystem::path dir_, stage_;
  std::set<std::string> names_;
  std::vector<std::pair<std::string, std::string>> moves_;  // (staged, its place)
};

// Every report is drawn before the first is written; `staged` pages are moved into place.
void write_reports(const std::optional<std::string>& report_dir, const std::optional<std::string>& junit,
                   const std::vector<SystemReport>& reports, const StagedPages* staged = nullptr) {
  std::vector<std::pair<std::string, std::string>> outputs;
  if (report_dir) {
    const std::filesystem::path dir(*report_dir);
    for (const auto& r : reports)
      if (!staged || !staged->staged(r))
        for (auto& page : report_pages(dir, r)) outputs.push_back(std::move(page));
    const std::vector<CheckpointTable> tables = checkpoint_tables(reports);
    if (!tables.empty())
      outputs.emplace_back((dir / "checkpoints.json").string(), checkpoint_tables_json(tables).dump(2) + "\n");
    const std::vector<Timeline> along = timelines(reports);
    if (!along.empty()) outputs.emplace_back((dir / "timeline.json").string(), timelines_json(along).dump(2) + "\n");
    outputs.emplace_back((dir / "index.html").string(), html_index(reports));
    outputs.emplace_back((dir / "junit.xml").string(), junit_xml(reports));
  }
  if (junit) outputs.emplace_back(*junit, junit_xml(reports));
  for (const auto& [path, text] : outputs) check_replaceable(path, "verify");  // all before the first is written
  if (staged) staged->commit();
  for (const auto& [path, text] : outputs) write_text_atomically(path, text, "verify");
}

// Keeps the claims with id `only` (InputError when no file has one).
void keep_only(std::vector<PreparedFile>& files, const std::string& only) {
  bool found = false;
  for (auto& f : files) {
    f.claims->erase(std::remove_if(f.claims->begin(), f.claims->end(), [&](const Claim& c) { return c.id != only; }),
                    f.claims->end());
    found = found || !f.claims->empty();
  }
  check(found, "verify --only", "no claim has id " + quote(only));
}

}  // namespace

namespace {

// The options that define a verify run's work (what it computes, not where
// its output goes): a shard report records them, and merge plans the run
// again from them.
const std::vector<std::string> kRunOptions = {"--checkpoint", "--checkpoints", "--config", "--threads",
                                              "--seed",       "--only",        "--device", "--family-alpha"};

// A verify run planned from its command line: every claim file ready on each
// of its checkpoints, and a report for each with its provenance and no results.
struct Run {
  std::vector<PreparedFile> files;
  std::vector<SystemReport> reports;
  std::optional<double> family_alpha;
  at::Device device = at::kCPU;
  std::size_t units = 0;  // (checkpoint, claim) pairs
  // Control outcomes that do not depend on the checkpoint, per claim file and config (kept_key).
  std::map<std::string, std::map<std::string, Outcome>> kept;
};

// A device as a shard recorded it, which merge does not compute on.
at::Device recorded_device(const std::string& name) {
  try {
    if (name.rfind("cuda", 0) == 0) return at::Device(name);
  } catch (const std::exception&) {
  }
  fail("verify --device", "malformed device " + quote(name) + " (valid: cpu, cuda, cuda:N)");
}

// Which of Run::kept a file's runs share: its claim file and its model's config.
std::string kept_key(const PreparedFile& f) {
  return f.file.path + "\n" + config_to_json(f.checkpoint.model.config).dump();
}

// `computes` false (merge): the run is planned only to be reported, so a
// device it names need not be here.
Run plan_run(const Args& args, bool computes = true) {
  Run run;
  const int threads = args.get_int("--threads", 2, 1, 1024);
  run.family_alpha = args.get_open_interval("--family-alpha", 0.0, 1.0);
  set_threads(threads);
  const std::string device = args.get_or("--device", "cpu");
  run.device = computes || device == "cpu" ? parse_device(device, "verify --device") : recorded_device(device);
  run.files = prepare_all(args);
  if (const std::optional<std::string> only = args.get("--only")) keep_only(run.files, *only);
  if (args.has("--seed")) {
    const uint64_t seed = static_cast<uint64_t>(args.get_int("--seed", 0, 0, std::numeric_limits<int>::max()));
    for (auto& f : run.files)
      for (auto& c : *f.claims)
        if (!c.domain.exhaustive) c.domain.seed = seed;
  }
  for (auto& f : run.files) {
    SystemReport report;
    report.system = f.task->name;
    report.checkpoint_label = f.checkpoint_label;
    report.domain_size = f.task->domain_size;
    report.provenance = provenance_of(f.file, f.checkpoint, run.device, threads);
    Metadata().swap(f.checkpoint.metadata);  // what the run needs of it is in the report
    run.reports.push_back(std::move(report));
    run.units += f.claims->size();
  }
  return run;
}

// This program's SHA-256: two builds of one dirty tree, or of no git tree,
// share a git_commit but not this. Computed once.
const std::string& executable_sha256() {
  static const std::string hash = sha256_file("/proc/self/exe");
  return hash;
}

// What a shard report records of its run: the claim files and the run
// options as given, each (claim file, checkpoint) pair's files with their
// SHA-256 (the task file a claim file names too) and the model's config (as
// read with any config file), and the build (its version, commit and
// executable's SHA-256). Shards of one run record the same.
nlohmann::json run_identity(const Args& args, const Run& run) {
  nlohmann::json options = nlohmann::json::object(), pairs = nlohmann::json::array();
  for (const auto& name : kRunOptions)
    if (args.has(name)) options[name] = args.flags.at(name);
  for (const auto& r : run.reports)
    pairs.push_back({{"claims_file", r.provenance.claims_file}, {"claims_sha256", r.provenance.claims_sha256},
                     {"checkpoint", r.provenance.checkpoint}, {"checkpoint_sha256", r.provenance.checkpoint_sha256},
                     {"task_file", r.provenance.task_file}, {"task_sha256", r.provenance.task_sha256},
                     {"config", r.provenance.config}});
  return {{"claims_files", args.positional},
          {"options", options},
          {"runs", pairs},
          {"circuitcheck",
           {{"version", circuitcheck_version()},
            {"git_commit", circuitcheck_git_commit()},
            {"executable_sha256", executable_sha256()}}},
          {"libtorch", torch_version()}};
}

// The command line a shard recorded (run_identity): its claim files and run
// options. InputError at `at` when they are malformed.
Args args_from_identity(const nlohmann::json& identity, const At& at) {
  check_object(identity, at, {}, {"claims_files", "options"});
  Args args;
  const nlohmann::json& files = identity["claims_files"];
  if (!files.is_array() || files.empty()) (at / "claims_files").fail("expected a non-empty array of paths");
  for (std::size_t i = 0; i < files.size(); ++i) args.positional.push_back(string_at(files[i], at / "claims_files" / i));
  const nlohmann::json& options = identity["options"];
  check_object(options, at / "options", kRunOptions, {});
  for (const auto& [name, values] : options.items()) {
    const At place = at / "options" / name;
    if (!values.is_array() || values.empty()) place.fail("expected a non-empty array of strings");
    for (std::size_t i = 0; i < values.size(); ++i) args.flags[name].push_back(string_at(values[i], place / i));
  }
  return args;
}

// Prints the run's tables and summary, writes its reports, and returns the
// exit code: 0 when every claim passes (at the family level too, with a family test).
int finish_run(Run& run, const std::optional<std::string>& report_dir, const std::optional<std::string>& junit,
               const StagedPages* staged = nullptr) {
  if (run.family_alpha) {
    std::vector<ClaimResult*> all;
    for (auto& r : run.reports)
      for (auto& c : r.results) all.push_back(&c);
    test_family(all, *run.family_alpha);
  }
  const std::vector<Timeline> along = timelines(run.reports);
  for (const auto& t : along) std::cout << timeline_text(t);
  for (const auto& table : checkpoint_tables(run.reports))
    if (std::none_of(along.begin(), along.end(), [&](const Timeline& t) { return t.claims_file == table.claims_file; }))
      std::cout << checkpoint_table_text(table);
  const Summary s = summarize(run.reports);
  if (run.files.size() > 1 || run.family_alpha) std::cout << "all: " << summary_text(s) << family_text(s) << "\n";
  write_reports(report_dir, junit, run.reports, staged);
  return s.passed == s.claims && (!run.family_alpha || s.family_passed == s.claims) ? 0 : 1;
}

// Runs the units of shard `index` of `count` and writes them to `path`.
int run_shard(const Args& args, Run& run, int index, int count, const std::string& path, Verbosity verbosity) {
  ShardReport shard;
  shard.index = index;
  shard.count = count;
  shard.run = run_identity(args, run);
  try {  // before the work: a path that is not UTF-8 cannot be written as JSON
    (void)shard.run.dump();
  } catch (const nlohmann::json::type_error&) {
    fail("verify --shard-report: " + path,
         "a claim file, checkpoint or option value is not valid UTF-8, which a shard report cannot record");
  }
  shard.units = run.units;
  std::size_t unit = 0, total = 0;
  for (std::size_t i = 0; i < run.files.size(); ++i)
    for (std::size_t j = 0; j < run.files[i].claims->size(); ++j) total += shard_of(unit++, count) == index;
  Progress progress(total);
  bool passed = true;
  unit = 0;
  for (std::size_t i = 0; i < run.files.size(); ++i) {
    std::vector<std::size_t> mine;
    for (std::size_t j = 0; j < run.files[i].claims->size(); ++j, ++unit)
      if (shard_of(unit, count) == index) mine.push_back(j);
    if (mine.empty()) continue;
    reload_weights(run.files[i], args);
    PreparedFile part = run.files[i];
    part.claims = std::make_shared<std::vector<Claim>>();
    for (std::size_t j : mine) part.claims->push_back((*run.files[i].claims)[j]);
    SystemReport report = run.reports[i];
    run_file(part, report, run.device, verbosity, progress, run.kept[kept_key(run.files[i])]);
    if (run.files.size() > 1) release_weights(run.files[i]);
    const std::size_t first_unit = unit - run.files[i].claims->size();
    for (std::size_t k = 0; k < mine.size(); ++k) {
      shard.results.push_back({first_unit + mine[k], i, mine[k], report.run.date, report.run.claim_seconds[k],
                               result_record(report.results[k])});
      passed = passed && report.results[k].verdict == Verdict::kPass;
    }
  }
  write_text_atomically(path, shard_json(shard).dump() + "\n", "verify --shard-report");
  std::cout << "shard " << index << "/" << count << ": " << shard.results.size() << " of " << run.units
            << " (checkpoint, claim) units; wrote " << path << "\n";
  return passed ? 0 : 1;
}

}  // namespace

int verify_command(int argc, char** argv) {
  const std::string usage =
      "circuitcheck verify CLAIMS.json... [--checkpoint F]... [--checkpoints LIST|DIR] [--config CFG] [--threads N] [--seed N] [--only ID] "
      "[--report-dir D] [--junit FILE] [--device cpu|cuda] [--family-alpha A] [--verbose | --quiet] "
      "[--shard I/N --shard-report FILE]";
  std::set<std::string> options(kRunOptions.begin(), kRunOptions.end());
  options.insert({"--report-dir", "--junit", "--shard", "--shard-report"});
  Args args = parse_args(argc, argv, 2, "verify", options, {"--verbose", "--quiet"});
  expect_positionals(args, 1, std::numeric_limits<std::size_t>::max(), usage);
  check(!(args.has("--verbose") && args.has("--quiet")), "verify", "--verbose and --quiet exclude each other");
  const Verbosity verbosity =
      args.has("--quiet") ? Verbosity::kQuiet : args.has("--verbose") ? Verbosity::kVerbose : Verbosity::kLines;
  check(args.has("--shard") == args.has("--shard-report"), "verify", "--shard I/N and --shard-report FILE go together");
  int shard_index = 0, shard_count = 0;
  if (const std::optional<std::string> shard = args.get("--shard")) {
    parse_shard(*shard, "verify --shard", shard_index, shard_count);
    check(!args.has("--report-dir") && !args.has("--junit"), "verify --shard",
          "a shard writes its --shard-report only; `circuitcheck merge` writes the reports");
    check_replaceable(*args.get("--shard-report"), "verify --shard-report");
  }
  Run run = plan_run(args);
  if (shard_count > 0) return run_shard(args, run, shard_index, shard_count, *args.get("--shard-report"), verbosity);
  const std::optional<std::string> report_dir = args.get("--report-dir");
  const std::optional<std::string> junit = args.get("--junit");
  check_outputs(report_dir, junit, run.reports);
  Progress progress(run.units);
  // A family's verdicts need every checkpoint's results, so its pages wait for the end.
  std::optional<StagedPages> staged;
  if (report_dir && run.files.size() > 1 && !run.family_alpha) staged.emplace(*report_dir);
  for (std::size_t i = 0; i < run.files.size(); ++i) {
    reload_weights(run.files[i], args);
    run_file(run.files[i], run.reports[i], run.device, verbosity, progress, run.kept[kept_key(run.files[i])]);
    if (staged) staged->stage(run.reports[i]);
    if (run.files.size() > 1) release_weights(run.files[i]);
  }
  if (staged)
    for (std::size_t i = 0; i < run.files.size(); ++i) staged->restore(run.reports[i], *run.files[i].claims);
  return finish_run(run, report_dir, junit, staged ? &*staged : nullptr);
}

int merge_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "merge", {"--report-dir", "--junit"}, {"--quiet"});
  expect_positionals(args, 1, std::numeric_limits<std::size_t>::max(),
                     "circuitcheck merge SHARD.json... [--report-dir D] [--junit FILE] [--quiet]");
  std::vector<ShardReport> shards;
  for (const auto& path : args.positional) shards.push_back(read_shard(path));
  check_shards(shards);
  const nlohmann::json& identity = shards.front().run;
  const At at{shards.front().path, "/run"};
  Args planned = args_from_identity(identity, at);
  Run run = plan_run(planned, false);
  const nlohmann::json here = run_identity(planned, run);
  for (const char* key : {"circuitcheck", "libtorch", "runs"}) {
    if (!identity.contains(key)) (at / key).fail("missing");
    if (here[key] == identity[key]) continue;
    if (std::string(key) != "runs")
      (at / key).fail("the shards were made by another build (" + identity[key].dump() + ") than this one (" +
                      here[key].dump() + ")");
    At{at.file, first_differing_pointer(identity[key], here[key], (at / key).pointer)}
        .fail("changed since the shards ran (the claim files, their task files, the configs or the checkpoints)");
  }
  check(shards.front().units == run.units, "merge: " + shards.front().path,
        "/units: the run has " + std::to_string(run.units) + " units, not " + std::to_string(shards.front().units));
  struct Held {
    const ShardReport* shard = nullptr;
    std::size_t position = 0;  // in shard->results
  };
  std::vector<Held> held(run.units);
  for (const auto& s : shards)
    for (std::size_t k = 0; k < s.results.size(); ++k) held[s.results[k].unit] = {&s, k};
  std::size_t unit = 0;
  for (std::size_t i = 0; i < run.files.size(); ++i) {
    SystemReport& report = run.reports[i];
    for (std::size_t j = 0; j < run.files[i].claims->size(); ++j, ++unit) {
      const Held& h = held[unit];
      if (!h.shard) {
        const int owner = shard_of(unit, shards.front().count);
        std::string path;
        for (const auto& sh : shards)
          if (sh.index == owner) path = sh.path;
        fail("merge: " + path, "/results: no result for unit " + std::to_string(unit) + ", which shard " +
                                   std::to_string(owner) + " runs");
      }
      const ShardUnit& u = h.shard->results[h.position];
      const At result_at = At{h.shard->path, "/results"} / h.position;
      if (u.file != i || u.claim != j)
        result_at.fail("unit " + std::to_string(unit) + " is file " + std::to_string(i) + " claim " + std::to_string(j) +
                       " of the run, not file " + std::to_string(u.file) + " claim " + std::to_string(u.claim));
      report.results.push_back(result_from_record(u.record, (*run.files[i].claims)[j], result_at / "result"));
      report.run.claim_seconds.push_back(u.seconds);
      report.run.wall_seconds += u.seconds;
      if (report.run.date.empty() || u.date < report.run.date) report.run.date = u.date;
      if (!args.has("--quiet")) std::cout << claim_line(report_name(report), report.results.back(), u.seconds) << "\n";
    }
    std::cout << report_name(report) << ": " << summary_text(summarize(report.results)) << " ("
              << run.files[i].checkpoint.path << ", " << seconds_text(report.run.wall_seconds) << ")\n";
  }
  const std::optional<std::string> report_dir = args.get("--report-dir");
  const std::optional<std::string> junit = args.get("--junit");
  check_outputs(report_dir, junit, run.reports);
  return finish_run(run, report_dir, junit);
}

int list_command(int argc, char** argv) {
  Args args = parse_args(argc, argv, 2, "list", {"--checkpoint", "--config"});
  expect_positionals(args, 1, 1, "circuitcheck list CLAIMS.json [--checkpoint F] [--config CFG]");
  check(!args.has("--checkpoint") || args.flags.at("--checkpoint").size() == 1, "list --checkpoint", "give it once");
  const PreparedFile f = prepare_all(args).front();
  for (const auto& c : *f.claims)
    std::cout << f.task->name << "/" << c.id << "  " << c.kind->name << "  " << c.hypothesis << "\n";
  return 0;
}

}  // namespace circuitcheck
