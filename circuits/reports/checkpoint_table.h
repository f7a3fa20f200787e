// Claims across checkpoints: when verify runs one claim file on several
// checkpoints (independent seeds of one recipe, say), each claim's verdict on
// each and on how many it passes. The run writes it as D/checkpoints.json,
// schema "circuitcheck.checkpoints/1":
//
//   { "schema": "circuitcheck.checkpoints/1",
//     "tables": [ { "system": "array_index", "claims_file": "claims/array_index.json",
//                   "checkpoints": [ {"path", "sha256", "report"} ],
//                   "claims": [ {"id", "scope", "verdicts": ["pass", "fail", ...],
//                                "passed", "checkpoints", "pass_fraction"} ] } ] }
//
// "verdicts" follow "checkpoints" in order; "report" is the report's file
// stem (report_name). It holds no timings, so that the same inputs and seed
// give byte-identical documents. claims/README.md ("Claims across seeds")
// says how to read it.
#pragma once

#include "circuits/claims/verify.h"
#include "circuits/reports/report.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace circuitcheck {

constexpr const char* kCheckpointTableSchema = "circuitcheck.checkpoints/1";

// One claim file run on several checkpoints.
struct CheckpointTable {
  struct Row {
    std::string claim;              // the claim's id
    ClaimScope scope = ClaimScope::kRecipe;
    std::vector<Verdict> verdicts;  // one per checkpoint, in the order of `reports`
    int passed = 0;                 // verdicts that are "pass"
  };

  std::string system;
  std::string claims_file;                 // Provenance::claims_file
  std::vector<const SystemReport*> reports;  // one per checkpoint, in run order
  std::vector<Row> rows;                   // in the claim order of the first report
};

// The reports of each claim file (Provenance::claims_file), in run order,
// the files in the order of their first report.
std::vector<std::vector<const SystemReport*>> reports_by_claims_file(const std::vector<SystemReport>& reports);

// A table for each claim file that `reports` ran on two or more checkpoints,
// in the order of their first report. The reports of one claim file must
// hold the same claims in the same order (verify runs one file's claims on
// every checkpoint); std::invalid_argument otherwise. The tables point into
// `reports`.
std::vector<CheckpointTable> checkpoint_tables(const std::vector<SystemReport>& reports);

// The document above.
nlohmann::json checkpoint_tables_json(const std::vector<CheckpointTable>& tables);

// The terminal's view of one table: a heading, then one line per claim,
//   "array_index on 4 checkpoints:"
//   "  3/4  l0_elt_reads_idx   fail: seeds/array_index_seed4.safetensors"
// naming each checkpoint on which the claim does not pass, with its verdict,
// and "(scope checkpoint)" after a claim that describes its checkpoint alone.
std::string checkpoint_table_text(const CheckpointTable& table);

}  // namespace circuitcheck
