# Writes tests/model/goldens/<name>.safetensors: TransformerLens' own
# per-receiver input hooks on fixtures of ../shared/fixtures/tl and on the
# independently trained S2 model of ../shared/reference, for
# circuitcheck's parity test (tests/model/parity_test.cpp, SplitInputParity).
# Not run by the tests, which need no Python.
#
# Needs TransformerLens v2.12.0 (the version of the fixtures' goldens),
# einops 0.8.1, jaxtyping 0.2.36 and torch on the path. Run from the
# repository root:
#   python3 tests/model/goldens/make_goldens.py [--stub-missing-imports]
# --stub-missing-imports stands a dummy module in for each package that TL
# imports but its forward pass never calls (transformers, datasets, ...),
# for a machine that has only torch (as Debian's python3-torch).
#
# Per model, on the first `positions` tokens of its fixture's
# golden.safetensors (the reference S2 model: four valid S2 sequences, from
# torch's generator seeded 0):
# - split.*: the model with use_split_qkv_input, use_hook_mlp_in and
#   use_attn_result: every blocks.L.hook_q_input, hook_k_input,
#   hook_v_input [batch, pos, n_heads, d_model], hook_mlp_in [batch, pos,
#   d_model] (unless attention-only), attn.hook_result, and the logits;
# - attn_in.*: the model with use_attn_in: every blocks.L.hook_attn_in and
#   the logits;
# - patched.<hook>.logits: the split (or attn_in) model with one head's
#   input (or the MLP's) at that hook replaced by the same hook's value on
#   `other` tokens (the batch rolled by one example, or the positions
#   reversed for a batch of one), head `patched.<hook>.head`;
# - tokens, other.
import argparse, importlib.abc, importlib.machinery, json, struct, sys
from unittest import mock

# name: (folder under ../shared, the positions kept (None: all)); LN and not,
# shortformer (random and trained), LNPre with gelu_new and bidirectional
# attention, attention-only, rotary.
MODELS = {"random_biases": ("fixtures/tl/random_biases", None), "array_index": ("fixtures/tl/array_index", None),
          "lnpre_gelunew_bidir": ("fixtures/tl/lnpre_gelunew_bidir", 8), "attnonly_ln": ("fixtures/tl/attnonly_ln", 6),
          "var_rename": ("fixtures/tl/var_rename", 12), "array_index_reference": ("reference/array_index_seed1", None)}


def s2_tokens(torch, n):
    """n sequences BOS a0 a1 a2 \\n idx elt \\n b0 b1 b2 (../shared/SYSTEMS.md, S2)."""
    gen = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(n):
        a = torch.randint(0, 50, (3,), generator=gen).tolist()
        idx, elt = torch.randint(0, 3, (1,), generator=gen).item(), torch.randint(0, 50, (1,), generator=gen).item()
        b = list(a)
        b[idx] = elt
        rows.append([50] + a + [51, idx, elt, 51] + b)
    return torch.tensor(rows)
STUBBED = ("transformers", "datasets", "accelerate", "beartype", "better_abc", "fancy_einsum", "typeguard", "pandas",
           "rich", "sentencepiece", "tqdm", "wandb", "transformers_stream_generator", "huggingface_hub", "tokenizers",
           "safetensors", "jax", "plotly", "circuitsvis", "IPython", "packaging", "bitsandbytes")


class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        return importlib.machinery.ModuleSpec(name, self, is_package=True) if name.split(".")[0] in STUBBED else None

    def create_module(self, spec):
        module = mock.MagicMock(name=spec.name)
        module.__path__, module.__spec__, module.__name__ = [], spec, spec.name
        return module

    def exec_module(self, module):
        pass


DTYPES = {"F32": "float32", "I64": "int64"}


def read_safetensors(path):
    import torch
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header, data = json.loads(f.read(n)), f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        begin, end = v["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=getattr(torch, DTYPES[v["dtype"]])).view(v["shape"])
    return out


def write_safetensors(path, tensors, metadata):
    import torch
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stub-missing-imports", action="store_true")
    args = parser.parse_args()
    if args.stub_missing_imports:
        sys.meta_path.insert(0, StubFinder())
    import torch
    import transformer_lens
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)

    def model_with(folder, **flags):
        reference = folder.startswith("../shared/reference/")
        config = json.load(open(f"{folder}.json"))["config"] if reference else json.load(open(f"{folder}/config.json"))
        config.update(flags)
        model = HookedTransformer(HookedTransformerConfig(**config))
        state = torch.load(f"{folder}.pt" if reference else f"{folder}/model.pt", map_location="cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and all(k.endswith(("IGNORE", "mask")) for k in missing), (missing, unexpected)
        model.eval()
        return model

    for name, (where, positions) in MODELS.items():
        folder = f"../shared/{where}"
        tokens = (s2_tokens(torch, 4) if where.startswith("reference/")
                  else read_safetensors(f"{folder}/golden.safetensors")["tokens"][:, :positions])
        other = tokens.roll(1, 0) if tokens.shape[0] > 1 else tokens.flip(1)
        out = {"tokens": tokens, "other": other}
        split = model_with(folder, use_split_qkv_input=True, use_hook_mlp_in=True, use_attn_result=True)
        cfg = split.cfg
        logits, cache = split.run_with_cache(tokens)
        out["split.logits"] = logits
        kept = ["hook_q_input", "hook_k_input", "hook_v_input", "attn.hook_result"] + ([] if cfg.attn_only else ["hook_mlp_in"])
        for layer in range(cfg.n_layers):
            for hook in kept:
                out[f"split.blocks.{layer}.{hook}"] = cache[f"blocks.{layer}.{hook}"]
        attn_in = model_with(folder, use_attn_in=True)
        logits, cache = attn_in.run_with_cache(tokens)
        out["attn_in.logits"] = logits
        for layer in range(cfg.n_layers):
            out[f"attn_in.blocks.{layer}.hook_attn_in"] = cache[f"blocks.{layer}.hook_attn_in"]

        last = cfg.n_layers - 1
        patches = [(split, f"blocks.{last}.hook_q_input", cfg.n_heads - 1), (split, f"blocks.{last}.hook_k_input", 0),
                   (split, f"blocks.0.hook_v_input", 0), (attn_in, f"blocks.{last}.hook_attn_in", 0)]
        if not cfg.attn_only:
            patches.append((split, "blocks.0.hook_mlp_in", None))
        for model, hook, head in patches:
            _, theirs = model.run_with_cache(other, names_filter=hook)

            def patch(x, hook, head=head, value=theirs[hook]):
                if head is None:
                    return value
                x = x.clone()
                x[:, :, head] = value[:, :, head]
                return x

            out[f"patched.{hook}.logits"] = model.run_with_hooks(tokens, fwd_hooks=[(hook, patch)])
            out[f"patched.{hook}.head"] = torch.tensor([-1 if head is None else head])
        metadata = {"transformer_lens": "2.12.0 (db0f191f2e536e49c7784b69bae1fbfdd0141380)",
                    "torch": torch.__version__, "threads": "1", "dtype": "float32", "model": where,
                    "positions": str(tokens.shape[1]), "stubbed_imports": str(args.stub_missing_imports),
                    "made_by": "tests/model/goldens/make_goldens.py"}
        write_safetensors(f"tests/model/goldens/{name}.safetensors", out, metadata)
        print(name, sum(t.numel() for t in out.values()) * 4 // 1024, "KiB")


if __name__ == "__main__":
    main()
