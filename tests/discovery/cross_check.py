"""An independent computation of circuitcheck's circuit quantities, in PyTorch.

Reads IN.safetensors, written by cross_check_test.cpp: the shipped S2 model's
parameters (TransformerLens names), a batch (tokens, targets), the claim's
mean-ablation values (mean.z.L [1, pos, heads, d_head] for nodes;
mean.embed [1, pos, d_model] and mean.result.L [1, pos, heads, d_model] for
edges) and the circuits (node_keep [layers, pos], a head kept at a position;
edge_keep [receivers, senders]); or inputs for path patching (path.tokens,
path.cf_tokens, path.targets), causal scrubbing (scrub.tokens,
scrub.targets, scrub.idx) and interchange (iia.tokens, iia.source). Prints JSON with what the file's inputs allow:
the faithfulness of the node circuit and of the edge circuit, and the AtP
and EAP-IG (ig_steps, default 5) score of every (layer, position) node; the recovery of a path; scrubbing's
three losses and the loss recovered; interchange accuracy. Only what S2's model needs: attention-only, no LayerNorm,
shortformer positions, causal attention.

Written from the definitions (claims/README.md), not from circuitcheck's code:
nodes replace a head's z at ablated positions by its mean; edges rebuild each
receiver's input as the biases plus, per sender, its output in this run (kept)
or its mean (ablated); AtP is (mean - z) . dm/dz by autograd, EAP-IG the same
with dm/dz averaged over runs from input residuals mean + (j/k)(x - mean); a path adds the
sender's clean-minus-counterfactual output to one receiver's input alone;
scrubbing resamples an activation from an example chosen here; interchange
patches from the source and scores against S2's rule applied here.
"""
import json
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "I64": torch.int64, "BOOL": torch.bool}[info["dtype"]]
        start, end = info["data_offsets"]
        raw = bytearray(data[8 + n + start:8 + n + end])
        out[name] = torch.frombuffer(raw, dtype=dtype).reshape(info["shape"]) if end > start else \
            torch.zeros(info["shape"], dtype=dtype)
    return out


def logit_diff(logits, targets):
    """Per example: target logit minus the best other, summed over scored positions."""
    scored = targets >= 0
    t = targets.clamp(min=0)
    target = logits.gather(-1, t.unsqueeze(-1)).squeeze(-1)
    other = logits.scatter(-1, t.unsqueeze(-1), float("-inf")).amax(-1)
    return ((target - other) * scored).sum(1)


class S2:
    def __init__(self, p, n_layers, attn_scale):
        self.p, self.L, self.scale = p, n_layers, attn_scale

    def attend(self, l, q_in, k_in, v_in):
        """z [batch, pos, heads, d_head] from per-head inputs [batch, pos, heads, d_model]."""
        p, pos = self.p, self.p["pos_embed.W_pos"][: q_in.shape[1]]
        q = torch.einsum("bphm,hmd->bphd", q_in + pos[None, :, None], p[f"blocks.{l}.attn.W_Q"]) + p[f"blocks.{l}.attn.b_Q"]
        k = torch.einsum("bphm,hmd->bphd", k_in + pos[None, :, None], p[f"blocks.{l}.attn.W_K"]) + p[f"blocks.{l}.attn.b_K"]
        v = torch.einsum("bphm,hmd->bphd", v_in, p[f"blocks.{l}.attn.W_V"]) + p[f"blocks.{l}.attn.b_V"]
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / self.scale
        n = scores.shape[-1]
        scores = scores.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf"))
        return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)

    def heads_out(self, l, z):
        """Each head's output [batch, pos, heads, d_model], without b_O."""
        return torch.einsum("bphd,hdm->bphm", z, self.p[f"blocks.{l}.attn.W_O"])

    def unembed(self, resid):
        return resid @ self.p["unembed.W_U"] + self.p["unembed.b_U"]

    def run(self, tokens, edit_z=lambda l, z: z, resid=None):
        """Logits; `resid` replaces the input residual (the token embeddings) when given."""
        resid = self.p["embed.W_E"][tokens] if resid is None else resid
        for l in range(self.L):
            x = resid.unsqueeze(2)
            z = edit_z(l, self.attend(l, x, x, x))
            resid = resid + self.heads_out(l, z).sum(2) + self.p[f"blocks.{l}.attn.b_O"]
        return self.unembed(resid)

    def run_edges(self, tokens, keep, means):
        """Senders: embed, then each layer's heads. Receivers: each layer's heads' q, k, v, then logits."""
        senders = [self.p["embed.W_E"][tokens]]
        ablated = [means["mean.embed"][0]]
        bias = torch.zeros_like(senders[0])
        r = 0

        def receive(r):
            return bias + sum(senders[s] if keep[r, s] else ablated[s] for s in range(len(senders)))

        for l in range(self.L):
            heads = self.p[f"blocks.{l}.attn.W_Q"].shape[0]
            inputs = [torch.stack([receive(r + 3 * h + k) for h in range(heads)], 2) for k in range(3)]
            r += 3 * heads
            out = self.heads_out(l, self.attend(l, *inputs))
            for h in range(heads):
                senders.append(out[:, :, h])
                ablated.append(means[f"mean.result.{l}"][0, :, h])
            bias = bias + self.p[f"blocks.{l}.attn.b_O"]
        return self.unembed(receive(r))


