#include "circuits/tasks/builtin/modular_addition.h"

#include "circuits/formats/error.h"

#include <algorithm>

namespace circuitcheck {
namespace {

const WordVocab kVocab{kModulus, {"="}};
constexpr int64_t kPos = 3;

Config modular_addition_config() {
  return config_from_json(
      {{"n_layers", 1}, {"n_heads", 4}, {"d_model", 128}, {"d_head", 32}, {"d_mlp", 512},
       {"act_fn", "relu"}, {"normalization_type", nullptr}, {"d_vocab", kModulus + 1},
       {"d_vocab_out", kModulus}, {"n_ctx", kPos}, {"positional_embedding_type", "standard"},
       {"attention_dir", "causal"}},
      "modular_addition config");
}

Batch batch_of_pairs(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const auto n = static_cast<int64_t>(a.size());
  std::vector<int64_t> tokens(n * kPos), targets(n * kPos, -1);
  for (int64_t i = 0; i < n; ++i) {
    tokens[i * kPos] = a[i];
    tokens[i * kPos + 1] = b[i];
    tokens[i * kPos + 2] = kModulus;
    targets[i * kPos + 2] = (a[i] + b[i]) % kModulus;
  }
  Batch batch;
  batch.tokens = to_tensor(tokens, {n, kPos});
  batch.targets = to_tensor(targets, {n, kPos});
  batch.roles = {{"a", fixed_role(n, 0)}, {"b", fixed_role(n, 1)}, {"equals", fixed_role(n, 2)}};
  return batch;
}

Batch draw(Rng& rng, int64_t n) {
  check_sample_size(n, "sample(modular_addition)");
  std::vector<int64_t> a(n), b(n);
  for (int64_t i = 0; i < n; ++i) {
    a[i] = uniform_int(rng, kModulus);
    b[i] = uniform_int(rng, kModulus);
  }
  return batch_of_pairs(a, b);
}

std::vector<int64_t> shuffled_domain(uint64_t seed) {
  std::vector<int64_t> indices(kModularAdditionDomainSize);
  for (int64_t i = 0; i < kModularAdditionDomainSize; ++i) indices[i] = i;
  Rng rng(seed);
  shuffle(indices, rng);
  return indices;
}

constexpr int64_t kTrainSize = kModularAdditionDomainSize * 3 / 10;

}  // namespace

Batch modular_addition_batch(const std::vector<int64_t>& indices) {
  std::vector<int64_t> a, b;
  a.reserve(indices.size());
  b.reserve(indices.size());
  for (int64_t index : indices) {
    check(index >= 0 && index < kModularAdditionDomainSize, "modular_addition_batch",
          "domain index " + std::to_string(index) + " is outside [0, " +
              std::to_string(kModularAdditionDomainSize) + ")");
    a.push_back(index / kModulus);
    b.push_back(index % kModulus);
  }
  return batch_of_pairs(a, b);
}

std::vector<int64_t> train_indices(uint64_t seed) {
  std::vector<int64_t> indices = shuffled_domain(seed);
  indices.resize(kTrainSize);
  std::sort(indices.begin(), indices.end());
  return indices;
}

std::vector<int64_t> test_indices(uint64_t seed) {
  std::vector<int64_t> indices = shuffled_domain(seed);
  indices.erase(indices.begin(), indices.begin() + kTrainSize);
  std::sort(indices.begin(), indices.end());
  return indices;
}

Task modular_addition_task() {
  Task task;
  task.name = "modular_addition";
  task.alias = "S1";
  task.config = [](Scale) { return modular_addition_config(); };
  task.draw = [](Rng& rng, int64_t n, Scale) { return draw(rng, n); };
  task.sample = seeded(task.draw);
  task.domain_size = kModularAdditionDomainSize;
  task.domain_batch = [](int64_t start, int64_t count) {
    check_domain_range(start, count, kModularAdditionDomainSize, "domain_batch(modular_addition)");
    std::vector<int64_t> indices(count);
    for (int64_t i = 0; i < count; ++i) indices[i] = start + i;
    return modular_addition_batch(indices);
  };
  task.detokenize = [](const at::Tensor& row) {
    return detokenize_words(kVocab, row, "detokenize(modular_addition)");
  };
  task.tokenize = [](const std::string& text) {
    return tokenize_words(kVocab, text, "tokenize(modular_addition)");
  };
  task.cyclic = Cyclic{kModulus};
  // Nanda et al.: full batch of the 30 % training split, AdamW wd 1.0, biases frozen.
  TaskRecipe& r = task.recipe;
  r.steps = 40000; r.batch_size = 0; r.weight_decay = 1.0; r.beta2 = 0.98; r.warmup_steps = 10;
  r.freeze_biases = true; r.stop_test_loss = 1e-6; r.eval_every = 50;
  task.split = [](uint64_t seed, bool held_out) {
    return modular_addition_batch(held_out ? test_indices(seed) : train_indices(seed));
  };
  return task;
}

}  // namespace circuitcheck
