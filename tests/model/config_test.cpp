#include "circuits/model/config.h"
#include "circuits/formats/error.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <limits>

namespace circuitcheck {
namespace {

using nlohmann::json;

json s1_json() {
  return json::parse(R"({"n_layers": 1, "d_model": 128, "n_heads": 4, "d_head": 32, "d_mlp": 512,
    "d_vocab": 114, "d_vocab_out": 113, "n_ctx": 3, "act_fn": "relu", "normalization_type": null,
    "attn_only": false, "positional_embedding_type": "standard", "attention_dir": "causal"})");
}

TEST(Config, ReadsEveryFixtureConfigAndRoundTrips) {
  int n = 0;
  for (const char* group : {"tl", "external"}) {
    for (const auto& entry : std::filesystem::directory_iterator(testing_util::fixture(group))) {
      Config c = read_config((entry.path() / "config.json").string());
      EXPECT_EQ(config_from_json(config_to_json(c), "roundtrip"), c) << entry.path();
      ++n;
    }
  }
  EXPECT_EQ(n, 20);
}

TEST(Config, ReadsTheConfigKeyOfAReferenceJson) {
  Config c = read_config(testing_util::shared_dir() + "/reference/array_index_seed1.json");
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_TRUE(c.attn_only);
  EXPECT_EQ(c.positional_embedding_type, PositionalEmbedding::kShortformer);
  EXPECT_EQ(c.normalization_type, Normalization::kNone);
}

TEST(Config, NullNormalizationIsNoneButOmittedIsLN) {
  json j = s1_json();
  EXPECT_EQ(config_from_json(j, "t").normalization_type, Normalization::kNone);
  j.erase("normalization_type");
  EXPECT_EQ(config_from_json(j, "t").normalization_type, Normalization::kLN);
}

TEST(Config, TLDefaults) {
  json j = s1_json();
  j.erase("n_heads");
  j.erase("d_vocab_out");
  Config c = config_from_json(j, "t");
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.d_vocab_out, 114);
  EXPECT_DOUBLE_EQ(c.attn_scale, std::sqrt(32.0));
  for (const json& unset : {json(nullptr), json(-1.0)}) {  // TL's "unset" values
    j["attn_scale"] = unset;
    EXPECT_DOUBLE_EQ(config_from_json(j, "t").attn_scale, std::sqrt(32.0)) << unset;
  }
  j["attn_scale"] = 0.0;
  j["use_attn_scale"] = false;  // TL ignores attn_scale then
  EXPECT_DOUBLE_EQ(config_from_json(j, "t").attn_scale, 1.0);
}

std::string repeat(const std::string& piece, int times) {
  std::string text;
  for (int i = 0; i < times; ++i) text += piece;
  return text;
}

struct BadConfig {
  std::string name;
  std::string key;
  json value;  // null with erase=true removes the key
  bool erase;
  std::string message;
};

