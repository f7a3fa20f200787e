#include "circuits/training/trainer.h"

#include "circuits/model/checkpoint.h"
#include "circuits/formats/error.h"
#include "circuits/formats/safetensors.h"

#include <c10/core/GradMode.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <set>

namespace circuitcheck {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t step_seed(uint64_t seed, int64_t step) { return splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(step)); }

// Mixed into the step seed for the hard cases of a batch ("hard" in ASCII).
constexpr uint64_t kHardSeed = 0x68617264;
// Mixed into the step seed for the focused examples ("focus").
constexpr uint64_t kFocusSeed = 0x666f637573;
constexpr int64_t kFocusChunk = 256;  // plain examples per rejection draw
constexpr int64_t kFocusDraws = 64;   // draws before a focus is called too rare

// The class and bound of a focus "CLASS>=N" (format only; focus_class checks
// the class against a drawn batch).
std::pair<std::string, int64_t> parse_focus(const std::string& focus, const std::string& where) {
  const auto ge = focus.find(">=");
  check(ge != std::string::npos && ge > 0 && ge + 2 < focus.size(), where, "focus must read CLASS>=N, got " + quote(focus));
  const std::string name = focus.substr(0, ge), bound = focus.substr(ge + 2);
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(bound, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used == bound.size() && used > 0, where, "focus bound " + quote(bound) + " is not an integer");
  return {name, n};
}

// n plain examples of the task that pass the recipe's focus, seeded.
Batch focus_batch(const Task& task, const TrainRecipe& r, int64_t n, uint64_t seed) {
  const std::string where = "training_batch(" + task.name + "): focus " + quote(r.focus);
  check(!r.focus.empty(), where, "focus_fraction > 0 needs focus=CLASS>=N");
  const auto [name, bound] = parse_focus(r.focus, where);
  const TaskClass& focus = per_example_class(task, name, where);
  std::optional<Batch> out;
  int64_t found = 0, draws = 0;
  for (; draws < kFocusDraws && found < n; ++draws) {
    const Batch b = task.sample(kFocusChunk, splitmix64(seed + static_cast<uint64_t>(draws)), r.scale);
    at::Tensor keep = (b.classes.at(focus.name) >= bound).nonzero().view({-1});
    keep = keep.slice(0, 0, std::min(n - found, keep.size(0)));
    if (keep.size(0) == 0) continue;
    Batch kept = take_rows(b, keep);
    out = out ? concat_batches(*out, kept, where) : kept;
    found += keep.size(0);
  }
  check(found == n, where,
        "only " + std::to_string(found) + " of " + std::to_string(n) + " examples pass in " +
            std::to_string(draws * kFocusChunk) + " drawn; the focus is too rare");
  return *out;
}

bool is_bias(const std::string& name) {
  return name.find(".b_") != std::string::npos || (name.size() > 2 && name.compare(name.size() - 2, 2, ".b") == 0);
}

double learning_rate(const TrainRecipe& r, int64_t step) {
  const double lr = r.adamw.lr;
  if (step <= r.warmup_steps && r.warmup_steps > 0) return lr * static_cast<double>(step) / static_cast<double>(r.warmup_steps);
  if (r.schedule != "cosine") return lr;
  const double span = static_cast<double>(std::max<int64_t>(1, r.steps - r.warmup_steps));
  const double t = std::min(1.0, static_cast<double>(step - r.warmup_steps) / span);
  return lr * (r.min_lr_ratio + (1.0 - r.min_lr_ratio) * 0.5 * (1.0 + std::cos(M_PI * t)));
}

void clip_gradients(TensorMap& params, double max_norm) {
  at::NoGradGuard no_grad;
  at::Tensor total;
  for (auto& [name, p] : params) {
    if (!p.grad().defined()) continue;
    at::Tensor sq = p.grad().pow(2).sum();
    total = total.defined() ? total + sq : sq;
  }
  if (!total.defined()) return;
  const double norm = total.sqrt().item<double>();
  if (norm <= max_norm) return;
  for (auto& [name, p] : params)
    if (p.grad().defined()) p.mutable_grad().mul_(max_norm / (norm + 1e-6));
}

double held_out_loss(const Task& task, const TrainState& s) {
  return evaluate_batch(task, s.model, task.split(s.recipe.seed, true)).loss;
}

template <typename T>
void set_number(const nlohmann::json& value, T& field) { field = value.get<T>(); }

}  // namespace

