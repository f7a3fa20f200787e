// The claim kinds, in one table (registry.cpp): one row per kind, each kind
// one file pair in this folder implementing kind.h's interface. Adding a kind
// (claims/README.md, "Adding a claim kind"): its file pair, and its include
// and row in registry.cpp.
#pragma once

#include "circuits/claims/kinds/kind.h"

#include <string>
#include <vector>

namespace circuitcheck {

// Every kind.
const std::vector<KindEntry>& claim_kinds();
// The kind spelled `name`, or nullptr.
const KindEntry* find_kind(const std::string& name);

}  // namespace circuitcheck
