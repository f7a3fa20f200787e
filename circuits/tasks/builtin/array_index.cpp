#include "circuits/tasks/builtin/array_index.h"

#include <array>

namespace circuitcheck {
namespace {

constexpr int64_t kValues = 50;
constexpr int64_t kBos = 50;
constexpr int64_t kNewline = 51;
constexpr int64_t kListLen = 3;
constexpr int64_t kPos = 11;
constexpr int64_t kIdxPos = 5;
constexpr int64_t kEltPos = 6;
const WordVocab kVocab{kValues, {"BOS", "\\n"}};

struct Example {
  std::array<int64_t, kListLen> a{};
  int64_t idx = 0;
  int64_t elt = 0;
};

Config array_index_config() {
  return config_from_json(
      {{"n_layers", 2}, {"n_heads", 1}, {"d_model", 128}, {"d_head", 128}, {"attn_only", true},
       {"normalization_type", nullptr}, {"positional_embedding_type", "shortformer"},
       {"d_vocab", kValues + 2}, {"d_vocab_out", kValues}, {"n_ctx", kPos}, {"attention_dir", "causal"}},
      "array_index config");
}

Batch make_batch(const std::vector<Example>& examples) {
  const auto n = static_cast<int64_t>(examples.size());
  std::vector<int64_t> tokens(n * kPos), targets(n * kPos, -1), idx(n);
  std::array<std::vector<int64_t>, kListLen> source;
  for (auto& s : source) s.resize(n);
  for (int64_t e = 0; e < n; ++e) {
    const Example& x = examples[e];
    int64_t* t = &tokens[e * kPos];
    t[0] = kBos;
    t[4] = kNewline;
    t[kIdxPos] = x.idx;
    t[kEltPos] = x.elt;
    t[7] = kNewline;
    for (int64_t i = 0; i < kListLen; ++i) {
      t[1 + i] = x.a[i];
      t[8 + i] = i == x.idx ? x.elt : x.a[i];
      targets[e * kPos + 7 + i] = t[8 + i];
      source[i][e] = i == x.idx ? kEltPos : 1 + i;
    }
    idx[e] = x.idx;
  }
  Batch batch;
  batch.tokens = to_tensor(tokens, {n, kPos});
  batch.targets = to_tensor(targets, {n, kPos});
  batch.roles = {{"idx", fixed_role(n, kIdxPos)}, {"elt", fixed_role(n, kEltPos)}};
  for (int64_t i = 0; i < kListLen; ++i) {
    const std::string s = std::to_string(i);
    batch.roles["a" + s] = fixed_role(n, 1 + i);
    batch.roles["b" + s] = fixed_role(n, 8 + i);
    batch.roles["predict_b" + s] = fixed_role(n, 7 + i);
    batch.roles["source_of_b" + s] = to_tensor(source[i], {n});
  }
  batch.classes["idx"] = to_tensor(idx, {n});
  return batch;
}

Batch draw(Rng& rng, int64_t n) {
  check_sample_size(n, "sample(array_index)");
  std::vector<Example> examples(n);
  for (Example& x : examples) {
    for (int64_t& v : x.a) v = uniform_int(rng, kValues);
    x.idx = uniform_int(rng, kListLen);
    x.elt = uniform_int(rng, kValues);
  }
  return make_batch(examples);
}

Batch domain_batch(int64_t start, int64_t count) {
  check_domain_range(start, count, kArrayIndexDomainSize, "domain_batch(array_index)");
  std::vector<Example> examples(count);
  for (int64_t e = 0; e < count; ++e) {
    int64_t i = start + e;
    Example& x = examples[e];
    x.elt = i % kValues;
    i /= kValues;
    x.idx = i % kListLen;
    i /= kListLen;
    for (int64_t k = kListLen - 1; k >= 0; --k) {
      x.a[k] = i % kValues;
      i /= kValues;
    }
  }
  return make_batch(examples);
}

}  // namespace

Task array_index_task() {
  Task task;
  task.name = "array_index";
  task.alias = "S2";
  task.classes = {{"idx", true, {}}};
  task.config = [](Scale) { return array_index_config(); };
  task.draw = [](Rng& rng, int64_t n, Scale) { return draw(rng, n); };
  task.sample = seeded(task.draw);
  task.domain_size = kArrayIndexDomainSize;
  task.domain_batch = domain_batch;
  task.detokenize = [](const at::Tensor& row) { return detokenize_words(kVocab, row, "detokenize(array_index)"); };
  task.tokenize = [](const std::string& text) { return tokenize_words(kVocab, text, "tokenize(array_index)"); };
  task.answer_role_prefix = "predict_";
  TaskRecipe& r = task.recipe;
  r.steps = 5000; r.batch_size = 256; r.weight_decay = 1e-2; r.beta2 = 0.98; r.warmup_steps = 200;
  r.schedule = "cosine"; r.min_lr_ratio = 0.1;
  return task;
}

}  // namespace circuitcheck
