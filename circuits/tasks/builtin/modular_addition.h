// S1: modular addition (SYSTEMS.md; Nanda et al., "Progress measures for grokking").
//
// Tokens: a, b in [0, 112] are themselves, `=` is 113; sequence [a, b, 113]
// (n_ctx 3). Label: (a + b) mod 113, predicted from position 2 only.
// Text: "5 7 =" (words separated by spaces).
// Domain: all 12,769 pairs; example i is a = i / 113, b = i % 113.
// Roles [batch]: "a" (0), "b" (1), "equals" (2). No classes.
// The model config is the same at both scales.
#pragma once

#include "circuits/tasks/task.h"

#include <cstdint>
#include <vector>

namespace circuitcheck {

constexpr int64_t kModulus = 113;
constexpr int64_t kModularAdditionDomainSize = kModulus * kModulus;  // 12,769

// The registry entry of S1 (see task.h).
Task modular_addition_task();

// The examples with the given domain indices, in that order. Throws
// InputError for an index outside [0, 12769).
Batch modular_addition_batch(const std::vector<int64_t>& indices);

// The training split: a seeded shuffle of the 12,769 domain indices, of which
// the first 30 % (floor(0.3 * 12769) = 3,830) are the training set; returned
// sorted ascending.
std::vector<int64_t> train_indices(uint64_t seed);

// The other 8,939 domain indices (the test set of train_indices(seed)), sorted.
std::vector<int64_t> test_indices(uint64_t seed);

}  // namespace circuitcheck
