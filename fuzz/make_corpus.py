# Writes the seed corpora of fuzz/corpus/ and the hand-made inputs of
# fuzz/regressions/ (run from the repository root with /usr/bin/python3 and
# python3-torch). Seeds: tiny torch.save files (zip and legacy), tiny
# safetensors checkpoints and datasets, and copies of the shipped claim files,
# task specs and the first lines of the example datasets. Regressions: inputs
# built to break a reader (each named for what it does). Every file is made
# here or taken from this repository, so both folders are reproducible; inputs
# that libFuzzer found are added to fuzz/regressions/ by hand (fuzz/README.md).
import collections, io, json, os, struct, zipfile
import torch


def write(folder, target, name, data):
    os.makedirs(f"fuzz/{folder}/{target}", exist_ok=True)
    with open(f"fuzz/{folder}/{target}/{name}", "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def seed(target, name, data):
    write("corpus", target, name, data)


def regression(target, name, data):
    write("regressions", target, name, data)


def state_dict():
    storage = torch.arange(12, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["embed.W_E"] = storage.view(3, 4)
    sd["blocks.0.attn.W_Q"] = storage[2:8].view(2, 3)        # a view into a shared storage
    sd["blocks.0.ln1.w"] = torch.ones(4, dtype=torch.float16)
    sd["pos"] = torch.tensor([[1, 2], [3, 4]], dtype=torch.int64).t()  # non-contiguous strides
    sd["mask"] = torch.tensor([True, False])
    sd["bf"] = torch.zeros(2, dtype=torch.bfloat16)
    sd._metadata = {"": {"version": 1}}
    return sd


def torch_seeds():
    for name, zipped in (("zip.pt", True), ("legacy.pt", False)):
        seed("torch_checkpoint", name, torch_bytes(state_dict(), zipped))
    seed("torch_checkpoint", "plain_dict.pt", torch_bytes({"w": torch.tensor([1.5, -2.0], dtype=torch.float64)}, True))


def torch_bytes(obj, zipped):
    out = io.BytesIO()
    torch.save(obj, out, _use_new_zipfile_serialization=zipped)
    return out.getvalue()


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def safetensors_bytes(tensors, metadata=None):
    header, data = {}, b""
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    tensors = {"a.f32": torch.arange(6, dtype=torch.float32).view(2, 3), "b.f16": torch.ones(3, dtype=torch.float16),
               "c.bf16": torch.zeros(2, dtype=torch.bfloat16), "d.f64": torch.tensor([0.5]),
               "e.i64": torch.tensor([[7]], dtype=torch.int64), "f.i32": torch.tensor([1, -1], dtype=torch.int32),
               "g.u8": torch.tensor([255], dtype=torch.uint8), "h.bool": torch.tensor([True, False]),
               "i.empty": torch.zeros(0, 4)}
    seed("safetensors", "dtypes.safetensors", safetensors_bytes(tensors))
    config = {"n_layers": 1, "d_model": 4, "n_ctx": 3, "d_head": 2, "n_heads": 2, "d_vocab": 5, "act_fn": "relu"}
    seed("safetensors", "metadata.safetensors",
         safetensors_bytes({"embed.W_E": torch.zeros(5, 4)}, {"config": json.dumps(config), "format": "pt"}))
    seed("safetensors", "empty.safetensors", safetensors_bytes({}))


def dataset_seeds():
    tokens = torch.tensor([[0, 1, 2], [1, 0, 2]])
    targets = torch.tensor([[-1, -1, 0], [-1, -1, 0]])
    meta = {"format": "circuitcheck.dataset/1", "vocab": json.dumps(["0", "1", "="]),
            "class_names": json.dumps({"order": ["a<b", "a>b"]}), "description": "min of two"}
    seed("dataset_safetensors", "minimal.safetensors",
         safetensors_bytes({"tokens": tokens, "targets": targets}, {"format": "circuitcheck.dataset/1"}))
    seed("dataset_safetensors", "full.safetensors", safetensors_bytes({
        "tokens": tokens, "targets": targets, "unit": torch.tensor([[-1, -1, 0], [-1, -1, 0]]),
        "role.a": torch.tensor([0, 0]), "role.ab": torch.tensor([[0, 1], [0, 1]]),
        "class.order": torch.tensor([0, 1]), "counterfactual.swap": tokens.flip(1),
        "counterfactual.swap.targets": targets}, meta))


def copies():
    for source in sorted(os.listdir("claims")):
        if source.endswith(".json"):
            seed("claim_file", source, open(f"claims/{source}", "rb").read())
    for source in ("examples/task_specs/array_index.json", "examples/task_specs/modular_addition.json",
                   "examples/min_int/min_int_task.json"):
        seed("task_spec", os.path.basename(source), open(source, "rb").read())
    for source in ("examples/min_int/min_int.jsonl", "examples/sort_fixed_len_list/sort_fixed_len_list.jsonl"):
        with open(source, "rb") as f:
            seed("dataset_lines", os.path.basename(source), b"".join(f.readline() for _ in range(4)))


def nested(depth):
    return "[" * depth + "]" * depth


def replaced(data, old, new):
    assert old in data, old
    return data.replace(old, new, 1)


def safetensors_regressions():
    good = safetensors_bytes({"w": torch.arange(4, dtype=torch.float32)})
    length = struct.unpack("<Q", good[:8])[0]
    regression("safetensors", "header_length_one_short", struct.pack("<Q", length - 1) + good[8:])
    regression("safetensors", "header_length_huge", b"\xff" * 8 + good[8:])
    regression("safetensors", "trailing_byte", good + b"\0")
    regression("safetensors", "nul_in_header", good[:9] + b"\0" + good[10:])
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    regression("safetensors", "tensor_named_twice", struct.pack("<Q", len(header)) + header + b"\0" * 4)
    header = b'{"w":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}'
    regression("safetensors", "shape_overflows", struct.pack("<Q", len(header)) + header)
    header = b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}'
    regression("safetensors", "overlapping_tensors", struct.pack("<Q", len(header)) + header + b"\0" * 3)
    header = ('{"__metadata__":{"config":"' + nested(20000) + '"}}').encode()
    regression("safetensors", "config_nested_20000_deep", struct.pack("<Q", len(header)) + header)
    header = ('{"w":' + nested(20000) + '}').encode()
    regression("safetensors", "header_nested_20000_deep", struct.pack("<Q", len(header)) + header)


def torch_regressions():
    regression("torch_checkpoint", "global_os_system.pt", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    legacy = torch_bytes(state_dict(), False)
    regression("torch_checkpoint", "legacy_truncated.pt", legacy[: len(legacy) * 2 // 3])
    regression("torch_checkpoint", "key_not_utf8.pt", replaced(legacy, b"embed.W_E", b"embed\xffW_E"))
    expanded = {"w": torch.zeros(1).expand(1 << 20, 1 << 18)}  # one element seen as 1 TiB (strides 0, 0)
    regression("torch_checkpoint", "stride0_view_1tib.pt", torch_bytes(expanded, False))
    source = zipfile.ZipFile(io.BytesIO(torch_bytes(state_dict(), True)))
    for name, byteorder, cut in (("byteorder_big.pt", b"big", False), ("zip_cut.pt", b"little", True)):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            for entry in source.namelist():
                z.writestr(entry, source.read(entry))
            z.writestr("zip/byteorder", byteorder)
        data = out.getvalue()
        regression("torch_checkpoint", name, data[: len(data) - 30] if cut else data)


def claim_regressions():
    good = json.load(open("claims/modular_addition.json"))
    regression("claim_file", "nul_in_checkpoint.json", json.dumps(dict(good, checkpoint="checkpoints/x\0.safetensors")))
    regression("claim_file", "unknown_system.json", json.dumps(dict(good, system="no_such_system")))
    regression("claim_file", "nested_20000_deep.json", '{"claims":' + nested(20000) + "}")
    claims = [dict(c, id="a" * 100000) if i == 0 else c for i, c in enumerate(good["claims"])]
    regression("claim_file", "id_of_100000_characters.json", json.dumps(dict(good, claims=claims)))
    s2 = json.load(open("claims/array_index.json"))
    edges = next(c for c in s2["claims"] if c["id"] == "copy_edges")

    def edges_at(where):
        at = [dict(e, **where) if e["receiver"] == "L1H0.k" else e for e in edges["edges"]]
        hypothesis = "copy_edges with layer 0's key edge at " + ("a role" if "role" in where else "given positions")
        return json.dumps(dict(s2, claims=[dict(edges, edges=at, hypothesis=hypothesis)]))
    seed("claim_file", "edges_at_positions.json", edges_at({"positions": [6]}).encode())
    seed("claim_file", "edges_at_role.json", edges_at({"role": "elt"}).encode())
    regression("claim_file", "edge_position_huge.json", edges_at({"positions": [6, 2**62]}))


def dataset_regressions():
    line = {"tokens": [0, 1, 2], "targets": [-1, -1, 0]}
    regression("dataset_lines", "nul.jsonl", json.dumps(line) + "\n\0\n")
    regression("dataset_lines", "token_id_huge.jsonl", json.dumps(dict(line, tokens=[0, 1, 2**62])) + "\n")
    regression("dataset_lines", "ragged.jsonl", json.dumps(line) + "\n" + json.dumps(dict(line, tokens=[0, 1])) + "\n")
    regression("dataset_lines", "nested_20000_deep.jsonl", '{"tokens":' + nested(20000) + "}\n")
    regression("dataset_lines", "nothing_scored.jsonl", json.dumps(dict(line, targets=[-1, -1, -1])) + "\n")
    tokens = torch.tensor([[0, 1, 2]])
    targets = torch.tensor([[-1, -1, 0]])
    meta = {"format": "circuitcheck.dataset/1"}
    regression("dataset_safetensors", "tokens_f32.safetensors",
               safetensors_bytes({"tokens": tokens.float(), "targets": targets}, meta))
    regression("dataset_safetensors", "role_outside.safetensors",
               safetensors_bytes({"tokens": tokens, "targets": targets, "role.a": torch.tensor([3])}, meta))
    regression("dataset_safetensors", "vocab_nested_20000_deep.safetensors",
               safetensors_bytes({"tokens": tokens, "targets": targets}, dict(meta, vocab=nested(20000))))


def task_spec_regressions():
    spec = json.load(open("examples/task_specs/modular_addition.json"))
    sequence = spec["sequence"]
    regression("task_spec", "division_by_zero.json",
               json.dumps(dict(spec, sequence=sequence[:2] + [dict(sequence[2], target="a / (b - b)")])))
    regression("task_spec", "cyclic_let.json", json.dumps(dict(spec, let={"x": "y + 1", "y": "x + 1"})))
    regression("task_spec", "expression_20000_deep.json",
               json.dumps(dict(spec, let={"x": "(" * 20000 + "a" + ")" * 20000})))
    regression("task_spec", "list_of_2_62.json",
               json.dumps(dict(spec, fields=[{"name": "a", "length": 2**62, "min": 0, "max": 112}] + spec["fields"][1:])))


torch_seeds()
safetensors_seeds()
dataset_seeds()
copies()
safetensors_regressions()
torch_regressions()
claim_regressions()
dataset_regressions()
task_spec_regressions()
