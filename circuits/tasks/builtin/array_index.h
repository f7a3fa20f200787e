// S2: array update / index copy (SYSTEMS.md, seed 002).
//
// Tokens: values 0..49, BOS 50, `\n` 51. Sequence (n_ctx 11), by position:
//   0 BOS, 1-3 a0 a1 a2, 4 \n, 5 idx, 6 elt, 7 \n, 8-10 b0 b1 b2,
// with idx in {0, 1, 2} (the value tokens 0..2), elt in [0, 49] and b = a
// with b[idx] = elt. Labels: b0, b1, b2 predicted from positions 7, 8, 9.
// Text: "BOS 3 17 42 \n 1 9 \n 3 9 42" (words separated by spaces; the
// separator is the two characters backslash and n).
// Sampling draws a, idx and elt uniformly per sequence.
// Domain: 50^3 * 3 * 50 = 18,750,000 sequences; example i has
//   i = (((a0 * 50 + a1) * 50 + a2) * 3 + idx) * 50 + elt.
// Roles [batch]: "a0".."a2" (1..3), "idx" (5), "elt" (6), "predict_b0"..
// "predict_b2" (7..9), "b0".."b2" (8..10), "source_of_b0".."source_of_b2"
// (the position b_i is copied from: that of a_i, or of elt (6) when i == idx).
// Classes [batch]: "idx" (0..2).
// The model config is the same at both scales.
#pragma once

#include "circuits/tasks/task.h"

#include <cstdint>

namespace circuitcheck {

constexpr int64_t kArrayIndexDomainSize = 50 * 50 * 50 * 3 * 50;  // 18,750,000

// The registry entry of S2 (see task.h).
Task array_index_task();

}  // namespace circuitcheck
