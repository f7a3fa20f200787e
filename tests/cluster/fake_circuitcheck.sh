#!/usr/bin/env bash
# TEST DOUBLE for the Slurm plumbing only (tests/cluster/slurm_test.sh,
# contrib/slurm/): it mimics circuitcheck's command line and exit codes, not its
# verification. Nothing here says anything about real claims or checkpoints; the
# CLAIMS and --checkpoints arguments are not even read.
#
#   verify CLAIMS --checkpoints DIR --shard I/N --shard-report FILE
#       takes the work items k in 1..FAKE_CIRCUITCHECK_ITEMS (default 10) with
#       (k-1) mod N == I-1 and writes them to FILE as JSON
#   verify CLAIMS --checkpoints DIR --report-dir DIR
#       writes DIR/timeline.json with all items and DIR/index.html
#   merge FILE... --report-dir DIR
#       checks that the shards are exactly 1..N of one N, writes the union
#       to DIR/timeline.json like the single-process run
# Every JSON file carries timing keys (wall_seconds, date) whose values differ
# between runs, so that a comparison has to drop them.
#
# Knobs: FAKE_CIRCUITCHECK_FAIL_SHARD=I makes shard I exit 2 (bad input) without
#        a report; FAKE_CIRCUITCHECK_CLAIMS_FAIL=1 makes every run report a
#        failed claim (exit 1, reports still written);
#        FAKE_CIRCUITCHECK_SLEEP=S makes each shard take S more seconds.
set -euo pipefail
exec python3 - "$@" <<'PY'
import json, os, sys, time, random

def die(msg, code=2):
    print("fake_circuitcheck: " + msg, file=sys.stderr)
    sys.exit(code)

def opt(args, name):
    if name in args:
        i = args.index(name)
        if i + 1 >= len(args):
            die("missing value for " + name)
        v = args[i + 1]
        del args[i:i + 2]
        return v
    return None

items_total = int(os.environ.get("FAKE_CIRCUITCHECK_ITEMS", "10"))
claims_fail = os.environ.get("FAKE_CIRCUITCHECK_CLAIMS_FAIL") == "1"

def timing():
    return {"wall_seconds": round(random.random(), 6), "date": time.strftime("%Y-%m-%dT%H:%M:%S")}

def timeline(items):
    return dict(timing(), items=[dict(item=k, passed=not claims_fail, claim_seconds=random.random())
                                 for k in sorted(items)])

def write_report_dir(d, items):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "timeline.json"), "w") as f:
        json.dump(timeline(items), f, indent=1)
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<html><body>fake report: %d items</body></html>\n" % len(items))

args = sys.argv[1:]
if not args:
    die("usage: verify ... | merge ...")
cmd = args.pop(0)
if cmd == "verify":
    ckpts = opt(args, "--checkpoints")
    shard = opt(args, "--shard")
    shard_report = opt(args, "--shard-report")
    report_dir = opt(args, "--report-dir")
    if len(args) != 1 or ckpts is None:
        die("usage: verify CLAIMS --checkpoints DIR (--report-dir D | --shard I/N --shard-report F)")
    if shard is not None:
        try:
            i, n = (int(x) for x in shard.split("/"))
        except ValueError:
            die("bad --shard " + shard)
        if not (1 <= i <= n) or shard_report is None:
            die("bad --shard %s or missing --shard-report" % shard)
        if os.environ.get("FAKE_CIRCUITCHECK_FAIL_SHARD") == str(i):
            die("shard %d: failing on purpose (FAKE_CIRCUITCHECK_FAIL_SHARD)" % i)
        time.sleep(float(os.environ.get("FAKE_CIRCUITCHECK_SLEEP", "0")))
        items = [k for k in range(1, items_total + 1) if (k - 1) % n == i - 1]
        with open(shard_report, "w") as f:
            json.dump(dict(timing(), shard=i, of=n, items=items, failed=claims_fail), f)
    elif report_dir is not None:
        write_report_dir(report_dir, range(1, items_total + 1))
    else:
        die("verify needs --report-dir or --shard with --shard-report")
    sys.exit(1 if claims_fail else 0)
elif cmd == "merge":
    report_dir = opt(args, "--report-dir")
    if report_dir is None or not args:
        die("usage: merge SHARD.json... --report-dir DIR")
    shards = []
    for p in args:
        try:
            with open(p) as f:
                shards.append(json.load(f))
        except (OSError, ValueError) as e:
            die("bad shard %s: %s" % (p, e))
    ns = {s["of"] for s in shards}
    idx = sorted(s["shard"] for s in shards)
    if len(ns) != 1 or idx != list(range(1, ns.pop() + 1)):
        die("shards do not form one complete set: %s" % idx)
    items = [k for s in shards for k in s["items"]]
    write_report_dir(report_dir, items)
    sys.exit(1 if any(s["failed"] for s in shards) else 0)
else:
    die("unknown command " + cmd)
PY
