#include "circuits/training/optimizer.h"

#include <c10/core/GradMode.h>

#include <cmath>

namespace circuitcheck {

void adamw_step(TensorMap& params, AdamWState& state, const AdamWSettings& s, double lr) {
  at::NoGradGuard no_grad;
  state.step += 1;
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(state.step));
  const double bias2 = 1.0 - std::pow(s.beta2, static_cast<double>(state.step));
  for (auto& [name, p] : params) {
    const at::Tensor& grad = p.grad();
    if (!grad.defined()) continue;
    if (!state.exp_avg.count(name)) {
      state.exp_avg[name] = at::zeros_like(p);
      state.exp_avg_sq[name] = at::zeros_like(p);
    }
    at::Tensor& m = state.exp_avg.at(name);
    at::Tensor& v = state.exp_avg_sq.at(name);
    p.mul_(1.0 - lr * s.weight_decay);
    m.mul_(s.beta1).add_(grad, 1.0 - s.beta1);
    v.mul_(s.beta2).addcmul_(grad, grad, 1.0 - s.beta2);
    at::Tensor denom = (v.sqrt() / std::sqrt(bias2)).add_(s.eps);
    p.addcdiv_(m, denom, -lr / bias1);
  }
}

}  // namespace circuitcheck
