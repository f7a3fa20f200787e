// S5: 6-digit addition and subtraction (SYSTEMS.md, seed 003; Quirke et al.,
// QuantaTools).
//
// Vocabulary (15): digits 0..9, `+` 10, `-` 11, `=` 12, `*` 13, `\` 14.
// Sequence (n_ctx 22): the question `D5 D4 D3 D2 D1 D0 op E5 E4 E3 E2 E1 E0 =`
// (positions 0..13; D0 and E0 least significant), then the answer
// `sign A6 A5 A4 A3 A2 A1 A0` (positions 14..21). Addition: `+` and x + y.
// Subtraction: `+` and x - y when x >= y, else `-` and y - x. The answer is
// predicted from positions 13..20 (targets elsewhere -1).
// Text: one character per token, e.g. "133357+182243=+0315600".
//
// Sampling: 20 % addition, 80 % subtraction (drawn per example); 40 % of the
// examples come from the hard-case generator (see sample_hard), the rest have
// x and y uniform in [0, 999999].
//
// Roles [batch]: "D0".."D5" (position 5 - i), "E0".."E5" (12 - i),
// "operator" (6), "equals" (13), "sign" (14), "A0".."A6" (21 - i),
// "predict_sign" (13), "predict_A0".."predict_A6" (20 - i).
// Classes:
//   [batch] "operator": 0 addition, 1 subtraction;
//   [batch] "negative": 1 when the answer's sign is `-`;
//   [batch, 6] "tricase" per question digit i, QuantaTools' T8/T9/T10 on the
//       operands as written: addition 0 (T8) Di + Ei <= 8, 1 (T9) = 9,
//       2 (T10) >= 10; subtraction 0 (T8) Di < Ei, 1 (T9) Di = Ei, 2 (T10) Di > Ei;
//   [batch, 7] "carry_in" per answer digit i (addition; 0 for subtraction):
//       0 no carry into digit i, 1 a carry made by digit i - 1 (T10),
//       2 a carry cascaded through digit i - 1 (T9 with a carry into it);
//   [batch, 7] "borrow_in" per answer digit i (subtraction; 0 for addition),
//       on the computation larger - smaller that the answer digits hold:
//       0 no borrow into digit i, 1 a borrow made by digit i - 1 (its
//       minuend digit is smaller), 2 a borrow cascaded through digit i - 1
//       (equal digits with a borrow into it);
//   [batch] "cascade": the longest carry or borrow chain: 0 none, 1 only
//       carries/borrows made by the digit below, k >= 2 a carry/borrow that
//       travelled through k - 1 cascade (T9-like) digits.
#pragma once

#include "circuits/tasks/task.h"

#include <cstdint>

namespace circuitcheck {

// The registry entry of S5 (see task.h).
Task arithmetic_task();

// n >= 0 hard examples only, seeded, with the same 20/80 operator mix: each
// has a carry (addition) or borrow (subtraction) that cascades through 1 to 4
// (subtraction) or 5 (addition) consecutive T9-like digits, so "cascade" >= 2;
// subtraction answers are negative half of the time. Throws InputError when n < 0.
Batch sample_hard(int64_t n, uint64_t seed);

}  // namespace circuitcheck
