// Linear probes: multinomial logistic regression from activations to labels,
// trained on a seeded split and scored on the held-out rest.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace circuitcheck {

struct ProbeFit {
  int64_t n_classes = 0;     // distinct labels in the data
  int64_t train_n = 0;       // training items
  double train_accuracy = 0.0;
  int64_t test_correct = 0;  // held-out items classified correctly
  int64_t test_n = 0;        // held-out items
  double majority_rate = 0.0;  // held-out rate of the most frequent training label (chance level)
};

// Fits softmax(x W + b) to `labels` on a random `train_fraction` of the items
// (permutation seeded by `seed`), by `steps` full-batch Adam steps (lr 0.05,
// L2 1e-4) on features standardised with the training mean and deviation;
// scores the rest. features [n, d] float, labels [n] int64 >= 0 (any ids; they
// are renumbered). Deterministic for a seed and thread count. Throws
// InputError when shapes disagree, a label is negative, or either split would
// be empty.
ProbeFit fit_probe(const at::Tensor& features, const at::Tensor& labels, double train_fraction, uint64_t seed,
                   int steps = 300);

}  // namespace circuitcheck
