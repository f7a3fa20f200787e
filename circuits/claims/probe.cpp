#include "circuits/claims/probe.h"

#include "circuits/formats/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>

namespace circuitcheck {

ProbeFit fit_probe(const at::Tensor& features_in, const at::Tensor& labels_in, const at::Tensor& groups_in,
                   double train_fraction, uint64_t seed, int steps) {
  const std::string where = "fit_probe";
  check_internal(features_in.dim() == 2 && labels_in.dim() == 1 && groups_in.dim() == 1 &&
            features_in.size(0) == labels_in.size(0) && groups_in.size(0) == labels_in.size(0),
        where,
        "features " + c10::str(features_in.sizes()) + ", labels " + c10::str(labels_in.sizes()) + " and groups " +
            c10::str(groups_in.sizes()) + " must be [n, d], [n] and [n]");
  auto [group_ids, groups] = at::_unique(groups_in.to(at::kCPU, at::kLong), true, true);  // renumbered 0..G-1
  const int64_t n_groups = group_ids.size(0);
  const int64_t n_train_groups = static_cast<int64_t>(std::floor(train_fraction * static_cast<double>(n_groups)));
  check(n_train_groups >= 1 && n_train_groups < n_groups, where,
        "a train fraction of " + std::to_string(train_fraction) + " of " + std::to_string(n_groups) +
            " examples leaves a split empty");
  at::Tensor labels_cpu = labels_in.to(at::kCPU, at::kLong);
  check(labels_cpu.min().item<int64_t>() >= 0, where, "labels must be >= 0");
  at::Tensor features = features_in.to(at::kCPU, at::kFloat);
  auto [ids, labels] = at::_unique(labels_cpu, true, true);  // labels renumbered 0..C-1
  const int64_t n_classes = ids.size(0);

  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(n_groups, gen, at::TensorOptions().dtype(at::kLong));
  const at::Tensor in_train = at::zeros({n_groups}, at::kBool).index_fill_(0, order.slice(0, 0, n_train_groups), true);
  const at::Tensor item_in_train = in_train.index_select(0, groups);
  const at::Tensor train = item_in_train.nonzero().flatten(), test = item_in_train.logical_not().nonzero().flatten();
  const int64_t n_train = train.size(0);
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
  add_groups(fit.test, x_test.mm(w).argmax(1).eq(y_test), groups.index_select(0, test));
  const int64_t majority = at::bincount(y_train, {}, n_classes).argmax().item<int64_t>();
  fit.majority_rate = y_test.eq(majority).to(at::kDouble).mean().item<double>();
  return fit;
}

}  // namespace circuitcheck
