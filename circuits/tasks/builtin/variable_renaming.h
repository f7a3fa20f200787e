// S4: variable renaming (SYSTEMS.md, seed 000).
//
// Vocabulary (39): `0`..`9` 0..9, `a`..`z` 10..35, `>` 36, `;` 37, `.` 38.
// A program is a sequence of 4-token assignments `x>y;`, assignment k at
// positions 4k .. 4k+3. The first four bind the digits 0..3 (in random order)
// to four distinct random variables (`2>l;0>c;1>f;3>p;`); every later one
// renames: x is a uniformly chosen variable that already holds a value, y a
// uniformly chosen letter (possibly x itself or one that holds a value, which
// is then overwritten).
// Labels: every position of an assignment is scored with the value of x (the
// digit y holds afterwards), as a digit token 0..3; targets has no -1.
// Depth: a digit assignment has depth 0; a rename has depth(x) + 1, where
// depth(x) is the depth of the assignment that gave x its current value.
// num_assignments: 32 at seed scale (n_ctx 128), 16 at CPU scale (n_ctx 64);
// a CPU-scale program is distributed as the first 16 assignments of a
// seed-scale one.
// Text: one character per token, no separators, e.g. "2>l;0>c;1>f;3>p;c>u;".
// Roles [batch, num_assignments]: "x" (4k), "arrow" (4k+1), "y" (4k+2),
// "end" (4k+3, the `;`), "x_source" (the position of the y token of the
// assignment that gave x its value; -1 for the digit assignments).
// Role [batch, 4] "digit": the digit tokens of the first four assignments
// (positions 0, 4, 8, 12); a counterfactual that takes another program's
// digits there permutes every value and keeps every chain.
// Classes: [batch, num_assignments] "depth"; [batch] "max_depth".
// Hard cases ("deep chains", task.sample_hard): programs drawn the same way,
// except that each rename, with probability 1/2, takes as x a variable of the
// greatest current depth other than the one the previous assignment bound
// (uniformly among them). Chains of depth 4 and more are then common, and
// their hops are rarely adjacent assignments, which a model cannot shortcut.
#pragma once

#include "circuits/tasks/task.h"

#include <cstdint>

namespace circuitcheck {

// The number of assignments of a program at `scale` (32 or 16).
int64_t num_assignments(Scale scale);

// The registry entry of S4 (see task.h).
Task variable_renaming_task();

}  // namespace circuitcheck
