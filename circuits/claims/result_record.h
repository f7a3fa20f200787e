// A claim's whole result as JSON and back: what a shard of a verify run
// (verify --shard) carries to `merge`, which rebuilds the reports a single
// run would have written from it.
//
//   { "verdict": "pass", "explanation": "...",
//     "checkpoint": Outcome::to_json(), "controls": [Outcome::to_json(), ...],
//     "falsification": [Falsification::to_json(), ...] }
//
// The claim itself is not in the record: merge parses it again from its claim
// file. Numbers round-trip exactly (NaN is written as null and read back as
// NaN, an infinity as the text "inf" or "-inf"); a bootstrap check's p-value
// is its "p_value". The family test
// (family.h) is not in it either: merge runs it over the whole run.
#pragma once

#include "circuits/claims/verify.h"
#include "circuits/formats/json_fields.h"

#include <nlohmann/json.hpp>

namespace circuitcheck {

nlohmann::json result_record(const ClaimResult& result);

// The record at `at` as the result of `claim`. InputError naming the file
// and JSON pointer of the first field that is missing, of the wrong type or
// an unknown spelling.
ClaimResult result_from_record(const nlohmann::json& record, Claim claim, const At& at);

}  // namespace circuitcheck
