# Writes sort_fixed_len_list.jsonl: 1,000 lists for ckkissane's sort_fixed_len_list model
# (../shared/fixtures/external/ckk_sort_fixed_len_list/SOURCE.md), as circuitcheck.dataset/1,
# each paired with a counterfactual list in which one value a_j is changed (role "changed").
import json, random

rng = random.Random(2024)
with open("sort_fixed_len_list.jsonl", "w") as out:
    out.write(json.dumps({"format": "circuitcheck.dataset/1", "vocab": [str(v) for v in range(50)] + ["BOS", "MID"],
                          "description": "[BOS a_1..a_10 MID b_1..b_10], b = sorted(a), a_i in 0..49"}) + "\n")
    for _ in range(1000):
        a = [rng.randrange(50) for _ in range(10)]
        b = sorted(a)
        tokens = [50] + a + [51] + b
        source = sorted(range(10), key=lambda i: (a[i], i))  # where b_k comes from: its first unused copy in a
        j = rng.randrange(10)  # the counterfactual changes a_j to another value
        changed = a[:j] + [(a[j] + 1 + rng.randrange(49)) % 50] + a[j + 1:]
        out.write(json.dumps({"tokens": tokens, "targets": [-1] * 11 + b + [-1],
                              "roles": {"mid": 11, "source": [1 + i for i in source], "changed": 1 + j},
                              "counterfactuals": {"change_one": [50] + changed + [51] + b},
                              "classes": {"duplicates": 10 - len(set(a))}}) + "\n")
