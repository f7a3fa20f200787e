// Reports: the JSON of a real run of the shipped claims against
// reports/report.schema.json (Debian's python3-jsonschema as the independent
// validator), byte-identical reruns apart from the "run" block, the HTML in
// headless Chromium (DOM rows and figures, a screenshot as a test artifact),
// JUnit XML, `circuitcheck diff` on planted changes and bad input, and the SVG
// figures and escaping on hand-made results.
#include "circuits/claims/kinds/registry.h"
#include "circuits/formats/error.h"
#include "circuits/reports/checkpoint_table.h"
#include "circuits/reports/html_report.h"
#include "circuits/reports/junit.h"
#include "circuits/reports/report.h"
#include "circuits/reports/timeline.h"
#include "circuits/reports/shard.h"
#include "circuits/claims/result_record.h"
#include "circuits/formats/safetensors.h"
#include "circuits/model/checkpoint.h"
#include "circuits/model/model.h"
#include "circuits/formats/sha256.h"
#include "circuits/claims/stats.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <regex>
#include <stdexcept>
#include <set>

namespace circuitcheck {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_util::read_file;
using testing_util::run_command;
using testing_util::write_file;

std::string cli() { return CIRCUITCHECK_CLI; }
std::string shipped_claims() { return testing_util::source_dir() + "/claims/array_index.json"; }
std::string shipped_checkpoint() { return testing_util::source_dir() + "/checkpoints/array_index.safetensors"; }
std::string schema_path() { return testing_util::source_dir() + "/reports/report.schema.json"; }
std::string artifacts_dir() {
  const std::string dir = std::string(CIRCUITCHECK_BINARY_DIR) + "/test-artifacts";
  fs::create_directories(dir);
  return dir;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// ---------------------------------------------------------------------------
// A real run: `circuitcheck verify claims/array_index.json --report-dir D
// --junit D.junit.xml` with the shipped checkpoint (about 40 s). ctest runs
// each test in its own process, so the first one to need a run makes it under
// a lock and the others reuse it while the CLI, the claims and the checkpoint
// are unchanged.

struct ShippedRun {
  int exit_code = -1;
  std::string output;
  std::string dir;  // the report folder

  std::string junit() const { return dir + ".junit.xml"; }
  json report() const { return json::parse(read_file(dir + "/array_index.json")); }
};

ShippedRun shipped_run(const std::string& name) {
  const fs::path root = fs::path(CIRCUITCHECK_BINARY_DIR) / "test_scratch";
  fs::create_directories(root);
  ShippedRun verified;
  verified.dir = (root / ("report_run_" + name)).string();
  const int lock = ::open((verified.dir + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  EXPECT_GE(lock, 0);
  ::flock(lock, LOCK_EX);
  const std::string key = std::to_string(fs::last_write_time(cli()).time_since_epoch().count()) + " " +
                          sha256_file(shipped_claims()) + " " + sha256_file(shipped_checkpoint()) + "\n";
  const std::string stamp = read_file(verified.dir + ".stamp");
  if (stamp.rfind(key, 0) == 0) {
    verified.exit_code = std::stoi(stamp.substr(key.size()));
    verified.output = read_file(verified.dir + ".log");
  } else {
    testing_util::scratch_dir("report_run_" + name);
    fs::remove(verified.junit());
    const auto r = run_command(cli() + " verify " + shipped_claims() + " --family-alpha 0.05 --report-dir " +
                               verified.dir + " --junit " + verified.junit());
    verified.exit_code = r.exit_code;
    verified.output = r.output;
    write_file(verified.dir + ".log", r.output);
    write_file(verified.dir + ".stamp", key + std::to_string(r.exit_code));
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return verified;
}

// The shipped file's claims, in order.
json shipped_claim_list() { return json::parse(read_file(shipped_claims()))["claims"]; }

// The claim of a report with that id (a test bug when absent).
json& claim(json& report, const std::string& id) {
  for (auto& c : report["claims"])
    if (c["id"] == id) return c;
  throw std::logic_error("no claim " + id);
}

// ---------------------------------------------------------------------------
// JSON Schema validation with python3-jsonschema (Draft 2020-12).

bool has_jsonschema() { return run_command("/usr/bin/python3 -c 'import jsonschema'").exit_code == 0; }

#define SKIP_WITHOUT_JSONSCHEMA()                                                                      \
  CIRCUITCHECK_REQUIRE_TOOL(has_jsonschema(),                                                          \
                            "python3-jsonschema is not installed (apt-get install python3-jsonschema; " \
                            ".ci/setup does): the report cannot be checked against reports/report.schema.json")

// Validates each file against the schema (itself checked first); one line per
// file: "VALID <file>" or "INVALID <file>: <message> at <path>".
std::string validate(const std::vector<std::string>& files, const std::string& schema = schema_path()) {
  std::string command =
      "/usr/bin/python3 -c '\n"
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "jsonschema.Draft202012Validator.check_schema(schema)\n"
      "validator = jsonschema.Draft202012Validator(schema)\n"
      "for f in sys.argv[2:]:\n"
      "    errors = list(validator.iter_errors(json.load(open(f))))\n"
      "    print((\"INVALID %s: %s at %s\" % (f, errors[0].message, list(errors[0].absolute_path))) if errors else "
      "\"VALID \" + f)\n"
      "' " +
      schema;
  for (const auto& f : files) command += " " + f;
  return run_command(command).output;
}

TEST(ReportRun, JsonValidatesAgainstTheSchema) {
  SKIP_WITHOUT_JSONSCHEMA();
  const ShippedRun verified = shipped_run("a");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::string out = validate({verified.dir + "/array_index.json"});
  EXPECT_EQ(out, "VALID " + verified.dir + "/array_index.json\n");

  const json report = verified.report();
  EXPECT_EQ(report["schema"], kReportSchema);
  EXPECT_EQ(report["provenance"]["checkpoint"]["sha256"], sha256_file(shipped_checkpoint()));
  EXPECT_EQ(report["provenance"]["claims_file"]["sha256"], sha256_file(shipped_claims()));
  EXPECT_EQ(report["provenance"]["checkpoint"]["config"]["n_layers"], 2);
  EXPECT_EQ(report["provenance"]["device"], "cpu");
  const json shipped = shipped_claim_list();
  EXPECT_EQ(report["summary"]["claims"], shipped.size());
  EXPECT_EQ(report["summary"]["passed"], shipped.size());
  // --family-alpha 0.05: every claim still passes at the family level.
  EXPECT_EQ(report["summary"]["family"]["passed"], shipped.size()) << report["summary"].dump();
  EXPECT_NE(verified.output.find("at family alpha 0.05 (Holm over "), std::string::npos) << verified.output;
  // Each claim's family outcome is in the HTML and in JUnit's system-out.
  EXPECT_NE(read_file(verified.dir + "/array_index.html").find("<strong>Family:</strong> at family alpha 0.05 (Holm over "),
            std::string::npos);
  EXPECT_NE(read_file(verified.junit()).find("<system-out>at family alpha 0.05 (Holm over "), std::string::npos);
  ASSERT_EQ(report["claims"].size(), shipped.size());
  for (std::size_t i = 0; i < shipped.size(); ++i) {
    const json& c = report["claims"][i];
    EXPECT_EQ(c["id"], shipped[i]["id"]);
    EXPECT_EQ(c["kind"], shipped[i]["kind"]);
    EXPECT_EQ(c["hypothesis"], shipped[i]["hypothesis"]);
    EXPECT_EQ(c["verdict"], "pass");
    EXPECT_EQ(c["family"]["pass"], true) << c["family"].dump();
    for (const json& k : c["checks"])
      if (k["basis"] == "wilson_lower") EXPECT_EQ(k["alpha"], kCheckAlpha) << k.dump();
    EXPECT_EQ(c["domain"]["n"], shipped[i]["domain"]["sample"]);
    EXPECT_EQ(c["domain"]["seed"], shipped[i]["domain"]["seed"]);
    EXPECT_GT(report["run"]["claim_seconds"][c["id"].get<std::string>()].get<double>(), 0.0);
  }
  // The property claim's random-init control fails; its shrunk counterexample is kept as text.
  json copy = report;
  const json& control = claim(copy, "b1_copies_a1_unless_written")["controls"][0];
  EXPECT_EQ(control["model"], "random_init");
  ASSERT_EQ(control["counterexamples"].size(), 1u) << control.dump();
  EXPECT_EQ(control["counterexamples"][0].get<std::string>().rfind("BOS 0 0 0 \\n 0 0 \\n 0 0 0  (position 8", 0), 0u);
}

// Reports on a dataset task and on filtered domains validate too: {"all":
// true}, "where" on a sample and on all rows (n -1: not known before the
// run), and the task file with its hash in the provenance.
TEST(ReportRun, DatasetAndFilteredDomainsValidate) {
  SKIP_WITHOUT_JSONSCHEMA();
  const std::string dir = testing_util::scratch_dir("report_dataset_domains");
  const std::string example = testing_util::source_dir() + "/examples/min_int";
  json file = json::parse(read_file(example + "/claims/min_int.json"));
  file["task"] = example + "/min_int.jsonl";
  file["checkpoint"] = testing_util::fixture("external/ckk_min_int/model.pt");
  json ties = file["claims"][0];
  ties["id"] = "accuracy_on_ties";
  ties["domain"] = {{"all", true}, {"where", {{"order", 2}}}};
  ties.erase("by_class");
  ties.erase("class_values");
  ties["pass"] = {{"rate_at_least", 0.5}};  // 9 of 9 ties: Wilson's lower bound is 0.70
  json sampled = ties;
  sampled["id"] = "accuracy_a_below_b";
  sampled["domain"] = {{"sample", 500}, {"seed", 1}, {"where", {{"order", 0}}}};
  file["claims"] = {file["claims"][0], ties, sampled};
  write_file(dir + "/claims.json", file.dump(2));
  const auto r = run_command(cli() + " verify " + dir + "/claims.json --quiet --report-dir " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(validate({dir + "/out/min_int.json"}), "VALID " + dir + "/out/min_int.json\n");
  const json report = json::parse(read_file(dir + "/out/min_int.json"));
  EXPECT_EQ(report["claims"][0]["domain"], json({{"all", true}, {"n", 2000}}));
  EXPECT_EQ(report["claims"][1]["domain"], json({{"all", true}, {"where", {{"order", 2}}}, {"n", -1}}));
  EXPECT_EQ(report["claims"][2]["domain"]["n"], 500);
  EXPECT_EQ(report["provenance"]["task_file"]["sha256"], sha256_file(example + "/min_int.jsonl"));
}

// The schema is strict: each of these breaks it (and a time anywhere but "run" is refused).
TEST(ReportRun, SchemaRejectsBrokenReports) {
  SKIP_WITHOUT_JSONSCHEMA();
  const ShippedRun verified = shipped_run("a");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::vector<std::pair<std::string, std::function<void(json&)>>> cases = {
      {"wrong_schema", [](json& r) { r["schema"] = "circuitcheck.report/2"; }},
      {"unknown_verdict", [](json& r) { r["claims"][0]["verdict"] = "maybe"; }},
      {"timing_outside_run", [](json& r) { r["claims"][0]["seconds"] = 1.5; }},
      {"date_in_provenance", [](json& r) { r["provenance"]["date"] = "2025-01-01T00:00:00Z"; }},
      {"short_sha256", [](json& r) { r["provenance"]["checkpoint"]["sha256"] = "abc"; }},
      {"no_domain_size", [](json& r) { r["claims"][1]["domain"].erase("n"); }},
      {"check_without_value", [](json& r) { r["claims"][2]["checks"][0].erase("value"); }},
      {"trials_without_successes", [](json& r) { r["claims"][2]["checks"][0].erase("successes"); }},
      {"unknown_figure_type", [](json& r) { r["claims"][0]["figures"] = {{{"type", "pie"}, {"title", "t"}, {"values", json::array()}}}; }},
      {"no_run_block", [](json& r) { r.erase("run"); }},
  };
  const std::string dir = testing_util::scratch_dir("report_schema_rejects");
  std::vector<std::string> files;
  for (const auto& [name, mutate] : cases) {
    json r = verified.report();
    mutate(r);
    files.push_back(dir + "/" + name + ".json");
    write_file(files.back(), r.dump());
  }
  const std::string out = validate(files);
  for (const auto& f : files) EXPECT_TRUE(contains(out, "INVALID " + f + ": ")) << f << "\n" << out;
}

TEST(ReportRun, SameInputsGiveIdenticalJsonApartFromTheRunBlock) {
  const ShippedRun a = shipped_run("a"), b = shipped_run("b");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  json ja = a.report(), jb = b.report();
  for (const json* j : {&ja, &jb}) {
    ASSERT_TRUE(j->contains("run"));
    EXPECT_TRUE((*j)["run"]["date"].is_string());
    EXPECT_EQ((*j)["run"]["claim_seconds"].size(), shipped_claim_list().size());
  }
  ja.erase("run");
  jb.erase("run");
  EXPECT_EQ(ja.dump(2), jb.dump(2));
  // The files as written: the text before the "run" block and after it is the same byte for byte.
  const std::string ta = read_file(a.dir + "/array_index.json"), tb = read_file(b.dir + "/array_index.json");
  const std::size_t ra = ta.find("\n  \"run\": {"), rb = tb.find("\n  \"run\": {");
  ASSERT_NE(ra, std::string::npos);
  ASSERT_NE(rb, std::string::npos);
  EXPECT_EQ(ta.substr(0, ra), tb.substr(0, rb));
  EXPECT_EQ(ta.substr(ta.find("\n  },", ra)), tb.substr(tb.find("\n  },", rb)));
}

// ---------------------------------------------------------------------------
// The HTML in headless Chromium.

bool has_chromium() { return run_command("command -v chromium").exit_code == 0; }

#define SKIP_WITHOUT_CHROMIUM()                                                                   \
  CIRCUITCHECK_REQUIRE_TOOL(has_chromium(), "chromium is not installed (apt-get install chromium; .ci/setup " \
                                            "does): the browser test of the HTML report cannot run")

// Chromium's headless flags; a profile per test so that parallel tests do not share one.
std::string chromium(const std::string& profile) {
  return "timeout 180 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run "
         "--user-data-dir=" +
         profile + " ";
}

// The DOM Chromium builds from `file` (its stderr chatter dropped).
std::string dump_dom(const std::string& file, const std::string& profile) {
  return run_command("(" + chromium(profile) + "--dump-dom file://" + file + " 2>/dev/null)").output;
}

// Saves a screenshot of `file` as build/test-artifacts/<name>.png.
void screenshot(const std::string& file, const std::string& profile, const std::string& name) {
  const std::string png = artifacts_dir() + "/" + name + ".png";
  fs::remove(png);
  const auto r = run_command("(" + chromium(profile) + "--window-size=1280,3000 --screenshot=" + png + " file://" +
                             file + " 2>/dev/null)");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(png)) << r.output;
  EXPECT_GT(fs::file_size(png), 10000u);
}

// No script, nothing fetched: the only URL is the SVG namespace.
void expect_self_contained(const std::string& html) {
  EXPECT_FALSE(contains(html, "<script"));
  EXPECT_FALSE(contains(html, "<link"));
  EXPECT_FALSE(contains(html, "src="));
  EXPECT_FALSE(contains(html, "url("));
  EXPECT_EQ(count(html, "http"), count(html, "http://www.w3.org/2000/svg"));
}

TEST(ReportRun, HtmlInHeadlessChromiumHasOneRowPerClaimAndItsFigures) {
  const ShippedRun verified = shipped_run("a");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::string page = verified.dir + "/array_index.html";
  expect_self_contained(read_file(page));
  SKIP_WITHOUT_CHROMIUM();
  const std::string profile = testing_util::scratch_dir("report_chromium_run");
  const std::string dom = dump_dom(page, profile);
  std::vector<std::pair<std::string, std::string>> rows;  // (id, verdict)
  const std::regex row("<tr class=\"claim verdict-([a-z_]+)\" data-claim=\"([^\"]+)\" data-verdict=\"([a-z_]+)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[1], (*it)[3]);
    rows.emplace_back((*it)[2], (*it)[1]);
  }
  ASSERT_EQ(rows.size(), shipped_claim_list().size()) << dom.substr(0, 2000);
  const json report = verified.report();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].first, report["claims"][i]["id"]);
    EXPECT_EQ(rows[i].second, report["claims"][i]["verdict"]);
    // The claim's section holds its evidence as SVG and its checks with the control's next to them.
    const std::size_t start = dom.find("id=\"claim-" + rows[i].first + "\"");
    ASSERT_NE(start, std::string::npos) << rows[i].first;
    const std::string section = dom.substr(start, dom.find("</section>", start) - start);
    EXPECT_GE(count(section, "<svg"), 1u) << rows[i].first;
    EXPECT_GE(count(section, "<rect"), 2u) << rows[i].first;
    EXPECT_TRUE(contains(section, "control random_init")) << rows[i].first;
  }
  screenshot(page, profile, "report_array_index");

  const std::string index = dump_dom(verified.dir + "/index.html", profile);
  EXPECT_EQ(count(index, "<tr class=\"system verdict-pass\" data-system=\"array_index\">"), 1u) << index;
  EXPECT_TRUE(contains(index, "href=\"array_index.html\"")) << index;
}

// ---------------------------------------------------------------------------
// JUnit XML, parsed by Python's XML parser: "<classname>|<name>|<failure or error>|<type>|<message>" per testcase
// (its system-out, the family outcome, aside).

std::string junit_cases(const std::string& file) {
  return run_command(
             "/usr/bin/python3 -c '\n"
             "import sys, xml.dom.minidom\n"
             "doc = xml.dom.minidom.parse(sys.argv[1])\n"
             "root = doc.documentElement\n"
             "print(root.tagName, root.getAttribute(\"tests\"), root.getAttribute(\"failures\"), "
             "root.getAttribute(\"errors\"))\n"
             "for case in doc.getElementsByTagName(\"testcase\"):\n"
             "    bad = [n for n in case.childNodes if n.nodeType == n.ELEMENT_NODE and n.tagName != \"system-out\"]\n"
             "    kind = bad[0].tagName + \"|\" + bad[0].getAttribute(\"type\") + \"|\" + bad[0].getAttribute(\"message\") "
             "if bad else \"ok||\"\n"
             "    print(case.getAttribute(\"classname\") + \"|\" + case.getAttribute(\"name\") + \"|\" + kind)\n"
             "' " +
             file)
      .output;
}

TEST(ReportRun, JunitHasOneTestcasePerClaim) {
  const ShippedRun verified = shipped_run("a");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::string out = junit_cases(verified.dir + "/junit.xml");
  const json shipped = shipped_claim_list();
  std::string expected = "testsuites " + std::to_string(shipped.size()) + " 0 0\n";
  for (const auto& c : shipped) expected += "array_index|" + c["id"].get<std::string>() + "|ok||\n";
  EXPECT_EQ(out, expected);
  EXPECT_EQ(read_file(verified.junit()), read_file(verified.dir + "/junit.xml"));
  // The report folder holds the reports and nothing half-written.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(verified.dir)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"array_index.json", "array_index.html", "index.html", "junit.xml"}));
}

// ---------------------------------------------------------------------------
// Hand-made results: every verdict, every figure type, text that needs escaping.

const std::string kHypothesis = "Head 0.1 attends <prev> & copies \"it\" when 'a' < b";
const std::string kCounterexample = "<bos> 3 & 4 \"x\" 'y' </s>";

Figure heatmap_figure() {
  Figure f;
  f.type = "heatmap";
  f.title = "Attention <L0H1> query x key";
  f.x_title = "key";
  f.y_title = "query";
  f.x_labels = {"<bos>", "a&b", "\"c\"", "'d'"};
  f.y_labels = {"q0", "q1", "q2"};
  f.values = {{1.0, 0.0, 0.0, 0.0}, {0.5, 0.5, 0.0, 0.0}, {0.1, 0.2, std::numeric_limits<double>::quiet_NaN(), 0.4}};
  return f;
}

Figure bars_figure() {
  Figure f;
  f.type = "bars";
  f.title = "Probe accuracy by layer";
  f.x_title = "layer";
  f.y_title = "accuracy";
  f.x_labels = {"embed", "L0", "L1"};
  f.series = {"probe <linear>", "control & shuffled"};
  f.values = {{0.3, 0.8, 0.99}, {0.1, 0.12, 0.11}};
  f.reference = {0.9};
  return f;
}

Figure scatter_figure() {
  Figure f;
  f.type = "scatter";
  f.title = "PCA of the residual stream";
  f.x_title = "PC1";
  f.y_title = "PC2";
  f.series = {"odd <1>", "even & 2"};
  f.values = {{0, 0}, {1, 2}, {-1, 0.5}, {2, -1}, {0.5, 0.5}, {-2, -2}};
  f.classes = {0, 1, 0, 1, 0, 1};
  return f;
}

Claim hand_made_claim(const std::string& id, const char* kind) {
  Claim c;
  c.id = id;
  c.hypothesis = kHypothesis;
  c.kind = find_kind(kind);
  c.domain = {false, 20000, 6};
  c.pass.rate_at_least = 0.99;
  c.controls = {"random_init"};
  return c;
}

Outcome outcome(const std::string& model, std::vector<Check> checks) {
  Outcome o;
  o.model = model;
  o.pass = true;
  for (auto& c : checks) {
    o.pass = o.pass && c.pass;
    o.explanation += (o.explanation.empty() ? "" : "; ") + c.explanation;
  }
  o.checks = std::move(checks);
  return o;
}

ClaimResult result(const std::string& id, Verdict verdict, Outcome checkpoint, std::vector<Outcome> controls,
                   const char* kind = "attention") {
  ClaimResult r;
  r.claim = hand_made_claim(id, kind);
  r.verdict = verdict;
  r.checkpoint = std::move(checkpoint);
  r.controls = std::move(controls);
  r.explanation = std::string(to_string(verdict)) + ": " + r.checkpoint.explanation + " <see below>";
  return r;
}

Check attention(const std::string& what, int64_t hits) {
  return rate_check("attention", what, "examples", hits, 20000, false, Rule::kRateAtLeast, 0.99);
}

SystemReport hand_made_report() {
  SystemReport report;
  report.system = "previous_token";
  report.domain_size = 4096;
  report.provenance = {"claims/<toy>.json", std::string(64, 'a'), "toy & co.safetensors", "safetensors",
                       std::string(64, 'b'), "metadata", json{{"n_layers", 1}}, "cpu", 2};
  report.run = {"2025-01-31T12:00:00Z", 3.5, {1.25, 1.0, 0.75, 0.5}};

  Outcome passing = outcome("checkpoint", {attention("mass on", 20000)});
  passing.figures = {heatmap_figure(), bars_figure(), scatter_figure()};
  passing.counterexamples = {kCounterexample};
  report.results.push_back(result("attends_prev", Verdict::kPass, passing, {outcome("random_init", {attention("mass on", 3)})}));

  Outcome ablated = outcome("checkpoint", {rate_check("accuracy after", "after ablating: correct on", "examples", 10000,
                                                      20000, false, Rule::kDropToAtMost, 0.1)});
  Liveness dead;
  dead.hook = "blocks.0.attn.hook_z";
  dead.kind = "zero";
  ablated.liveness = {dead};
  ablated.pass = false;
  report.results.push_back(result("head_necessary", Verdict::kFail, ablated,
                                  {outcome("random_init", {rate_check("accuracy after", "after ablating: correct on",
                                                                      "examples", 0, 20000, false, Rule::kDropToAtMost, 0.1)})},
                                  "ablation"));
  report.results.push_back(result("trivially_true", Verdict::kNotFalsifiable, outcome("checkpoint", {attention("mass on", 19990)}),
                                  {outcome("random_init", {attention("mass on", 19995)})}));
  ClaimResult error = result("broken", Verdict::kError, Outcome{}, {});
  error.checkpoint.model = "checkpoint";
  error.explanation = "run_claim: broken on checkpoint: the model's n_ctx 4 < the task's 6 <positions>";
  report.results.push_back(error);
  return report;
}

// One terminal line per claim: the headline check against its threshold (the
// failing one where there is one), an error's message cut to fit, the time.
TEST(ClaimLine, ShowsTheHeadlineFigureAgainstItsThreshold) {
  const SystemReport report = hand_made_report();
  ClaimResult long_error = report.results[3];
  long_error.explanation = "internal error: " + std::string(300, 'x') + "\nsecond line";
  ClaimResult utf8_error = long_error;
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";  // é, two bytes each
  utf8_error.explanation = "internal error: " + accents;
  const std::vector<std::pair<ClaimResult, std::string>> cases = {
      // The compared numbers are the one-sided 95 % Wilson bounds: lower for
      // 20000 of 20000 and 19990 of 20000, upper for 10000 of 20000.
      {report.results[0], "PASS  previous_token/attends_prev   attention " + percent(wilson_lower_bound(20000, 20000)) +
                              " >= 99%   1.2 s"},
      {report.results[1], "FAIL  previous_token/head_necessary   accuracy after " +
                              percent(wilson_upper_bound(10000, 20000)) + " <= 10%   1.2 s"},
      {report.results[2], "NOT_FALSIFIABLE previous_token/trivially_true   attention " +
                              percent(wilson_lower_bound(19990, 20000)) + " >= 99%   1.2 s"},
      {report.results[3],
       "ERROR previous_token/broken   run_claim: broken on checkpoint: the model's n_ctx 4 < the task's 6 "
       "<positions>   1.2 s"},
      {long_error, "ERROR previous_token/broken   internal error: " + std::string(63, 'x') + "...   1.2 s"},
      // 63 bytes of room: 31 whole characters, not half of the 32nd.
      {utf8_error, "ERROR previous_token/broken   internal error: " + accents.substr(0, 62) + "...   1.2 s"},
  };
  for (const auto& [result, expected] : cases) {
    const std::string line = claim_line("previous_token", result, 1.234);
    EXPECT_EQ(line, expected);
    EXPECT_LE(line.size(), 120u) << line;
  }
}

TEST(HtmlReport, DrawsEveryFigureTypeAndEscapesText) {
  const SystemReport report = hand_made_report();
  const std::string html = html_report(report);
  expect_self_contained(html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // Every text is escaped: no raw markup from hypotheses, token strings, labels or paths.
  for (const char* raw : {"<prev>", "<bos>", "</s>", "<L0H1>", "<linear>", "<1>", "<toy>", "<see below>", "<positions>"})
    EXPECT_FALSE(contains(html, raw)) << raw;
  EXPECT_TRUE(contains(html, "Head 0.1 attends &lt;prev&gt; &amp; copies &quot;it&quot; when &#39;a&#39; &lt; b"));
  EXPECT_TRUE(contains(html, "<li><code>&lt;bos&gt; 3 &amp; 4 &quot;x&quot; &#39;y&#39; &lt;/s&gt;</code></li>"));
  EXPECT_TRUE(contains(html, "claims/&lt;toy&gt;.json"));
  EXPECT_TRUE(contains(html, "toy &amp; co.safetensors"));
  // One summary row per claim, carrying its verdict.
  for (const auto& r : report.results)
    EXPECT_EQ(count(html, "<tr class=\"claim verdict-" + std::string(to_string(r.verdict)) + "\" data-claim=\"" +
                              r.claim.id + "\" data-verdict=\"" + to_string(r.verdict) + "\">"),
              1u)
        << r.claim.id;
  EXPECT_EQ(count(html, "<tr class=\"claim "), report.results.size());
  EXPECT_EQ(count(html, "<section class=\"claim-detail"), report.results.size());
  // Controls next to the real result; dead interventions; checks with their numbers.
  EXPECT_TRUE(contains(html, "<th colspan=\"3\">control random_init</th>"));
  EXPECT_TRUE(contains(html, "<td class=\"bad\">not live</td>"));
  EXPECT_TRUE(contains(html, "50% (10000/20000)"));
  // Figures: three hand-made ones plus one checks chart per claim with checks (three of four).
  EXPECT_EQ(count(html, "<svg "), 6u);
}

TEST(HtmlReport, SvgFiguresOfEachType) {
  struct Case {
    Figure figure;
    std::vector<std::pair<std::string, std::size_t>> counts;  // substring -> occurrences
    std::vector<std::string> present;
  };
  const std::vector<Case> cases = {
      // 12 cells (one NaN, grey; five zeros, white), the 40-step colour scale, two frames.
      {heatmap_figure(),
       {{"<rect x=", 12 + 40 + 2}, {"fill=\"#dddddd\"", 1}, {"fill=\"rgb(247,247,247)\"", 5}},
       {"&lt;bos&gt;", "a&amp;b", "&quot;c&quot;", "&#39;d&#39;", ">key</text>", ">query</text>", "q2 / &quot;c&quot;: nan",
        "Attention &lt;L0H1&gt; query x key"}},
      // 6 bars and 2 legend swatches; the threshold line.
      {bars_figure(),
       {{"<rect x=", 6 + 2}, {"class=\"reference\"", 1}},
       {"probe &lt;linear&gt;, L1: 0.99", "control &amp; shuffled", ">0.9</text>", ">layer</text>", ">accuracy</text>"}},
      // 6 points in the two legend colours.
      {scatter_figure(),
       {{"<circle ", 6}, {"fill=\"#4e79a7\" fill-opacity", 3}, {"fill=\"#f28e2b\" fill-opacity", 3}},
       {"odd &lt;1&gt;: (-1, 0.5)", "even &amp; 2: (1, 2)", ">PC1</text>", ">PC2</text>"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.figure.type);
    const std::string svg = svg_figure(c.figure);
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
    for (const auto& [what, n] : c.counts) EXPECT_EQ(count(svg, what), n) << what << "\n" << svg;
    for (const auto& what : c.present) EXPECT_TRUE(contains(svg, what)) << what << "\n" << svg;
  }
  // Degenerate figures still draw a frame that says why.
  Figure empty = bars_figure();
  empty.values.clear();
  EXPECT_TRUE(contains(svg_figure(empty), "no data"));
  Figure pie = bars_figure();
  pie.type = "pie<>";
  EXPECT_TRUE(contains(svg_figure(pie), "unknown figure type &#39;pie&lt;&gt;&#39;"));
  Figure ragged = heatmap_figure();
  ragged.values[1].resize(2);
  ragged.y_labels.clear();
  EXPECT_EQ(count(svg_figure(ragged), "fill=\"#dddddd\""), 3u);
}

TEST(HtmlReport, HandMadeFiguresInHeadlessChromium) {
  const SystemReport report = hand_made_report();
  const std::string dir = testing_util::scratch_dir("report_hand_made");
  write_text_atomically(dir + "/previous_token.html", html_report(report), "test");
  write_text_atomically(dir + "/index.html", html_index({report}), "test");
  SKIP_WITHOUT_CHROMIUM();
  const std::string profile = dir + "/chromium-profile";
  const std::string dom = dump_dom(dir + "/previous_token.html", profile);
  EXPECT_EQ(count(dom, "<svg "), 6u) << dom.substr(0, 2000);
  EXPECT_EQ(count(dom, "<circle "), 6u);
  EXPECT_FALSE(contains(dom, "<prev>"));
  for (const char* row : {"<tr class=\"claim verdict-pass\" data-claim=\"attends_prev\"",
                          "<tr class=\"claim verdict-fail\" data-claim=\"head_necessary\"",
                          "<tr class=\"claim verdict-not_falsifiable\" data-claim=\"trivially_true\"",
                          "<tr class=\"claim verdict-error\" data-claim=\"broken\""})
    EXPECT_EQ(count(dom, row), 1u) << row;
  screenshot(dir + "/previous_token.html", profile, "report_hand_made");
  const std::string index = dump_dom(dir + "/index.html", profile);
  EXPECT_EQ(count(index, "<tr class=\"system verdict-fail\" data-system=\"previous_token\">"), 1u) << index;
}

// ---------------------------------------------------------------------------
// JUnit on the hand-made results: a failure says the value, the threshold and the domain.

// Reports of one claim file on several checkpoints make one table (a row per
// claim, a verdict per checkpoint); a file run on one checkpoint makes none;
// reports of one file with different claims are a bug, not a table.
// The hand-made report on three checkpoints with different verdicts, and
// another claim file's on one, second.
std::vector<SystemReport> three_checkpoint_reports() {
  std::vector<SystemReport> reports;
  const std::vector<std::vector<Verdict>> verdicts = {{Verdict::kPass, Verdict::kPass, Verdict::kPass, Verdict::kError},
                                                      {Verdict::kPass, Verdict::kFail, Verdict::kPass, Verdict::kError},
                                                      {Verdict::kNotFalsifiable, Verdict::kFail, Verdict::kInconclusive,
                                                       Verdict::kError}};
  for (std::size_t k = 0; k < verdicts.size(); ++k) {
    SystemReport r = hand_made_report();
    r.provenance.checkpoint = "seeds/seed" + std::to_string(k) + ".safetensors";
    r.checkpoint_label = "seed" + std::to_string(k);
    for (std::size_t i = 0; i < r.results.size(); ++i) r.results[i].verdict = verdicts[k][i];
    r.results[2].claim.scope = ClaimScope::kCheckpoint;
    reports.push_back(r);
  }
  SystemReport other = hand_made_report();
  other.system = "other";
  other.provenance.claims_file = "claims/other.json";
  reports.insert(reports.begin() + 1, other);
  return reports;
}

TEST(CheckpointTable, OneRowPerClaimAndAVerdictPerCheckpoint) {
  std::vector<SystemReport> reports = three_checkpoint_reports();
  const std::vector<CheckpointTable> tables = checkpoint_tables(reports);
  ASSERT_EQ(tables.size(), 1u);
  const CheckpointTable& t = tables[0];
  EXPECT_EQ(t.system, "previous_token");
  ASSERT_EQ(t.reports.size(), 3u);
  EXPECT_EQ(t.reports[1], &reports[2]);
  std::vector<int> passed;
  for (const auto& row : t.rows) passed.push_back(row.passed);
  EXPECT_EQ(passed, (std::vector<int>{2, 1, 2, 0}));
  EXPECT_EQ(t.rows[1].verdicts, (std::vector<Verdict>{Verdict::kPass, Verdict::kFail, Verdict::kFail}));

  const json doc = checkpoint_tables_json(tables);
  EXPECT_EQ(doc["schema"], kCheckpointTableSchema);
  EXPECT_EQ(doc["tables"][0]["checkpoints"][2]["report"], "previous_token@seed2");
  EXPECT_EQ(doc["tables"][0]["claims"][1]["verdicts"], json({"pass", "fail", "fail"}));
  EXPECT_EQ(doc["tables"][0]["claims"][2]["scope"], "checkpoint");
  EXPECT_DOUBLE_EQ(doc["tables"][0]["claims"][0]["pass_fraction"].get<double>(), 2.0 / 3.0);

  const std::string text = checkpoint_table_text(t);
  EXPECT_TRUE(contains(text, "previous_token on 3 checkpoints:\n")) << text;
  EXPECT_TRUE(contains(text, "  2/3  attends_prev     not_falsifiable: seeds/seed2.safetensors\n")) << text;
  EXPECT_TRUE(contains(text, "  2/3  trivially_true   inconclusive: seeds/seed2.safetensors (scope checkpoint)\n")) << text;
  EXPECT_TRUE(contains(text, "  1/3  head_necessary   fail: seeds/seed1.safetensors, fail: seeds/seed2.safetensors\n"))
      << text;
  EXPECT_TRUE(contains(text, "  0/3  broken           error: seeds/seed0.safetensors, error: seeds/seed1.safetensors, "
                             "error: seeds/seed2.safetensors\n")) << text;

  const std::string index = html_index(reports);
  EXPECT_EQ(count(index, "<tr class=\"claim-across\""), 4u) << index;
  EXPECT_TRUE(contains(index, "data-claim=\"attends_prev\" data-scope=\"recipe\" data-passed=\"2\"")) << index;
  EXPECT_TRUE(contains(index, "data-claim=\"trivially_true\" data-scope=\"checkpoint\" data-passed=\"2\"")) << index;
  EXPECT_TRUE(contains(index, "<a href=\"previous_token@seed1.html\"")) << index;
  EXPECT_TRUE(contains(junit_xml(reports), "<testsuite name=\"previous_token@seed1\"")) << junit_xml(reports);

  reports.back().results.pop_back();
  EXPECT_THROW(checkpoint_tables(reports), std::invalid_argument);
  reports[0].checkpoint_label.clear();
  EXPECT_EQ(report_name(reports[0]), "previous_token");
  // A checkpoint's name with '#', '%' or '?' stays part of the link's path.
  reports = three_checkpoint_reports();
  reports[1].checkpoint_label = "run#2 50%?";
  const std::string odd = html_index(reports);
  EXPECT_TRUE(contains(odd, "@run%232%2050%25%3F.html\"")) << odd;
}

TEST(CheckpointTable, JsonValidatesAgainstItsSchema) {
  SKIP_WITHOUT_JSONSCHEMA();
  const std::string dir = testing_util::scratch_dir("report_checkpoint_table");
  const std::vector<SystemReport> reports = three_checkpoint_reports();
  write_text_atomically(dir + "/checkpoints.json", checkpoint_tables_json(checkpoint_tables(reports)).dump(2), "test");
  EXPECT_EQ(validate({dir + "/checkpoints.json"}, testing_util::source_dir() + "/reports/checkpoints.schema.json"),
            "VALID " + dir + "/checkpoints.json\n");
  write_text_atomically(dir + "/broken.json", json{{"schema", kCheckpointTableSchema}, {"tables", json::array()}}.dump(),
                        "test");
  EXPECT_NE(validate({dir + "/broken.json"}, testing_util::source_dir() + "/reports/checkpoints.schema.json")
                .rfind("INVALID", 0),
            std::string::npos);
}

// The hand-made report as four snapshots of one run, given out of step
// order: attends_prev passes at steps 100, 300 and 400 (and fails at 200),
// head_necessary fails on the last.
std::vector<SystemReport> snapshot_reports() {
  std::vector<SystemReport> reports;
  const std::vector<int64_t> steps = {300, 100, 400, 200};
  for (int64_t step : steps) {
    SystemReport r = hand_made_report();
    r.provenance.checkpoint = "run/step_" + std::to_string(step) + ".safetensors";
    r.checkpoint_label = "step_" + std::to_string(step);
    r.provenance.snapshot = SnapshotInfo{step, 1.0 / static_cast<double>(step), step >= 300 ? 0.01 : 5.0};
    r.results[0].verdict = step == 200 ? Verdict::kFail : Verdict::kPass;
    r.results[0].checkpoint.checks[0] = attention("mass on", 16000 + 10 * step);
    r.results[1].verdict = step == 400 ? Verdict::kFail : Verdict::kPass;
    reports.push_back(r);
  }
  return reports;
}

TEST(Timeline, AClaimFormsAtTheFirstStepFromWhichItKeepsPassing) {
  std::vector<SystemReport> reports = snapshot_reports();
  const std::vector<Timeline> along = timelines(reports);
  ASSERT_EQ(along.size(), 1u);
  const Timeline& t = along[0];
  ASSERT_EQ(t.reports.size(), 4u);
  EXPECT_EQ(t.reports[0], &reports[1]);  // step 100
  EXPECT_EQ(t.reports[3], &reports[2]);  // step 400
  const Timeline::Series& attends = t.series[0];
  EXPECT_EQ(attends.metric, "attention");
  EXPECT_EQ(attends.rule, Rule::kRateAtLeast);
  EXPECT_TRUE(attends.rate);
  EXPECT_EQ(attends.passed, 3);
  EXPECT_EQ(attends.formed_at_step, std::optional<int64_t>(300));
  ASSERT_TRUE(attends.points[1].value);
  EXPECT_DOUBLE_EQ(*attends.points[1].value, 18000.0 / 20000.0);  // step 200
  EXPECT_FALSE(t.series[1].formed_at_step);  // fails on the last snapshot
  EXPECT_FALSE(t.series[3].points[0].value);  // the error has no check

  const json doc = timelines_json(along);
  EXPECT_EQ(doc["schema"], kTimelineSchema);
  std::vector<int64_t> steps;
  for (const auto& c : doc["timelines"][0]["checkpoints"]) steps.push_back(c["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{100, 200, 300, 400}));
  EXPECT_EQ(doc["timelines"][0]["claims"][0]["formed_at_step"], 300);
  EXPECT_TRUE(doc["timelines"][0]["claims"][1]["formed_at_step"].is_null());
  EXPECT_DOUBLE_EQ(doc["timelines"][0]["checkpoints"][3]["test_loss"].get<double>(), 0.01);

  const std::string text = timeline_text(t);
  EXPECT_TRUE(contains(text, "previous_token over 4 snapshots (steps 100 to 400):\n")) << text;
  EXPECT_TRUE(contains(text, "  attends_prev    holds from step 300  (3/4)  attention ")) << text;
  EXPECT_TRUE(contains(text, "  head_necessary  never holds for good  (3/4)")) << text;

  const std::vector<Figure> figures = timeline_figures(t);
  ASSERT_EQ(figures.size(), 1 + t.series.size());  // the loss, then one per claim
  EXPECT_TRUE(figures[0].log_y);
  EXPECT_EQ(figures[1].x_reference, std::vector<double>{300.0});
  EXPECT_EQ(figures[1].reference, std::vector<double>{0.99});

  const std::string index = html_index(reports);
  EXPECT_TRUE(contains(index, "<tr class=\"claim-timeline\" data-claim=\"attends_prev\" data-formed-at=\"300\">")) << index;
  EXPECT_TRUE(contains(index, "<polyline")) << index;
  EXPECT_EQ(count(index, "<tr class=\"claim-across\""), 0u) << "a timeline replaces the verdict table";
}

// A claim that errs on the last snapshot keeps the metric of the snapshots
// before it (review of issue 22: the metric came from the last snapshot
// only, so the whole history dropped out of the JSON and the chart).
TEST(Timeline, AnErrorOnTheLastSnapshotKeepsTheMetricOfTheOthers) {
  std::vector<SystemReport> reports = snapshot_reports();
  reports[2].results[0].verdict = Verdict::kError;  // step 400
  reports[2].results[0].checkpoint.checks.clear();
  const std::vector<Timeline> along = timelines(reports);
  ASSERT_EQ(along.size(), 1u);
  const Timeline::Series& attends = along[0].series[0];
  EXPECT_EQ(attends.metric, "attention");
  ASSERT_EQ(attends.points.size(), 4u);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_TRUE(attends.points[k].value) << k;
  EXPECT_FALSE(attends.points[3].value);
  EXPECT_FALSE(attends.formed_at_step);
}

TEST(Timeline, OnlySnapshotsMakeATimelineAndTheirStepsAreDistinct) {
  std::vector<SystemReport> reports = snapshot_reports();
  reports[2].provenance.snapshot.reset();  // a checkpoint that is not a snapshot: a verdict table, no timeline
  EXPECT_TRUE(timelines(reports).empty());
  EXPECT_EQ(checkpoint_tables(reports).size(), 1u);
  reports = snapshot_reports();
  reports[2].provenance.snapshot->step = 100;
  EXPECT_THROW(timelines(reports), std::invalid_argument);
  reports = snapshot_reports();
  reports[1].results.pop_back();
  EXPECT_THROW(timelines(reports), std::invalid_argument);
}

TEST(Timeline, JsonValidatesAgainstItsSchema) {
  SKIP_WITHOUT_JSONSCHEMA();
  const std::string dir = testing_util::scratch_dir("report_timeline");
  write_text_atomically(dir + "/timeline.json", timelines_json(timelines(snapshot_reports())).dump(2), "test");
  EXPECT_EQ(validate({dir + "/timeline.json"}, testing_util::source_dir() + "/reports/timeline.schema.json"),
            "VALID " + dir + "/timeline.json\n");
  json broken = timelines_json(timelines(snapshot_reports()));
  broken["timelines"][0]["claims"][0].erase("formed_at_step");
  write_text_atomically(dir + "/broken.json", broken.dump(), "test");
  EXPECT_EQ(validate({dir + "/broken.json"}, testing_util::source_dir() + "/reports/timeline.schema.json").rfind("INVALID", 0),
            0u);
}

// verify --checkpoints keeps of each checkpoint, once its pages are
// written, only what the run's index, JUnit, timeline and checkpoint table
// read: they come out the same, and the rest (hypotheses, unthresholded
// checks, explanations, figures, live interventions, and the controls of a
// claim that passes or fails) is gone.
TEST(DropPageDetails, RunPagesComeOutTheSame) {
  for (std::vector<SystemReport> reports : {snapshot_reports(), three_checkpoint_reports()}) {
    for (SystemReport& r : reports) {
      r.results[0].checkpoint.checks.push_back(value_check("metric", "metric", 0.5, Rule::kNone, 0.0));
      Liveness live{"blocks.0.attn.hook_z", "zero", 1, 4, 0.5, 0.25};
      r.results[1].checkpoint.liveness.push_back(live);
    }
    const std::string junit = junit_xml(reports), index = html_index(reports);
    const json timeline = timelines_json(timelines(reports)), tables = checkpoint_tables_json(checkpoint_tables(reports));
    for (SystemReport& r : reports) drop_page_details(r);
    EXPECT_EQ(junit_xml(reports), junit);
    EXPECT_EQ(html_index(reports), index);
    EXPECT_EQ(timelines_json(timelines(reports)), timeline);
    EXPECT_EQ(checkpoint_tables_json(checkpoint_tables(reports)), tables);
    for (const SystemReport& r : reports) {
      EXPECT_TRUE(r.provenance.config.is_null());
      for (const ClaimResult& c : r.results) {
        EXPECT_TRUE(c.claim.hypothesis.empty());
        EXPECT_TRUE(c.checkpoint.figures.empty() && c.checkpoint.counterexamples.empty());
        for (const Check& k : c.checkpoint.checks) EXPECT_TRUE(k.rule != Rule::kNone && k.explanation.empty()) << k.name;
        for (const Liveness& l : c.checkpoint.liveness) EXPECT_FALSE(l.live());
        EXPECT_EQ(c.controls.empty(), c.verdict != Verdict::kNotFalsifiable && c.verdict != Verdict::kInconclusive)
            << c.claim.id;
        EXPECT_EQ(c.explanation.empty(), c.verdict == Verdict::kPass) << c.claim.id;
      }
    }
  }
}

// verify --checkpoints then spills what it keeps of a checkpoint to disk
// until the last one is done: it comes back as it was, for the report's
// claims; a file that is not an array of its records is refused by name.
TEST(DropPageDetails, SpilledResultsComeBackAsTheyWere) {
  const std::string dir = testing_util::scratch_dir("report_spilled_results");
  for (std::vector<SystemReport> reports : {snapshot_reports(), three_checkpoint_reports()}) {
    std::vector<std::vector<Claim>> claims;
    for (SystemReport& r : reports) {
      claims.emplace_back();
      for (const ClaimResult& c : r.results) claims.back().push_back(c.claim);
      drop_page_details(r);
    }
    const std::string junit = junit_xml(reports), index = html_index(reports);
    const json timeline = timelines_json(timelines(reports)), tables = checkpoint_tables_json(checkpoint_tables(reports));
    std::vector<json> documents;
    for (std::size_t i = 0; i < reports.size(); ++i) {
      documents.push_back(report_json(reports[i]));
      spill_results(reports[i], dir + "/" + std::to_string(i));
      EXPECT_TRUE(reports[i].results.empty());
    }
    for (std::size_t i = 0; i < reports.size(); ++i) restore_results(reports[i], claims[i], dir + "/" + std::to_string(i));
    for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(report_json(reports[i]), documents[i]);
    EXPECT_EQ(junit_xml(reports), junit);
    EXPECT_EQ(html_index(reports), index);
    EXPECT_EQ(timelines_json(timelines(reports)), timeline);
    EXPECT_EQ(checkpoint_tables_json(checkpoint_tables(reports)), tables);
    SystemReport other = reports[0];
    other.results.clear();
    claims[0].pop_back();
    try {
      restore_results(other, claims[0], dir + "/0");
      ADD_FAILURE() << "restored the results of another claim list";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()),
                dir + "/0: expected an array of " + std::to_string(claims[0].size()) + " result records");
    }
  }
}

// JSON has no infinities: a record writes them as text, so that a check whose
// value or bound is infinite (a loss where a target had probability 0)
// reads back as it was, and its pages are those of the run that computed it.
TEST(DropPageDetails, InfiniteValuesComeBackInfinite) {
  const std::string dir = testing_util::scratch_dir("report_infinite_values");
  std::vector<SystemReport> reports = snapshot_reports();
  std::vector<Claim> claims;
  for (const ClaimResult& c : reports[0].results) claims.push_back(c.claim);
  drop_page_details(reports[0]);
  Check& c = reports[0].results[0].checkpoint.checks[0];
  c.value = std::numeric_limits<double>::infinity();
  c.bound = -std::numeric_limits<double>::infinity();
  c.other_bound = std::numeric_limits<double>::quiet_NaN();
  const std::string index = html_index(reports);
  spill_results(reports[0], dir + "/0");
  restore_results(reports[0], claims, dir + "/0");
  const Check& back = reports[0].results[0].checkpoint.checks[0];
  EXPECT_EQ(back.value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(back.bound, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(back.other_bound));
  EXPECT_EQ(html_index(reports), index);
  json record = result_record(reports[0].results[0]);
  EXPECT_EQ(record["checkpoint"]["checks"][0]["value"], "inf");
  record["checkpoint"]["checks"][0]["value"] = "+inf";
  try {
    result_from_record(record, claims[0], At{"r.json", ""});
    ADD_FAILURE() << "read \"+inf\" as a number";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("r.json: /checkpoint/checks/0/value"), std::string::npos) << e.what();
  }
}

// `checkpoint` with metadata "step" (and the losses) added, at `path`.
void write_snapshot(const std::string& checkpoint, const std::string& path, int64_t step) {
  Safetensors file = read_safetensors(checkpoint);
  file.metadata["step"] = std::to_string(step);
  file.metadata["train_loss"] = "0.5";
  write_safetensors(path, file.tensors, file.metadata);
}

// A folder of snapshots runs in step order, not name order: seed 4 (whose
// layer 0 does not read idx at elt) at step 100 as "b", the shipped model at
// step 200 as "a"; the claim forms at step 200.
TEST(VerifyCommand, ASnapshotFolderRunsInStepOrderAndWritesATimeline) {
  const std::string dir = testing_util::scratch_dir("report_snapshot_folder");
  std::filesystem::create_directories(dir + "/run");
  write_snapshot(shipped_checkpoint(), dir + "/run/a.safetensors", 200);
  write_snapshot(testing_util::source_dir() + "/checkpoints/seeds/array_index_seed4.safetensors",
                 dir + "/run/b.safetensors", 100);
  write_file(dir + "/run/b.safetensors.state.safetensors", "not read: a training state");
  auto r = run_command(cli() + " verify " + shipped_claims() + " --only l0_elt_reads_idx --checkpoints " + dir +
                       "/run --report-dir " + dir + "/reports");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "array_index over 2 snapshots (steps 100 to 200):\n  l0_elt_reads_idx  holds from step 200  (1/2)"))
      << r.output;
  EXPECT_LT(r.output.find("array_index@b:"), r.output.find("array_index@a:")) << r.output;
  const json doc = json::parse(read_file(dir + "/reports/timeline.json"));
  EXPECT_EQ(doc["timelines"][0]["claims"][0]["formed_at_step"], 200) << doc.dump(2);
  EXPECT_EQ(doc["timelines"][0]["checkpoints"][0]["report"], "array_index@b");
  const json report = json::parse(read_file(dir + "/reports/array_index@a.json"));
  EXPECT_EQ(report["provenance"]["checkpoint"]["step"], 200);
  // Each snapshot's pages were drawn as it was done, with their figures, and
  // moved into place at the end: no staging folder is left behind.
  EXPECT_FALSE(report["claims"][0]["figures"].empty()) << report.dump(2);
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/reports"))
    EXPECT_NE(entry.path().filename().string().front(), '.') << entry.path();
}

struct BadFolder {
  std::string name;
  std::function<void(const std::string& dir)> make;  // fills dir/run
  std::string message;
};

void PrintTo(const BadFolder& c, std::ostream* os) { *os << c.name; }

class SnapshotFolderErrors : public ::testing::TestWithParam<BadFolder> {};

TEST_P(SnapshotFolderErrors, ExitTwoNamingTheFileAndNoReport) {
  const std::string dir = testing_util::scratch_dir("report_bad_folder_" + GetParam().name);
  std::filesystem::create_directories(dir + "/run");
  GetParam().make(dir);
  auto r = run_command(cli() + " verify " + shipped_claims() + " --only accuracy --checkpoints " + dir +
                       "/run --report-dir " + dir + "/reports");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, GetParam().message)) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/reports/index.html"));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SnapshotFolderErrors,
    ::testing::Values(
        BadFolder{"empty", [](const std::string&) {}, "/run: the folder holds no checkpoint (*.safetensors)"},
        BadFolder{"no_step",
                  [](const std::string& dir) {
                    write_snapshot(shipped_checkpoint(), dir + "/run/a.safetensors", 1);
                    std::filesystem::copy_file(shipped_checkpoint(), dir + "/run/b.safetensors");
                  },
                  "/run/b.safetensors: a snapshot without a step: its metadata has no \"step\""},
        BadFolder{"bad_step",
                  [](const std::string& dir) {
                    Safetensors file = read_safetensors(shipped_checkpoint());
                    file.metadata["step"] = "12k";
                    write_safetensors(dir + "/run/a.safetensors", file.tensors, file.metadata);
                  },
                  "/run/a.safetensors: metadata \"step\": '12k' is not a non-negative integer"},
        BadFolder{"same_step",
                  [](const std::string& dir) {
                    write_snapshot(shipped_checkpoint(), dir + "/run/a.safetensors", 7);
                    write_snapshot(shipped_checkpoint(), dir + "/run/b.safetensors", 7);
                  },
                  "b.safetensors: at step 7, like"},
        BadFolder{"different_configs",
                  [](const std::string& dir) {
                    write_snapshot(shipped_checkpoint(), dir + "/run/a.safetensors", 1);
                    Config config = load_checkpoint(shipped_checkpoint()).model.config;
                    config.d_head = 64;
                    config.d_model = 64;
                    save_checkpoint(dir + "/run/b.safetensors", make_model(config, init_params(config, 1), "test"),
                                    {{"system", "array_index"}, {"step", "2"}});
                  },
                  "its config differs from that of"}),
    [](const auto& info) { return info.param.name; });

