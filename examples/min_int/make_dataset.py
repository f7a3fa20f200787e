# Writes min_int.jsonl: 2,000 questions "a b =" for ckkissane's min_int model
# (../shared/fixtures/external/ckk_min_int/SOURCE.md), as circuitcheck.dataset/1.
import json, random

rng = random.Random(2024)
with open("min_int.jsonl", "w") as out:
    out.write(json.dumps({"format": "circuitcheck.dataset/1", "description": "min(a, b) read at '=', a, b in 0..199",
                          "vocab": [str(v) for v in range(200)] + ["="],
                          "class_names": {"order": ["a<b", "a>b", "a=b"]}}) + "\n")
    for _ in range(2000):
        a, b = rng.randrange(200), rng.randrange(200)
        low = 0 if a <= b else 1
        out.write(json.dumps({"tokens": [a, b, 200], "targets": [-1, -1, min(a, b)],
                              "roles": {"a": 0, "b": 1, "eq": 2, "min": low, "max": 1 - low},
                              "classes": {"order": 0 if a < b else 1 if a > b else 2}}) + "\n")
