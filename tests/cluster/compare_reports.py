#!/usr/bin/env python3
"""Compare two circuitcheck JSON documents (reports, timeline.json, checkpoints.json), ignoring timing.

usage: compare_reports.py A.json B.json

Drops every key named wall_seconds, claim_seconds, seconds, date or elapsed_s
(at any depth) from both documents and requires the rest to be equal. Exit 0
when equal, 1 when they differ (the first differences are printed), 2 when a
file cannot be read.
"""
import json
import sys

TIMING_KEYS = {"wall_seconds", "claim_seconds", "seconds", "date", "elapsed_s"}


def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in TIMING_KEYS}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x


def diffs(a, b, path="$"):
    if type(a) is not type(b):
        yield "%s: %r != %r" % (path, a, b)
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                yield "%s.%s: only in the second file" % (path, k)
            elif k not in b:
                yield "%s.%s: only in the first file" % (path, k)
            else:
                yield from diffs(a[k], b[k], "%s.%s" % (path, k))
    elif isinstance(a, list):
        if len(a) != len(b):
            yield "%s: list lengths %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diffs(x, y, "%s[%d]" % (path, i))
    elif a != b:
        yield "%s: %r != %r" % (path, a, b)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    docs = []
    for p in argv[1:]:
        try:
            with open(p) as f:
                docs.append(strip(json.load(f)))
        except (OSError, ValueError) as e:
            print("compare_reports: cannot read %s: %s" % (p, e), file=sys.stderr)
            return 2
    if docs[0] == docs[1]:
        print("compare_reports: %s and %s agree (timing keys ignored)" % (argv[1], argv[2]))
        return 0
    print("compare_reports: %s and %s differ (timing keys ignored):" % (argv[1], argv[2]), file=sys.stderr)
    for i, d in enumerate(diffs(docs[0], docs[1])):
        if i == 20:
            print("  ...", file=sys.stderr)
            break
        print("  " + d, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
