// A planted mechanism shared by the claim tests, and its task: a 1-layer
// attention-only model over 4 tokens and 6 positions that predicts, at every
// position p >= 1, the token at p - 1.
#pragma once

#include "circuits/model/config.h"
#include "circuits/model/model.h"
#include "circuits/tasks/task.h"

#include <cstdint>
#include <random>
#include <vector>

namespace circuitcheck {

// Residual: one-hot token (dims 0-3) + one-hot position (dims 4-9). The head's
// query at p and key at p' match when p' = p - offset; it copies the attended
// token (weight 2) over the current one (weight 1) into the logits (x 10).

constexpr int64_t kVocab = 4, kCtx = 6, kModel = kVocab + kCtx, kHead = 6;

// `n_heads` heads: head 0 is the mechanism; any other head has every weight 0
// (it attends uniformly and writes nothing).
inline Config previous_token_config(int64_t n_heads = 1) {
  return config_from_json({{"n_layers", 1}, {"d_model", kModel}, {"n_heads", n_heads}, {"d_head", kHead},
                           {"n_ctx", kCtx}, {"d_vocab", kVocab}, {"d_vocab_out", kVocab}, {"d_mlp", nullptr},
                           {"act_fn", nullptr}, {"attn_only", true}, {"normalization_type", nullptr}},
                          "previous_token_config");
}

// `qk` scales the query/key weights (0 removes the mechanism); the head attends to p - offset.
inline HookedTransformer previous_token_model(float qk, int64_t offset = 1, int64_t n_heads = 1) {
  const Config c = previous_token_config(n_heads);
  TensorMap p;
  for (const auto& [name, shape] : expected_params(c)) p[name] = at::zeros(shape, at::kFloat);
  for (int64_t t = 0; t < kVocab; ++t) {
    p["embed.W_E"][t][t] = 1;
    p["blocks.0.attn.W_V"][0][t][t] = 1;
    p["blocks.0.attn.W_O"][0][t][t] = 2;
    p["unembed.W_U"][t][t] = 10;
  }
  for (int64_t pos = 0; pos < kCtx; ++pos) {
    p["pos_embed.W_pos"][pos][kVocab + pos] = 1;
    p["blocks.0.attn.W_Q"][0][kVocab + pos][pos] = qk;
    if (pos + offset < kCtx) p["blocks.0.attn.W_K"][0][kVocab + pos][pos + offset] = qk;
  }
  return make_model(c, p, "previous_token_model");
}

// Batches of the toy task: targets[p] = tokens[p - 1] for p >= 1; roles
// "current" [batch, 5] (1..5) and "previous" [batch, 5] (0..4), "last" (5),
// "before_last" (4); class "first_token". Domain: all 4^6 sequences.
inline Batch previous_token_batch(const at::Tensor& tokens) {
  const int64_t n = tokens.size(0);
  Batch b;
  b.tokens = tokens;
  b.targets = at::full({n, kCtx}, -1, at::kLong);
  b.targets.slice(1, 1).copy_(tokens.slice(1, 0, kCtx - 1));
  b.roles["current"] = fixed_roles(n, {1, 2, 3, 4, 5});
  b.roles["previous"] = fixed_roles(n, {0, 1, 2, 3, 4});
  b.roles["last"] = fixed_role(n, kCtx - 1);
  b.roles["before_last"] = fixed_role(n, kCtx - 2);
  b.classes["first_token"] = tokens.select(1, 0).clone();
  return b;
}

inline Task previous_token_task() {
  Task t;
  t.name = "previous_token";
  t.alias = "T0";
  t.classes = {{"first_token", true, {}}};
  t.config = [](Scale) { return previous_token_config(); };
  t.sample = [](int64_t n, uint64_t seed, Scale) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> values(static_cast<std::size_t>(n * kCtx));
    for (auto& v : values) v = uniform_int(rng, kVocab);
    return previous_token_batch(to_tensor(values, {n, kCtx}));
  };
  t.domain_size = 4096;
  t.domain_batch = [](int64_t start, int64_t count) {
    std::vector<int64_t> values;
    for (int64_t i = start; i < start + count; ++i)
      for (int64_t p = kCtx - 1; p >= 0; --p) values.push_back((i >> (2 * p)) & 3);
    return previous_token_batch(to_tensor(values, {count, kCtx}));
  };
  return t;
}

}  // namespace circuitcheck
