// Linear probes: multinomial logistic regression from activations to labels,
// trained on a seeded split and scored on the held-out rest.
#pragma once

#include "circuits/tasks/evaluate.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace circuitcheck {

struct ProbeFit {
  int64_t n_classes = 0;     // distinct labels in the data
  int64_t train_n = 0;       // training items
  double train_accuracy = 0.0;
  Tally test;                // held-out items classified correctly, grouped by example
  double majority_rate = 0.0;  // held-out rate of the most frequent training label (chance level)
};

// Fits softmax(x W + b) to `labels` on the items of a random `train_fraction`
// of the groups (permutation seeded by `seed`), by `steps` full-batch Adam
// steps (lr 0.05, L2 1e-4) on features standardised with the training mean
// and deviation; scores the rest. The split is by group (an example: the
// items one forward pass gave), so no group has items on both sides and
// held-out items are as independent as the groups. features [n, d] float,
// labels [n] int64 >= 0 (any ids; they are renumbered), groups [n] int64 (any
// ids). Deterministic for a seed and thread count. Throws InternalError when
// shapes disagree; InputError when a label is negative or either split would be empty.
ProbeFit fit_probe(const at::Tensor& features, const at::Tensor& labels, const at::Tensor& groups,
                   double train_fraction, uint64_t seed, int steps = 300);

}  // namespace circuitcheck
