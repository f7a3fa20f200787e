// S3: tree path finding / backward chaining (SYSTEMS.md, seed 004;
// Brinkmann et al. 2024).
//
// A random binary tree over 16 nodes: node labels are a random permutation of
// 0..15; node k (k = 1..15, in growth order) attaches to a uniformly chosen
// earlier node with fewer than two children. The goal is a uniformly chosen
// non-root node.
// Vocabulary (35): `,` 0, `:` 1, `|` 2, `>15`..`>0` 3..18 (`>n` is 18 - n),
// `15`..`0` 19..34 (`n` is 34 - n).
// Full sequence (66 tokens): the 15 edges in random order, edge k (parent p,
// child c) at positions 3k (`p`), 3k+1 (`>c`), 3k+2 (`,`, absent after the
// last edge) -> 44 tokens; then `|` 44, goal 45, `:` 46, root 47; then the
// path from the root to the goal `>n1` ... `>goal` at 48, 49, ... (1..15
// tokens); then `,` padding. tokens are its first 65 (n_ctx 65); targets are
// the path tokens, predicted from positions 47 .. 46 + depth.
// Text: the tokens written without separators, e.g. "12>10,4>15,...|9:3>0>9,,,";
// a space separates a number from a preceding token that ends in a digit
// (never in a generated sequence). tokenize skips whitespace.
// Roles (positions, -1 where absent):
//   [batch, 15] "edge_parent" (3k), "edge_child" (3k+1: the `>c` token),
//               "edge_comma" (3k+2; -1 for the last edge), by edge k in
//               sequence order;
//   [batch, 16] "edge_child_of_node", "edge_parent_of_node": by node label n,
//               the positions of `>n` and of its parent's token in the edge
//               list (-1 for the root);
//   [batch] "goal_delim" (44, `|`), "goal" (45), "root_delim" (46, `:`),
//           "root" (47); "goal_edge_child", "goal_edge_parent": where the
//           goal's edge sits in the edge list (its `>goal` and its parent);
//   [batch, 15] "path" (48 + k: the k-th path token), "predict_path" (47 + k:
//               the position that predicts it), "path_edge_child",
//               "path_edge_parent" (where the edge into the k-th path node
//               sits in the edge list), -1 for k >= depth.
// Classes:
//   [batch] "depth": path length = depth of the goal, 1..15;
//   [batch, 15] "path_depth": depth of the k-th path node (k + 1), -1 for k >= depth;
//   [batch] "last_edge_on_path": 1 when the last edge of the list (the one
//           without a trailing `,`) lies on the path, else 0.
// Counterfactual (the interchange kind; Batch::counterfactuals):
//   "reparent_goal" [batch, 65]: the same sequence with the goal's parent in
//           the edge list replaced by another node p' (uniformly among the
//           nodes outside the goal's subtree with fewer than two children,
//           other than its parent, drawn with Rng(example_seed) of the
//           example's tokens), its path rewritten to the new tree's. Its
//           targets are the high-level model's answer on the base's input
//           with parent(goal) = p': the new path's tokens, predicted from 47
//           up to and including the first position where the two paths
//           differ (past it the base's teacher-forced path has left the
//           source's tree), -1 elsewhere; all -1 (the source is the base)
//           when no node qualifies.
// CPU scale: d_model 64, d_head 64, d_mlp 256; sequences are the same.
#pragma once

#include "circuits/tasks/task.h"

namespace circuitcheck {

// The registry entry of S3 (see task.h).
Task tree_path_task();

}  // namespace circuitcheck
