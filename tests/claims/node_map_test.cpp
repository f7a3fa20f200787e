// Node ablation maps on the shipped S5 model: the nodes the claims name are
// tagged with what they break (L0H2 every digit, L0H3 additions only, L0H0
// subtractions only); a random-init model, which gets nothing right, gets no
// tag; bad roles and thresholds are InputErrors naming the problem.
#include "circuits/model/checkpoint.h"
#include "circuits/formats/error.h"
#include "circuits/claims/node_map.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace circuitcheck {
namespace {

bool has_tag(const NodeEffect& e, const std::string& tag) {
  return std::find(e.tags.begin(), e.tags.end(), tag) != e.tags.end();
}

const NodeEffect& node(const NodeMap& map, const std::string& name) {
  for (const auto& n : map.nodes)
    if (n.name() == name) return n;
  throw std::runtime_error("no node " + name);
}

NodeMapOptions a3_options() {
  NodeMapOptions o;
  o.roles = {"predict_A3"};
  o.domain.sample = 600;
  o.reference.sample = 256;
  return o;
}

TEST(NodeMap, ShippedArithmeticNodesAreTaggedWithWhatTheyBreak) {
  const Checkpoint ck = load_checkpoint(testing_util::source_dir() + "/checkpoints/arithmetic.safetensors");
  const NodeMap map = node_map(find_task("arithmetic"), ck.model, a3_options());
  EXPECT_GE(map.baseline.accuracy, 0.99);
  EXPECT_EQ(map.baseline.n, 600);
  ASSERT_EQ(map.nodes.size(), 12u);  // 3 layers x 4 heads at one position
  EXPECT_EQ(map.nodes[0].name(), "P17L0H0");
  EXPECT_TRUE(map.baseline.position_accuracy.count("predict_A3"));
  EXPECT_TRUE(map.baseline.position_accuracy.count("predict_sign"));  // every scored position, named by its role

  const NodeEffect& base_add = node(map, "P17L0H2");
  EXPECT_TRUE(has_tag(base_add, "breaks:predict_A3"));
  EXPECT_TRUE(has_tag(base_add, "fails:operator=0"));
  EXPECT_TRUE(has_tag(base_add, "fails:operator=1"));
  EXPECT_LT(base_add.position_accuracy.at("predict_A3"), 0.5);
  EXPECT_GE(base_add.position_accuracy.at("predict_A5"), 0.95);  // other digits survive

  const NodeEffect& addition = node(map, "P17L0H3");  // the carry head of the PCA claim
  EXPECT_TRUE(has_tag(addition, "fails:operator=0"));
  EXPECT_FALSE(has_tag(addition, "fails:operator=1"));
  const NodeEffect& subtraction = node(map, "P17L0H0");  // the borrow head
  EXPECT_TRUE(has_tag(subtraction, "fails:operator=1"));
  EXPECT_FALSE(has_tag(subtraction, "fails:operator=0"));
  EXPECT_TRUE(node(map, "P17L1H3").tags.empty());

  const nlohmann::json j = map.to_json();
  EXPECT_EQ(j["schema"], "circuitcheck.nodes/1");
  EXPECT_EQ(j["nodes"][2]["node"], "P17L0H2");
  EXPECT_EQ(j["nodes"][2]["role"], "predict_A3");
}

TEST(NodeMap, RandomInitBreaksNothingItCouldDo) {
  const Task& task = find_task("arithmetic");
  const Config config = task.config(Scale::kCpu);
  const NodeMap map = node_map(task, make_model(config, init_params(config, 0), "random"), a3_options());
  EXPECT_EQ(map.baseline.accuracy, 0.0);
  for (const auto& n : map.nodes) EXPECT_TRUE(n.tags.empty()) << n.name();
}

TEST(NodeMap, BadRolesAndThresholdsAreInputErrors) {
  struct Case {
    std::string system;
    std::function<void(NodeMapOptions&)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"arithmetic", [](NodeMapOptions& o) { o.roles = {"predict_A9"}; }, "node_map: unknown role 'predict_A9'"},
      {"tree_path", [](NodeMapOptions& o) { o.roles = {"edge_child"}; },
       "node_map: role 'edge_child' is not at one fixed position in every example"},
      {"arithmetic", [](NodeMapOptions& o) { o.threshold = 1.5; }, "node_map: threshold 1.5 out of range [0, 1]"},
      {"arithmetic", [](NodeMapOptions& o) { o.domain.sample = 0; }, "node_map: the samples need at least 1 example"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    const Task& task = find_task(c.system);
    const Config config = task.config(Scale::kCpu);
    NodeMapOptions o = a3_options();
    c.mutate(o);
    try {
      node_map(task, make_model(config, init_params(config, 0), "random"), o);
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(c.message, 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace circuitcheck
