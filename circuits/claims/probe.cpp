#include "circuits/claims/probe.h"

#include "circuits/formats/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

namespace circuitcheck {

ProbeFit fit_probe(const at::Tensor& features_in, const at::Tensor& labels_in, double train_fraction, uint64_t seed,
                   int steps) {
  const std::string where = "fit_probe";
  check(features_in.dim() == 2 && labels_in.dim() == 1 && features_in.size(0) == labels_in.size(0), where,
        "features " + c10::str(features_in.sizes()) + " and labels " + c10::str(labels_in.sizes()) +
            " must be [n, d] and [n]");
  const int64_t n = features_in.size(0);
  const int64_t n_train = static_cast<int64_t>(std::floor(train_fraction * static_cast<double>(n)));
  check(n_train >= 1 && n_train < n, where,
        "a train fraction of " + std::to_string(train_fraction) + " of " + std::to_string(n) +
            " items leaves a split empty");
  at::Tensor labels_cpu = labels_in.to(at::kCPU, at::kLong);
  check(labels_cpu.min().item<int64_t>() >= 0, where, "labels must be >= 0");
  at::Tensor features = features_in.to(at::kCPU, at::kFloat);
  auto [ids, labels] = at::_unique(labels_cpu, true, true);  // labels renumbered 0..C-1
  const int64_t n_classes = ids.size(0);

  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor order = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
  at::Tensor train = order.slice(0, 0, n_train), test = order.slice(0, n_train);
  at::Tensor x_train = features.index_select(0, train), y_train = labels.index_select(0, train);
  at::Tensor mean = x_train.mean(0, true), scale = x_train.std(0, false, true).clamp_min(1e-6);
  x_train = (x_train - mean) / scale;
  at::Tensor x_test = (features.index_select(0, test) - mean) / scale;
  at::Tensor y_test = labels.index_select(0, test);

  // Adam on W [d + 1, C] (bias as a constant feature), gradient of the mean cross-entropy + L2.
  x_train = at::cat({x_train, at::ones({n_train, 1})}, 1);
  x_test = at::cat({x_test, at::ones({x_test.size(0), 1})}, 1);
  at::Tensor onehot = at::one_hot(y_train, n_classes).to(at::kFloat);
  at::Tensor w = at::zeros({x_train.size(1), n_classes});
  at::Tensor m = at::zeros_like(w), v = at::zeros_like(w);
  const double lr = 0.05, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, l2 = 1e-4;
  for (int t = 1; t <= steps; ++t) {
    at::Tensor grad = x_train.t().mm(at::softmax(x_train.mm(w), 1) - onehot) / static_cast<double>(n_train) + l2 * w;
    m.mul_(beta1).add_(grad, 1 - beta1);
    v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    const double step = lr * std::sqrt(1 - std::pow(beta2, t)) / (1 - std::pow(beta1, t));
    w.addcdiv_(m, v.sqrt().add_(eps), -step);
  }
  ProbeFit fit;
  fit.n_classes = n_classes;
  fit.train_n = n_train;
  fit.train_accuracy = x_train.mm(w).argmax(1).eq(y_train).to(at::kDouble).mean().item<double>();
  fit.test_n = y_test.size(0);
  fit.test_correct = x_test.mm(w).argmax(1).eq(y_test).sum().item<int64_t>();
  const int64_t majority = at::bincount(y_train, {}, n_classes).argmax().item<int64_t>();
  fit.majority_rate = y_test.eq(majority).to(at::kDouble).mean().item<double>();
  return fit;
}

}  // namespace circuitcheck
