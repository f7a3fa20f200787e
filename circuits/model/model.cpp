#include "circuits/model/model.h"

#include "circuits/formats/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace circuitcheck {
namespace {

std::string block(int l) { return "blocks." + std::to_string(l) + "."; }

// Per-run dispatch table: which hooks are cached or intervened on.
struct HookRunner {
  std::vector<char> cached;
  std::vector<std::vector<std::size_t>> edits;
  const std::vector<Intervention>& interventions;
  RunResult& result;

  HookRunner(const Config& config, const RunOptions& options, RunResult& out)
      : cached(hook_slot_count(config), 0),
        edits(hook_slot_count(config)),
        interventions(options.interventions),
        result(out) {
    for (const auto& h : options.cache) cached[hook_slot(h)] = 1;
    for (std::size_t i = 0; i < options.interventions.size(); ++i) {
      edits[hook_slot(options.interventions[i].hook)].push_back(i);
      result.liveness.push_back(
          {hook_name(options.interventions[i].hook), to_string(options.interventions[i].kind)});
    }
  }

  bool wants(HookType type, int layer = -1) const {
    int s = hook_slot({type, layer});
    return cached[s] || !edits[s].empty();
  }

  at::Tensor fire(HookType type, int layer, at::Tensor x) {
    int s = hook_slot({type, layer});
    for (std::size_t i : edits[s]) x = apply_intervention(interventions[i], x, result.liveness[i]);
    if (cached[s]) result.cache[{type, layer}] = x;
    return x;
  }
};

const at::Tensor& param(const TensorMap& params, const std::string& name) {
  auto it = params.find(name);
  check(it != params.end(), "run", "missing parameter " + name);
  return it->second;
}

// TL LayerNorm / LayerNormPre over the last dimension, firing scale and normalized hooks.
at::Tensor layer_norm(const HookedTransformer& m, HookRunner& hooks, at::Tensor x,
                      const std::string& prefix, HookType scale_hook, HookType normalized_hook,
                      int layer) {
  const Normalization norm = m.config.normalization_type;
  if (norm == Normalization::kNone) return x;
  x = x - x.mean(-1, true);
  at::Tensor scale = hooks.fire(scale_hook, layer, (x.pow(2).mean(-1, true) + m.config.eps).sqrt());
  x = x / scale;
  if (norm == Normalization::kLN) x = x * param(m.params, prefix + "w") + param(m.params, prefix + "b");
  return hooks.fire(normalized_hook, layer, x);
}

// x [batch, pos, d_model] or [batch, pos, n_heads, d_model] -> [batch, pos, n_heads, d_head].
at::Tensor project(const at::Tensor& x, const at::Tensor& W, const at::Tensor& b) {
  const int64_t n_heads = W.size(0), d_model = W.size(1), d_head = W.size(2);
  if (x.dim() == 4)
    return at::einsum("bphm,hmd->bphd", {x, W}) + b;
  at::Tensor flat = W.permute({1, 0, 2}).reshape({d_model, n_heads * d_head});
  return at::addmm(b.reshape({-1}), x.reshape({-1, d_model}), flat)
      .view({x.size(0), x.size(1), n_heads, d_head});
}

std::pair<at::Tensor, at::Tensor> rotary_tables(const HookedTransformer& m, int layer,
                                                int64_t pos, const at::TensorOptions& opts) {
  auto sin_it = m.params.find(block(layer) + "attn.rotary_sin");
  auto cos_it = m.params.find(block(layer) + "attn.rotary_cos");
  if (sin_it != m.params.end() && cos_it != m.params.end())
    return {sin_it->second.slice(0, 0, pos), cos_it->second.slice(0, 0, pos)};
  const int64_t half = m.config.rotary_dim / 2;
  at::Tensor positions = at::arange(pos, opts);
  at::Tensor dims = at::arange(half, opts);
  at::Tensor freq = at::pow(m.config.rotary_base, dims / (m.config.rotary_dim / 2.0));
  freq = at::cat({freq, freq});
  at::Tensor angles = positions.unsqueeze(1) / freq.unsqueeze(0);
  return {angles.sin(), angles.cos()};
}

// GPT-NeoX rotary on the first rotary_dim dims of x [batch, pos, n_heads, d_head]
// whose positions start at `offset`.
at::Tensor rotate(const HookedTransformer& m, int layer, const at::Tensor& x, int64_t offset) {
  const int64_t rd = m.config.rotary_dim, half = rd / 2, pos = x.size(1);
  auto [sin, cos] = rotary_tables(m, layer, offset + pos, x.options());
  sin = sin.slice(0, offset).view({1, pos, 1, rd});
  cos = cos.slice(0, offset).view({1, pos, 1, rd});
  at::Tensor x_rot = x.narrow(-1, 0, rd);
  at::Tensor flipped = at::cat({-x_rot.narrow(-1, half, half), x_rot.narrow(-1, 0, half)}, -1);
  at::Tensor rotated = x_rot * cos + flipped * sin;
  if (rd == x.size(-1)) return rotated;
  return at::cat({rotated, x.narrow(-1, rd, x.size(-1) - rd)}, -1);
}

at::Tensor activation(ActFn fn, const at::Tensor& x) {
  switch (fn) {
    case ActFn::kRelu: return at::relu(x);
    case ActFn::kGelu: return at::gelu(x);
    case ActFn::kGeluNew:
      return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
    case ActFn::kSilu: return at::silu(x);
    case ActFn::kNone: break;
  }
  fail("run", "the model has no MLP activation function");
}

float ignore_value(const HookedTransformer& m, int layer) {
  auto it = m.params.find(block(layer) + "attn.IGNORE");
  if (it == m.params.end()) return -std::numeric_limits<float>::infinity();
  return it->second.item<float>();
}

struct Qkv {
  at::Tensor q, k, v;  // [batch, pos (q: pos - q_from), n_heads, d_head], after rotary
};

// An attention layer's per-position work: ln1, the q/k/v projections and
// rotary, with queries only at positions >= q_from, for a residual stream
// whose first position is `offset` (a run from a prefix).
Qkv project_qkv(const HookedTransformer& m, HookRunner& hooks, int l, const at::Tensor& resid,
                const at::Tensor& pos_embed, int64_t q_from, int64_t offset = 0) {
  const Config& c = m.config;
  const std::string p = block(l);
  const bool shortformer = c.positional_embedding_type == PositionalEmbedding::kShortformer;
  const int64_t batch = resid.size(0), pos = resid.size(1);
  auto ln1 = [&](const at::Tensor& x) {
    return layer_norm(m, hooks, x, p + "ln1.", HookType::kLn1Scale, HookType::kLn1Normalized, l);
  };
  at::Tensor q_in, k_in, v_in;
  if (c.use_attn_in) {
    v_in = ln1(hooks.fire(HookType::kAttnIn, l, resid.unsqueeze(2).expand({batch, pos, c.n_heads, c.d_model})));
    k_in = shortformer ? v_in + pos_embed.unsqueeze(2) : v_in;
    q_in = k_in.slice(1, q_from);
  } else if (c.use_split_qkv_input) {
    at::Tensor per_head = resid.unsqueeze(2).expand({batch, pos, c.n_heads, c.d_model});
    q_in = hooks.fire(HookType::kQInput, l, per_head.slice(1, q_from));
    // ln1's hooks cover the positions k's and v's do, in each of its three firings.
    const bool ln1_hooked = hooks.wants(HookType::kLn1Scale, l) || hooks.wants(HookType::kLn1Normalized, l);
    q_in = q_from > 0 && ln1_hooked ? ln1(at::cat({per_head.slice(1, 0, q_from), q_in}, 1)).slice(1, q_from) : ln1(q_in);
    k_in = ln1(hooks.fire(HookType::kKInput, l, per_head));
    v_in = ln1(hooks.fire(HookType::kVInput, l, per_head));
    if (shortformer) {
      q_in = q_in + pos_embed.slice(1, q_from).unsqueeze(2);
      k_in = k_in + pos_embed.unsqueeze(2);
    }
  } else {
    v_in = ln1(resid);
    k_in = shortformer ? v_in + pos_embed : v_in;
    q_in = k_in.slice(1, q_from);
  }
  at::Tensor q = hooks.fire(HookType::kQ, l, project(q_in, param(m.params, p + "attn.W_Q"), param(m.params, p + "attn.b_Q")));
  at::Tensor k = hooks.fire(HookType::kK, l, project(k_in, param(m.params, p + "attn.W_K"), param(m.params, p + "attn.b_K")));
  at::Tensor v = hooks.fire(HookType::kV, l, project(v_in, param(m.params, p + "attn.W_V"), param(m.params, p + "attn.b_V")));
  if (c.positional_embedding_type == PositionalEmbedding::kRotary) {
    q = hooks.fire(HookType::kRotQ, l, rotate(m, l, q, offset + q_from));
    k = hooks.fire(HookType::kRotK, l, rotate(m, l, k, offset));
  }
  return {q, k, v};
}

// An attention layer's output from z [batch, pos - q_from, n_heads, d_head]
// (after its hook); returns hook_attn_out [batch, pos - q_from, d_model].
at::Tensor attention_out(const HookedTransformer& m, HookRunner& hooks, int l, const at::Tensor& z) {
  const Config& c = m.config;
  const std::string p = block(l);
  const at::Tensor& W_O = param(m.params, p + "attn.W_O");
  const at::Tensor& b_O = param(m.params, p + "attn.b_O");
  at::Tensor out;
  if (hooks.wants(HookType::kResult, l)) {
    at::Tensor result = hooks.fire(HookType::kResult, l, at::einsum("bphd,hdm->bphm", {z, W_O}));
    out = result.sum(2) + b_O;
  } else {
    out = at::addmm(b_O, z.reshape({-1, c.n_heads * c.d_head}), W_O.reshape({c.n_heads * c.d_head, c.d_model}))
              .view({z.size(0), z.size(1), c.d_model});
  }
  return hooks.fire(HookType::kAttnOut, l, out);
}

// The causal mask: true above the diagonal, [pos - q_from, pos].
at::Tensor future_keys(int64_t pos, int64_t q_from, const at::TensorOptions& options) {
  return at::ones({pos - q_from, pos}, options.dtype(at::kBool)).triu(q_from + 1);
}

// The rest of an attention layer; returns hook_attn_out [batch, pos - q_from, d_model].
at::Tensor attend(const HookedTransformer& m, HookRunner& hooks, int l, const Qkv& x, int64_t q_from) {
  const Config& c = m.config;
  const at::Tensor &q = x.q, &k = x.k, &v = x.v;
  // [batch, n_heads, query_pos, key_pos]
  at::Tensor scores = at::matmul(q.permute({0, 2, 1, 3}), k.permute({0, 2, 3, 1})) / c.attn_scale;
  if (c.attention_dir == AttentionDir::kCausal)
    scores = scores.masked_fill(future_keys(k.size(1), q_from, k.options()), ignore_value(m, l));
  scores = hooks.fire(HookType::kAttnScores, l, scores);
  // A row with every key masked gives NaN, which TL sets to 0.
  at::Tensor pattern = hooks.fire(HookType::kPattern, l, at::nan_to_num(at::softmax(scores, -1), 0.0));
  // [batch, pos, n_heads, d_head]
  at::Tensor z = hooks.fire(HookType::kZ, l, at::matmul(pattern, v.permute({0, 2, 1, 3})).permute({0, 2, 1, 3}));
  return attention_out(m, hooks, l, z);
}

// A mixed start's rows: sources [2b, pos, ...] (b patched rows, then b base
// rows), mask bool [n, b or 1, pos]; returns [n * b, pos, ...], copy i taking
// the patched row where mask[i] is true.
at::Tensor pick_copies(const at::Tensor& sources, const at::Tensor& mask) {
  const int64_t b = sources.size(0) / 2;
  std::vector<int64_t> shape = mask.sizes().vec();
  shape.resize(sources.dim() + 1, 1);
  return at::where(mask.view(shape), sources.narrow(0, 0, b).unsqueeze(0), sources.narrow(0, b, b).unsqueeze(0))
      .flatten(0, 1);
}

// z [n * b, pos - q_from, n_heads, d_head] of a mixed start's attention
// layer, from the sources' projections `two` ([2b, ...]: b start_resid rows,
// then b start_base rows) and the mask [n, b or 1, pos]. Each prompt's query
// rows of all n copies attend over both sources' keys at once, the other
// source's key at each position hidden: one [n * q, 2 * pos] score matrix per
// prompt and head instead of n small ones.
at::Tensor mixed_start_z(const HookedTransformer& m, int l, const Qkv& two, const at::Tensor& mask, int64_t q_from) {
  const Config& c = m.config;
  const int64_t n = mask.size(0), b = two.k.size(0) / 2, pos = two.k.size(1), queries = pos - q_from;
  const int64_t h = c.n_heads, d = c.d_head;
  // [b, n_heads, n * queries, d_head]: copy i's queries in rows [i * queries, (i + 1) * queries)
  const at::Tensor q = pick_copies(two.q, mask.slice(2, q_from))
                           .view({n, b, queries, h, d})
                           .permute({1, 3, 0, 2, 4})
                           .reshape({b, h, n * queries, d});
  // [b, 2 * pos, n_heads, d_head]: start_resid's keys at [0, pos), start_base's at [pos, 2 pos)
  const auto both = [&](const at::Tensor& t) { return at::cat({t.narrow(0, 0, b), t.narrow(0, b, b)}, 1); };
  // [b, n_heads, n, queries, 2 * pos]
  at::Tensor scores =
      (at::matmul(q, both(two.k).permute({0, 2, 3, 1})) / c.attn_scale).view({b, h, n, queries, 2 * pos});
  if (c.attention_dir == AttentionDir::kCausal) {
    const at::Tensor future = future_keys(pos, q_from, mask.options());
    scores = scores.masked_fill(at::cat({future, future}, 1), ignore_value(m, l));
  }
  // hidden [mask rows, 1, n, 1, 2 * pos]: start_resid's key where the mask is false, start_base's where true
  const at::Tensor hidden = at::cat({mask.logical_not(), mask}, 2).permute({1, 0, 2}).unsqueeze(1).unsqueeze(3);
  scores = scores.masked_fill(hidden, -std::numeric_limits<float>::infinity());
  at::Tensor pattern = at::nan_to_num(at::softmax(scores, -1), 0.0).view({b, h, n * queries, 2 * pos});
  // [b, n_heads, n * queries, d_head] -> [n * b, queries, n_heads, d_head]
  return at::matmul(pattern, both(two.v).permute({0, 2, 1, 3}))
      .view({b, h, n, queries, d})
      .permute({2, 0, 3, 1, 4})
      .reshape({n * b, queries, h, d});
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& W, const at::Tensor& b) {
  auto sizes = x.sizes().vec();
  sizes.back() = W.size(1);
  return at::addmm(b, x.reshape({-1, x.size(-1)}), W).view(sizes);
}

at::Tensor mlp(const HookedTransformer& m, HookRunner& hooks, int l, const at::Tensor& resid_mid) {
  const std::string p = block(l);
  at::Tensor x = layer_norm(m, hooks, resid_mid, p + "ln2.", HookType::kLn2Scale, HookType::kLn2Normalized, l);
  at::Tensor pre = hooks.fire(HookType::kMlpPre, l, linear(x, param(m.params, p + "mlp.W_in"), param(m.params, p + "mlp.b_in")));
  at::Tensor post = hooks.fire(HookType::kMlpPost, l, activation(m.config.act_fn, pre));
  return hooks.fire(HookType::kMlpOut, l, linear(post, param(m.params, p + "mlp.W_out"), param(m.params, p + "mlp.b_out")));
}

void check_options(const Config& config, const RunOptions& options) {
  auto points = hook_points(config);
  std::set<HookPoint> valid(points.begin(), points.end());
  for (const auto& h : options.cache)
    check(valid.count(h) > 0, "run", "hook " + hook_name(h) + " does not exist in this model");
  for (const auto& iv : options.interventions)
    check(valid.count(iv.hook) > 0, "run", "intervention on hook " + hook_name(iv.hook) + " which does not exist in this model");
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> expected_params(const Config& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  const bool ln = c.normalization_type == Normalization::kLN;
  out.push_back({"embed.W_E", {c.d_vocab, c.d_model}});
  if (c.positional_embedding_type != PositionalEmbedding::kRotary)
    out.push_back({"pos_embed.W_pos", {c.n_ctx, c.d_model}});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = block(l);
    if (ln) {
      out.push_back({p + "ln1.w", {c.d_model}});
      out.push_back({p + "ln1.b", {c.d_model}});
    }
    for (const char* w : {"W_Q", "W_K", "W_V"})
      out.push_back({p + "attn." + w, {c.n_heads, c.d_model, c.d_head}});
    out.push_back({p + "attn.W_O", {c.n_heads, c.d_head, c.d_model}});
    for (const char* b : {"b_Q", "b_K", "b_V"}) out.push_back({p + "attn." + b, {c.n_heads, c.d_head}});
    out.push_back({p + "attn.b_O", {c.d_model}});
    if (!c.attn_only) {
      if (ln) {
        out.push_back({p + "ln2.w", {c.d_model}});
        out.push_back({p + "ln2.b", {c.d_model}});
      }
      out.push_back({p + "mlp.W_in", {c.d_model, c.d_mlp}});
      out.push_back({p + "mlp.b_in", {c.d_mlp}});
      out.push_back({p + "mlp.W_out", {c.d_mlp, c.d_model}});
      out.push_back({p + "mlp.b_out", {c.d_model}});
    }
  }
  if (ln) {
    out.push_back({"ln_final.w", {c.d_model}});
    out.push_back({"ln_final.b", {c.d_model}});
  }
  out.push_back({"unembed.W_U", {c.d_model, c.d_vocab_out}});
  out.push_back({"unembed.b_U", {c.d_vocab_out}});
  return out;
}

bool is_buffer_name(const std::string& name) {
  for (const char* suffix : {".attn.mask", ".attn.IGNORE", ".attn.rotary_sin", ".attn.rotary_cos"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
        name.rfind("blocks.", 0) == 0)
      return true;
  }
  return false;
}

std::string shape_text(at::IntArrayRef shape) {
  constexpr std::size_t kShown = 8;
  if (shape.size() <= kShown) return c10::str(shape);
  std::string out = "[";
  for (std::size_t i = 0; i < kShown; ++i) out += std::to_string(shape[i]) + ", ";
  return out + "...] (" + std::to_string(shape.size()) + " dimensions)";
}

HookedTransformer make_model(Config config, TensorMap params, const std::string& where) {
  validate_config(config, where);
  auto expected = expected_params(config);
  std::set<std::string> known;
  for (const auto& [name, shape] : expected) {
    known.insert(name);
    auto it = params.find(name);
    check(it != params.end(), where + ": " + name, "missing parameter (the config needs it)");
    check(it->second.is_floating_point(), where + ": " + name,
          "expected a floating-point tensor, got " + std::string(c10::toString(it->second.scalar_type())));
    check(it->second.sizes().vec() == shape, where + ": " + name,
          "shape " + shape_text(it->second.sizes()) + " contradicts the config, which needs " + shape_text(shape));
    it->second = it->second.to(at::kFloat);
  }
  for (auto& [name, tensor] : params) {
    if (known.count(name)) continue;
    check(is_buffer_name(name), where + ": " + name, "unexpected tensor for this config");
    if (name.find("rotary_") != std::string::npos) {
      check(config.positional_embedding_type == PositionalEmbedding::kRotary &&
                tensor.dim() == 2 && tensor.size(0) >= config.n_ctx && tensor.size(1) == config.rotary_dim,
            where + ": " + name, "shape " + shape_text(tensor.sizes()) + " contradicts the config");
      tensor = tensor.to(at::kFloat);
    } else if (name.find("IGNORE") != std::string::npos) {
      check(tensor.numel() == 1, where + ": " + name, "expected a scalar");
      tensor = tensor.to(at::kFloat);
    }
  }
  return {std::move(config), std::move(params)};
}

TensorMap init_params(const Config& config, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double std = 0.8 / std::sqrt(static_cast<double>(config.d_model));
  TensorMap params;
  for (const auto& [name, shape] : expected_params(config)) {
    const bool is_weight = name.find(".W_") != std::string::npos;
    const bool is_ln_weight = name.size() > 2 && name.compare(name.size() - 2, 2, ".w") == 0;
    at::Tensor t = is_weight ? at::normal(0.0, std, shape, gen, at::kFloat)
                             : (is_ln_weight ? at::ones(shape, at::kFloat) : at::zeros(shape, at::kFloat));
    params[name] = t;
  }
  return params;
}

void to_device(HookedTransformer& model, const at::Device& device) {
  for (auto& [name, tensor] : model.params) tensor = tensor.to(device);
}

at::Device model_device(const HookedTransformer& model) {
  return model.params.at("embed.W_E").device();
}

TensorMap named(const ActivationCache& cache) {
  TensorMap out;
  for (const auto& [hook, tensor] : cache) out[hook_name(hook)] = tensor;
  return out;
}

std::vector<HookPoint> all_hooks(const HookedTransformer& model) { return hook_points(model.config); }

void check_tokens(const Config& config, const at::Tensor& tokens, const std::string& where) {
  check(tokens.defined() && tokens.scalar_type() == at::kLong, where,
        "tokens must be an int64 tensor");
  check(tokens.dim() == 2, where, "tokens must be [batch, pos], got shape " + c10::str(tokens.sizes()));
  check(tokens.size(0) > 0 && tokens.size(1) > 0, where, "tokens are empty: shape " + c10::str(tokens.sizes()));
  check(tokens.size(1) <= config.n_ctx, where,
        "sequence length " + std::to_string(tokens.size(1)) + " exceeds n_ctx " + std::to_string(config.n_ctx));
  int64_t lo = 0, hi = 0;
  if (tokens.is_cpu()) {
    at::Tensor t = tokens.contiguous();
    const int64_t* data = t.data_ptr<int64_t>();
    auto [min_it, max_it] = std::minmax_element(data, data + t.numel());
    lo = *min_it;
    hi = *max_it;
  } else {
    auto [min_t, max_t] = at::aminmax(tokens);
    lo = min_t.item<int64_t>();
    hi = max_t.item<int64_t>();
  }
  check(lo >= 0 && hi < config.d_vocab, where,
        "token id " + std::to_string(lo < 0 ? lo : hi) + " is out of the vocabulary [0, " +
            std::to_string(config.d_vocab) + ")");
}

namespace {

// Checks from_position, a run's start (start_layer, start_resid, start_z, and
// a mixed start's start_base and start_mask) and its prefix against the config
// and the tokens; InputError "run: ..." otherwise.
void check_start(const Config& c, const at::Tensor& tokens_in, const RunOptions& options) {
  check(options.from_position >= 0 && options.from_position < tokens_in.size(1), "run",
        "from_position " + std::to_string(options.from_position) + " out of range [0, " +
            std::to_string(tokens_in.size(1)) + ")");
  const bool mixed = options.start_mask.defined();
  check(!options.start_base.defined() || mixed, "run", "start_base is set without start_mask");
  check(!mixed || options.start_resid.defined(), "run", "start_mask is set without start_resid");
  int64_t copies = 1;  // a mixed start's n
  if (mixed) {
    const at::Tensor& mask = options.start_mask;
    check(mask.scalar_type() == at::kBool && mask.dim() == 3 && mask.size(0) > 0 &&
              tokens_in.size(0) % mask.size(0) == 0 && mask.size(2) == tokens_in.size(1),
          "run", "start_mask has shape " + c10::str(mask.sizes()) + " and dtype " + c10::str(mask.scalar_type()) +
                     ", expected bool [n, b or 1, " + std::to_string(tokens_in.size(1)) + "] with n dividing the " +
                     std::to_string(tokens_in.size(0)) + " token rows");
    copies = mask.size(0);
    const int64_t b = tokens_in.size(0) / copies;
    check(mask.size(1) == b || mask.size(1) == 1, "run",
          "start_mask has shape " + c10::str(mask.sizes()) + ", expected [" + std::to_string(copies) + ", " +
              std::to_string(b) + " or 1, " + std::to_string(tokens_in.size(1)) + "]");
    check(options.start_base.defined() && options.start_base.sizes() == options.start_resid.sizes(), "run",
          "start_base must have start_resid's shape " + c10::str(options.start_resid.sizes()));
  }
  const RunPrefix& prefix = options.prefix;
  const int64_t p = prefix.length;
  if (p > 0 || !prefix.k.empty() || !prefix.v.empty()) {
    check(c.attention_dir == AttentionDir::kCausal && !mixed && !options.start_at_mlp, "run",
          "a prefix needs a causal model, and neither a mixed start nor start_at_mlp");
    check(p > 0 && p < tokens_in.size(1), "run",
          "a prefix of " + std::to_string(p) + " positions, expected 1 to " + std::to_string(tokens_in.size(1) - 1));
    const std::vector<int64_t> shape = {tokens_in.size(0), p, c.n_heads, c.d_head};
    // The last layer whose keys and values the run does not read.
    const int unread = options.start_z.defined()       ? options.start_layer
                       : options.start_resid.defined() ? options.start_layer - 1
                                                       : -1;
    const std::string needs = "a prefix needs keys and values " + c10::str(at::IntArrayRef(shape)) + " for each of the " +
                              std::to_string(c.n_layers) + " layers (undefined only before a start layer, or up to it "
                              "for a start at hook_z)";
    check(static_cast<int>(prefix.k.size()) == c.n_layers && static_cast<int>(prefix.v.size()) == c.n_layers, "run",
          needs + ", got " + std::to_string(prefix.k.size()) + " and " + std::to_string(prefix.v.size()));
    for (int l = 0; l < c.n_layers; ++l)
      for (const auto& [name, t] : {std::pair<const char*, const at::Tensor&>{"keys", prefix.k[l]}, {"values", prefix.v[l]}})
        check(t.defined() ? t.sizes() == at::IntArrayRef(shape) : l <= unread, "run",
              needs + ": layer " + std::to_string(l) + "'s " + name + " are " +
                  (t.defined() ? c10::str(t.sizes()) : std::string("undefined")));
  }
  check(!options.start_at_mlp || (options.start_resid.defined() && !mixed && !c.attn_only &&
                                   options.start_layer < c.n_layers),
        "run", "start_at_mlp needs start_resid, no start_mask, a layer below n_layers and a model with an MLP");
  if (options.start_z.defined()) {
    check(options.start_resid.defined(), "run", "start_z needs start_resid");
    check(!mixed && !options.start_at_mlp, "run", "start_z goes with neither start_mask nor start_at_mlp");
    check(options.start_layer < c.n_layers, "run",
          "start_z needs a start_layer below n_layers (" + std::to_string(c.n_layers) + ")");
    const std::vector<int64_t> shape = {tokens_in.size(0), tokens_in.size(1), c.n_heads, c.d_head};
    check(options.start_z.sizes() == at::IntArrayRef(shape), "run",
          "start_z has shape " + c10::str(options.start_z.sizes()) + ", expected " + c10::str(at::IntArrayRef(shape)));
  }
  if (options.start_resid.defined()) {
    const int top = mixed ? c.n_layers - 1 : c.n_layers;
    check(options.start_layer >= 0 && options.start_layer <= top, "run",
          "start_layer " + std::to_string(options.start_layer) + " out of range [0, " + std::to_string(top) + "]");
    const std::vector<int64_t> shape = {tokens_in.size(0) / copies, tokens_in.size(1), c.d_model};
    check(options.start_resid.sizes() == at::IntArrayRef(shape), "run",
          "start_resid has shape " + c10::str(options.start_resid.sizes()) + ", expected " + c10::str(at::IntArrayRef(shape)));
  }
}

// The last layer a run must compute: n_layers for every layer and the logits,
// else the deepest layer a cached hook or an intervention needs (-1: none).
int last_layer(const Config& c, const RunOptions& options) {
  if (options.logits) return c.n_layers;
  int last = -1;
  const auto need = [&](const HookPoint& h) {
    const bool after_layers = h.type == HookType::kLnFinalScale || h.type == HookType::kLnFinalNormalized;
    last = std::max(last, is_layer_hook(h.type) ? h.layer : after_layers ? c.n_layers : -1);
  };
  for (const auto& h : options.cache) need(h);
  for (const auto& iv : options.interventions) need(iv.hook);
  return last;
}

// Whether a run must compute layer `last` from hook `from` on: the logits
// need it, or a cached hook or an intervention is there.
bool needs_from(const RunOptions& options, int last, HookType from) {
  if (options.logits) return true;
  const auto there = [last, from](const HookPoint& h) { return h.layer == last && h.type >= from; };
  return std::any_of(options.cache.begin(), options.cache.end(), there) ||
         std::any_of(options.interventions.begin(), options.interventions.end(),
                     [&](const Intervention& iv) { return there(iv.hook); });
}

}  // namespace

RunResult run(const HookedTransformer& m, const at::Tensor& tokens_in, const RunOptions& options) {
  const Config& c = m.config;
  check_tokens(c, tokens_in, "run");
  check_options(c, options);
  check_start(c, tokens_in, options);
  const bool mixed = options.start_mask.defined();
  RunResult result;
  HookRunner hooks(c, options, result);
  const int64_t p = options.prefix.length;  // the run computes positions [p, pos) only
  at::Tensor tokens = tokens_in.to(model_device(m)).slice(1, p);
  const int64_t batch = tokens.size(0), pos = tokens.size(1);
  const bool started = options.start_resid.defined();
  if (c.use_hook_tokens && !started) tokens = hooks.fire(HookType::kTokens, -1, tokens);
  at::Tensor pos_embed;
  if (c.positional_embedding_type != PositionalEmbedding::kRotary) {
    pos_embed = param(m.params, "pos_embed.W_pos").slice(0, p, p + pos).unsqueeze(0).expand({batch, pos, c.d_model});
    if (!started) pos_embed = hooks.fire(HookType::kPosEmbed, -1, pos_embed);
  }
  at::Tensor resid;
  at::Tensor sources, mask;  // a mixed start's [2b, pos, d_model] and [n, b or 1, pos]
  bool shared_qkv = false;   // the start layer projects the sources and shares their attention (mixed_start_z)
  if (mixed) {
    sources = at::cat({options.start_resid, options.start_base}).to(tokens.device());
    mask = options.start_mask.to(tokens.device());
    const int l = options.start_layer;
    shared_qkv = !c.use_split_qkv_input && !c.use_attn_in;
    for (HookType t : {HookType::kResidPre, HookType::kLn1Scale, HookType::kLn1Normalized, HookType::kQ,
                       HookType::kK, HookType::kV, HookType::kRotQ, HookType::kRotK, HookType::kAttnScores,
                       HookType::kPattern})
      shared_qkv = shared_qkv && !hooks.wants(t, l);
    if (!shared_qkv) resid = pick_copies(sources, mask);
  } else if (started) {
    resid = options.start_resid.to(tokens.device()).slice(1, p);
  } else {
    at::Tensor embed = hooks.fire(HookType::kEmbed, -1,
        param(m.params, "embed.W_E").index_select(0, tokens.reshape({-1})).view({batch, pos, c.d_model}));
    resid = c.positional_embedding_type == PositionalEmbedding::kStandard ? embed + pos_embed : embed;
  }
  const int last = last_layer(c, options);
  const bool attention_last = needs_from(options, last, HookType::kAttnIn);  // beyond hook_resid_pre
  const bool whole_last = needs_from(options, last, HookType::kResidMid);
  if (started && options.start_layer == c.n_layers) resid = resid.slice(1, std::max<int64_t>(options.from_position - p, 0));
  for (int l = started ? options.start_layer : 0; l < c.n_layers && l <= last; ++l) {
    const int64_t q_from = l == c.n_layers - 1 ? std::max<int64_t>(options.from_position - p, 0) : 0;
    if (options.start_at_mlp && l == options.start_layer) {
      resid = resid.slice(1, q_from);
    } else if (options.start_z.defined() && l == options.start_layer) {
      const at::Tensor z = options.start_z.to(resid.device()).slice(1, p + q_from);
      resid = resid.slice(1, q_from) + attention_out(m, hooks, l, hooks.fire(HookType::kZ, l, z));
    } else if (shared_qkv && l == options.start_layer) {
      at::Tensor source_pos = pos_embed.defined() ? pos_embed.narrow(0, 0, 1).expand(sources.sizes()) : pos_embed;
      const at::Tensor z = mixed_start_z(m, l, project_qkv(m, hooks, l, sources, source_pos, q_from), mask, q_from);
      resid = pick_copies(sources.slice(1, q_from), mask.slice(2, q_from)) +
              attention_out(m, hooks, l, hooks.fire(HookType::kZ, l, z));
    } else {
      resid = hooks.fire(HookType::kResidPre, l, resid);
      if (l == last && !attention_last) break;
      Qkv qkv = project_qkv(m, hooks, l, resid, pos_embed, q_from, p);
      if (p > 0) {
        qkv.k = at::cat({options.prefix.k[l].to(qkv.k.device()), qkv.k}, 1);
        qkv.v = at::cat({options.prefix.v[l].to(qkv.v.device()), qkv.v}, 1);
      }
      resid = resid.slice(1, q_from) + attend(m, hooks, l, qkv, p + q_from);
    }
    if (l == last && !whole_last) break;
    if (!c.attn_only) {
      resid = hooks.fire(HookType::kResidMid, l, resid);
      resid = resid + mlp(m, hooks, l, c.use_hook_mlp_in ? hooks.fire(HookType::kMlpIn, l, resid) : resid);
    }
    resid = hooks.fire(HookType::kResidPost, l, resid);
  }
  if (last >= c.n_layers) {
    at::Tensor x = layer_norm(m, hooks, resid, "ln_final.", HookType::kLnFinalScale, HookType::kLnFinalNormalized, -1);
    result.logits = linear(x, param(m.params, "unembed.W_U"), param(m.params, "unembed.b_U"));
  }
  for (const auto& record : result.liveness)
    check(record.fired > 0, "run", "intervention on " + record.hook + " never fired: its hook was not reached");
  return result;
}

int64_t hook_first_position(const Config& config, const HookPoint& hook, int64_t from_position, int64_t prefix) {
  from_position = std::max(from_position, prefix);
  switch (hook.type) {
    case HookType::kLnFinalScale:
    case HookType::kLnFinalNormalized: return from_position;
    case HookType::kTokens:
    case HookType::kEmbed:
    case HookType::kPosEmbed:
    case HookType::kResidPre:
    case HookType::kAttnIn:
    case HookType::kKInput:
    case HookType::kVInput:
    case HookType::kLn1Scale:
    case HookType::kLn1Normalized:
    case HookType::kK:
    case HookType::kV:
    case HookType::kRotK: return prefix;
    default: return hook.layer == config.n_layers - 1 ? from_position : prefix;
  }
}

std::vector<HookPoint> prefix_hooks(const Config& config, int first_layer) {
  std::vector<HookPoint> out;
  const bool rotary = config.positional_embedding_type == PositionalEmbedding::kRotary;
  for (int l = first_layer; l < config.n_layers; ++l) {
    out.push_back({rotary ? HookType::kRotK : HookType::kK, l});
    out.push_back({HookType::kV, l});
  }
  return out;
}

RunPrefix run_prefix(const Config& config, const ActivationCache& cache, int64_t length, int first_layer) {
  check_internal(first_layer >= 0 && first_layer <= config.n_layers, "run_prefix",
                 "first layer " + std::to_string(first_layer) + " out of range [0, " + std::to_string(config.n_layers) + "]");
  RunPrefix out;
  out.length = length;
  out.k.resize(static_cast<std::size_t>(first_layer));
  out.v.resize(static_cast<std::size_t>(first_layer));
  const std::vector<HookPoint> hooks = prefix_hooks(config, first_layer);
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    auto it = cache.find(hooks[i]);
    check(it != cache.end() && it->second.size(1) >= length, "run_prefix",
          hook_name(hooks[i]) + " is not cached for the first " + std::to_string(length) + " positions");
    (i % 2 == 0 ? out.k : out.v).push_back(it->second.slice(1, 0, length).contiguous());
  }
  return out;
}

at::Tensor forward(const HookedTransformer& model, const at::Tensor& tokens) {
  return run(model, tokens).logits;
}

}  // namespace circuitcheck
