#include "circuits/model/checkpoint.h"
#include "circuits/formats/error.h"
#include "circuits/formats/safetensors.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace circuitcheck {
namespace {

using testing_util::fixture;
using testing_util::scratch_dir;

::testing::AssertionResult throws_with(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const InputError& e) {
    for (const auto& p : parts)
      if (std::string(e.what()).find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message lacks '" << p << "': " << e.what();
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no InputError";
}

TEST(Checkpoint, ReferenceCheckpointsLoadWithTheirSideJson) {
  for (const char* name : {"modular_addition_seed1", "array_index_seed1", "tree_path_cpuscale_seed1"}) {
    Checkpoint ck = load_checkpoint(testing_util::shared_dir() + "/reference/" + name + ".pt");
    EXPECT_EQ(ck.format, "torch-zip");
    EXPECT_NE(ck.config_source.find(std::string(name) + ".json"), std::string::npos) << ck.config_source;
    EXPECT_EQ(ck.sha256.size(), 64u);
    ASSERT_FALSE(ck.system.empty()) << name;
    EXPECT_EQ(std::string(name).rfind(ck.system + "_", 0), 0u) << ck.system;  // e.g. tree_path for tree_path_cpuscale_seed1
  }
  EXPECT_EQ(load_checkpoint(fixture("tl/modadd/model.pt")).system, "");  // no side <stem>.json
}

TEST(Checkpoint, SaveThenLoadIsBitExactWithTheConfigInMetadata) {
  Checkpoint ck = load_checkpoint(fixture("tl/var_rename/model.pt"));
  const std::string out = scratch_dir("CheckpointSave") + "/model.safetensors";
  save_checkpoint(out, ck.model, {{"note", "test"}});
  Checkpoint back = load_checkpoint(out);
  EXPECT_EQ(back.config_source, "metadata");
  EXPECT_EQ(back.metadata.at("note"), "test");
  EXPECT_EQ(back.model.config, ck.model.config);
  ASSERT_EQ(back.model.params.size(), ck.model.params.size());
  for (const auto& [name, t] : ck.model.params) EXPECT_TRUE(at::equal(back.model.params.at(name), t)) << name;
}

TEST(Checkpoint, InfersWhatTheShapesDetermineAndNamesWhatTheyDoNot) {
  Checkpoint ck = load_checkpoint(fixture("tl/arithmetic_small/model.pt"));
  InferredConfig inferred = infer_config(ck.model.params, "t");
  EXPECT_EQ(inferred.fields["n_layers"], 3);
  EXPECT_EQ(inferred.fields["d_model"], 256);
  EXPECT_EQ(inferred.fields["n_heads"], 4);
  EXPECT_EQ(inferred.fields["d_head"], 64);
  EXPECT_EQ(inferred.fields["d_mlp"], 1024);
  EXPECT_EQ(inferred.fields["n_ctx"], 22);
  EXPECT_EQ(inferred.fields["normalization_type"], "LN");
  ASSERT_EQ(inferred.needed.size(), 1u);
  EXPECT_NE(inferred.needed[0].find("act_fn"), std::string::npos);

  // Without any config source the load fails naming the missing field ...
  const std::string dir = scratch_dir("CheckpointInfer");
  write_safetensors(dir + "/bare.safetensors", ck.model.params);
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/bare.safetensors"); }, {"bare.safetensors", "act_fn", "--config"}));
  // ... while an attn-only model's config is fully inferred.
  Checkpoint attn_only = load_checkpoint(fixture("external/ckk_min_int/model.pt"));
  write_safetensors(dir + "/attn_only.safetensors", attn_only.model.params);
  Checkpoint inferred_ck = load_checkpoint(dir + "/attn_only.safetensors");
  EXPECT_EQ(inferred_ck.config_source, "inferred");
  EXPECT_EQ(inferred_ck.model.config.n_heads, attn_only.model.config.n_heads);
  EXPECT_FALSE(inferred_ck.notes.empty());
}

TEST(Checkpoint, ShapeThatContradictsTheConfigNamesFileAndTensor) {
  Checkpoint ck = load_checkpoint(fixture("tl/modadd/model.pt"));
  const std::string dir = scratch_dir("CheckpointShape");
  TensorMap params = ck.model.params;
  params["blocks.0.attn.W_Q"] = at::zeros({4, 128, 16});
  save_checkpoint(dir + "/bad.safetensors", {ck.model.config, params});
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/bad.safetensors"); },
                          {"bad.safetensors", "blocks.0.attn.W_Q", "contradicts the config"}));
  // A hostile file's shape of 100,000 dimensions (one element) is named by its first 8, not in 300 KB.
  params["blocks.0.attn.W_Q"] = at::empty(std::vector<int64_t>(100000, 1));
  save_checkpoint(dir + "/deep.safetensors", {ck.model.config, params});
  try {
    load_checkpoint(dir + "/deep.safetensors");
    ADD_FAILURE() << "accepted a shape of 100,000 dimensions";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("shape [1, 1, 1, 1, 1, 1, 1, 1, ...] (100000 dimensions) contradicts the config"),
              std::string::npos)
        << std::string(e.what()).substr(0, 300);
    EXPECT_LT(std::string(e.what()).size(), 400u);
  }
  params = ck.model.params;
  params.erase("unembed.b_U");
  save_checkpoint(dir + "/missing.safetensors", {ck.model.config, params});
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/missing.safetensors"); }, {"unembed.b_U", "missing"}));
  params = ck.model.params;
  params["blocks.0.attn.W_X"] = at::zeros({1});
  save_checkpoint(dir + "/extra.safetensors", {ck.model.config, params});
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/extra.safetensors"); }, {"blocks.0.attn.W_X", "unexpected"}));
}

