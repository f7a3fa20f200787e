#include "circuits/reports/report.h"

#include "circuits/model/config.h"
#include "circuits/formats/error.h"
#include "circuits/claims/result_record.h"
#include "circuits/formats/json_input.h"
#include "circuits/formats/text_file.h"
#include "circuits/model/runtime.h"
#include "circuits/formats/sha256.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace circuitcheck {

using nlohmann::json;

Provenance provenance_of(const ClaimFile& file, const Checkpoint& checkpoint, const at::Device& device, int threads) {
  Provenance p;
  p.claims_file = printable(file.path);
  p.claims_sha256 = sha256_file(file.path);
  p.checkpoint = printable(checkpoint.path);
  p.checkpoint_format = checkpoint.format;
  p.checkpoint_sha256 = checkpoint.sha256;
  p.config_source = checkpoint.config_source;
  p.config = config_to_json(checkpoint.model.config);
  p.device = device.str();
  p.threads = threads;
  p.task_file = printable(file.task);
  if (!file.task.empty()) p.task_sha256 = sha256_file(file.task);
  p.snapshot = snapshot_info(checkpoint.metadata, p.checkpoint);
  return p;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string family_text(const FamilyOutcome& f) {
  std::string s = "at family alpha " + number(f.alpha) + " (Holm over " + std::to_string(f.tested) +
                  " checks): " + (f.pass ? "passes" : "does not pass");
  for (const FamilyCheck& c : f.checks)
    s += "; " + c.check + " p " + number(c.p_value) + (c.rejected ? " <= " : " > ") + number(c.level) +
         (c.rejected ? " rejected" : " not rejected");
  return s;
}

namespace {

// A spilled report's results: a few kilobytes per claim.
constexpr std::size_t kMaxSpilledBytes = std::size_t{1} << 30;

// Empties `x` and frees what it held (assigning {} to a string or a vector keeps its capacity).
template <typename T>
void free_memory(T& x) {
  T empty{};
  std::swap(x, empty);
}

void drop_page_details(Outcome& o) {
  std::vector<Check> thresholded;
  for (Check& c : o.checks)
    if (c.rule != Rule::kNone) {
      free_memory(c.explanation);
      thresholded.push_back(std::move(c));
    }
  std::swap(o.checks, thresholded);
  std::vector<Liveness> dead;
  for (const Liveness& l : o.liveness)
    if (!l.live()) dead.push_back(l);
  std::swap(o.liveness, dead);
  free_memory(o.figures);
  free_memory(o.counterexamples);
  free_memory(o.explanation);
  free_memory(o.stopped);
}

}  // namespace

void drop_page_details(SystemReport& report) {
  free_memory(report.provenance.config);
  for (ClaimResult& r : report.results) {
    Claim kept;
    kept.id = r.claim.id;
    kept.kind = r.claim.kind;
    kept.scope = r.claim.scope;
    kept.domain = r.claim.domain;
    std::swap(r.claim, kept);
    drop_page_details(r.checkpoint);
    if (r.verdict == Verdict::kPass) free_memory(r.explanation);
    if (r.verdict == Verdict::kNotFalsifiable || r.verdict == Verdict::kInconclusive) {
      for (Outcome& c : r.controls) drop_page_details(c);
    } else {
      free_memory(r.controls);
      free_memory(r.falsification);
    }
  }
}

void spill_results(SystemReport& report, const std::string& path) {
  nlohmann::json records = nlohmann::json::array();
  for (const ClaimResult& r : report.results) records.push_back(result_record(r));
  write_text_atomically(path, records.dump(), "verify");
  free_memory(report.results);
}

void restore_results(SystemReport& report, const std::vector<Claim>& claims, const std::string& path) {
  const nlohmann::json records = parse_json(read_text_file(path, "verify", kMaxSpilledBytes), path);
  const At at{path, ""};
  if (!records.is_array() || records.size() != claims.size())
    at.fail("expected an array of " + std::to_string(claims.size()) + " result records");
  for (std::size_t i = 0; i < claims.size(); ++i) report.results.push_back(result_from_record(records[i], claims[i], at / i));
  drop_page_details(report);
}

Summary summarize(const std::vector<ClaimResult>& results) {
  Summary s;
  for (const auto& r : results) {
    ++s.claims;
    if (r.verdict == Verdict::kPass) ++s.passed;
    else if (r.verdict == Verdict::kError) ++s.errors;
    else ++s.failed;
    if (r.verdict == Verdict::kNotFalsifiable) ++s.not_falsifiable;
    if (r.verdict == Verdict::kInconclusive) ++s.inconclusive;
    if (!r.family) continue;
    s.family_alpha = r.family->alpha;
    s.family_tested = r.family->tested;
    s.family_passed += r.family->pass ? 1 : 0;
  }
  return s;
}

std::string family_text(const Summary& s) {
  if (!s.family_alpha) return "";
  return "; at family alpha " + number(*s.family_alpha) + " (Holm over " + std::to_string(s.family_tested) +
         " checks): " + std::to_string(s.family_passed) + " passed";
}

Summary summarize(const std::vector<SystemReport>& reports) {
  Summary total;
  for (const auto& r : reports) {
    const Summary s = summarize(r.results);
    total.claims += s.claims;
    total.passed += s.passed;
    total.failed += s.failed;
    total.not_falsifiable += s.not_falsifiable;
    total.inconclusive += s.inconclusive;
    total.errors += s.errors;
    if (s.family_alpha) total.family_alpha = s.family_alpha;
    total.family_tested = std::max(total.family_tested, s.family_tested);
    total.family_passed += s.family_passed;
  }
  return total;
}

std::string check_quantity(const Check& check, double x) { return is_rate(check) ? percent(x) : number(x); }

std::string describe_domain(const Domain& domain, const std::optional<int64_t>& domain_size) {
  if (domain.weights_only()) return "weights (no examples)";
  const std::string n = "n = " + std::to_string(domain_examples(domain, domain_size));
  if (domain.all) return "every row of the dataset" + (domain.where.empty() ? ", " + n : " with " + domain.where + " = " + std::to_string(domain.where_value));
  return domain.exhaustive ? "exhaustive, " + n : "sampled, " + n + ", seed " + std::to_string(domain.seed);
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  return buf;
}

std::string verdict_label(Verdict verdict) {
  std::string label = to_string(verdict);
  std::transform(label.begin(), label.end(), label.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return label;
}

std::string claim_line(const std::string& system, const ClaimResult& result, double seconds) {
  constexpr std::size_t kWidth = 120, kVerdictWidth = 6;
  std::string verdict = verdict_label(result.verdict);
  verdict.resize(std::max(verdict.size() + 1, kVerdictWidth), ' ');
  std::string figure;
  const Check* check = headline_check(result.checkpoint);
  if (result.verdict == Verdict::kError) {
    figure = result.explanation;
    std::replace_if(figure.begin(), figure.end(), [](unsigned char c) { return c < 0x20; }, ' ');
  } else if (check && check->rule != Rule::kNone) {
    figure = check->name + " " + check_quantity(*check, check->bound) + " " +
             comparison(direction(check->rule)) + " " + check_quantity(*check, check->threshold);
  } else if (check) {
    figure = check->name + " " + check_quantity(*check, check->value);
  }
  const std::string time = seconds_text(seconds);
  std::string line = verdict + system + "/" + result.claim.id + "   ";
  const std::size_t room = kWidth > line.size() + 3 + time.size() ? kWidth - line.size() - 3 - time.size() : 0;
  if (figure.size() > room) figure = room > 3 ? excerpt(figure, room - 3) : "";  // never inside a UTF-8 character
  return line + figure + "   " + time;
}

std::string report_name(const SystemReport& report) {
  return report.checkpoint_label.empty() ? report.system : report.system + "@" + report.checkpoint_label;
}

json report_json(const SystemReport& report) {
  const Provenance& p = report.provenance;
  const Summary s = summarize(report.results);
  json claims = json::array();
  json claim_seconds = json::object();
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const ClaimResult& r = report.results[i];
    json claim = r.to_json();
    if (!r.claim.domain.weights_only()) claim["domain"]["n"] = domain_examples(r.claim.domain, report.domain_size);
    if (!claim.contains("counterexamples")) claim["counterexamples"] = json::array();
    claims.push_back(std::move(claim));
    if (i < report.run.claim_seconds.size()) claim_seconds[r.claim.id] = report.run.claim_seconds[i];
  }
  json document = {{"schema", kReportSchema},
          {"system", report.system},
          {"provenance",
           {{"claims_file", {{"path", p.claims_file}, {"sha256", p.claims_sha256}}},
            {"checkpoint",
             {{"path", p.checkpoint},
              {"format", p.checkpoint_format},
              {"sha256", p.checkpoint_sha256},
              {"config_source", p.config_source},
              {"config", p.config}}},
            {"circuitcheck", {{"version", circuitcheck_version()}, {"git_commit", circuitcheck_git_commit()}}},
            {"libtorch", torch_version()},
            {"device", p.device},
            {"threads", p.threads}}},
          {"summary",
           {{"claims", s.claims},
            {"passed", s.passed},
            {"failed", s.failed},
            {"not_falsifiable", s.not_falsifiable},
            {"inconclusive", s.inconclusive},
            {"errors", s.errors}}},
          {"claims", claims},
          {"run", {{"date", report.run.date}, {"wall_seconds", report.run.wall_seconds}, {"claim_seconds", claim_seconds}}}};
  if (!p.task_file.empty()) document["provenance"]["task_file"] = {{"path", p.task_file}, {"sha256", p.task_sha256}};
  if (p.snapshot) {
    json& checkpoint = document["provenance"]["checkpoint"];
    checkpoint["step"] = p.snapshot->step;
    if (p.snapshot->train_loss) checkpoint["train_loss"] = *p.snapshot->train_loss;
    if (p.snapshot->test_loss) checkpoint["test_loss"] = *p.snapshot->test_loss;
  }
  if (s.family_alpha)
    document["summary"]["family"] = {
        {"alpha", *s.family_alpha}, {"method", "holm"}, {"tested", s.family_tested}, {"passed", s.family_passed}};
  return document;
}

std::string escape_markup(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += "\xEF\xBF\xBD";
        else out += c;
    }
  }
  return out;
}

}  // namespace circuitcheck
