#include "circuits/claims/kinds/property_claim.h"

#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"
#include "circuits/claims/stats.h"

#include <ATen/Parallel.h>
#include <rapidcheck.h>

#include <iostream>
#include <limits>
#include <optional>

namespace circuitcheck {
namespace {

// One generated example: the choices its Rng returned (replayed, then from
// `seed`'s stream), the example they draw and its text.
struct Case {
  std::vector<int64_t> choices;
  uint64_t seed = 0;
  Batch batch;  // [1, pos]
  std::string text;
};

void showValue(const Case& c, std::ostream& os) { os << c.text; }

Case draw_case(const Task& task, Scale scale, std::vector<int64_t> choices, uint64_t seed) {
  Rng rng(std::move(choices), seed);
  Batch b = task.draw(rng, 1, scale);
  std::string text = task.detokenize(b.tokens[0]);
  return {rng.choices(), seed, std::move(b), std::move(text)};
}

bool shortlex_less(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

bool in_domain(const Batch& b, const Domain& domain) {
  return domain.where.empty() || b.classes.at(domain.where)[0].item<int64_t>() == domain.where_value;
}

// [k] positions of a [1] or [1, k] role.
std::vector<int64_t> positions(const Batch& b, const std::string& role) {
  const at::Tensor r = b.roles.at(role)[0].reshape({-1}).contiguous();
  return {r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()};
}

// Why the predicate fails on one example (empty when it holds).
std::string violation(const Task& task, const PropertySpec& p, const Batch& b, const at::Tensor& logits) {
  const at::Tensor l = logits[0].to(at::kDouble).cpu();  // [pos, d_vocab_out]
  const at::Tensor tokens = b.tokens[0];
  std::vector<std::pair<int64_t, int64_t>> expected;  // (position read, expected token)
  if (p.predicate == "correct") {
    const at::Tensor t = b.targets[0];
    for (int64_t pos = 0; pos < t.size(0); ++pos)
      if (t[pos].item<int64_t>() >= 0) expected.emplace_back(pos, t[pos].item<int64_t>());
  } else {
    const std::vector<int64_t> q = positions(b, p.query), s = positions(b, p.source);
    for (std::size_t k = 0; k < q.size(); ++k) {
      const int64_t from = s.size() == 1 ? s[0] : s[k];
      if (q[k] >= 0 && from >= 0) expected.emplace_back(q[k], tokens[from].item<int64_t>());
    }
  }
  auto word = [&](int64_t token) { return "'" + detokenize_predicted(task, {token}) + "'"; };
  for (const auto& [pos, want] : expected) {
    const at::Tensor row = l[pos];
    const int64_t got = row.argmax().item<int64_t>();
    if (want >= row.size(0)) return "position " + std::to_string(pos) + ": expected " + word(want) + ", which the model cannot predict";
    at::Tensor others = row.clone();
    others[want] = -std::numeric_limits<double>::infinity();
    const double margin = row[want].item<double>() - others.max().item<double>();
    if (got != want || margin <= p.margin)
      return "position " + std::to_string(pos) + ": predicted " + word(got) + ", expected " + word(want) +
             " (logit margin " + number(margin) + (p.margin > 0 ? ", needs > " + number(p.margin) : "") + ")";
  }
  return "";
}

class ShrinkCount : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool ok) override {
    ++tried;
    accepted += ok ? 1 : 0;
  }
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
  int tried = 0, accepted = 0;
};

// RapidCheck prints "Using configuration: seed=<random>" when it first loads
// its defaults, which property claims never use (their seed is the claim's);
// they are loaded once with std::cerr silenced.
void load_rapidcheck_defaults() {
  static const bool loaded = [] {
    std::streambuf* saved = std::cerr.rdbuf(nullptr);
    rc::detail::configuration();
    std::cerr.rdbuf(saved);
    return true;
  }();
  (void)loaded;
}

// The check of a property's RapidCheck result; a shrunk counterexample goes
// to `counterexamples`.
Check property_check(const rc::detail::TestResult& result, const Domain& domain, const ShrinkCount& counter,
                     std::vector<std::string>& counterexamples) {
  const std::string seed = "RapidCheck seed " + std::to_string(domain.seed);
  Check c;
  c.name = "property";
  c.rule = Rule::kForAll;
  c.threshold = 1.0;
  c.basis = Basis::kExact;
  rc::detail::SuccessResult success;
  rc::detail::FailureResult failure;
  rc::detail::GaveUpResult gave_up;
  if (result.match(success)) {
    c.successes = c.trials = success.numSuccess;
    c.pass = true;
    c.explanation = "held on all " + std::to_string(c.trials) + " generated examples (" + seed +
                    "; Clopper-Pearson 95% upper bound on the failure rate " +
                    percent(clopper_pearson_upper_bound(0, c.trials)) + "): pass";
  } else if (result.match(failure)) {
    c.successes = failure.numSuccess;
    c.trials = failure.numSuccess + 1;
    const std::string text = failure.counterExample.empty() ? "" : failure.counterExample.front().second;
    counterexamples.push_back(text + "  (" + failure.description + ")");
    c.explanation = "failed on generated example " + std::to_string(c.trials) + " of " +
                    std::to_string(domain.sample) + " (" + seed + "), shrunk in " +
                    std::to_string(counter.accepted) + " steps (" + std::to_string(counter.tried) +
                    " tried) to " + text + ": " + failure.description + ": fail";
  } else {
    result.match(gave_up);
    c.successes = c.trials = gave_up.numSuccess;
    c.explanation = "gave up after " + std::to_string(c.trials) + " examples: " + gave_up.description + ": fail";
  }
  c.value = c.trials ? static_cast<double>(c.successes) / static_cast<double>(c.trials) : 0.0;
  c.bound = c.other_bound = c.value;
  return c;
}

}  // namespace

