#include "circuits/reports/checkpoint_table.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace circuitcheck {

std::vector<std::vector<const SystemReport*>> reports_by_claims_file(const std::vector<SystemReport>& reports) {
  std::vector<std::vector<const SystemReport*>> groups;
  std::map<std::string, std::size_t> by_file;
  for (const auto& r : reports) {
    const auto [it, added] = by_file.emplace(r.provenance.claims_file, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(&r);
  }
  return groups;
}

std::vector<CheckpointTable> checkpoint_tables(const std::vector<SystemReport>& reports) {
  std::vector<CheckpointTable> tables;
  for (auto& group : reports_by_claims_file(reports))
    if (group.size() >= 2) tables.push_back({group[0]->system, group[0]->provenance.claims_file, group, {}});
  for (auto& t : tables) {
    for (const auto& result : t.reports.front()->results) t.rows.push_back({result.claim.id, result.claim.scope, {}, 0});
    for (const SystemReport* r : t.reports) {
      if (r->results.size() != t.rows.size())
        throw std::invalid_argument("checkpoint_tables: " + t.claims_file + " ran different claims on " +
                                    r->provenance.checkpoint);
      for (std::size_t i = 0; i < t.rows.size(); ++i) {
        if (r->results[i].claim.id != t.rows[i].claim)
          throw std::invalid_argument("checkpoint_tables: " + t.claims_file + " ran " + r->results[i].claim.id +
                                      " where the first checkpoint ran " + t.rows[i].claim);
        t.rows[i].verdicts.push_back(r->results[i].verdict);
        t.rows[i].passed += r->results[i].verdict == Verdict::kPass;
      }
    }
  }
  return tables;
}

nlohmann::json checkpoint_tables_json(const std::vector<CheckpointTable>& tables) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tables) {
    nlohmann::json checkpoints = nlohmann::json::array(), claims = nlohmann::json::array();
    for (const SystemReport* r : t.reports)
      checkpoints.push_back(
          {{"path", r->provenance.checkpoint}, {"sha256", r->provenance.checkpoint_sha256}, {"report", report_name(*r)}});
    for (const auto& row : t.rows) {
      nlohmann::json verdicts = nlohmann::json::array();
      for (Verdict v : row.verdicts) verdicts.push_back(to_string(v));
      const auto n = static_cast<int>(row.verdicts.size());
      claims.push_back({{"id", row.claim},
                        {"scope", to_string(row.scope)},
                        {"verdicts", verdicts},
                        {"passed", row.passed},
                        {"checkpoints", n},
                        {"pass_fraction", static_cast<double>(row.passed) / n}});
    }
    out.push_back({{"system", t.system}, {"claims_file", t.claims_file}, {"checkpoints", checkpoints}, {"claims", claims}});
  }
  return {{"schema", kCheckpointTableSchema}, {"tables", out}};
}

std::string checkpoint_table_text(const CheckpointTable& table) {
  const std::size_t n = table.reports.size();
  std::size_t width = 0;
  for (const auto& row : table.rows) width = std::max(width, row.claim.size());
  std::string text = table.system + " on " + std::to_string(n) + " checkpoints:\n";
  for (const auto& row : table.rows) {
    std::string line = "  " + std::to_string(row.passed) + "/" + std::to_string(n) + "  " + row.claim;
    std::string misses;
    for (std::size_t i = 0; i < n; ++i)
      if (row.verdicts[i] != Verdict::kPass)
        misses += std::string(misses.empty() ? "" : ", ") + to_string(row.verdicts[i]) + ": " +
                  table.reports[i]->provenance.checkpoint;
    if (!misses.empty()) line += std::string(width - row.claim.size() + 3, ' ') + misses;
    if (row.scope == ClaimScope::kCheckpoint) line += " (scope checkpoint)";
    text += line + "\n";
  }
  return text;
}

}  // namespace circuitcheck