TEST(Checkpoint, ExplicitConfigThatDoesNotFitIsAnError) {
  EXPECT_TRUE(throws_with([&] { load_checkpoint(fixture("tl/modadd/model.pt"), fixture("tl/array_index/config.json")); },
                          {"model.pt", "contradicts the config"}));
}

// A metadata config nested 100,000 levels deep (which dumped into a message would overflow the stack)
// is refused before it is built; so are a NUL and a repeated key.
TEST(Checkpoint, MetadataConfigThatIsNotStrictJsonNamesFileAndField) {
  Checkpoint ck = load_checkpoint(fixture("tl/modadd/model.pt"));
  const std::string dir = scratch_dir("CheckpointStrictMetadata");
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::string config = config_to_json(ck.model.config).dump();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {deep, "nested deeper than 128 levels"},
      {R"({"n_layers": )" + deep + "}", "nested deeper than 128 levels"},
      {config + std::string("\0garbage", 8), "holds a NUL byte at byte " + std::to_string(config.size())},
      {R"({"n_layers": 1, "n_layers": 1})", R"(/n_layers: key "n_layers" appears twice)"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(message);
    write_safetensors(dir + "/bad.safetensors", ck.model.params, {{"config", text}});
    EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/bad.safetensors"); },
                            {"load_checkpoint: " + dir + "/bad.safetensors: __metadata__/config: " + message}));
  }
}

// A side file that is a FIFO would block the read forever: it is refused before it is opened.
TEST(Checkpoint, SideFilesMustBeRegularFiles) {
  Checkpoint ck = load_checkpoint(fixture("tl/modadd/model.pt"));
  const std::string dir = scratch_dir("CheckpointSideFifo");
  save_checkpoint(dir + "/with_config.safetensors", ck.model);  // config in metadata, no system: reads <stem>.json
  write_safetensors(dir + "/bare.safetensors", ck.model.params);  // no config: reads <stem>.json, then config.json
  for (const char* side : {"with_config.json", "bare.json", "config.json"})
    ASSERT_EQ(::mkfifo((dir + "/" + side).c_str(), 0600), 0) << side;
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/with_config.safetensors"); },
                          {"load_checkpoint: " + dir + "/with_config.safetensors: side file " + dir +
                           "/with_config.json: not a regular file"}));
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/bare.safetensors"); },
                          {"side file " + dir + "/bare.json: not a regular file"}));
  std::filesystem::remove(dir + "/bare.json");
  EXPECT_TRUE(throws_with([&] { load_checkpoint(dir + "/bare.safetensors"); },
                          {"side file " + dir + "/config.json: not a regular file"}));
  EXPECT_TRUE(throws_with([&] { load_checkpoint(fixture("tl/modadd/model.pt"), dir + "/config.json"); },
                          {"read_config: " + dir + "/config.json: not a regular file"}));
}

TEST(Checkpoint, MissingFileAndDirectory) {
  EXPECT_TRUE(throws_with([&] { load_checkpoint("/nonexistent/model.pt"); }, {"/nonexistent/model.pt", "no such file"}));
  EXPECT_TRUE(throws_with([&] { load_checkpoint(fixture("tl")); }, {"not a regular file"}));
}

}  // namespace
}  // namespace circuitcheck
