// Shared by the claim-parser tests: the error a malformed claim file gives.
#pragma once

#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace circuitcheck::testing_util {

// Parses `document` as the claim file `path` against `config` and `task` (the
// task the file names when null). Returns the InputError's message, or
// "(no error)" when the file parses, so that a test comparing it with the
// expected message fails either way.
inline std::string claim_parse_error(const nlohmann::json& document, const std::string& path, const Config& config,
                                     const Task* task = nullptr) {
  try {
    const ClaimFile file = parse_claim_file(document, path);
    parse_claims(file, task ? *task : *claim_task(file), config);
    return "(no error)";
  } catch (const InputError& e) {
    return e.what();
  }
}

// A claim file on the built-in system `system` holding `claims` (an array);
// its checkpoint "x" is never read (parse_claims takes the config).
inline nlohmann::json system_claim_file(const std::string& system, const nlohmann::json& claims) {
  return {{"schema", "circuitcheck.claims/1"}, {"system", system}, {"checkpoint", "x"}, {"claims", claims}};
}

// The check of `outcome` named `name`; throws std::runtime_error naming the
// outcome's explanation when it has none, so that the test fails with it.
inline const Check& check_named(const Outcome& outcome, const std::string& name) {
  for (const Check& c : outcome.checks)
    if (c.name == name) return c;
  throw std::runtime_error("no check " + name + " in: " + outcome.explanation);
}

}  // namespace circuitcheck::testing_util
