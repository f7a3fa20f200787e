// The "attention" claim kind (claims/README.md): where one head attends.
//
//   { "kind": "attention", "layer": 1, "head": 0, "query": "predict_b0",
//     "keys": ["a0"], "min_mass": 0.5, "domain": {...}, "pass": {"rate_at_least": 0.99} }
//
// The rate of examples (a [batch] query role) or of (example, k) items (a
// [batch, k] query role; [batch, k] key roles pair with it by k) whose
// attention mass from the query role's position to the key roles' positions,
// read from blocks.L.attn.hook_pattern [batch, n_heads, query_pos, key_pos]
// at the head, is at least min_mass (a mass is in [0, 1]). It reads that
// plain pattern (shared with the other claims) and draws the head's mean
// pattern over the first batch, query x key.
#pragma once

#include "circuits/claims/kinds/kind.h"

#include <string>
#include <vector>

namespace circuitcheck {

struct AttentionSpec {
  int layer = 0;
  int head = 0;
  std::string query;
  std::vector<std::string> keys;
  double min_mass = 0.0;
};

void parse_attention(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim);
PlainReads attention_reads(const Claim& claim);  // blocks.L.attn.hook_pattern, without the logits
void run_attention(const RunContext& context, const Claim& claim, Outcome& out);

}  // namespace circuitcheck
