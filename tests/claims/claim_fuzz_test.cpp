// Fuzzing the claim parser with RapidCheck: random edits of the shipped claim
// files (a value replaced by a value of another type or range, a field
// removed, an unknown field added, the text cut or a byte changed) must give
// either claims or one InputError, never a crash, a hang or another exception.
// ctest runs it for CIRCUITCHECK_FUZZ_SECONDS (default 10); the 5-minute run:
//   CIRCUITCHECK_FUZZ_SECONDS=300 build/tests/claims_tests --gtest_filter='ClaimFuzz.*'
#include "circuits/claims/claim.h"
#include "circuits/formats/error.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace circuitcheck {
namespace {

using nlohmann::json;

struct Shipped {
  std::string path;
  json document;
};

std::vector<Shipped> shipped_claim_files() {
  std::vector<Shipped> out;
  for (const auto& entry : std::filesystem::directory_iterator(testing_util::source_dir() + "/claims"))
    if (entry.path().extension() == ".json")
      out.push_back({entry.path().string(), json::parse(testing_util::read_file(entry.path().string()))});
  std::sort(out.begin(), out.end(), [](const Shipped& a, const Shipped& b) { return a.path < b.path; });
  return out;
}

// Every JSON pointer inside `v`.
void pointers(const json& v, const std::string& at, std::vector<std::string>& out) {
  out.push_back(at);
  if (v.is_object())
    for (const auto& [key, value] : v.items()) pointers(value, at + "/" + key, out);
  if (v.is_array())
    for (std::size_t i = 0; i < v.size(); ++i) pointers(v[i], at + "/" + std::to_string(i), out);
}

rc::Gen<json> gen_value() {
  const std::vector<std::string> words = {
      "behaviour", "attention", "ablation", "probe", "patching", "fourier", "spectrum", "geometry", "accuracy",
      "loss", "zero", "mean", "resid_pre", "mlp_out", "hook_embed", "blocks.0.hook_resid_post",
      "blocks.1.attn.hook_z", "blocks.9.attn.hook_pattern", "embed.W_E", "unembed.W_U", "idx", "elt", "a", "b",
      "edge_child", "edge_parent", "depth", "random_init", "shuffled_embed", "zero:embed.W_E", "zero:x/99",
      "clopper_pearson", "", "~1/", "\xff\xfe"};
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t x) { return json(x); }),
      rc::gen::map(rc::gen::inRange<int>(-3, 70), [](int x) { return json(x); }),
      rc::gen::map(rc::gen::arbitrary<double>(), [](double x) { return std::isfinite(x) ? json(x) : json(1e308); }),
      rc::gen::map(rc::gen::inRange(0, 1000), [](int x) { return json(x / 500.0 - 0.5); }),
      rc::gen::map(rc::gen::elementOf(words), [](const std::string& s) { return json(s); }),
      rc::gen::map(rc::gen::arbitrary<std::string>(), [](const std::string& s) { return json(json::string_t(s)); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json(b); }),
      rc::gen::just(json(nullptr)), rc::gen::just(json::array()), rc::gen::just(json::object()),
      rc::gen::map(rc::gen::container<std::vector<int>>(rc::gen::inRange(-2, 20)), [](const std::vector<int>& v) { return json(v); }),
      rc::gen::just(json{{"sample", 10}, {"seed", 1}}), rc::gen::just(json{{"exhaustive", true}}));
}

// Parses `document` as `path`; true when it parsed, false on InputError; anything else escapes.
bool parses(const json& document, const std::string& path) {
  try {
    const ClaimFile file = parse_claim_file(document, path);
    const auto task = claim_task(file);
    parse_claims(file, *task, task->config(Scale::kCpu));
    return true;
  } catch (const InputError& e) {
    RC_ASSERT(std::string(e.what()).rfind(path, 0) == 0);  // names the file first
    return false;
  }
}

double fuzz_seconds() {
  const char* env = std::getenv("CIRCUITCHECK_FUZZ_SECONDS");
  return env ? std::atof(env) : 10.0;
}

// Runs `property` over and over (RapidCheck's 100 cases each) until the time budget is spent.
void fuzz_for_budget(const std::string& name, const std::function<void()>& property) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(fuzz_seconds());
  int rounds = 0;
  do {
    ASSERT_TRUE(rc::check(name, property)) << "after " << rounds << " rounds";
    ++rounds;
  } while (std::chrono::steady_clock::now() < end);
}

TEST(ClaimFuzz, EditedDocumentsParseOrFailWithOneInputError) {
  const std::vector<Shipped> files = shipped_claim_files();
  ASSERT_FALSE(files.empty());
  fuzz_for_budget("edited claim documents", [&] {
    const Shipped& f = *rc::gen::elementOf(files);
    json document = f.document;
    const int edits = *rc::gen::inRange(1, 4);
    for (int e = 0; e < edits; ++e) {
      std::vector<std::string> all;
      pointers(document, "", all);
      const json::json_pointer at(*rc::gen::elementOf(all));
      const int how = *rc::gen::inRange(0, 3);
      if (how == 0 || at.empty()) {
        document[at] = *gen_value();
      } else if (how == 1) {
        json& parent = document[at.parent_pointer()];
        if (parent.is_object()) parent.erase(at.back());
        else parent.erase(static_cast<std::size_t>(std::stoul(at.back())));
      } else {
        json& parent = document[at.parent_pointer()];
        if (parent.is_object()) parent[*rc::gen::elementOf(std::vector<std::string>{"extra", "heads", "sweep", "label"})] = *gen_value();
        else parent.push_back(*gen_value());
      }
    }
    parses(document, f.path);
  });
}

TEST(ClaimFuzz, DamagedTextReadsOrFailsWithOneInputError) {
  const std::vector<Shipped> files = shipped_claim_files();
  const std::string dir = testing_util::scratch_dir("claim_fuzz");
  fuzz_for_budget("damaged claim text", [&] {
    const Shipped& f = *rc::gen::elementOf(files);
    std::string text = testing_util::read_file(f.path);
    const std::size_t at = *rc::gen::inRange<std::size_t>(0, text.size());
    if (*rc::gen::arbitrary<bool>())
      text.resize(at);
    else
      text[at] = static_cast<char>(*rc::gen::arbitrary<unsigned char>());
    const std::string path = dir + "/" + std::filesystem::path(f.path).filename().string();
    testing_util::write_file(path, text);
    try {
      const ClaimFile file = read_claim_file(path);
      const auto task = claim_task(file);
      parse_claims(file, *task, task->config(Scale::kCpu));
    } catch (const InputError& e) {
      RC_ASSERT(std::string(e.what()).find(path) != std::string::npos);
    }
  });
}

}  // namespace
}  // namespace circuitcheck