nlohmann::json TrainRecipe::to_json() const {
  return {{"system", system}, {"scale", to_string(scale)}, {"seed", seed},
          {"steps", steps}, {"batch_size", batch_size}, {"lr", adamw.lr}, {"beta1", adamw.beta1},
          {"beta2", adamw.beta2}, {"weight_decay", adamw.weight_decay}, {"adam_eps", adamw.eps},
          {"warmup_steps", warmup_steps}, {"schedule", schedule}, {"min_lr_ratio", min_lr_ratio},
          {"grad_clip", grad_clip}, {"freeze_biases", freeze_biases}, {"stop_test_loss", stop_test_loss},
          {"eval_every", eval_every}, {"hard_fraction", hard_fraction}, {"focus", focus}, {"focus_fraction", focus_fraction},
          {"config_overrides", config_overrides}};
}

TrainRecipe default_recipe(const Task& task, Scale scale) {
  const TaskRecipe& t = task.recipe;
  TrainRecipe r;
  r.system = task.name;
  r.scale = scale;
  r.steps = t.steps;
  r.batch_size = t.batch_size;
  r.adamw.lr = t.lr;
  r.adamw.beta2 = t.beta2;
  r.adamw.weight_decay = t.weight_decay;
  r.warmup_steps = t.warmup_steps;
  r.schedule = t.schedule;
  r.min_lr_ratio = t.min_lr_ratio;
  r.grad_clip = t.grad_clip;
  r.freeze_biases = t.freeze_biases;
  r.stop_test_loss = t.stop_test_loss;
  r.eval_every = t.eval_every;
  return r;
}

void apply_setting(TrainRecipe& recipe, const std::string& key_value) {
  TrainRecipe r = recipe;
  const std::string where = "--set " + key_value;
  const auto eq = key_value.find('=');
  check(eq != std::string::npos && eq > 0, where, "expected key=value");
  const std::string key = key_value.substr(0, eq), text = key_value.substr(eq + 1);
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;  // a bare word such as cosine or relu
  try {
    if (key == "seed") set_number(value, r.seed);
    else if (key == "steps") set_number(value, r.steps);
    else if (key == "batch_size") set_number(value, r.batch_size);
    else if (key == "lr") set_number(value, r.adamw.lr);
    else if (key == "weight_decay") set_number(value, r.adamw.weight_decay);
    else if (key == "beta1") set_number(value, r.adamw.beta1);
    else if (key == "beta2") set_number(value, r.adamw.beta2);
    else if (key == "warmup_steps") set_number(value, r.warmup_steps);
    else if (key == "schedule") r.schedule = value.get<std::string>();
    else if (key == "min_lr_ratio") set_number(value, r.min_lr_ratio);
    else if (key == "grad_clip") set_number(value, r.grad_clip);
    else if (key == "freeze_biases") set_number(value, r.freeze_biases);
    else if (key == "stop_test_loss") set_number(value, r.stop_test_loss);
    else if (key == "eval_every") set_number(value, r.eval_every);
    else if (key == "hard_fraction") set_number(value, r.hard_fraction);
    else if (key == "focus") r.focus = value.get<std::string>();
    else if (key == "focus_fraction") set_number(value, r.focus_fraction);
    else {
      nlohmann::json probe = config_to_json(find_task(r.system).config(r.scale));
      check(probe.contains(key), where, "unknown setting " + quote(key) + " (not a recipe field nor a config field)");
      r.config_overrides[key] = value;
    }
  } catch (const nlohmann::json::exception&) {
    fail(where, "malformed value " + quote(text) + " for " + key);
  }
  check(r.schedule == "constant" || r.schedule == "cosine", where, "schedule must be constant or cosine");
  check(r.steps > 0 && r.batch_size >= 0 && r.adamw.lr > 0, where, "steps and lr must be positive, batch_size >= 0");
  check(r.batch_size > 0 || find_task(r.system).split, where,
        "full batch (batch_size=0) needs a task with a training split (" + r.system + " has none)");
  check(r.stop_test_loss == 0 || find_task(r.system).split, where,
        "stop_test_loss needs a task with a held-out split (" + r.system + " has none)");
  check(r.hard_fraction >= 0 && r.hard_fraction <= 1, where, "hard_fraction must lie in [0, 1]");
  check(r.hard_fraction == 0 || (r.batch_size > 0 && find_task(r.system).sample_hard), where,
        r.system + " has no hard-case generator to mix in");
  check(r.focus_fraction >= 0 && r.focus_fraction <= 1, where, "focus_fraction must lie in [0, 1]");
  check(r.focus_fraction == 0 || r.batch_size > 0, where, "a full batch (batch_size=0) has no focus");
  if (!r.focus.empty()) {
    per_example_class(find_task(r.system), parse_focus(r.focus, where).first, where);
  }
  recipe = r;
}