void parse_property(const nlohmann::json& v, const At& at, const ParseContext& context, Claim& claim) {
  const Task& task = context.task;
  const Batch& sample = context.sample;
  if (!task.draw)
    at.fail(task.dataset_rows ? "'" + task.name + "' is a dataset; property claims need a task that generates examples"
                              : "system '" + task.name + "' has no generator to draw property examples from");
  PropertySpec& p = claim.spec.emplace<PropertySpec>();
  const At pred = at / "predicate";
  check_object(v["predicate"], pred, {"correct", "copies"}, {});
  if (v["predicate"].size() != 1) pred.fail("expected exactly one of correct, copies");
  if (v["predicate"].contains("correct")) {
    if (v["predicate"]["correct"] != true) (pred / "correct").fail("must be true");
    p.predicate = "correct";
  } else {
    const At copies = pred / "copies";
    check_object(v["predicate"]["copies"], copies, {"query", "source"}, {"query", "source"});
    const at::Tensor& query = role_at(v["predicate"]["copies"]["query"], copies / "query", sample);
    const at::Tensor& source = role_at(v["predicate"]["copies"]["source"], copies / "source", sample);
    p.predicate = "copies";
    p.query = v["predicate"]["copies"]["query"].get<std::string>();
    p.source = v["predicate"]["copies"]["source"].get<std::string>();
    check_pairs(source, p.source, query, p.query, copies / "source");
  }
  if (v.contains("margin")) {
    p.margin = number_at(v["margin"], at / "margin");
    if (!(p.margin >= 0)) (at / "margin").fail("must be >= 0 (logits)");
  }
  claim.domain = domain_at(v["domain"], at / "domain", task, false);
  check_object(v["pass"], at / "pass", {"for_all"}, {"for_all"});
  if (v["pass"]["for_all"] != true) (at / "pass" / "for_all").fail("must be true: a property holds on every example");
  claim.pass.for_all = true;
}

void run_property(const RunContext& context, const Claim& claim, Outcome& out) {
  const Task& task = context.task;
  const HookedTransformer& model = context.model;
  const Scale scale = context.scale;
  const PropertySpec& p = spec_of<PropertySpec>(claim.spec);
  const Domain& domain = claim.domain;
  const auto shrinks = [&task, scale, &domain](const Case& c) {
    auto smaller = rc::shrink::eachElement(c.choices, [](int64_t x) { return rc::shrink::towards<int64_t>(x, 0); });
    auto drawn = rc::seq::map(std::move(smaller), [&task, scale, seed = c.seed](std::vector<int64_t> choices) {
      return draw_case(task, scale, std::move(choices), seed);
    });
    // Replaying a smaller choice can change what later draws mean (and draw past the end), so
    // only candidates smaller in shortlex order are kept: shrinking always terminates.
    // The sequence is lazy and outlives this call: it keeps its own copy of the choices.
    return rc::seq::filter(std::move(drawn), [&domain, choices = c.choices](const Case& d) {
      return shortlex_less(d.choices, choices) && in_domain(d.batch, domain);
    });
  };
  // An example of the domain (the property reports an error when 1,000 draws find none).
  const rc::Gen<Case> gen([&](const rc::Random& random, int) {
    rc::Random r = random;
    Case d = draw_case(task, scale, {}, r.next());
    for (int attempt = 1; attempt < 1000 && !in_domain(d.batch, domain); ++attempt)
      d = draw_case(task, scale, {}, r.next());
    return rc::shrinkable::shrinkRecur(std::move(d), shrinks);
  });
  std::optional<InputError> error;  // bad input stops the run; it is not a counterexample
  const auto property = rc::detail::toProperty([&] {
    const Case c = *gen;
    std::string why;
    try {
      if (!in_domain(c.batch, domain))
        fail("run_property", claim.id + ": no example of " + task.name + " with " + domain.where + " = " +
                                 std::to_string(domain.where_value) + " in 1000 draws");
      why = violation(task, p, c.batch, forward(model, c.batch.tokens));
    } catch (const InputError& e) {
      error = e;
    }
    if (!why.empty()) throw rc::detail::CaseResult(rc::detail::CaseResult::Type::Failure, why);
  });
  load_rapidcheck_defaults();
  // One example per forward pass is too small to split across threads; handing
  // each op to a second thread only adds waiting (10x slower on a busy machine).
  struct OneThread {
    int saved = at::get_num_threads();
    OneThread() { at::set_num_threads(1); }
    ~OneThread() { at::set_num_threads(saved); }
  } one_thread;
  rc::detail::TestParams params;
  params.seed = domain.seed;
  params.maxSuccess = static_cast<int>(domain.sample);
  ShrinkCount counter;
  const rc::detail::TestResult result = rc::detail::checkProperty(property, rc::detail::TestMetadata{}, params, counter);
  if (error) throw *error;

  out.checks.push_back(property_check(result, domain, counter, out.counterexamples));
}

}  // namespace circuitcheck
