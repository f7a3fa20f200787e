# Writes min_int.jsonl: 2,000 questions "a b =" for ckkissane's min_int model
# (../shared/fixtures/external/ckk_min_int/SOURCE.md), as circuitcheck.dataset/1,
# each paired with a counterfactual whose smaller operand is raised above the larger.
import json, random

rng = random.Random(2024)
with open("min_int.jsonl", "w") as out:
    out.write(json.dumps({"format": "circuitcheck.dataset/1", "description": "min(a, b) read at '=', a, b in 0..199",
                          "vocab": [str(v) for v in range(200)] + ["="],
                          "class_names": {"order": ["a<b", "a>b", "a=b"]}}) + "\n")
    for _ in range(2000):
        a, b = rng.randrange(200), rng.randrange(200)
        low = 0 if a <= b else 1
        raised = [a, b, 200]  # the smaller operand raised above the larger (unchanged when the larger is 199)
        raised[low] = max(a, b) + 1 + rng.randrange(199 - max(a, b)) if max(a, b) < 199 else raised[low]
        out.write(json.dumps({"tokens": [a, b, 200], "targets": [-1, -1, min(a, b)],
                              "counterfactuals": {"raise_min": raised},
                              "counterfactual_targets": {"raise_min": [-1, -1, min(raised[:2])]},
                              "roles": {"a": 0, "b": 1, "eq": 2, "min": low, "max": 1 - low},
                              "classes": {"order": 0 if a < b else 1 if a > b else 2}}) + "\n")