// A result's record reads back as the same result, NaN values and all.
TEST(ResultRecord, ReadsBackEveryField) {
  SystemReport report = hand_made_report();
  report.results[0].checkpoint.checks.push_back(
      value_check("silhouette", "silhouette", std::numeric_limits<double>::quiet_NaN(), Rule::kValueAtLeast, 0.5));
  report.results[0].falsification = {{"attention", {"random_init"}, {"shuffled"}}};
  report.results[0].checkpoint.stopped = "stopped after 4 of 8";
  Check nan_basis = report.results[0].checkpoint.checks.back();  // a bootstrap check whose p-value and design effect are NaN
  nan_basis.name = "nan_basis";
  nan_basis.basis = Basis::kBootstrapLower;
  nan_basis.resamples = 2000;
  nan_basis.basis_p_value = std::numeric_limits<double>::quiet_NaN();
  nan_basis.design_effect = std::numeric_limits<double>::quiet_NaN();
  nan_basis.examples = 10;
  ASSERT_TRUE(json::parse(nan_basis.to_json().dump())["p_value"].is_null());  // NaN dumps as null
  ASSERT_TRUE(json::parse(nan_basis.to_json().dump())["design_effect"].is_null());
  report.results[0].checkpoint.checks.push_back(nan_basis);
  for (const ClaimResult& r : report.results) {
    const json record = result_record(r);
    const ClaimResult back = result_from_record(json::parse(record.dump()), r.claim, At{"shard.json", "/results/0/result"});
    EXPECT_EQ(back.to_json().dump(), r.to_json().dump()) << r.claim.id;
    EXPECT_EQ(result_record(back).dump(), record.dump()) << r.claim.id;  // dumps: NaN != NaN
    EXPECT_EQ(back.checkpoint.stopped, r.checkpoint.stopped);
  }
  json broken = result_record(report.results[0]);
  broken["checkpoint"]["checks"][0]["basis"] = "wilson";
  try {
    result_from_record(broken, report.results[0].claim, At{"shard.json", "/results/0/result"});
    ADD_FAILURE() << "accepted an unknown basis";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "shard.json: /results/0/result/checkpoint/checks/0/basis: unknown basis 'wilson' (valid: exact, "))
        << e.what();
  }
}