Config recipe_config(const TrainRecipe& r) {
  const Task& task = find_task(r.system);
  nlohmann::json j = config_to_json(task.config(r.scale));
  for (const auto& [key, value] : r.config_overrides.items()) j[key] = value;
  Config c = config_from_json(j, "recipe config");
  check_fits(task, r.scale, c, "recipe config");
  return c;
}

Batch training_batch(const Task& task, const TrainRecipe& r, int64_t step) {
  if (r.batch_size == 0) return task.split(r.seed, false);
  const std::string where = "training_batch(" + task.name + ")";
  const auto share = [&](double f) { return static_cast<int64_t>(std::llround(static_cast<double>(r.batch_size) * f)); };
  const int64_t hard = share(r.hard_fraction), focus = share(r.focus_fraction);
  check(hard + focus <= r.batch_size, where, "hard_fraction + focus_fraction exceed 1");
  const uint64_t seed = step_seed(r.seed, step);
  Batch b = task.sample(r.batch_size - hard - focus, seed, r.scale);
  if (focus > 0) b = concat_batches(b, focus_batch(task, r, focus, seed ^ kFocusSeed), where);
  if (hard > 0) b = concat_batches(b, task.sample_hard(hard, seed ^ kHardSeed, r.scale), where);
  return b;
}

TrainState start_training(const TrainRecipe& recipe) {
  TrainState s;
  s.recipe = recipe;
  Config config = recipe_config(recipe);
  s.model = make_model(config, init_params(config, recipe.seed), "start_training");
  return s;
}

void train(TrainState& s, const TrainHooks& hooks) {
  const Task& task = find_task(s.recipe.system);
  const TrainRecipe& r = s.recipe;
  for (auto& [name, p] : s.model.params)
    if (p.is_floating_point() && !is_buffer_name(name) && !(r.freeze_biases && is_bias(name))) p.requires_grad_(true);
  const int64_t from = first_scored_position(training_batch(task, r, 1).targets);
  double test_loss = -1.0;
  const auto run_start = std::chrono::steady_clock::now();
  const double elapsed_before = s.elapsed_s;
  const int64_t step_before = s.step;
  while (s.step < r.steps && s.stop_reason.empty() && !(hooks.stop && hooks.stop())) {
    const int64_t step = s.step + 1;
    Batch batch = training_batch(task, r, step);
    RunOptions options;
    options.from_position = from;
    at::Tensor logits = run(s.model, batch.tokens, options).logits;
    at::Tensor loss = scored_loss(logits, batch.targets, from);
    loss.backward();
    if (r.grad_clip > 0) clip_gradients(s.model.params, r.grad_clip);
    const double lr = learning_rate(r, step);
    adamw_step(s.model.params, s.optimizer, r.adamw, lr);
    for (auto& [name, p] : s.model.params)
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
    s.step = step;
    s.elapsed_s = elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    const bool eval_now = r.stop_test_loss > 0 && step % r.eval_every == 0;
    if (eval_now) {
      at::NoGradGuard no_grad;
      test_loss = held_out_loss(task, s);
      if (test_loss < r.stop_test_loss) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "test_loss<%g", r.stop_test_loss);
        s.stop_reason = buf;
      }
    }
    const bool last = step == r.steps || !s.stop_reason.empty();
    const bool snapshot = hooks.snapshot_every > 0 && (step % hooks.snapshot_every == 0 || last);
    if (snapshot && !eval_now && task.split) {
      at::NoGradGuard no_grad;
      test_loss = held_out_loss(task, s);
    }
    const bool log = step % hooks.log_every == 0 || last;
    if (log || snapshot) {
      at::NoGradGuard no_grad;
      at::Tensor t = batch.targets.slice(1, from).to(logits.device());
      at::Tensor scored = t != -1;
      TrainProgress p;
      p.step = step;
      p.steps = r.steps;
      p.loss = loss.item<double>();
      p.token_accuracy = ((logits.argmax(-1) == t) & scored).sum().item<double>() / scored.sum().item<double>();
      p.test_loss = test_loss;
      p.lr = lr;
      p.elapsed_s = s.elapsed_s;
      p.steps_per_s = static_cast<double>(step - step_before) / std::max(1e-9, s.elapsed_s - elapsed_before);
      if (log) {
        s.history.push_back({{"step", step}, {"loss", p.loss}, {"token_accuracy", p.token_accuracy},
                             {"test_loss", test_loss}, {"lr", lr}, {"elapsed_s", p.elapsed_s}});
        if (hooks.on_progress) hooks.on_progress(p);
      }
      if (snapshot && hooks.on_snapshot) hooks.on_snapshot(s, p);
    }
    if (hooks.checkpoint_every > 0 && step % hooks.checkpoint_every == 0 && hooks.on_checkpoint) hooks.on_checkpoint(s);
  }
  if (s.stop_reason.empty() && s.step >= r.steps) s.stop_reason = "max_steps";
  for (auto& [name, p] : s.model.params) p.requires_grad_(false);
}

