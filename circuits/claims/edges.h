// Edges of a model's computational graph, for circuits of edges
// (claims/README.md, `circuit`): what one sender writes to the residual
// stream, as one receiver reads it, at every position, at given ones, or at
// a role's positions in each example.
//
// Senders: "embed" (the token and position embeddings,
// blocks.0.hook_resid_pre), "L<l>H<h>" (head h of layer l's output without
// b_O, attn.hook_result), "MLP<l>" (blocks.l.hook_mlp_out).
// Receivers: "L<l>H<h>.q", ".k", ".v" (the head's query, key or value input,
// hook_q|k|v_input with use_split_qkv_input), "MLP<l>" (the MLP's input,
// hook_mlp_in with use_hook_mlp_in), "logits" (ln_final's input).
// A sender reaches the receivers that read the residual stream after it
// writes: embed reaches every receiver; a head of layer l the heads of later
// layers, the MLPs of layers >= l and the logits; an MLP of layer l the heads
// and MLPs of later layers and the logits. The attention biases b_O are no
// sender and are never ablated; an MLP's output (hook_mlp_out) includes its
// b_out, which ablating the MLP replaces too (zero ablation removes it).
//
// An edge run ablates edges (Conmy et al. 2023; MIB): each receiver reads the
// residual stream of the run minus, for every ablated edge into it, the
// sender's output in this run minus the sender's ablated value. With every
// edge kept it is the model; with every edge ablated each receiver reads the
// ablated senders only.
#pragma once

#include "circuits/claims/claim_fields.h"
#include "circuits/model/config.h"
#include "circuits/model/hooks.h"
#include "circuits/model/model.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace circuitcheck {

enum class EdgeEnd {
  kEmbed, kHead, kMlp,                           // senders
  kQuery, kKey, kValue, kMlpInput, kLogits,      // receivers
};

// One end of an edge.
struct EdgePoint {
  EdgeEnd end = EdgeEnd::kEmbed;
  int layer = -1;     // -1 for embed and logits
  int64_t head = -1;  // heads and their inputs only

  bool operator==(const EdgePoint& o) const { return end == o.end && layer == o.layer && head == o.head; }
  // "embed", "L0H1", "MLP0", "L1H0.k", "MLP1", "logits".
  std::string name() const;
};

struct Edge {
  EdgePoint sender, receiver;
  // The positions of the receiver's input at which the edge is kept, and
  // ablated at the others (ascending, in [0, n_ctx)); empty: every
  // position. The sender's output at a position reaches the receiver's
  // input at that position only; the receiver (attention) may move it
  // further.
  std::vector<int64_t> positions;
  // Or a role of the task (Batch::roles): the edge is kept at the role's
  // positions in each example, which may differ from example to example
  // (S4's `x_source`, where a variable was last written), and ablated at
  // the others. Empty: `positions` say where. Never both.
  std::string role;

  // "L0H0 -> L1H0.k", "L0H0 -> L1H0.k at [6]", "L0H0 -> L1H0.k at role elt".
  std::string name() const;
};

// True when `a` and `b` join the same sender to the same receiver, at
// whatever positions.
bool same_pair(const Edge& a, const Edge& b);

// The senders and receivers of `config`'s model, in the order edge runs
// index them: embed, then per layer its heads and its MLP (senders); per
// layer its heads' q, k and v and its MLP, then logits (receivers).
std::vector<EdgePoint> edge_senders(const Config& config);
std::vector<EdgePoint> edge_receivers(const Config& config);

// True when `sender` writes to the residual stream before `receiver` reads it.
bool reaches(const EdgePoint& sender, const EdgePoint& receiver);

// The index of `point` in `points` (edge_senders or edge_receivers); InternalError when absent.
int64_t point_index(const std::vector<EdgePoint>& points, const EdgePoint& point);

// Every edge of the model (each sender with each receiver it reaches), by sender then receiver.
std::vector<Edge> all_edges(const Config& config);

// {"sender": NAME, "receiver": NAME, "positions": [P, ...] or "role": ROLE
// (optional, not both)}, positions returned ascending. InputError at the
// field for an unknown name (listing the forms), a layer or head out of
// range, an MLP of an attention-only model, a receiver the sender does not
// reach, positions not distinct in [0, n_ctx) and within `sample`'s
// sequences (a batch of the claim's task), a role `sample` lacks, or both.
Edge edge_at(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample);

// The hooks whose activations are the senders' outputs: blocks.0.hook_resid_pre,
// then each layer's attn.hook_result and (unless attention-only) hook_mlp_out.
std::vector<HookPoint> sender_hooks(const Config& config);

