#include "circuits/tasks/builtin/tree_path.h"

#include "circuits/formats/error.h"

#include <array>
#include <cctype>

namespace circuitcheck {
namespace {

constexpr int64_t kNodes = 16;
constexpr int64_t kEdges = kNodes - 1;
constexpr int64_t kComma = 0;
constexpr int64_t kColon = 1;
constexpr int64_t kBar = 2;
constexpr int64_t kVocab = 3 + 2 * kNodes;  // 35
constexpr int64_t kFullLen = 4 * kNodes + 2;  // 66
constexpr int64_t kPos = kFullLen - 1;        // 65
constexpr int64_t kGoalDelim = 3 * kEdges - 1;  // 44
constexpr int64_t kRoot = kGoalDelim + 3;        // 47
constexpr int64_t kPathStart = kRoot + 1;        // 48

int64_t arrow(int64_t node) { return 3 + (kNodes - 1 - node); }
int64_t number(int64_t node) { return 3 + kNodes + (kNodes - 1 - node); }
bool is_arrow(int64_t token) { return token >= 3 && token < 3 + kNodes; }
bool is_number(int64_t token) { return token >= 3 + kNodes && token < kVocab; }
int64_t node_of(int64_t token) { return kNodes - 1 - (is_arrow(token) ? token - 3 : token - 3 - kNodes); }

Config tree_path_config(Scale scale) {
  const int d_model = scale == Scale::kSeed ? 128 : 64;
  return config_from_json(
      {{"n_layers", 6}, {"n_heads", 1}, {"d_model", d_model}, {"d_head", d_model}, {"d_mlp", 4 * d_model},
       {"act_fn", "gelu"}, {"normalization_type", "LN"}, {"attention_dir", "causal"},
       {"positional_embedding_type", "standard"}, {"d_vocab", kVocab}, {"d_vocab_out", kVocab},
       {"n_ctx", kPos}},
      "tree_path config");
}

// Per-example columns of the roles and classes that vary between examples.
struct Columns {
  explicit Columns(int64_t n)
      : child_of_node(n * kNodes, -1), parent_of_node(n * kNodes, -1), path(n * kEdges, -1),
        predict_path(n * kEdges, -1), path_child(n * kEdges, -1), path_parent(n * kEdges, -1),
        path_depth(n * kEdges, -1), depth(n), last_on_path(n), goal_child(n), goal_parent(n) {}
  std::vector<int64_t> child_of_node, parent_of_node, path, predict_path, path_child, path_parent,
      path_depth, depth, last_on_path, goal_child, goal_parent;
};

// The tree of one example, by node index in growth order (0 is the root).
struct Tree {
  std::vector<int64_t> label;         // node -> its label
  std::array<int64_t, kNodes> parent{};
  std::array<int64_t, kNodes> n_children{};
  std::array<int64_t, kNodes> edge_of{};  // node -> its edge's index in the list
  int64_t goal = 0;
};

// The path from the root (excluded) to the goal, with the goal's parent `goal_parent`.
std::vector<int64_t> path_to_goal(const Tree& t, int64_t goal_parent) {
  std::vector<int64_t> path = {t.goal};
  for (int64_t v = goal_parent; v != 0; v = t.parent[v]) path.push_back(v);
  return {path.rbegin(), path.rend()};
}

// Writes reparent_goal's tokens and targets (tree_path.h) from the base's `tokens`.
void write_reparent_goal(const Tree& t, const int64_t* tokens, int64_t* cf_tokens, int64_t* cf_targets) {
  std::copy(tokens, tokens + kPos, cf_tokens);
  std::array<bool, kNodes> below_goal{};  // the goal's subtree
  std::vector<int64_t> eligible;
  for (int64_t v = 1; v < kNodes; ++v) below_goal[v] = v == t.goal || below_goal[t.parent[v]];
  for (int64_t v = 0; v < kNodes; ++v)
    if (v != t.parent[t.goal] && !below_goal[v] && t.n_children[v] < 2) eligible.push_back(v);
  if (eligible.empty()) return;
  Rng rng(example_seed("reparent_goal", std::vector<int64_t>(tokens, tokens + kPos)));
  const int64_t new_parent = eligible[rng.below(static_cast<int64_t>(eligible.size()))];
  cf_tokens[3 * t.edge_of[t.goal]] = number(t.label[new_parent]);
  const std::vector<int64_t> base = path_to_goal(t, t.parent[t.goal]), source = path_to_goal(t, new_parent);
  for (int64_t pos = kPathStart; pos < kPos; ++pos) {
    const auto k = static_cast<std::size_t>(pos - kPathStart);
    cf_tokens[pos] = k < source.size() ? arrow(t.label[source[k]]) : kComma;
  }
  for (std::size_t k = 0; k < source.size(); ++k) {
    cf_targets[kRoot + static_cast<int64_t>(k)] = arrow(t.label[source[k]]);
    if (base[k] != source[k]) break;
  }
}

// Writes one random example: its 65 tokens and targets, its row of `cols`,
// and its reparent_goal input and targets.
void write_example(Rng& rng, int64_t e, int64_t* tokens, int64_t* targets, Columns& cols, int64_t* cf_tokens,
                   int64_t* cf_targets) {
  Tree t;
  std::vector<int64_t>& label = t.label;
  label.resize(kNodes);
  for (int64_t i = 0; i < kNodes; ++i) label[i] = i;
  shuffle(label, rng);
  std::array<int64_t, kNodes>& parent = t.parent;
  std::array<int64_t, kNodes>& n_children = t.n_children;
  std::vector<int64_t> open = {0};  // nodes with fewer than two children
  for (int64_t k = 1; k < kNodes; ++k) {
    const int64_t slot = uniform_int(rng, static_cast<int64_t>(open.size()));
    const int64_t p = open[slot];
    parent[k] = p;
    if (++n_children[p] == 2) {
      open[slot] = open.back();
      open.pop_back();
    }
    open.push_back(k);
  }
  const int64_t goal = t.goal = uniform_int(rng, 1, kNodes - 1);
  std::vector<int64_t> order(kEdges);  // order[k]: the child node of edge k
  for (int64_t k = 0; k < kEdges; ++k) order[k] = k + 1;
  shuffle(order, rng);

  std::array<int64_t, kNodes>& edge_of = t.edge_of;
  for (int64_t k = 0; k < kEdges; ++k) {
    const int64_t c = order[k];
    edge_of[c] = k;
    tokens[3 * k] = number(label[parent[c]]);
    tokens[3 * k + 1] = arrow(label[c]);
    if (k + 1 < kEdges) tokens[3 * k + 2] = kComma;
    cols.child_of_node[e * kNodes + label[c]] = 3 * k + 1;
    cols.parent_of_node[e * kNodes + label[c]] = 3 * k;
  }
  tokens[kGoalDelim] = kBar;
  tokens[kGoalDelim + 1] = number(label[goal]);
  tokens[kGoalDelim + 2] = kColon;
  tokens[kRoot] = number(label[0]);

  const std::vector<int64_t> path = path_to_goal(t, parent[goal]);
  const auto depth = static_cast<int64_t>(path.size());
  cols.depth[e] = depth;
  cols.goal_child[e] = 3 * edge_of[goal] + 1;
  cols.goal_parent[e] = 3 * edge_of[goal];
  cols.last_on_path[e] = 0;
  for (int64_t k = 0; k < depth; ++k) {
    const int64_t v = path[k];
    const int64_t pos = kPathStart + k;
    tokens[pos] = arrow(label[v]);
    targets[pos - 1] = tokens[pos];
    cols.path[e * kEdges + k] = pos;
    cols.predict_path[e * kEdges + k] = pos - 1;
    cols.path_child[e * kEdges + k] = 3 * edge_of[v] + 1;
    cols.path_parent[e * kEdges + k] = 3 * edge_of[v];
    cols.path_depth[e * kEdges + k] = k + 1;
    if (edge_of[v] == kEdges - 1) cols.last_on_path[e] = 1;
  }
  for (int64_t pos = kPathStart + depth; pos < kPos; ++pos) tokens[pos] = kComma;
  write_reparent_goal(t, tokens, cf_tokens, cf_targets);
}

Batch draw(Rng& rng, int64_t n) {
  check_sample_size(n, "sample(tree_path)");
  std::vector<int64_t> tokens(n * kPos), targets(n * kPos, -1), cf_tokens(n * kPos), cf_targets(n * kPos, -1);
  Columns cols(n);
  for (int64_t e = 0; e < n; ++e)
    write_example(rng, e, &tokens[e * kPos], &targets[e * kPos], cols, &cf_tokens[e * kPos], &cf_targets[e * kPos]);

  std::vector<int64_t> edge_parent(kEdges), edge_child(kEdges), edge_comma(kEdges);
  for (int64_t k = 0; k < kEdges; ++k) {
    edge_parent[k] = 3 * k;
    edge_child[k] = 3 * k + 1;
    edge_comma[k] = k + 1 < kEdges ? 3 * k + 2 : -1;
  }
  Batch batch;
  batch.tokens = to_tensor(tokens, {n, kPos});
  batch.targets = to_tensor(targets, {n, kPos});
  batch.roles = {
      {"edge_parent", fixed_roles(n, edge_parent)},
      {"edge_child", fixed_roles(n, edge_child)},
      {"edge_comma", fixed_roles(n, edge_comma)},
      {"edge_child_of_node", to_tensor(cols.child_of_node, {n, kNodes})},
      {"edge_parent_of_node", to_tensor(cols.parent_of_node, {n, kNodes})},
      {"goal_delim", fixed_role(n, kGoalDelim)},
      {"goal", fixed_role(n, kGoalDelim + 1)},
      {"root_delim", fixed_role(n, kGoalDelim + 2)},
      {"root", fixed_role(n, kRoot)},
      {"path", to_tensor(cols.path, {n, kEdges})},
      {"predict_path", to_tensor(cols.predict_path, {n, kEdges})},
      {"path_edge_child", to_tensor(cols.path_child, {n, kEdges})},
      {"path_edge_parent", to_tensor(cols.path_parent, {n, kEdges})},
      {"goal_edge_child", to_tensor(cols.goal_child, {n})},
      {"goal_edge_parent", to_tensor(cols.goal_parent, {n})}};
  batch.classes = {{"depth", to_tensor(cols.depth, {n})},
                   {"path_depth", to_tensor(cols.path_depth, {n, kEdges})},
                   {"last_edge_on_path", to_tensor(cols.last_on_path, {n})}};
  batch.counterfactuals = {{"reparent_goal", to_tensor(cf_tokens, {n, kPos})}};
  batch.counterfactual_targets = {{"reparent_goal", to_tensor(cf_targets, {n, kPos})}};
  return batch;
}

std::string detokenize(const at::Tensor& row) {
  std::string text;
  bool after_digit = false;
  for (int64_t token : row_values(row, kVocab, "detokenize(tree_path)")) {
    if (is_number(token) && after_digit) text += ' ';
    if (is_arrow(token)) text += '>';
    if (is_arrow(token) || is_number(token)) {
      text += std::to_string(node_of(token));
    } else {
      text += token == kComma ? ',' : token == kColon ? ':' : '|';
    }
    after_digit = is_arrow(token) || is_number(token);
  }
  return text;
}

at::Tensor tokenize(const std::string& text) {
  const std::string where = "tokenize(tree_path)";
  std::vector<int64_t> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == ',' || c == ':' || c == '|') {
      tokens.push_back(c == ',' ? kComma : c == ':' ? kColon : kBar);
      ++i;
    } else if (c == '>' || std::isdigit(static_cast<unsigned char>(c))) {
      const std::size_t start = i;
      if (c == '>') ++i;
      std::size_t end = i;
      while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
      const std::string digits = text.substr(i, end - i);
      check(!digits.empty(), where, "'>' at offset " + std::to_string(start) + " is not followed by a node number");
      check(digits.size() <= 2 && std::stoll(digits) < kNodes, where,
            "node '" + text.substr(start, end - start) + "' at offset " + std::to_string(start) +
                " is outside 0.." + std::to_string(kNodes - 1));
      tokens.push_back(c == '>' ? arrow(std::stoll(digits)) : number(std::stoll(digits)));
      i = end;
    } else {
      fail(where, "unexpected character '" + std::string(1, c) + "' at offset " + std::to_string(i) +
                      " (valid: digits , : | > and spaces)");
    }
  }
  check(!tokens.empty(), where, "the text holds no tokens");
  return to_tensor(tokens, {static_cast<int64_t>(tokens.size())});
}

}  // namespace

Task tree_path_task() {
  Task task;
  task.name = "tree_path";
  task.alias = "S3";
  task.classes = {{"depth", true, {}}, {"last_edge_on_path", true, {}}, {"path_depth", false, {}}};
  task.config = tree_path_config;
  task.draw = [](Rng& rng, int64_t n, Scale) { return draw(rng, n); };
  task.sample = seeded(task.draw);
  task.domain_batch = no_domain(task.name);
  task.detokenize = detokenize;
  task.tokenize = tokenize;
  TaskRecipe& r = task.recipe;
  r.steps = 60000; r.batch_size = 64; r.weight_decay = 0.01; r.beta2 = 0.999; r.warmup_steps = 100;
  r.grad_clip = 1.0;
  return task;
}

}  // namespace circuitcheck