void amend_recipe(TrainState& state, const std::vector<std::string>& settings) {
  static const std::set<std::string> schedule_keys = {"steps", "lr", "schedule", "min_lr_ratio",
                                                      "warmup_steps", "weight_decay", "grad_clip",
                                                      "hard_fraction", "focus", "focus_fraction"};
  TrainRecipe r = state.recipe;
  for (const auto& kv : settings) {
    const std::string key = kv.substr(0, kv.find('='));
    check(schedule_keys.count(key) > 0, "train --resume --set " + kv,
          quote(key) + " cannot change when resuming (only steps, lr, schedule, min_lr_ratio, warmup_steps, "
          "weight_decay, grad_clip, hard_fraction, focus, focus_fraction): it would change the model or redraw its data");
    apply_setting(r, kv);
  }
  state.recipe = r;
  state.amendments.push_back({{"step", state.step}, {"set", settings}});
  if (state.step < r.steps && state.stop_reason == "max_steps") state.stop_reason.clear();
}

void save_training(const std::string& path, const TrainState& s) {
  TensorMap tensors;
  for (const auto& [name, t] : s.model.params) tensors["param/" + name] = t.detach();
  for (const auto& [name, t] : s.optimizer.exp_avg) tensors["exp_avg/" + name] = t;
  for (const auto& [name, t] : s.optimizer.exp_avg_sq) tensors["exp_avg_sq/" + name] = t;
  nlohmann::json state = {{"recipe", s.recipe.to_json()}, {"step", s.step}, {"optimizer_step", s.optimizer.step},
                          {"elapsed_s", s.elapsed_s}, {"stop_reason", s.stop_reason}, {"history", s.history},
                          {"amendments", s.amendments}};
  write_safetensors(path, tensors, {{"train_state", state.dump()}, {"config", config_to_json(s.model.config).dump()}});
}

TrainState load_training(const std::string& path) {
  const std::string where = "load_training: " + path;
  Safetensors file = read_safetensors(path);
  check(file.metadata.count("train_state") > 0, where, "not a training state (no __metadata__/train_state)");
  auto state = nlohmann::json::parse(file.metadata.at("train_state"), nullptr, false);
  check(!state.is_discarded() && state.is_object(), where + ": __metadata__/train_state", "not a JSON object");
  TrainState s;
  try {
    const auto& r = state.at("recipe");
    s.recipe = default_recipe(find_task(r.at("system").get<std::string>()),
                              scale_named(r.at("scale").get<std::string>(), where + ": __metadata__/train_state/recipe/scale"));
    for (const auto& [key, value] : r.items())
      if (key != "system" && key != "scale" && key != "config_overrides" && key != "adam_eps")
        apply_setting(s.recipe, key + "=" + value.dump());
    s.recipe.adamw.eps = r.at("adam_eps").get<double>();
    s.recipe.config_overrides = r.at("config_overrides");
    s.step = state.at("step").get<int64_t>();
    s.optimizer.step = state.at("optimizer_step").get<int64_t>();
    s.elapsed_s = state.at("elapsed_s").get<double>();
    s.stop_reason = state.at("stop_reason").get<std::string>();
    for (const auto& h : state.at("history")) s.history.push_back(h);
    for (const auto& a : state.value("amendments", nlohmann::json::array())) s.amendments.push_back(a);
  } catch (const nlohmann::json::exception& e) {
    fail(where + ": __metadata__/train_state", e.what());
  }
  TensorMap params;
  for (auto& [name, t] : file.tensors) {
    const auto slash = name.find('/');
    check(slash != std::string::npos, where + ": " + name, "unexpected tensor in a training state");
    const std::string group = name.substr(0, slash), key = name.substr(slash + 1);
    if (group == "param") params[key] = t;
    else if (group == "exp_avg") s.optimizer.exp_avg[key] = t;
    else if (group == "exp_avg_sq") s.optimizer.exp_avg_sq[key] = t;
    else fail(where + ": " + name, "unexpected tensor in a training state");
  }
  s.model = make_model(recipe_config(s.recipe), std::move(params), where);
  return s;
}

}  // namespace circuitcheck