// The senders' outputs [senders, batch, pos, d_model] from a cache of sender_hooks.
at::Tensor sender_outputs(const Config& config, const std::map<HookPoint, at::Tensor>& cache);

// The hooks of the receivers' inputs in edge_config's model: each layer's
// hook_q|k|v_input and (unless attention-only) hook_mlp_in, then the last
// layer's hook_resid_post (ln_final's input, the logits').
std::vector<HookPoint> receiver_hooks(const Config& config);

// The receivers' inputs [receivers, batch, pos, d_model], in edge_receivers'
// order, from tensors at receiver_hooks (activations or their gradients).
at::Tensor receiver_inputs(const Config& config, const std::map<HookPoint, at::Tensor>& at_hooks);

// Logits [batch, pos - from, d_vocab_out] of `model` on `tokens` with every edge
// (receiver r, sender s) that s reaches and kept[r][s] is false ablated:
// its sender replaced, in what r reads, by ablated[s] (sender_outputs of the
// ablated activations, [senders, batch or 1, pos, d_model]). kept is bool
// [receivers, senders], [receivers, senders, n] with n >= pos for edges
// at positions (kept[r][s][p] false ablates the edge in what r reads at
// position p only), or [receivers, senders, batch, n] for edges whose
// positions differ per example (kept[r][s][i][p]: example i's position p).
// Runs the model part by part, each once: a layer's
// attention on its heads' edited inputs, then its MLP alone on its edited
// input (whose input depends on the layer's own heads), then ln_final and
// the unembedding on the logits' edited input: about one forward pass, plus
// the edits. As RunOptions::from_position, the last layer's queries, its MLP
// and the logits are computed only at positions >= `from` (what is scored;
// the logits at those positions are the same). On the model's device.
// InternalError when `from` is not in [0, pos) or kept has another shape.
//
// An edge run computes its parts in order: each layer's attention (which
// reads its heads' q, k and v inputs), its MLP (its input; not in an
// attention-only model), then the logits (theirs). What it holds before a
// part (the residual stream, and each sender's output so far minus its
// ablated value) depends only on the receivers of the parts before, so a
// run whose kept agrees with an earlier run's on those receivers (same
// tokens, ablated values and `from`) can start at that part from the
// earlier run's state there (`reuse`).
struct EdgeRunState {
  at::Tensor tokens, ablated, resid;    // from the positions the run has not dropped (`dropped` on)
  std::vector<at::Tensor> differences;  // per sender computed so far: its output minus its ablated value
  int64_t dropped = 0;
};
using EdgeRunStates = std::vector<EdgeRunState>;  // one per part, in order
struct EdgeRunReuse {
  EdgeRunStates* keep = nullptr;        // when set, filled with the run's state before each part
  const EdgeRunStates* base = nullptr;  // with start > 0: an earlier run's `keep`
  int start = 0;                        // the part this run starts at (first_differing_part)
};
at::Tensor run_edges(const HookedTransformer& model, const at::Tensor& tokens, const at::Tensor& ablated,
                     const at::Tensor& kept, int64_t from = 0, const EdgeRunReuse& reuse = {});

// The number of parts of an edge run of `config`'s model: n_layers (attention
// only) or 2 n_layers, plus the logits.
int edge_parts(const Config& config);

// The first part (in run_edges' order) whose receivers kept masks `a` and
// `b` (run_edges', any of its shapes) treat differently at any of the first
// `pos` positions (of any example); edge_parts when they agree on every
// receiver.
int first_differing_part(const Config& config, const at::Tensor& a, const at::Tensor& b, int64_t pos);

// `config` with the per-receiver input hooks an edge run edits
// (use_split_qkv_input, use_hook_mlp_in; not use_attn_in, which excludes them).
Config edge_config(const Config& config);

// `model` sharing its weights, with edge_config.
HookedTransformer edge_model(const HookedTransformer& model);

// kept for `edges` (run_edges): true for each of them. [receivers, senders]
// when no edge names positions or a role, [receivers, senders, n_ctx] when
// one names positions, and [receivers, senders, batch, pos] when one is at
// a role, the role's positions in `examples` (the batch [batch, pos] the
// run reads); true for an edge without positions at every position.
// Positions are edge_at's, in [0, n_ctx) and within the task's sequences.
// InternalError for an edge at a role without `examples`, or at a role they
// lack.
at::Tensor edge_mask(const Config& config, const std::vector<Edge>& edges, const Batch* examples = nullptr);

}  // namespace circuitcheck
