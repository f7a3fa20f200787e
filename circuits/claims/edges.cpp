#include "circuits/claims/edges.h"

#include "circuits/formats/error.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>

namespace circuitcheck {
namespace {

// The integer that `text` is from `from` up to `to` (npos: its end); -1 if none.
int64_t digits(const std::string& text, std::size_t from, std::size_t to) {
  if (to == std::string::npos) to = text.size();
  if (from >= to || to - from > 6) return -1;
  int64_t v = 0;
  for (std::size_t i = from; i < to; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

// "L1H0" or "L1H0.k" -> its point; nothing when it is neither.
bool parse_head(const std::string& name, EdgePoint& p) {
  const std::size_t h = name.find('H');
  if (name.size() < 4 || name[0] != 'L' || h == std::string::npos) return false;
  const std::size_t dot = name.find('.', h);
  p.layer = static_cast<int>(digits(name, 1, h));
  p.head = digits(name, h + 1, dot);
  if (p.layer < 0 || p.head < 0) return false;
  if (dot == std::string::npos) {
    p.end = EdgeEnd::kHead;
    return true;
  }
  const std::string input = name.substr(dot + 1);
  if (input != "q" && input != "k" && input != "v") return false;
  p.end = input == "q" ? EdgeEnd::kQuery : input == "k" ? EdgeEnd::kKey : EdgeEnd::kValue;
  return true;
}

bool is_sender(EdgeEnd end) { return end == EdgeEnd::kEmbed || end == EdgeEnd::kHead || end == EdgeEnd::kMlp; }

EdgePoint point_at(const nlohmann::json& v, const At& at, const Config& config, bool sender) {
  const std::string name = string_at(v, at);
  const char* forms = sender ? "a sender is embed, L<layer>H<head> or MLP<layer>"
                             : "a receiver is L<layer>H<head>.q, .k or .v, MLP<layer> or logits";
  EdgePoint p;
  bool known = true;
  if (name == "embed") p.end = EdgeEnd::kEmbed;
  else if (name == "logits") p.end = EdgeEnd::kLogits;
  else if (name.rfind("MLP", 0) == 0 && (p.layer = static_cast<int>(digits(name, 3, std::string::npos))) >= 0)
    p.end = sender ? EdgeEnd::kMlp : EdgeEnd::kMlpInput;
  else known = parse_head(name, p);
  if (!known || is_sender(p.end) != sender) at.fail(quote(name) + " is no " + (sender ? "sender" : "receiver") + ": " + forms);
  if (p.layer >= config.n_layers)
    at.fail(quote(name) + ": layer " + std::to_string(p.layer) + " out of range, the model has " +
            std::to_string(config.n_layers) + " layers");
  if (p.head >= config.n_heads)
    at.fail(quote(name) + ": head " + std::to_string(p.head) + " out of range, the model has " +
            std::to_string(config.n_heads) + " heads");
  if ((p.end == EdgeEnd::kMlp || p.end == EdgeEnd::kMlpInput) && config.attn_only)
    at.fail(quote(name) + ": the model is attention-only, it has no MLP");
  return p;
}

}  // namespace

std::string EdgePoint::name() const {
  const std::string l = std::to_string(layer), h = std::to_string(head);
  switch (end) {
    case EdgeEnd::kEmbed: return "embed";
    case EdgeEnd::kHead: return "L" + l + "H" + h;
    case EdgeEnd::kMlp:
    case EdgeEnd::kMlpInput: return "MLP" + l;
    case EdgeEnd::kQuery: return "L" + l + "H" + h + ".q";
    case EdgeEnd::kKey: return "L" + l + "H" + h + ".k";
    case EdgeEnd::kValue: return "L" + l + "H" + h + ".v";
    case EdgeEnd::kLogits: return "logits";
  }
  return "";
}

std::string Edge::name() const {
  const std::string where = !role.empty()       ? " at role " + role
                            : positions.empty() ? ""
                                                : " at " + c10::str(at::IntArrayRef(positions));
  return sender.name() + " -> " + receiver.name() + where;
}

bool same_pair(const Edge& a, const Edge& b) { return a.sender == b.sender && a.receiver == b.receiver; }

std::vector<EdgePoint> edge_senders(const Config& config) {
  std::vector<EdgePoint> out = {{EdgeEnd::kEmbed, -1, -1}};
  for (int l = 0; l < config.n_layers; ++l) {
    for (int64_t h = 0; h < config.n_heads; ++h) out.push_back({EdgeEnd::kHead, l, h});
    if (!config.attn_only) out.push_back({EdgeEnd::kMlp, l, -1});
  }
  return out;
}

std::vector<EdgePoint> edge_receivers(const Config& config) {
  std::vector<EdgePoint> out;
  for (int l = 0; l < config.n_layers; ++l) {
    for (int64_t h = 0; h < config.n_heads; ++h)
      for (EdgeEnd e : {EdgeEnd::kQuery, EdgeEnd::kKey, EdgeEnd::kValue}) out.push_back({e, l, h});
    if (!config.attn_only) out.push_back({EdgeEnd::kMlpInput, l, -1});
  }
  out.push_back({EdgeEnd::kLogits, -1, -1});
  return out;
}

int64_t point_index(const std::vector<EdgePoint>& points, const EdgePoint& point) {
  const auto found = std::find(points.begin(), points.end(), point);
  check_internal(found != points.end(), "point_index", point.name() + " is not in the list");
  return found - points.begin();
}

bool reaches(const EdgePoint& sender, const EdgePoint& receiver) {
  if (sender.end == EdgeEnd::kEmbed || receiver.end == EdgeEnd::kLogits) return true;
  if (sender.end == EdgeEnd::kHead && receiver.end == EdgeEnd::kMlpInput) return sender.layer <= receiver.layer;
  return sender.layer < receiver.layer;
}

std::vector<Edge> all_edges(const Config& config) {
  std::vector<Edge> out;
  for (const EdgePoint& s : edge_senders(config))
    for (const EdgePoint& r : edge_receivers(config))
      if (reaches(s, r)) out.push_back({s, r});
  return out;
}

Edge edge_at(const nlohmann::json& v, const At& at, const Config& config, const Batch& sample) {
  check_object(v, at, {"sender", "receiver", "positions", "role"}, {"sender", "receiver"});
  Edge e{point_at(v["sender"], at / "sender", config, true), point_at(v["receiver"], at / "receiver", config, false), {}, {}};
  if (!reaches(e.sender, e.receiver))
    (at / "receiver")
        .fail(e.receiver.name() + " reads the residual stream before " + e.sender.name() + " writes to it");
  if (v.contains("positions") && v.contains("role"))
    (at / "role").fail("an edge is at \"positions\" or at a \"role\", not both");
  if (v.contains("positions")) {
    e.positions = positions_at(v["positions"], at / "positions", config);
    check_within_sequence(e.positions, at / "positions", sample);
    std::sort(e.positions.begin(), e.positions.end());
    const auto twice = std::adjacent_find(e.positions.begin(), e.positions.end());
    if (twice != e.positions.end()) (at / "positions").fail("position " + std::to_string(*twice) + " is given twice");
  }
  if (v.contains("role")) {
    role_at(v["role"], at / "role", sample);
    e.role = v["role"].get<std::string>();
  }
  return e;
}

std::vector<HookPoint> sender_hooks(const Config& config) {
  std::vector<HookPoint> out = {{HookType::kResidPre, 0}};
  for (int l = 0; l < config.n_layers; ++l) {
    out.push_back({HookType::kResult, l});
    if (!config.attn_only) out.push_back({HookType::kMlpOut, l});
  }
  return out;
}

at::Tensor sender_outputs(const Config& config, const std::map<HookPoint, at::Tensor>& cache) {
  std::vector<at::Tensor> out = {cache.at({HookType::kResidPre, 0})};
  for (int l = 0; l < config.n_layers; ++l) {
    const at::Tensor& result = cache.at({HookType::kResult, l});
    for (int64_t h = 0; h < config.n_heads; ++h) out.push_back(result.select(2, h));
    if (!config.attn_only) out.push_back(cache.at({HookType::kMlpOut, l}));
  }
  return at::stack(out);
}

Config edge_config(const Config& config) {
  Config out = config;
  out.use_split_qkv_input = true;
  out.use_attn_in = false;
  out.use_hook_mlp_in = !config.attn_only;
  return out;
}

HookedTransformer edge_model(const HookedTransformer& model) {
  HookedTransformer out = model;
  out.config = edge_config(model.config);
  return out;
}

std::vector<HookPoint> receiver_hooks(const Config& config) {
  std::vector<HookPoint> out;
  for (int l = 0; l < config.n_layers; ++l) {
    for (HookType t : {HookType::kQInput, HookType::kKInput, HookType::kVInput}) out.push_back({t, l});
    if (!config.attn_only) out.push_back({HookType::kMlpIn, l});
  }
  out.push_back({HookType::kResidPost, config.n_layers - 1});
  return out;
}

at::Tensor receiver_inputs(const Config& config, const std::map<HookPoint, at::Tensor>& at_hooks) {
  std::vector<at::Tensor> out;
  for (int l = 0; l < config.n_layers; ++l) {
    for (int64_t h = 0; h < config.n_heads; ++h)
      for (HookType t : {HookType::kQInput, HookType::kKInput, HookType::kVInput}) out.push_back(at_hooks.at({t, l}).select(2, h));
    if (!config.attn_only) out.push_back(at_hooks.at({HookType::kMlpIn, l}));
  }
  out.push_back(at_hooks.at({HookType::kResidPost, config.n_layers - 1}));
  return at::stack(out);
}

at::Tensor edge_mask(const Config& config, const std::vector<Edge>& edges, const Batch* examples) {
  const std::vector<EdgePoint> senders = edge_senders(config), receivers = edge_receivers(config);
  const bool at_positions = std::any_of(edges.begin(), edges.end(), [](const Edge& e) { return !e.positions.empty(); });
  const bool at_roles = std::any_of(edges.begin(), edges.end(), [](const Edge& e) { return !e.role.empty(); });
  check_internal(!at_roles || examples, "edge_mask", "an edge at a role needs the examples");
  std::vector<int64_t> shape = {static_cast<int64_t>(receivers.size()), static_cast<int64_t>(senders.size())};
  if (at_roles) shape.push_back(examples->tokens.size(0));
  if (at_positions || at_roles) shape.push_back(at_roles ? examples->tokens.size(1) : config.n_ctx);
  at::Tensor kept = at::zeros(shape, at::kBool);
  for (const Edge& e : edges) {
    at::Tensor edge = kept[point_index(receivers, e.receiver)][point_index(senders, e.sender)];  // [batch?, n?]
    if (!e.role.empty()) {
      check_internal(examples->roles.count(e.role) > 0, "edge_mask", "the examples have no role " + quote(e.role));
      edge.logical_or_(role_mask(*examples, e.role));
    } else if (e.positions.empty()) {
      edge.fill_(true);
    } else {
      for (int64_t p : e.positions) edge.select(-1, p).fill_(true);
    }
  }
  return kept;
}

namespace {

// run_edges' kept (any of its shapes) as [receivers, senders, 1 or batch, pos].
at::Tensor kept_by_example(const at::Tensor& kept, int64_t pos) {
  if (kept.dim() == 2) return kept.view({kept.size(0), kept.size(1), 1, 1}).expand({-1, -1, 1, pos});
  if (kept.dim() == 3) return kept.slice(2, 0, pos).unsqueeze(2);
  return kept.slice(3, 0, pos);
}

// An ablated edge into a receiver: its sender, and the (example, position)
// pairs of [rows, pos) at which it is ablated, row-major (empty: every one).
using AblatedEdge = std::pair<int64_t, std::vector<bool>>;

// 1 where `edge` is ablated, else 0: [rows, pos, 1] with `options`;
// undefined when it is ablated at every position.
at::Tensor ablated_at(const AblatedEdge& edge, int64_t pos, const at::TensorOptions& options) {
  if (edge.second.empty()) return {};
  std::vector<float> mask(edge.second.begin(), edge.second.end());
  return at::tensor(mask).to(options).view({-1, pos, 1});
}

// For each receiver, the edges into it (among those that reach it) that
// `kept` (kept_by_example's [receivers, senders, rows, pos]) does not keep
// at every position of every row: one row when its rows agree, every row
// only for an edge whose positions differ per example.
std::vector<std::vector<AblatedEdge>> ablated_edges(const std::vector<EdgePoint>& senders,
                                                    const std::vector<EdgePoint>& receivers, const at::Tensor& kept) {
  const at::Tensor ablated = kept.to(at::kCPU, at::kBool).logical_not();
  const at::Tensor anywhere = ablated.flatten(2).any(2), everywhere = ablated.flatten(2).all(2);
  const at::Tensor per_row = ablated.ne(ablated.narrow(2, 0, 1)).flatten(2).any(2);
  const auto any_at = anywhere.accessor<bool, 2>(), all_at = everywhere.accessor<bool, 2>(), row_at = per_row.accessor<bool, 2>();
  std::vector<std::vector<AblatedEdge>> out(receivers.size());
  for (int64_t r = 0; r < static_cast<int64_t>(receivers.size()); ++r)
    for (int64_t s = 0; s < static_cast<int64_t>(senders.size()); ++s) {
      if (!reaches(senders[static_cast<std::size_t>(s)], receivers[static_cast<std::size_t>(r)]) || !any_at[r][s]) continue;
      std::vector<bool> at_positions;
      if (!all_at[r][s]) {
        const at::Tensor mask = (row_at[r][s] ? ablated[r][s] : ablated[r][s][0]).contiguous();
        const bool* first = mask.data_ptr<bool>();
        at_positions.assign(first, first + mask.numel());
      }
      out[static_cast<std::size_t>(r)].push_back({s, at_positions});
    }
  return out;
}

// An edge run (run_edges) layer by layer: the residual stream, and each
// sender known so far as its output in this run minus its ablated value.
struct EdgeRun {
  const HookedTransformer& split;  // edge_model's
  std::vector<std::vector<AblatedEdge>> ablated_into;  // per receiver (ablated_edges)
  std::vector<std::vector<at::Tensor>> masks;           // per receiver, each edge's ablated_at
  at::Tensor tokens, ablated, resid;
  std::vector<at::Tensor> differences;
  int64_t dropped = 0;  // positions dropped so far (drop_before): position 0 here is position `dropped` of the run
  // Receivers with the same ablated edges and first position share one input.
  std::map<std::pair<std::vector<AblatedEdge>, int64_t>, at::Tensor> inputs;

  void add_sender(const at::Tensor& output) {
    differences.push_back(output - ablated[static_cast<int64_t>(differences.size())]);
  }

  // What receiver r reads at positions [first, pos): the residual stream minus
  // its ablated edges' differences, at the positions where they are ablated.
  at::Tensor input_of(int64_t r, int64_t first) {
    const std::vector<AblatedEdge>& edges = ablated_into[static_cast<std::size_t>(r)];
    at::Tensor& in = inputs[{edges, first}];
    if (in.defined()) return in;
    in = resid.slice(1, first);
    for (std::size_t i = 0; i < edges.size(); ++i) {
      const at::Tensor difference = differences[static_cast<std::size_t>(edges[i].first)].slice(1, first);
      const at::Tensor& mask = masks[static_cast<std::size_t>(r)][i];
      in = in - (mask.defined() ? difference * mask.slice(1, dropped + first) : difference);
    }
    return in;
  }

  // Keeps positions [from, pos) only, from here on.
  void drop_before(int64_t from) {
    dropped += from;
    tokens = tokens.slice(1, from);
    ablated = ablated.slice(2, from);
    resid = resid.slice(1, from);
    for (at::Tensor& d : differences) d = d.slice(1, from);
  }

  // Layer l's attention on its heads' edited inputs (receivers r.. r + 3
  // n_heads - 1: head h's q, k and v input at r + 3h + 0, 1, 2), with
  // queries from position q_from on.
  void attention(int l, int64_t r, int64_t q_from) {
    const Config& c = split.config;
    RunOptions pass;
    pass.start_resid = resid;
    pass.start_layer = l;
    pass.from_position = q_from;
    pass.logits = false;
    pass.cache = {{HookType::kResult, l}, {HookType::kAttnOut, l}};
    inputs.clear();
    for (int k = 0; k < 3; ++k) {
      std::vector<at::Tensor> per_head;
      for (int64_t h = 0; h < c.n_heads; ++h) per_head.push_back(input_of(r + 3 * h + k, k == 0 ? q_from : 0));
      Intervention input;
      input.hook = {k == 0 ? HookType::kQInput : k == 1 ? HookType::kKInput : HookType::kVInput, l};
      input.kind = InterventionKind::kPatch;
      input.value = at::stack(per_head, 2);  // [batch, pos (q: pos - q_from), heads, d_model]
      pass.interventions.push_back(input);
    }
    const RunResult out = run(split, tokens, pass);
    if (q_from > 0) drop_before(q_from);
    for (int64_t h = 0; h < c.n_heads; ++h) add_sender(out.cache.at({HookType::kResult, l}).select(2, h));
    resid = resid + out.cache.at({HookType::kAttnOut, l});
  }

  // Layer l's MLP alone, on its edited input (receiver r).
  void mlp(int l, int64_t r) {
    RunOptions pass;
    pass.start_resid = resid;
    pass.start_layer = l;
    pass.start_at_mlp = true;
    pass.logits = false;
    Intervention input;
    input.hook = {HookType::kMlpIn, l};
    input.kind = InterventionKind::kPatch;
    inputs.clear();
    input.value = input_of(r, 0);
    pass.interventions = {input};
    pass.cache = {{HookType::kMlpOut, l}};
    const at::Tensor out = run(split, tokens, pass).cache.at({HookType::kMlpOut, l});
    add_sender(out);
    resid = resid + out;
  }
};

}  // namespace

at::Tensor run_edges(const HookedTransformer& model, const at::Tensor& tokens, const at::Tensor& ablated,
                     const at::Tensor& kept, int64_t from, const EdgeRunReuse& reuse) {
  const HookedTransformer split = edge_model(model);
  const Config& c = split.config;
  const std::vector<EdgePoint> senders = edge_senders(c), receivers = edge_receivers(c);
  check_internal(from >= 0 && from < tokens.size(1), "run_edges",
                 "from " + std::to_string(from) + " out of range [0, " + std::to_string(tokens.size(1)) + ")");
  const int64_t n_receivers = static_cast<int64_t>(receivers.size()), n_senders = static_cast<int64_t>(senders.size());
  const int64_t pos = tokens.size(1);
  check_internal((kept.dim() == 2 || (kept.dim() == 3 && kept.size(2) >= pos) ||
                  (kept.dim() == 4 && kept.size(2) == tokens.size(0) && kept.size(3) >= pos)) &&
                     kept.size(0) == n_receivers && kept.size(1) == n_senders,
                 "run_edges",
                 "kept has shape " + c10::str(kept.sizes()) + ", expected [" + std::to_string(n_receivers) + ", " +
                     std::to_string(n_senders) + "] (receivers, senders), [" + std::to_string(n_receivers) + ", " +
                     std::to_string(n_senders) + ", n >= " + std::to_string(pos) + "] (and positions) or [" +
                     std::to_string(n_receivers) + ", " + std::to_string(n_senders) + ", " +
                     std::to_string(tokens.size(0)) + ", n >= " + std::to_string(pos) + "] (and examples)");
  const int parts = edge_parts(c);
  check_internal(reuse.start == 0 || (reuse.base && static_cast<int>(reuse.base->size()) == parts &&
                                      reuse.start > 0 && reuse.start < parts),
                 "run_edges", "a run starts at part " + std::to_string(reuse.start) + " without a base run's " +
                                  std::to_string(parts) + " states");
  EdgeRun e{split, ablated_edges(senders, receivers, kept_by_example(kept, pos)), {}, tokens, ablated, {}, {}, 0, {}};
  for (const std::vector<AblatedEdge>& edges : e.ablated_into) {
    e.masks.emplace_back();
    for (const AblatedEdge& edge : edges) e.masks.back().push_back(ablated_at(edge, pos, ablated.options()));
  }
  if (reuse.keep) reuse.keep->clear();
  int part = 0;
  // Whether the run computes the next part: from `start` on, from the base's state at `start`.
  const auto computes = [&] {
    if (part < reuse.start) {
      if (reuse.keep) reuse.keep->push_back((*reuse.base)[static_cast<std::size_t>(part)]);
      ++part;
      return false;
    }
    if (part == reuse.start && reuse.start > 0) {
      const EdgeRunState& s = (*reuse.base)[static_cast<std::size_t>(part)];
      std::tie(e.tokens, e.ablated, e.resid, e.differences, e.dropped) =
          std::tie(s.tokens, s.ablated, s.resid, s.differences, s.dropped);
    }
    if (reuse.keep) reuse.keep->push_back({e.tokens, e.ablated, e.resid, e.differences, e.dropped});
    ++part;
    return true;
  };
  if (reuse.start == 0) {
    RunOptions embed;
    embed.cache = {{HookType::kResidPre, 0}};
    embed.logits = false;
    e.resid = run(split, tokens, embed).cache.at({HookType::kResidPre, 0});
    e.add_sender(e.resid);
  }
  int64_t r = 0;  // the layer's first receiver
  for (int l = 0; l < c.n_layers; ++l) {
    if (computes()) e.attention(l, r, l == c.n_layers - 1 ? from : 0);
    r += 3 * c.n_heads;
    if (c.attn_only) continue;
    if (computes()) e.mlp(l, r);
    ++r;
  }
  computes();
  RunOptions logits;  // ln_final and the unembedding, on the logits' edited input
  e.inputs.clear();
  logits.start_resid = e.input_of(r, 0);
  logits.start_layer = c.n_layers;
  return run(split, e.tokens, logits).logits;
}

int edge_parts(const Config& config) { return config.n_layers * (config.attn_only ? 1 : 2) + 1; }

int first_differing_part(const Config& config, const at::Tensor& a, const at::Tensor& b, int64_t pos) {
  const at::Tensor differing = kept_by_example(a, pos).ne(kept_by_example(b, pos)).flatten(1).any(1).nonzero();
  if (differing.numel() == 0) return edge_parts(config);
  const int64_t receiver = differing[0][0].item<int64_t>();
  const int64_t per_layer = 3 * config.n_heads + (config.attn_only ? 0 : 1);
  const int64_t layer = receiver / per_layer;
  if (layer >= config.n_layers) return edge_parts(config) - 1;
  const int per_part = config.attn_only ? 1 : 2;
  return static_cast<int>(layer) * per_part + (receiver % per_layer < 3 * config.n_heads ? 0 : 1);
}

}  // namespace circuitcheck
