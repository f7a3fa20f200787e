#include "circuits/claims/controls.h"

#include "circuits/formats/error.h"
#include "circuits/model/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstring>

namespace circuitcheck {
namespace {

// The parameter and head (-1: all) of a "zero:..." control.
std::pair<std::string, int64_t> zero_target(const std::string& name, const Config& config, const std::string& where) {
  std::string param = name.substr(5);
  int64_t head = -1;
  const auto slash = param.find('/');
  if (slash != std::string::npos) {
    const std::string digits = param.substr(slash + 1);
    param = param.substr(0, slash);
    check(!digits.empty() && digits.size() < 6 && digits.find_first_not_of("0123456789") == std::string::npos, where,
          "control " + quote(name) + ": expected zero:<param>/<head>");
    head = std::stoll(digits);
  }
  std::string valid;
  for (const auto& [p, shape] : expected_params(config)) {
    if (p != param) {
      valid += (valid.empty() ? "" : ", ") + p;
      continue;
    }
    if (head < 0) return {param, head};
    const std::string leaf = param.substr(param.rfind('.') + 1);
    const bool per_head = leaf == "W_Q" || leaf == "W_K" || leaf == "W_V" || leaf == "W_O" || leaf == "b_Q" ||
                          leaf == "b_K" || leaf == "b_V";
    check(per_head, where, "control " + quote(name) + ": " + param + " has no head dimension");
    check(head < config.n_heads, where,
          "control " + quote(name) + ": head " + std::to_string(head) + " out of range, the model has " +
              std::to_string(config.n_heads) + " heads");
    return {param, head};
  }
  fail(where, "control " + quote(name) + ": unknown parameter " + quote(param) + " (valid: " + valid + ")");
}

}  // namespace

void check_control(const std::string& name, const Config& config, const std::string& where) {
  if (name == "random_init" || name == "shuffled_embed") return;
  if (name.rfind(kCheckpointControl, 0) == 0) {
    check(name.size() > std::strlen(kCheckpointControl), where, "control " + quote(name) + ": expected checkpoint:<path>");
    return;
  }
  if (name.rfind("zero:", 0) == 0) {
    zero_target(name, config, where);
    return;
  }
  fail(where, "unknown control " + quote(name) +
                     " (valid: random_init, shuffled_embed, zero:<param>, zero:<param>/<head>, checkpoint:<path>, placebo, placebo:<seed>, placebo:all, control_task, "
                     "control_task:<seed>)");
}

bool depends_on_checkpoint(const std::string& name) {
  return name != "random_init" && name.rfind(kCheckpointControl, 0) != 0;
}

HookedTransformer control_model(const HookedTransformer& model, const std::string& name) {
  const std::string where = "control_model";
  check_control(name, model.config, where);
  if (name.rfind(kCheckpointControl, 0) == 0) {
    const std::string path = name.substr(std::strlen(kCheckpointControl));
    Checkpoint other = load_checkpoint(path);
    check(other.model.config == model.config, where,
          "control " + quote(name) + ": its config differs from the model's (" + config_to_json(other.model.config).dump() +
              ")");
    to_device(other.model, model_device(model));
    return std::move(other.model);
  }
  if (name == "random_init") {
    HookedTransformer out = make_model(model.config, init_params(model.config, kRandomInitSeed), name);
    to_device(out, model_device(model));
    return out;
  }
  TensorMap params;
  for (const auto& [k, v] : model.params) params[k] = v.clone();
  if (name == "shuffled_embed") {
    at::Tensor& w_e = params.at("embed.W_E");  // [d_vocab, d_model]
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(kRandomInitSeed);
    const at::Tensor order = at::randperm(w_e.size(0), gen, at::TensorOptions().dtype(at::kLong));
    w_e = w_e.index_select(0, order.to(w_e.device()));
  } else {
    const auto [param, head] = zero_target(name, model.config, where);
    at::Tensor& p = params.at(param);
    if (head < 0)
      p.zero_();
    else
      p.select(0, head).zero_();
  }
  return make_model(model.config, std::move(params), name);
}

}  // namespace circuitcheck