// Names the case in test listings (ctest) instead of a byte dump.
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class ConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, NameTheField) {
  const BadConfig& b = GetParam();
  json j = s1_json();
  if (b.erase) j.erase(b.key); else j[b.key] = b.value;
  try {
    config_from_json(j, "cfg.json");
    FAIL() << "accepted " << j.dump();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: /" + b.key), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
    EXPECT_LT(std::string(e.what()).size(), 300u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrors,
    ::testing::Values(
        BadConfig{"missing_layers", "n_layers", nullptr, true, "required"},
        BadConfig{"string_layers", "n_layers", "two", false, "expected an integer"},
        BadConfig{"fractional", "d_model", 12.5, false, "expected an integer"},
        BadConfig{"zero_layers", "n_layers", 0, false, "must be positive"},
        BadConfig{"negative_ctx", "n_ctx", -3, false, "must be positive"},
        BadConfig{"unknown_act", "act_fn", "swish", false, "unknown value"},
        BadConfig{"unknown_norm", "normalization_type", "RMS", false, "unknown value"},
        BadConfig{"unknown_pos", "positional_embedding_type", "alibi", false, "unknown value"},
        BadConfig{"unknown_dir", "attention_dir", "sideways", false, "unknown value"},
        BadConfig{"bool_type", "attn_only", 1, false, "expected true or false"},
        BadConfig{"gated", "gated_mlp", true, false, "not supported"},
        BadConfig{"gqa", "n_key_value_heads", 2, false, "not supported"},
        BadConfig{"softcap", "attn_scores_soft_cap", 30.0, false, "not supported"},
        BadConfig{"no_act", "act_fn", nullptr, false, "required unless attn_only"},
        BadConfig{"zero_attn_scale", "attn_scale", 0.0, false, "must be positive and finite, got 0"},
        BadConfig{"negative_attn_scale", "attn_scale", -2.5, false, "must be positive and finite, got -2.5"},
        BadConfig{"infinite_attn_scale", "attn_scale", std::numeric_limits<double>::infinity(), false,
                  "must be positive and finite, got inf"},
        BadConfig{"nan_attn_scale", "attn_scale", std::numeric_limits<double>::quiet_NaN(), false,
                  "must be positive and finite, got nan"},
        BadConfig{"huge_string", "d_model", std::string(1'000'000, 'x'), false,
                  "expected an integer, got \"" + std::string(99, 'x') + "..."},
        BadConfig{"huge_utf8_string", "d_model", repeat("é", 1000), false,
                  "expected an integer, got \"" + repeat("é", 49) + "..."}),
    [](const auto& info) { return info.param.name; });

TEST(ConfigErrors, RotaryDimMustFit) {
  json j = s1_json();
  j["positional_embedding_type"] = "rotary";
  j["rotary_dim"] = 33;
  EXPECT_THROW(config_from_json(j, "t"), InputError);
  j["rotary_dim"] = 64;
  EXPECT_THROW(config_from_json(j, "t"), InputError);
  j["rotary_dim"] = 16;
  EXPECT_NO_THROW(config_from_json(j, "t"));
}

// A config file that is not strict JSON, or a JSON whose value nests deeper than 128 levels (which
// dumped into a message would overflow the stack), is one InputError naming the file.
TEST(ConfigErrors, FilesThatAreNotStrictJson) {
  const std::string dir = testing_util::scratch_dir("ConfigErrorsStrictJson");
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::string s1 = s1_json().dump();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"n_layers": )" + deep + "}", "nested deeper than 128 levels"},
      {deep, "nested deeper than 128 levels"},
      {R"({"config": {"n_layers": )" + deep + "}}", "nested deeper than 128 levels"},
      {s1 + std::string("\0{\"n_layers\": 2}", 16), "holds a NUL byte at byte " + std::to_string(s1.size())},
      {s1 + " {}", "not valid JSON"},
      {R"({"n_layers": 1, "n_layers": 2})", R"(/n_layers: key "n_layers" appears twice)"},
      {R"({"config": {"x/y": [{}, {"a~": 1, "a~": 2}]}})", R"(/config/x~1y/1/a~0: key "a~" appears twice)"},
      {R"({"\u001b[2J": 1, "\u001b[2J": 2})", R"(/\x1b[2J: key "\u001b[2J" appears twice)"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(message);
    testing_util::write_file(dir + "/cfg.json", text);
    try {
      read_config(dir + "/cfg.json");
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("read_config: " + dir + "/cfg.json: " + message), std::string::npos)
          << e.what();
    }
  }
}

TEST(ConfigErrors, AFifoIsRefusedWithoutBeingOpened) {
  const std::string fifo = testing_util::scratch_dir("ConfigErrorsFifo") + "/cfg.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  try {
    read_config(fifo);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "read_config: " + fifo + ": not a regular file");
  }
}

TEST(ConfigErrors, NotJsonAndMissingFile) {
  const std::string dir = testing_util::scratch_dir("ConfigErrors");
  testing_util::write_file(dir + "/bad.json", "{\"n_layers\": ");
  EXPECT_THROW(read_config(dir + "/bad.json"), InputError);
  EXPECT_THROW(read_config(dir + "/absent.json"), InputError);
  EXPECT_THROW(config_from_json(json::array(), "t"), InputError);
}

}  // namespace
}  // namespace circuitcheck