def target_log_prob(logits, targets):
    """Per example: the targets' log-probability, summed over scored positions."""
    scored = targets >= 0
    lp = logits.log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (lp * scored).sum(1)


def circuits(t, model, cfg):
    """Faithfulness of the node and edge circuits, and every node's AtP score."""
    tokens, targets = t["batch.tokens"], t["batch.targets"]
    node_keep = t["keep.nodes"]  # [layers, pos], bool: head 0 kept

    def ablate(keep_all):
        def edit(l, z):
            keep = node_keep[l] if not keep_all else torch.ones_like(node_keep[l])
            return torch.where(keep[None, :, None, None], z, t[f"mean.z.{l}"].expand_as(z))
        return edit

    with torch.no_grad():
        whole = logit_diff(model.run(tokens), targets)
        empty = logit_diff(model.run(tokens, lambda l, z: t[f"mean.z.{l}"].expand_as(z)), targets)
        circuit = logit_diff(model.run(tokens, ablate(False)), targets)
        f_nodes = ((circuit - empty).sum() / (whole - empty).sum()).item()
        edge_keep = t["keep.edges"]
        e_whole = logit_diff(model.run_edges(tokens, torch.ones_like(edge_keep), t), targets)
        e_empty = logit_diff(model.run_edges(tokens, torch.zeros_like(edge_keep), t), targets)
        e_circuit = logit_diff(model.run_edges(tokens, edge_keep, t), targets)
        f_edges = ((e_circuit - e_empty).sum() / (e_whole - e_empty).sum()).item()

    zs, deltas = {}, {}

    def probe(l, z):
        zs[l] = z.detach()
        deltas[l] = torch.zeros_like(z, requires_grad=True)
        return z + deltas[l]

    logit_diff(model.run(tokens, probe), targets).sum().backward()
    atp = [((t[f"mean.z.{l}"] - zs[l]) * deltas[l].grad).sum((0, 3))[:, 0].div(tokens.shape[0]).tolist()
           for l in range(cfg["n_layers"])]
    # EAP-IG (inputs): the gradients averaged over runs whose input residual goes from its mean to the model's.
    steps = cfg.get("ig_steps", 5)
    x = model.p["embed.W_E"][tokens]
    grads = [torch.zeros_like(zs[l]) for l in range(cfg["n_layers"])]
    for j in range(1, steps + 1):
        x_j = t["mean.embed"] + (j / steps) * (x - t["mean.embed"])
        logit_diff(model.run(tokens, probe, x_j), targets).sum().backward()
        for l in range(cfg["n_layers"]):
            grads[l] += deltas[l].grad / steps
    eap_ig = [((t[f"mean.z.{l}"] - zs[l]) * grads[l]).sum((0, 3))[:, 0].div(tokens.shape[0]).tolist()
              for l in range(cfg["n_layers"])]
    return {"f_nodes": f_nodes, "f_edges": f_edges, "f_edges_whole_is_model": (e_whole - whole).abs().max().item(),
            "atp": atp, "eap_ig": eap_ig}


