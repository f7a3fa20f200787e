// The scrubbing kind (kinds/scrubbing_claim.h) on the shipped S2 model: layer
// 0's output at elt depends on idx alone (resampling it from an example with
// the same idx keeps the loss), layer 1's output at the answers does not
// (it depends on a and elt too), and at random init no site matters.
#include "circuits/claims/claim.h"
#include "circuits/claims/domain.h"
#include "circuits/claims/kinds/scrubbing_claim.h"
#include "circuits/claims/verify.h"
#include "circuits/model/checkpoint.h"
#include "circuits/tasks/evaluate.h"
#include "tests/claims/claim_test_util.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <map>

namespace circuitcheck {
namespace {

using nlohmann::json;

json scrubbing(const json& sites) {
  return {{"id", "scrub"},    {"hypothesis", "h"}, {"kind", "scrubbing"}, {"sites", sites},
          {"domain", {{"sample", 1000}, {"seed", 4}}}, {"pass", {{"value_at_least", 0.9}}}};
}

json s2_file(const json& claim) { return testing_util::system_claim_file("array_index", json::array({claim})); }

TEST(ShippedScrubbing, LayerZeroAtEltDependsOnIdxAloneAndLayerOneDoesNot) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  const auto verify = [&](const json& sites) {
    const ClaimFile file = parse_claim_file(s2_file(scrubbing(sites)), "claims/s2.json");
    const std::shared_ptr<const Task> task = claim_task(file);
    ControlCache controls{&ck.model, {}};
    return verify_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, controls);
  };
  const ClaimResult elt =
      verify({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {6}}, {"feature", "idx"}}});
  EXPECT_EQ(elt.verdict, Verdict::kPass) << elt.explanation;
  EXPECT_GT(testing_util::check_named(elt.checkpoint, "loss recovered").value, 0.95) << elt.explanation;
  EXPECT_GT(testing_util::check_named(elt.checkpoint, "loss random").value, 5.0);
  EXPECT_FALSE(testing_util::check_named(elt.controls.at(0), "loss recovered").undefined.empty())
      << elt.controls.at(0).explanation;  // random init: resampling changes nothing
  const ClaimResult answers =
      verify({{{"hook", "blocks.1.attn.hook_z"}, {"heads", {0}}, {"positions", {7, 8, 9}}, {"feature", "idx"}}});
  EXPECT_EQ(answers.verdict, Verdict::kFail);
  EXPECT_LT(testing_util::check_named(answers.checkpoint, "loss recovered").value, 0.1) << answers.explanation;
  // The same draws on a second run: the same verdicts and values.
  const ClaimResult again =
      verify({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {6}}, {"feature", "idx"}}});
  EXPECT_EQ(testing_util::check_named(again.checkpoint, "loss recovered").value,
            testing_util::check_named(elt.checkpoint, "loss recovered").value);
}

// At random init the random resample raises the loss by about 1e-4 nats of
// 3.9: on the shipped claim's 2,000 examples drawn with seed 96802511 that gap
// is significant, and its ratio was noise (0.32, bootstrap interval from
// -1.04 up past the threshold), an inconclusive control. Below 1 % of
// L_random the sites do not matter, the check is undefined, and the control
// fails as it must.
TEST(ShippedScrubbing, ANegligibleGapAtRandomInitLeavesTheRatioUndefined) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  json claim = scrubbing({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {6}}, {"feature", "idx"}}});
  claim["domain"] = {{"sample", 2000}, {"seed", 96802511}};
  const ClaimFile file = parse_claim_file(s2_file(claim), "claims/s2.json");
  const std::shared_ptr<const Task> task = claim_task(file);
  ControlCache controls{&ck.model, {}};
  const ClaimResult r = verify_claim(*task, parse_claims(file, *task, ck.model.config).at(0), ck.model, controls);
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.explanation;
  const Outcome& random = r.controls.at(0);
  const double gap = testing_util::check_named(random, "loss random").value - testing_util::check_named(random, "loss model").value;
  EXPECT_GT(gap, 0.0);
  EXPECT_LT(gap, 0.01 * testing_util::check_named(random, "loss random").value);
  EXPECT_FALSE(testing_util::check_named(random, "loss recovered").undefined.empty()) << random.explanation;
}

// Donors come from the example's slice: an example whose feature value no
// other example there has keeps its own activation, and the share of such
// pairs is reported (review of issue 21: they counted as recovered unseen).
// On 4 examples some idx value stands alone; on 1,000 none does.
TEST(ShippedScrubbing, OwnDonorsAreCountedAndReported) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors");
  for (int64_t sample : {4, 1000}) {
    SCOPED_TRACE(sample);
    json claim = scrubbing({{{"hook", "blocks.0.attn.hook_z"}, {"heads", {0}}, {"positions", {6}}, {"feature", "idx"}}});
    claim["domain"] = {{"sample", sample}, {"seed", 4}};
    const ClaimFile file = parse_claim_file(s2_file(claim), "claims/s2.json");
    const std::shared_ptr<const Task> task = claim_task(file);
    const Claim parsed = parse_claims(file, *task, ck.model.config).at(0);
    int64_t alone = 0, pairs = 0;
    for_each_slice(*task, parsed.domain, Scale::kCpu, kVerifyBatch, [&](const Batch& b) {
      std::map<int64_t, int64_t> count;
      for (int64_t i = 0; i < b.tokens.size(0); ++i) ++count[b.classes.at("idx")[i].item<int64_t>()];
      for (const auto& [value, n] : count) alone += n == 1 ? 1 : 0;
      pairs += b.tokens.size(0);
    });
    const Outcome out = run_claim(*task, parsed, ck.model, "checkpoint");
    const Check& own = testing_util::check_named(out, "own donors");
    EXPECT_DOUBLE_EQ(own.value, static_cast<double>(alone) / static_cast<double>(pairs));
    EXPECT_NE(own.explanation.find("(" + std::to_string(alone) + " of " + std::to_string(pairs) + ")"), std::string::npos)
        << own.explanation;
    if (sample == 4) EXPECT_GT(alone, 0);
    else EXPECT_EQ(alone, 0);
  }
}

TEST(ScrubbingClaim, BadSitesNameTheirPointer) {
  const Config config = load_checkpoint(testing_util::source_dir() + "/checkpoints/array_index.safetensors").model.config;
  struct Case {
    const char* name;
    json site;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"no feature", {{"hook", "blocks.0.attn.hook_z"}}, "/claims/0/sites/0/feature: missing field 'feature'"},
      {"a feature that is not a class", {{"hook", "blocks.0.attn.hook_z"}, {"feature", "elt"}},
       "/claims/0/sites/0/feature: unknown class 'elt'"},
      {"an unknown field", {{"hook", "blocks.0.attn.hook_z"}, {"feature", "idx"}, {"layer", 0}},
       "/claims/0/sites/0/layer: unknown field"},
      {"not an object", "blocks.0.attn.hook_z", "/claims/0/sites/0: expected an object"},
  };
  for (const Case& c : cases) {
    const std::string error =
        testing_util::claim_parse_error(s2_file(scrubbing(json::array({c.site}))), "claims/s2.json", config);
    EXPECT_NE(error.find("claims/s2.json: " + c.error), std::string::npos) << c.name << ": " << error;
  }
}

}  // namespace
}  // namespace circuitcheck