TEST(Shard, ParsesIOfN) {
  int index = 0, count = 0;
  parse_shard("3/4", "--shard", index, count);
  EXPECT_EQ(index, 3);
  EXPECT_EQ(count, 4);
  for (const char* bad : {"0/4", "5/4", "4", "a/4", "1/", "-1/4", "1/100001", "1/4x", " 1/4"}) {
    try {
      parse_shard(bad, "verify --shard", index, count);
      ADD_FAILURE() << bad;
    } catch (const InputError& e) {
      EXPECT_TRUE(contains(e.what(), "verify --shard: expected I/N with 1 <= I <= N")) << e.what();
    }
  }
  EXPECT_EQ(shard_of(0, 4), 1);
  EXPECT_EQ(shard_of(5, 4), 2);
}

// Shards of one run with no result each, at dir/name.
ShardReport empty_shard(int index, int count, const std::string& path, const json& run = {{"claims_files", {"c.json"}}}) {
  ShardReport s;
  s.path = path;
  s.index = index;
  s.count = count;
  s.run = run;
  return s;
}

std::string shard_set_error(const std::vector<ShardReport>& shards) {
  try {
    check_shards(shards);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Shard, ASetMustBeEveryShardOfOneRunOnce) {
  EXPECT_EQ(shard_set_error({empty_shard(2, 3, "b"), empty_shard(1, 3, "a"), empty_shard(3, 3, "c")}), "");
  EXPECT_EQ(shard_set_error({empty_shard(1, 4, "a"), empty_shard(3, 4, "c")}),
            "merge: missing shards 2, 4 of 4 (given: 2)");
  EXPECT_EQ(shard_set_error({empty_shard(1, 2, "a"), empty_shard(1, 2, "a2"), empty_shard(2, 2, "b")}),
            "merge: a2: shard 1 of 2 again (also a)");
  EXPECT_EQ(shard_set_error({empty_shard(1, 2, "a"), empty_shard(2, 3, "b")}),
            "merge: b: shard 2 of 3, but a is one of 2");
  EXPECT_EQ(shard_set_error({empty_shard(1, 2, "a"), empty_shard(2, 2, "b", {{"claims_files", {"other.json"}}})}),
            "merge: b: from another verify run than a (/run/claims_files/0 differs: other claim files, checkpoints, "
            "options or build)");
}

TEST(Shard, AReportReadsBackAndBadOnesNameTheField) {
  const std::string dir = testing_util::scratch_dir("report_shard_read");
  ShardReport s = empty_shard(2, 3, "");
  s.units = 6;
  s.results.push_back({1, 0, 1, "2025-01-31T12:00:00Z", 0.5, result_record(hand_made_report().results[0])});
  s.results.push_back({4, 1, 1, "2025-01-31T12:00:01Z", 0.25, result_record(hand_made_report().results[1])});
  write_file(dir + "/good.json", shard_json(s).dump());
  const ShardReport back = read_shard(dir + "/good.json");
  EXPECT_EQ(shard_json(back).dump(), shard_json(s).dump());  // dumps: NaN != NaN
  const auto error = [&](const std::function<void(json&)>& edit) {
    json doc = shard_json(s);
    edit(doc);
    write_file(dir + "/bad.json", doc.dump());
    try {
      read_shard(dir + "/bad.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_TRUE(contains(error([](json& d) { d["results"][0]["unit"] = 3; }),
                       "bad.json: /results/0/unit: unit 3 belongs to shard 1, not 2"));
  EXPECT_TRUE(contains(error([](json& d) { d["results"][1]["unit"] = 7; }), "bad.json: /results/1/unit: "));
  EXPECT_TRUE(contains(error([](json& d) { d["shard"]["index"] = 4; }), "bad.json: /shard/index: "));
  EXPECT_TRUE(contains(error([](json& d) { d["schema"] = "circuitcheck.report/1"; }),
                       "bad.json: /schema: expected circuitcheck.shard/1"));
  EXPECT_TRUE(contains(error([](json& d) { d["results"][0].erase("seconds"); }), "bad.json: /results/0: "));
  EXPECT_TRUE(contains(error([](json& d) { std::swap(d["results"][0], d["results"][1]); }), "units must increase"));
}

// A run cut into three shards (one of them with no unit: the run has two)
// merges into the reports of the single run: the same JSON documents once
// their "run" blocks (dates and times) are removed.
TEST(VerifyCommand, ShardsMergeIntoTheReportsOfASingleRun) {
  const std::string dir = testing_util::scratch_dir("report_shards_merge");
  std::filesystem::create_directories(dir + "/run");
  write_snapshot(shipped_checkpoint(), dir + "/run/a.safetensors", 200);
  write_snapshot(testing_util::source_dir() + "/checkpoints/seeds/array_index_seed4.safetensors",
                 dir + "/run/b.safetensors", 100);
  const std::string work = " " + shipped_claims() + " --only l0_elt_reads_idx --checkpoints " + dir + "/run";
  auto single = run_command(cli() + " verify" + work + " --report-dir " + dir + "/single");
  EXPECT_EQ(single.exit_code, 1) << single.output;
  std::string shards;
  for (int i = 1; i <= 3; ++i) {
    const std::string path = dir + "/shard-" + std::to_string(i) + ".json";
    auto r = run_command(cli() + " verify" + work + " --shard " + std::to_string(i) + "/3 --shard-report " + path);
    EXPECT_EQ(r.exit_code, i == 1 ? 1 : 0) << r.output;  // unit 0, seed 4 at step 100, fails; shard 3 has none
    shards += " " + path;
  }
  auto merged = run_command(cli() + " merge" + shards + " --report-dir " + dir + "/merged");
  EXPECT_EQ(merged.exit_code, 1) << merged.output;
  EXPECT_TRUE(contains(merged.output, "l0_elt_reads_idx  holds from step 200  (1/2)")) << merged.output;
  for (const char* name : {"array_index@a.json", "array_index@b.json", "timeline.json", "checkpoints.json"}) {
    json a = json::parse(read_file(dir + "/single/" + name)), b = json::parse(read_file(dir + "/merged/" + name));
    a.erase("run");
    b.erase("run");
    EXPECT_EQ(a, b) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/merged/index.html"));

  // Bad sets: a missing shard, a shard twice, a shard of another run (another seed).
  const std::string other = dir + "/other-2.json";
  run_command(cli() + " verify" + work + " --seed 5 --shard 2/3 --shard-report " + other);
  for (const auto& [given, message] : std::vector<std::pair<std::string, std::string>>{
           {dir + "/shard-1.json " + dir + "/shard-3.json", "merge: missing shard 2 of 3 (given: 2)"},
           {shards + " " + dir + "/shard-2.json", "shard-2.json: shard 2 of 3 again (also " + dir + "/shard-2.json)"},
           {dir + "/shard-1.json " + other + " " + dir + "/shard-3.json",
            "other-2.json: from another verify run than " + dir + "/shard-1.json (/run/options/--seed differs"}}) {
    auto r = run_command(cli() + " merge " + given + " --report-dir " + dir + "/bad");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(contains(r.output, message)) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/bad/index.html"));
  }
  auto out_of_range = run_command(cli() + " verify" + work + " --shard 4/3 --shard-report " + dir + "/x.json");
  EXPECT_EQ(out_of_range.exit_code, 2) << out_of_range.output;
  EXPECT_TRUE(contains(out_of_range.output, "verify --shard: expected I/N with 1 <= I <= N <= 100000, got '4/3'"));
  auto with_reports = run_command(cli() + " verify" + work + " --shard 1/3 --shard-report " + dir + "/x.json --report-dir " + dir);
  EXPECT_EQ(with_reports.exit_code, 2) << with_reports.output;
}

// A shard records the task file its claim file names, with its SHA-256, the
// model's config and the executable's SHA-256: shards that ran on different
// task files do not merge, nor do shards whose task file changed since, nor
// shards of another build (review of issue 22: merge accepted the first two,
// and reported every result under the new file's hash; a dirty build's
// commit did not tell two builds apart).
TEST(VerifyCommand, ShardsOfAnotherTaskFileOrBuildDoNotMerge) {
  const std::string dir = testing_util::scratch_dir("report_shards_task_file");
  std::filesystem::create_directories(dir + "/claims");
  json claims = json::parse(read_file(testing_util::source_dir() + "/examples/task_specs/claims/array_index.json"));
  claims["checkpoint"] = shipped_checkpoint();
  claims["claims"][0]["domain"]["sample"] = 64;
  write_text_atomically(dir + "/claims/c.json", claims.dump(2), "test");
  const std::string spec = read_file(testing_util::source_dir() + "/examples/task_specs/array_index.json");
  write_text_atomically(dir + "/array_index.json", spec, "test");
  const auto shard = [&](int i) {
    const std::string path = dir + "/shard-" + std::to_string(i) + ".json";
    auto r = run_command(cli() + " verify " + dir + "/claims/c.json --shard " + std::to_string(i) +
                         "/2 --shard-report " + path);
    EXPECT_LE(r.exit_code, 1) << r.output;
    return path;
  };
  const std::string first = shard(1);
  json runs = json::parse(read_file(first))["run"]["runs"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["task_file"], dir + "/array_index.json");
  EXPECT_EQ(runs[0]["task_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(runs[0]["config"]["n_layers"], 2);
  write_text_atomically(dir + "/array_index.json", spec + "\n", "test");  // another file, though it reads the same
  const std::string second = shard(2);
  auto mixed = run_command(cli() + " merge " + first + " " + second + " --report-dir " + dir + "/merged");
  EXPECT_EQ(mixed.exit_code, 2) << mixed.output;
  EXPECT_TRUE(contains(mixed.output, "/run/runs/0/task_sha256 differs")) << mixed.output;
  write_text_atomically(dir + "/array_index.json", spec, "test");  // both shards ran on this one; now it changes
  const std::string again = shard(2);
  write_text_atomically(dir + "/array_index.json", spec + "\n", "test");
  auto changed = run_command(cli() + " merge " + first + " " + again + " --report-dir " + dir + "/merged");
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  EXPECT_TRUE(contains(changed.output, "shard-1.json: /run/runs/0/task_sha256: changed since the shards ran"))
      << changed.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/merged/index.html"));
  // Shards of another executable (a build of the same commit) do not merge either.
  write_text_atomically(dir + "/array_index.json", spec, "test");
  json build = json::parse(read_file(first));
  EXPECT_EQ(build["run"]["circuitcheck"]["executable_sha256"].get<std::string>().size(), 64u);
  for (const std::string& path : {first, again}) {
    json d = json::parse(read_file(path));
    d["run"]["circuitcheck"]["executable_sha256"] = std::string(64, '0');
    write_text_atomically(path, d.dump(), "test");
  }
  auto other_build = run_command(cli() + " merge " + first + " " + again + " --report-dir " + dir + "/merged");
  EXPECT_EQ(other_build.exit_code, 2) << other_build.output;
  EXPECT_TRUE(contains(other_build.output, "/run/circuitcheck: the shards were made by another build")) << other_build.output;
}

// examples/grokking ships the timeline of S1's claims over its training run;
// it follows the schema, and its README's table quotes each claim's formation
// step as the timeline has it.
TEST(GrokkingExample, TimelineFollowsTheSchemaAndTheReadmeQuotesIt) {
  const std::string dir = testing_util::source_dir() + "/examples/grokking";
  const json doc = json::parse(read_file(dir + "/timeline.json"));
  const std::string readme = read_file(dir + "/README.md");
  ASSERT_EQ(doc["timelines"].size(), 1u);
  const json& t = doc["timelines"][0];
  EXPECT_EQ(t["system"], "modular_addition");
  EXPECT_GE(t["checkpoints"].size(), 40u);
  for (const json& c : t["claims"]) {
    const std::string formed =
        c["formed_at_step"].is_null() ? "never" : std::to_string(c["formed_at_step"].get<int64_t>());
    const std::string row = "| `" + c["id"].get<std::string>() + "` | " + formed + " |";
    EXPECT_TRUE(contains(readme, row)) << row;
  }
  SKIP_WITHOUT_JSONSCHEMA();
  EXPECT_EQ(validate({dir + "/timeline.json"}, testing_util::source_dir() + "/reports/timeline.schema.json"),
            "VALID " + dir + "/timeline.json\n");
}

TEST(Junit, FailureMessagesNameValueThresholdAndDomain) {
  const std::string dir = testing_util::scratch_dir("report_junit");
  write_text_atomically(dir + "/junit.xml", junit_xml({hand_made_report()}), "test");
  const std::string upper = percent(wilson_upper_bound(10000, 20000));
  const std::string domain = "; domain sampled, n = 20000, seed 6";
  const std::string expected =
      "testsuites 4 2 1\n"
      "previous_token|attends_prev|ok||\n"
      "previous_token|head_necessary|failure|fail|accuracy after = 50% (10000/20000), wilson_upper bound " + upper +
      " vs drop_to_at_most 10%; not live: " + hand_made_report().results[1].checkpoint.liveness[0].describe() + domain +
      "\n"
      "previous_token|trivially_true|failure|not_falsifiable|passes on control random_init too: attention = 99.975% "
      "(19995/20000), wilson_lower bound " + percent(wilson_lower_bound(19995, 20000)) + " vs rate_at_least 99%" +
      domain +
      "\n"
      "previous_token|broken|error|error|run_claim: broken on checkpoint: the model's n_ctx 4 < the task's 6 "
      "<positions>" + domain + "\n";
  EXPECT_EQ(junit_cases(dir + "/junit.xml"), expected);
}

// ---------------------------------------------------------------------------
// circuitcheck diff on copies of a real report with planted changes.

struct DiffCase {
  std::string name;
  std::function<void(json& before, json& after)> plant;
  std::string flags;
  int exit_code;
  std::vector<std::string> expected;  // in the output
};

std::vector<DiffCase> diff_cases() {
  const auto verdict = [](json& r, const std::string& id, const char* v) { claim(r, id)["verdict"] = v; };
  // The value of the ablation claim's first check ("accuracy before", 1 on the shipped checkpoint).
  const auto before_value = [](json& r) -> json& { return claim(r, "l1_head_necessary")["checks"][0]["value"]; };
  return {
      {"identical", [](json&, json&) {}, "", 0,
       {"array_index: 0 regressions, 0 verdicts changed, 0 metrics moved by more than 0.01, 0 added, 0 removed\n"}},
      {"planted_regression",
       [=](json&, json& after) {
         verdict(after, "accuracy", "fail");
         before_value(after) = 0.7;
       },
       "", 1,
       {"1 regression, 1 verdict changed, 1 metric moved", "REGRESSION  accuracy: pass -> fail\n",
        "MOVED       l1_head_necessary / accuracy before: 1 -> 0.7 (-0.3)\n"}},
      {"not_falsifiable_is_a_regression", [=](json&, json& after) { verdict(after, "l1_reads_source_b2", "not_falsifiable"); },
       "", 1, {"REGRESSION  l1_reads_source_b2: pass -> not_falsifiable\n"}},
      {"within_tolerance", [=](json&, json& after) { before_value(after) = 0.995; }, "", 0,
       {"0 metrics moved by more than 0.01"}},
      {"beyond_a_smaller_tolerance", [=](json&, json& after) { before_value(after) = 0.995; }, "--tolerance 0.001", 0,
       {"MOVED       l1_head_necessary / accuracy before: 1 -> 0.995 (-0.005)\n"}},
      {"removed_claim",
       [](json&, json& after) {
         auto& claims = after["claims"];
         claims.erase(std::find_if(claims.begin(), claims.end(), [](const json& c) { return c["id"] == "l1_reads_source_b1"; }));
       },
       "", 1, {"REMOVED     l1_reads_source_b1 (was pass): regression\n"}},
      {"added_claim",
       [](json&, json& after) {
         json extra = claim(after, "accuracy");
         extra["id"] = "new_claim";
         extra["verdict"] = "fail";
         after["claims"].push_back(extra);
       },
       "", 0, {"ADDED       new_claim (fail)\n"}},
      {"fixed_claim", [=](json& before, json&) { verdict(before, "l1_reads_source_b0", "fail"); }, "", 0,
       {"CHANGED     l1_reads_source_b0: fail -> pass\n"}},
      {"check_gone", [](json&, json& after) { claim(after, "accuracy")["checks"].erase(1); }, "", 0,
       {"MOVED       accuracy / accuracy idx=1: 1 -> absent\n"}},
      {"markdown",
       [=](json&, json& after) {
         verdict(after, "accuracy", "fail");
         before_value(after) = 0.7;
       },
       "--markdown", 1,
       {"### circuitcheck diff: array_index\n\n**Regression**: 1 regression,",
        "| claim | change | before | after | note |\n|---|---|---|---|---|\n",
        "| `accuracy` | verdict | pass | fail | **regression** |\n",
        "| `l1_head_necessary` | accuracy before | 1 | 0.7 | -0.3 |\n"}},
      {"markdown_identical", [](json&, json&) {}, "--markdown", 0,
       {"### circuitcheck diff: array_index\n\nNo regression: 0 regressions,"}},
  };
}

TEST(ReportDiff, PlantedChangesAndExitCodes) {
  const ShippedRun verified = shipped_run("a");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::string dir = testing_util::scratch_dir("report_diff");
  for (const auto& c : diff_cases()) {
    SCOPED_TRACE(c.name);
    json before = verified.report(), after = verified.report();
    c.plant(before, after);
    write_file(dir + "/old.json", before.dump(2));
    write_file(dir + "/new.json", after.dump(2));
    const auto r = run_command(cli() + " diff " + dir + "/old.json " + dir + "/new.json " + c.flags);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.output;
    for (const auto& e : c.expected) EXPECT_TRUE(contains(r.output, e)) << e << "\n---\n" << r.output;
  }
}

TEST(ReportDiff, BadInputExitsTwoNamingTheFileAndField) {
  const ShippedRun verified = shipped_run("a");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  const std::string dir = testing_util::scratch_dir("report_diff_bad");
  const std::string good = verified.dir + "/array_index.json", bad = dir + "/bad.json";
  struct Case {
    std::string name;
    std::function<std::string()> make_bad;  // writes `bad` (or not) and returns the command's arguments
    std::string message;
  };
  const auto with = [&](const std::function<void(json&)>& mutate) {
    return [&, mutate] {
      json r = verified.report();
      mutate(r);
      write_file(bad, r.dump());
      return good + " " + bad;
    };
  };
  const std::vector<Case> cases = {
      {"missing_file", [&] { return good + " " + dir + "/absent.json"; },
       "read_report: " + dir + "/absent.json: cannot read the file"},
      {"folder", [&] { return dir + " " + good; }, "read_report: " + dir + ": cannot read the file"},
      {"invalid_json", [&] { write_file(bad, "{\"schema\": "); return bad + " " + good; },
       "read_report: " + bad + ": invalid JSON: "},
      {"not_an_object", [&] { write_file(bad, "[1]"); return good + " " + bad; },
       "read_report: " + bad + ": expected an object, got an array"},
      {"wrong_schema", with([](json& r) { r["schema"] = "circuitcheck.claims/1"; }),
       "read_report: " + bad + ": /schema: unknown schema 'circuitcheck.claims/1' (expected circuitcheck.report/1)"},
      {"no_schema", with([](json& r) { r.erase("schema"); }), "read_report: " + bad + ": missing field 'schema'"},
      {"unknown_verdict", with([](json& r) { r["claims"][1]["verdict"] = "maybe"; }),
       "read_report: " + bad + ": /claims/1/verdict: unknown verdict 'maybe'"},
      {"value_not_a_number", with([](json& r) { r["claims"][0]["checks"][2]["value"] = "1"; }),
       "read_report: " + bad + ": /claims/0/checks/2/value: expected a number, got a string"},
      {"duplicate_id", with([](json& r) { r["claims"][1]["id"] = "accuracy"; }),
       "read_report: " + bad + ": /claims/1/id: duplicate id 'accuracy'"},
      {"claims_not_array", with([](json& r) { r["claims"] = json::object(); }),
       "read_report: " + bad + ": /claims: expected an array, got an object"},
      {"other_system", with([](json& r) { r["system"] = "modular_addition"; }),
       "diff: " + bad + ": /system: a report of modular_addition, but " + good + " is one of array_index"},
      {"bad_tolerance", [&] { return good + " " + good + " --tolerance -1"; },
       "--tolerance: expected a number >= 0, got '-1'"},
      {"one_report", [&] { return good; }, "usage: circuitcheck diff OLD.json NEW.json"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto r = run_command(cli() + " diff " + c.make_bad());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output.rfind("circuitcheck diff: error: " + c.message, 0), 0u) << r.output;
    EXPECT_EQ(count(r.output, "\n"), 1u) << "one error line\n" << r.output;
  }
}

// ---------------------------------------------------------------------------
// Writing reports.

TEST(ReportFiles, WrittenAtomicallyOrNotAtAll) {
  const std::string dir = testing_util::scratch_dir("report_files");
  write_file(dir + "/r.json", "old");
  write_text_atomically(dir + "/r.json", "new text", "test");
  EXPECT_EQ(read_file(dir + "/r.json"), "new text");
  fs::create_directories(dir + "/folder");
  try {
    write_text_atomically(dir + "/folder", "x", "verify");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "verify: " + dir + "/folder: is a folder; refusing to replace it");
  }
  EXPECT_THROW(write_text_atomically(dir + "/absent/r.json", "x", "verify"), InputError);
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"r.json", "folder"})) << "no temporary file left";
}

// Bad --junit and --device values stop verify before anything runs or is written.
TEST(VerifyReports, BadJunitOrDeviceExitsTwoWithoutAnyReport) {
  const std::string dir = testing_util::scratch_dir("report_verify_bad");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--junit " + dir + "/absent/junit.xml", "verify --junit: " + dir + "/absent/junit.xml: no folder "},
      {"--junit " + dir, "verify --junit: " + dir + ": is a folder; refusing to replace it"},
      {"--junit /dev/null", "verify --junit: /dev/null: is not a regular file (a symlink, device or FIFO); refusing to replace it"},
      {"--device gpu", "verify --device: unknown device 'gpu' (valid: cpu, cuda, cuda:N)"},
  };
  for (const auto& [flags, message] : cases) {
    SCOPED_TRACE(flags);
    const auto r = run_command(cli() + " verify " + shipped_claims() + " --report-dir " + dir + "/reports " + flags);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(contains(r.output, "circuitcheck verify: error: " + message)) << r.output;
    EXPECT_FALSE(contains(r.output, "PASS")) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/reports"));
  }
  // A report path that is a folder stops verify before any claim runs or any report is written.
  fs::create_directories(dir + "/blocked/index.html");
  const auto r = run_command(cli() + " verify " + shipped_claims() + " --report-dir " + dir + "/blocked");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "verify --report-dir: " + dir + "/blocked/index.html: is a folder; refusing to replace it"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "PASS")) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/blocked/array_index.json"));
}

}  // namespace
}  // namespace circuitcheck