@torch.no_grad()
def path_patching(t, model):
    """Layer 0's head at position 6 into layer 1's key input alone (denoising): the clean-minus-counterfactual
    output of the head there is added to what layer 1's key reads at position 6, every other reader seeing the
    counterfactual run. Recovery of the clean targets' log-probability, a ratio of sums over examples."""
    clean, cf, targets = t["path.tokens"], t["path.cf_tokens"], t["path.targets"]
    z = {}

    def keep_z0(name):
        def edit(l, v):
            if l == 0:
                z[name] = v
            return v
        return edit

    m_clean = target_log_prob(model.run(clean, keep_z0("clean")), targets)
    m_cf = target_log_prob(model.run(cf, keep_z0("cf")), targets)
    delta = torch.zeros_like(z["cf"])
    delta[:, 6] = z["clean"][:, 6] - z["cf"][:, 6]
    write = model.heads_out(0, delta).sum(2)  # [batch, pos, d_model]
    resid = model.p["embed.W_E"][cf]
    x = resid.unsqueeze(2)
    resid = resid + model.heads_out(0, model.attend(0, x, x, x)).sum(2) + model.p["blocks.0.attn.b_O"]
    x = resid.unsqueeze(2)
    z1 = model.attend(1, x, x + write.unsqueeze(2), x)
    resid = resid + model.heads_out(1, z1).sum(2) + model.p["blocks.1.attn.b_O"]
    m_path = target_log_prob(model.unembed(resid), targets)
    return {"path_recovery": ((m_path - m_cf).sum() / (m_clean - m_cf).sum()).item()}


@torch.no_grad()
def scrubbing(t, model):
    """Layer 0's head at position 6 resampled from another example with the same idx (scrubbed) or from any
    other example (random), donors drawn here with a generator of this script's own; losses are mean
    cross-entropy per scored position, and loss recovered (L_random - L_scrubbed) / (L_random - L_model)."""
    tokens, targets, idx = t["scrub.tokens"], t["scrub.targets"], t["scrub.idx"]
    n = tokens.shape[0]
    gen = torch.Generator().manual_seed(0)
    z = {}

    def keep_z0(l, v):
        if l == 0:
            z["own"] = v
        return v

    def loss(logits):
        scored = targets >= 0
        ce = -logits.log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (ce * scored).sum() / scored.sum()

    l_model = loss(model.run(tokens, keep_z0)).item()

    def donors(agree):
        out = torch.empty(n, dtype=torch.long)
        for i in range(n):
            pool = torch.nonzero((idx == idx[i]) if agree else torch.ones(n, dtype=torch.bool)).flatten()
            pool = pool[pool != i]
            out[i] = pool[torch.randint(len(pool), (1,), generator=gen)] if len(pool) else i
        return out

    def resampled(d):
        def edit(l, v):
            if l != 0:
                return v
            v = v.clone()
            v[:, 6] = z["own"][d, 6]
            return v
        return loss(model.run(tokens, edit)).item()

    l_scrubbed, l_random = resampled(donors(True)), resampled(donors(False))
    return {"loss_model": l_model, "loss_scrubbed": l_scrubbed, "loss_random": l_random,
            "loss_recovered": (l_random - l_scrubbed) / (l_random - l_model)}


@torch.no_grad()
def interchange(t, model):
    """Layer 0's head at positions 6-10 patched from the source (idx drawn again) into the base: a pair counts
    when the argmax at 7, 8 and 9 is S2's answer with the source's idx, b = a with b[idx] = elt, computed here."""
    base, source = t["iia.tokens"], t["iia.source"]
    z = {}

    def keep(l, v):
        if l == 0:
            z["source"] = v
        return v

    def patch(l, v):
        if l != 0:
            return v
        v = v.clone()
        v[:, 6:11] = z["source"][:, 6:11]
        return v

    model.run(source, keep)
    predicted = model.run(base, patch)[:, 7:10].argmax(-1)
    expected = base[:, 1:4].clone()
    expected[torch.arange(base.shape[0]), source[:, 5]] = base[:, 6]
    unpatched = model.run(base)[:, 7:10].argmax(-1)
    return {"iia_pairs": int((predicted == expected).all(1).sum()), "iia_unpatched": int((unpatched == expected).all(1).sum()),
            "iia_n": base.shape[0]}


def main():
    t = read_safetensors(sys.argv[1])
    cfg = json.loads(sys.argv[2])
    model = S2({k: v for k, v in t.items() if not k.startswith(("mean.", "batch.", "keep.", "path.", "scrub.", "iia."))},
               cfg["n_layers"], cfg["attn_scale"])
    out = {}
    if "keep.nodes" in t:
        out.update(circuits(t, model, cfg))
    if "path.tokens" in t:
        out.update(path_patching(t, model))
    if "scrub.tokens" in t:
        out.update(scrubbing(t, model))
    if "iia.tokens" in t:
        out.update(interchange(t, model))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
