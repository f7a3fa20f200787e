#include "circuits/tasks/builtin/variable_renaming.h"

#include <algorithm>
#include <array>

namespace circuitcheck {
namespace {

const std::string kAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz>;.";
constexpr int64_t kLetters = 26;
constexpr int64_t kFirstLetter = 10;
constexpr int64_t kArrow = 36;
constexpr int64_t kSemicolon = 37;
constexpr int64_t kDigits = 4;  // the values 0..3

Config variable_renaming_config(Scale scale) {
  const bool seed = scale == Scale::kSeed;
  return config_from_json(
      {{"n_layers", 4}, {"n_heads", 2}, {"d_model", seed ? 128 : 64}, {"d_head", seed ? 64 : 32},
       {"d_mlp", seed ? 512 : 256}, {"act_fn", "gelu"}, {"normalization_type", "LN"},
       {"positional_embedding_type", "rotary"}, {"rotary_dim", seed ? 64 : 32}, {"rotary_base", 2000},
       {"attention_dir", "causal"}, {"d_vocab", static_cast<int64_t>(kAlphabet.size())},
       {"d_vocab_out", static_cast<int64_t>(kAlphabet.size())}, {"n_ctx", 4 * num_assignments(scale)}},
      "variable_renaming config");
}

// A held variable of the greatest current depth other than `last` (the one
// the previous assignment bound), uniformly among them.
int64_t deepest_held(const std::vector<int64_t>& held, const std::array<int64_t, kLetters>& var_depth, int64_t last,
                     Rng& rng) {
  int64_t depth = -1;
  for (int64_t v : held)
    if (v != last) depth = std::max(depth, var_depth[v]);
  std::vector<int64_t> deepest;
  for (int64_t v : held)
    if (v != last && var_depth[v] == depth) deepest.push_back(v);
  return deepest[uniform_int(rng, static_cast<int64_t>(deepest.size()))];
}

// `deep`: the hard-case generator (see the header).
Batch draw_programs(Rng& rng, int64_t n, Scale scale, bool deep) {
  check_sample_size(n, deep ? "sample_hard(variable_renaming)" : "sample(variable_renaming)");
  const int64_t m = num_assignments(scale);
  const int64_t len = 4 * m;
  std::vector<int64_t> tokens(n * len), targets(n * len), source(n * m), depth(n * m), max_depth(n);
  for (int64_t e = 0; e < n; ++e) {
    std::array<int64_t, kLetters> value{}, var_depth{}, bound_at{};  // per letter
    std::array<bool, kLetters> bound{};
    std::vector<int64_t> held;  // letters that hold a value, in binding order
    std::vector<int64_t> letters(kLetters);
    for (int64_t v = 0; v < kLetters; ++v) letters[v] = v;
    shuffle(letters, rng);
    std::vector<int64_t> digits = {0, 1, 2, 3};
    shuffle(digits, rng);
    int64_t deepest = 0, last = -1;  // last: the letter the previous assignment bound
    for (int64_t k = 0; k < m; ++k) {
      int64_t x_token, y, val, d, src;
      if (k < kDigits) {
        y = letters[k];
        x_token = val = digits[k];
        d = 0;
        src = -1;
      } else {
        const int64_t x = deep && uniform_int(rng, 2) == 0
                              ? deepest_held(held, var_depth, last, rng)
                              : held[uniform_int(rng, static_cast<int64_t>(held.size()))];
        y = uniform_int(rng, kLetters);
        x_token = kFirstLetter + x;
        val = value[x];
        d = var_depth[x] + 1;
        src = bound_at[x];
      }
      if (!bound[y]) held.push_back(y);
      bound[y] = true;
      value[y] = val;
      var_depth[y] = d;
      bound_at[y] = 4 * k + 2;
      last = y;
      int64_t* t = &tokens[e * len + 4 * k];
      t[0] = x_token;
      t[1] = kArrow;
      t[2] = kFirstLetter + y;
      t[3] = kSemicolon;
      for (int64_t j = 0; j < 4; ++j) targets[e * len + 4 * k + j] = val;
      source[e * m + k] = src;
      depth[e * m + k] = d;
      deepest = std::max(deepest, d);
    }
    max_depth[e] = deepest;
  }
  std::vector<int64_t> x_pos(m), arrow_pos(m), y_pos(m), end_pos(m);
  for (int64_t k = 0; k < m; ++k) {
    x_pos[k] = 4 * k;
    arrow_pos[k] = 4 * k + 1;
    y_pos[k] = 4 * k + 2;
    end_pos[k] = 4 * k + 3;
  }
  Batch batch;
  batch.tokens = to_tensor(tokens, {n, len});
  batch.targets = to_tensor(targets, {n, len});
  batch.roles = {{"x", fixed_roles(n, x_pos)},
                 {"arrow", fixed_roles(n, arrow_pos)},
                 {"y", fixed_roles(n, y_pos)},
                 {"end", fixed_roles(n, end_pos)},
                 {"digit", fixed_roles(n, {0, 4, 8, 12})},
                 {"x_source", to_tensor(source, {n, m})}};
  batch.classes = {{"depth", to_tensor(depth, {n, m})}, {"max_depth", to_tensor(max_depth, {n})}};
  return batch;
}

}  // namespace

int64_t num_assignments(Scale scale) { return scale == Scale::kSeed ? 32 : 16; }

Task variable_renaming_task() {
  Task task;
  task.name = "variable_renaming";
  task.alias = "S4";
  task.classes = {{"depth", false, {}}, {"max_depth", true, {}}};
  task.config = variable_renaming_config;
  task.draw = [](Rng& rng, int64_t n, Scale scale) { return draw_programs(rng, n, scale, false); };
  task.sample = seeded(task.draw);
  task.sample_hard = seeded([](Rng& rng, int64_t n, Scale scale) { return draw_programs(rng, n, scale, true); });
  task.hard_name = "deep chains";
  task.domain_batch = no_domain(task.name);
  task.detokenize = [](const at::Tensor& row) {
    return detokenize_chars(kAlphabet, row, "detokenize(variable_renaming)");
  };
  task.tokenize = [](const std::string& text) {
    return tokenize_chars(kAlphabet, text, "tokenize(variable_renaming)");
  };
  task.units = Units{"assignment", 4, {"depth"}};
  TaskRecipe& r = task.recipe;
  r.steps = 30000; r.batch_size = 64; r.weight_decay = 0.01; r.beta2 = 0.98; r.warmup_steps = 200;
  r.grad_clip = 1.0; r.schedule = "cosine"; r.min_lr_ratio = 0.1;
  return task;
}

}  // namespace circuitcheck