namespace circuitcheck {
namespace {

// The CI gate for a retrained checkpoint (README "Gating a retrained
// checkpoint"): verify the retrained model with the shipped claims and diff
// its report against the shipped one. An independently trained model with the
// mechanism (the reference S2 checkpoint, another implementation and seed)
// passes the gate; a retrain stopped after 40 steps, before it learned the
// task, fails it and the regressions are named.
TEST(RetrainGate, ReproducedMechanismPassesAndAnEarlyStopFails) {
  const ShippedRun shipped = shipped_run("shipped");
  ASSERT_EQ(shipped.exit_code, 0) << shipped.output;
  const std::string dir = testing_util::scratch_dir("retrain_gate");

  auto r = run_command(cli() + " verify " + shipped_claims() + " --checkpoint " + testing_util::shared_dir() +
                       "/reference/array_index_seed1.pt --report-dir " + dir + "/reproduced");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(cli() + " diff " + shipped.dir + "/array_index.json " + dir + "/reproduced/array_index.json --tolerance 0.05");
  EXPECT_EQ(r.exit_code, 0) << r.output;

  r = run_command(cli() + " train array_index --out " + dir + "/early.safetensors --steps 40 --seed 2 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(cli() + " verify " + shipped_claims() + " --checkpoint " + dir + "/early.safetensors --report-dir " +
                  dir + "/early");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = run_command(cli() + " diff " + shipped.dir + "/array_index.json " + dir + "/early/array_index.json --markdown");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("l1_head_necessary"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("accuracy"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace circuitcheck
