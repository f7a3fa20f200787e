#include "circuits/model/config.h"
#include "circuits/formats/error.h"
#include "circuits/model/hooks.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace circuitcheck {
namespace {

Config tree_config() { return read_config(testing_util::fixture("tl/tree_path/config.json")); }

TEST(Hooks, NamesRoundTripAndSlotsAreDistinct) {
  for (const char* f : {"tl/tree_path", "tl/var_rename", "external/arena_cumsum", "tl/array_index"}) {
    Config c = read_config(testing_util::fixture(std::string(f) + "/config.json"));
    std::set<int> slots;
    for (const auto& h : hook_points(c)) {
      EXPECT_EQ(parse_hook(hook_name(h), c), h) << hook_name(h);
      EXPECT_TRUE(slots.insert(hook_slot(h)).second) << hook_name(h);
      EXPECT_LT(hook_slot(h), hook_slot_count(c));
    }
  }
}

struct HookNameCase {
  std::string name;
  HookType type;
  int layer;
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const HookNameCase& c, std::ostream* os) { *os << c.name; }

class HookNames : public ::testing::TestWithParam<HookNameCase> {};

TEST_P(HookNames, Parse) {
  HookPoint h = parse_hook(GetParam().name, tree_config());
  EXPECT_EQ(h.type, GetParam().type);
  EXPECT_EQ(h.layer, GetParam().layer);
}

INSTANTIATE_TEST_SUITE_P(Table, HookNames, ::testing::Values(
    HookNameCase{"hook_embed", HookType::kEmbed, -1},
    HookNameCase{"hook_pos_embed", HookType::kPosEmbed, -1},
    HookNameCase{"blocks.0.hook_resid_pre", HookType::kResidPre, 0},
    HookNameCase{"blocks.5.hook_resid_post", HookType::kResidPost, 5},
    HookNameCase{"blocks.2.ln1.hook_scale", HookType::kLn1Scale, 2},
    HookNameCase{"blocks.3.attn.hook_pattern", HookType::kPattern, 3},
    HookNameCase{"blocks.1.attn.hook_result", HookType::kResult, 1},
    HookNameCase{"blocks.4.mlp.hook_post", HookType::kMlpPost, 4},
    HookNameCase{"ln_final.hook_normalized", HookType::kLnFinalNormalized, -1}));

TEST(Hooks, UnknownHookListsTheClosestNames) {
  try {
    parse_hook("blocks.0.hook_resid_pree", tree_config());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("closest: blocks.0.hook_resid_pre"), std::string::npos) << e.what();
  }
}

TEST(Hooks, HooksAbsentFromTheModelAreUnknown) {
  Config attn_only = read_config(testing_util::fixture("tl/array_index/config.json"));
  EXPECT_THROW(parse_hook("blocks.0.mlp.hook_post", attn_only), InputError);   // attn-only
  EXPECT_THROW(parse_hook("blocks.0.ln1.hook_scale", attn_only), InputError);  // no LN
  EXPECT_THROW(parse_hook("blocks.2.hook_resid_pre", attn_only), InputError);  // 2 layers
  EXPECT_THROW(parse_hook("blocks.0.attn.hook_rot_q", attn_only), InputError); // not rotary
  EXPECT_THROW(parse_hook("", attn_only), InputError);
}

TEST(Hooks, ExecutionOrderMatchesTransformerLens) {
  Config c = read_config(testing_util::fixture("tl/var_rename/config.json"));
  std::vector<std::string> names;
  for (const auto& h : hook_points(c)) names.push_back(hook_name(h));
  std::vector<std::string> expected_start = {
      "hook_embed", "blocks.0.hook_resid_pre", "blocks.0.ln1.hook_scale", "blocks.0.ln1.hook_normalized",
      "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v", "blocks.0.attn.hook_rot_q",
      "blocks.0.attn.hook_rot_k", "blocks.0.attn.hook_attn_scores", "blocks.0.attn.hook_pattern",
      "blocks.0.attn.hook_z"};
  ASSERT_GE(names.size(), expected_start.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + expected_start.size()), expected_start);
  EXPECT_EQ(names.back(), "ln_final.hook_normalized");
  c.use_hook_mlp_in = true;  // TL: resid_mid, then the MLP's copy of it, then ln2
  names.clear();
  for (const auto& h : hook_points(c)) names.push_back(hook_name(h));
  const auto mid = std::find(names.begin(), names.end(), "blocks.0.hook_resid_mid");
  ASSERT_LT(mid + 2, names.end());
  EXPECT_EQ(*(mid + 1), "blocks.0.hook_mlp_in");
  EXPECT_EQ(*(mid + 2), "blocks.0.ln2.hook_scale");
  c.use_attn_in = true;  // TL: resid_pre, then each head's copy of it, then ln1
  names.clear();
  for (const auto& h : hook_points(c)) names.push_back(hook_name(h));
  const auto pre = std::find(names.begin(), names.end(), "blocks.0.hook_resid_pre");
  ASSERT_LT(pre + 2, names.end());
  EXPECT_EQ(*(pre + 1), "blocks.0.hook_attn_in");
  EXPECT_EQ(*(pre + 2), "blocks.0.ln1.hook_scale");
}

}  // namespace
}  // namespace circuitcheck
