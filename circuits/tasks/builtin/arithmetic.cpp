#include "circuits/tasks/builtin/arithmetic.h"

#include <algorithm>
#include <array>

namespace circuitcheck {
namespace {

const std::string kAlphabet = "0123456789+-=*\\";
constexpr int64_t kPlus = 10;
constexpr int64_t kMinus = 11;
constexpr int64_t kEquals = 12;
constexpr int64_t kDigits = 6;
constexpr int64_t kAnswerDigits = kDigits + 1;
constexpr int64_t kPos = 2 * kDigits + 2 + 1 + kAnswerDigits;  // 22
constexpr int64_t kOperatorPos = kDigits;                     // 6
constexpr int64_t kEqualsPos = 2 * kDigits + 1;               // 13
constexpr int64_t kMaxOperand = 999999;
constexpr int64_t kAddPercent = 20;
constexpr int64_t kHardPercent = 40;

using Digits = std::array<int64_t, kDigits>;  // index i is the digit of 10^i

struct Question {
  int64_t x = 0;
  int64_t y = 0;
  bool sub = false;
};

Config arithmetic_config(Scale scale) {
  const bool seed = scale == Scale::kSeed;
  return config_from_json(
      {{"n_layers", 3}, {"n_heads", 4}, {"d_model", seed ? 510 : 128}, {"d_head", seed ? 170 : 32},
       {"d_mlp", seed ? 2040 : 512}, {"act_fn", "relu"}, {"normalization_type", "LN"},
       {"positional_embedding_type", "standard"}, {"attention_dir", "causal"},
       {"d_vocab", static_cast<int64_t>(kAlphabet.size())}, {"d_vocab_out", static_cast<int64_t>(kAlphabet.size())},
       {"n_ctx", kPos}},
      "arithmetic config");
}

Digits digits_of(int64_t value) {
  Digits d{};
  for (int64_t i = 0; i < kDigits; ++i, value /= 10) d[i] = value % 10;
  return d;
}

int64_t value_of(const Digits& d) {
  int64_t value = 0;
  for (int64_t i = kDigits - 1; i >= 0; --i) value = value * 10 + d[i];
  return value;
}

// Digits from .. to - 1 of both operands: uniform.
void fill_uniform(Rng& rng, Digits& a, Digits& b, int64_t from, int64_t to) {
  for (int64_t i = from; i < to; ++i) {
    a[i] = uniform_int(rng, 10);
    b[i] = uniform_int(rng, 10);
  }
}

// A carry made at digit j that cascades through the digits j+1 .. j+len (sum 9).
Question hard_addition(Rng& rng) {
  Digits a{}, b{};
  const int64_t j = uniform_int(rng, 0, kDigits - 2);
  const int64_t len = uniform_int(rng, 1, kDigits - 1 - j);
  fill_uniform(rng, a, b, 0, j);
  a[j] = uniform_int(rng, 1, 9);
  b[j] = uniform_int(rng, 10 - a[j], 9);
  for (int64_t i = j + 1; i <= j + len; ++i) {
    a[i] = uniform_int(rng, 10);
    b[i] = 9 - a[i];
  }
  fill_uniform(rng, a, b, j + len + 1, kDigits);
  return {value_of(a), value_of(b), false};
}

// In larger - smaller, a borrow made at digit j that cascades through the
// digits j+1 .. j+len (equal digits); some higher digit makes the minuend larger.
Question hard_subtraction(Rng& rng) {
  Digits m{}, s{};
  const int64_t j = uniform_int(rng, 0, kDigits - 3);
  const int64_t len = uniform_int(rng, 1, kDigits - 2 - j);
  const int64_t top = j + len + 1;
  fill_uniform(rng, m, s, 0, j);
  m[j] = uniform_int(rng, 0, 8);
  s[j] = uniform_int(rng, m[j] + 1, 9);
  for (int64_t i = j + 1; i < top; ++i) m[i] = s[i] = uniform_int(rng, 10);
  do {
    fill_uniform(rng, m, s, top, kDigits);
  } while (std::equal(m.begin() + top, m.end(), s.begin() + top));
  if (!std::lexicographical_compare(s.rbegin(), s.rend() - top, m.rbegin(), m.rend() - top))
    std::swap_ranges(m.begin() + top, m.end(), s.begin() + top);
  const bool negative = uniform_int(rng, 2) == 1;
  return negative ? Question{value_of(s), value_of(m), true} : Question{value_of(m), value_of(s), true};
}

Question draw_question(Rng& rng, bool hard) {
  const bool sub = uniform_int(rng, 100) >= kAddPercent;
  if (hard) return sub ? hard_subtraction(rng) : hard_addition(rng);
  const int64_t x = uniform_int(rng, kMaxOperand + 1);
  return {x, uniform_int(rng, kMaxOperand + 1), sub};
}

Batch make_batch(const std::vector<Question>& questions) {
  const auto n = static_cast<int64_t>(questions.size());
  std::vector<int64_t> tokens(n * kPos), targets(n * kPos, -1), op(n), negative(n), cascade(n);
  std::vector<int64_t> tricase(n * kDigits), carry(n * kAnswerDigits, 0), borrow(n * kAnswerDigits, 0);
  for (int64_t e = 0; e < n; ++e) {
    const Question& q = questions[e];
    const Digits x = digits_of(q.x), y = digits_of(q.y);
    const bool neg = q.sub && q.x < q.y;
    const int64_t answer = q.sub ? (neg ? q.y - q.x : q.x - q.y) : q.x + q.y;
    int64_t* t = &tokens[e * kPos];
    for (int64_t i = 0; i < kDigits; ++i) {
      t[kDigits - 1 - i] = x[i];
      t[kEqualsPos - 1 - i] = y[i];
      const int64_t sum = x[i] + y[i];
      tricase[e * kDigits + i] = q.sub ? (x[i] < y[i] ? 0 : x[i] == y[i] ? 1 : 2) : (sum < 9 ? 0 : sum == 9 ? 1 : 2);
    }
    t[kOperatorPos] = q.sub ? kMinus : kPlus;
    t[kEqualsPos] = kEquals;
    t[kEqualsPos + 1] = neg ? kMinus : kPlus;
    for (int64_t i = 0, rest = answer; i < kAnswerDigits; ++i, rest /= 10) t[kPos - 1 - i] = rest % 10;
    for (int64_t p = kEqualsPos; p < kPos - 1; ++p) targets[e * kPos + p] = t[p + 1];

    // Carries of x + y, or borrows of larger - smaller, per answer digit.
    const Digits& top = neg ? y : x;
    const Digits& bottom = neg ? x : y;
    std::vector<int64_t>& kind = q.sub ? borrow : carry;
    int64_t in = 0, chain = 0, longest = 0;
    for (int64_t i = 0; i < kDigits; ++i) {
      const int64_t made = q.sub ? top[i] < bottom[i] : top[i] + bottom[i] >= 10;
      const int64_t passed = in && (q.sub ? top[i] == bottom[i] : top[i] + bottom[i] == 9);
      const int64_t k = made ? 1 : passed ? 2 : 0;
      kind[e * kAnswerDigits + i + 1] = k;
      chain = k == 0 ? 0 : k == 1 ? 1 : chain + 1;
      longest = std::max(longest, chain);
      in = k != 0;
    }
    op[e] = q.sub;
    negative[e] = neg;
    cascade[e] = longest;
  }
  Batch batch;
  batch.tokens = to_tensor(tokens, {n, kPos});
  batch.targets = to_tensor(targets, {n, kPos});
  batch.roles = {{"operator", fixed_role(n, kOperatorPos)},
                 {"equals", fixed_role(n, kEqualsPos)},
                 {"sign", fixed_role(n, kEqualsPos + 1)},
                 {"predict_sign", fixed_role(n, kEqualsPos)}};
  for (int64_t i = 0; i < kDigits; ++i) {
    batch.roles["D" + std::to_string(i)] = fixed_role(n, kDigits - 1 - i);
    batch.roles["E" + std::to_string(i)] = fixed_role(n, kEqualsPos - 1 - i);
  }
  for (int64_t i = 0; i < kAnswerDigits; ++i) {
    batch.roles["A" + std::to_string(i)] = fixed_role(n, kPos - 1 - i);
    batch.roles["predict_A" + std::to_string(i)] = fixed_role(n, kPos - 2 - i);
  }
  batch.classes = {{"operator", to_tensor(op, {n})},
                   {"negative", to_tensor(negative, {n})},
                   {"tricase", to_tensor(tricase, {n, kDigits})},
                   {"carry_in", to_tensor(carry, {n, kAnswerDigits})},
                   {"borrow_in", to_tensor(borrow, {n, kAnswerDigits})},
                   {"cascade", to_tensor(cascade, {n})}};
  return batch;
}

Batch draw(Rng& rng, int64_t n) {
  check_sample_size(n, "sample(arithmetic)");
  std::vector<Question> questions(n);
  for (Question& q : questions) q = draw_question(rng, uniform_int(rng, 100) < kHardPercent);
  return make_batch(questions);
}

}  // namespace

Batch sample_hard(int64_t n, uint64_t seed) {
  check_sample_size(n, "sample_hard");
  Rng rng(seed);
  std::vector<Question> questions(n);
  for (Question& q : questions) q = draw_question(rng, true);
  return make_batch(questions);
}

Task arithmetic_task() {
  Task task;
  task.name = "arithmetic";
  task.alias = "S5";
  task.classes = {{"borrow_in", false, {"none", "borrow", "cascade"}},
                  {"carry_in", false, {"none", "carry", "cascade"}},
                  {"cascade", true, {}},
                  {"negative", true, {"positive", "negative"}},
                  {"operator", true, {"add", "sub"}},
                  {"tricase", false, {"T8", "T9", "T10"}}};
  task.config = arithmetic_config;
  task.draw = [](Rng& rng, int64_t n, Scale) { return draw(rng, n); };
  task.sample = seeded(task.draw);
  task.sample_hard = [](int64_t n, uint64_t seed, Scale) { return sample_hard(n, seed); };
  task.hard_name = "hard cascade cases";
  task.domain_batch = no_domain(task.name);
  task.detokenize = [](const at::Tensor& row) { return detokenize_chars(kAlphabet, row, "detokenize(arithmetic)"); };
  task.tokenize = [](const std::string& text) { return tokenize_chars(kAlphabet, text, "tokenize(arithmetic)"); };
  task.answer_role_prefix = "predict_";
  TaskRecipe& r = task.recipe;
  r.steps = 30000; r.batch_size = 64; r.weight_decay = 0.1; r.beta2 = 0.98; r.warmup_steps = 200;
  r.grad_clip = 1.0; r.schedule = "cosine"; r.min_lr_ratio = 0.1;
  return task;
}

}  // namespace circuitcheck
