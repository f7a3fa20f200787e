#!/usr/bin/env bash
# End-to-end test of the Slurm job-array workflow (contrib/slurm/) on a
# throwaway single-node cluster (tests/cluster/local_slurm.sh):
#
#   tests/cluster/slurm_test.sh CIRCUITCHECK_BIN CLAIMS CHECKPOINTS_DIR N
#
# 1. starts the cluster (stopped again on any exit: success, failure, timeout,
#    Ctrl-C);
# 2. runs the single-process `verify CLAIMS --checkpoints DIR --report-dir
#    WORK/single`;
# 3. submits N shards plus the merge with contrib/slurm/submit.sh and waits for
#    the merge job (at most SLURM_TEST_TIMEOUT seconds, default 600), failing
#    as soon as a shard task fails or the merge can no longer run;
# 4. requires the merged run to agree with the single-process run: the same
#    verdict (exit 0 or 1) and the same JSON documents (timeline.json,
#    checkpoints.json and every report) once timing keys are dropped
#    (compare_reports.py).
# CIRCUITCHECK_VERIFY_ARGS (e.g. "--only accuracy --threads 1") go to both runs.
# Exits 0 when they agree, 1 otherwise (2 on bad usage). Needs root and
# Debian's slurmctld slurmd slurm-client munge packages.
# SLURM_TEST_KEEP=1 keeps the temporary directory (cluster logs, job logs,
# reports); it is kept anyway when the test fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
t0=$SECONDS

say() { echo "slurm_test: $*"; }
fail() { echo "slurm_test: FAIL: $*" >&2; exit 1; }

[[ $# -eq 4 ]] || { echo "usage: $0 CIRCUITCHECK_BIN CLAIMS CHECKPOINTS_DIR N" >&2; exit 2; }
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
bin=$(abspath "$1")
claims=$(abspath "$2")
checkpoints=$(abspath "$3")
n=$4
[[ -x "$bin" ]] || { echo "slurm_test: $bin is not an executable file" >&2; exit 2; }
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "slurm_test: N must be a positive integer, got '$n'" >&2; exit 2; }
timeout_s=${SLURM_TEST_TIMEOUT:-600}
keep=${SLURM_TEST_KEEP:-0}

# Only this test's cluster and options: no site defaults from the caller.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SBATCH|SQUEUE|SLURM)_' || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/circuitcheck-slurm-test.XXXXXX")
chmod 0755 "$tmp"    # munged wants every directory above its socket searchable by all
state="$tmp/slurm"
work="$tmp/work"
mkdir -p "$work"
ok=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  "$here/local_slurm.sh" stop "$state" || echo "slurm_test: stopping the cluster failed" >&2
  if [[ -n "$ok" && "$keep" != 1 ]]; then
    rm -rf "$tmp"
  else
    echo "slurm_test: kept $tmp (cluster logs in slurm/log, job logs in work/slurm/logs)" >&2
  fi
  say "finished in $((SECONDS - t0)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting the test cluster in $state"
"$here/local_slurm.sh" start "$state" >/dev/null
# shellcheck source=/dev/null
source "$state/env.sh"      # SLURM_CONF: sbatch/squeue/scontrol talk to this cluster only

# --- 2. the single-process run --------------------------------------------
say "single-process run -> $work/single"
set +e
# shellcheck disable=SC2086  # CIRCUITCHECK_VERIFY_ARGS is a word list, as verify_array.sbatch takes it
timeout "$timeout_s" "$bin" verify "$claims" --checkpoints "$checkpoints" --report-dir "$work/single" \
  ${CIRCUITCHECK_VERIFY_ARGS:-}
single_rc=$?
set -e
[[ $single_rc -eq 0 || $single_rc -eq 1 ]] || fail "single-process verify exited $single_rc"

# --- 3. the sharded run on Slurm ------------------------------------------
ids=$(CIRCUITCHECK="$bin" CLAIMS="$claims" CHECKPOINTS="$checkpoints" WORK="$work/slurm" \
  "$root/contrib/slurm/submit.sh" "$n") || fail "submit.sh failed"
array_id=$(sed -n 's/^ARRAY_JOB_ID=//p' <<<"$ids")
merge_id=$(sed -n 's/^MERGE_JOB_ID=//p' <<<"$ids")
[[ -n "$array_id" && -n "$merge_id" ]] || fail "submit.sh printed no job ids: $ids"
say "submitted array job $array_id ($n shards) and merge job $merge_id"

job_field() {  # job_field FIELD <<< "scontrol -o show job line(s)": one value per line
  grep -oE "(^| )$1=[^ ]*" | sed "s/^ *$1=//"
}

show_logs() {
  echo "----- jobs -----" >&2
  timeout 10 scontrol -o show job "$array_id" 2>&1 |
    sed -E 's/.*(JobId=[0-9]+) .*(ArrayTaskId=[^ ]+).*(JobState=[^ ]+) (Reason=[^ ]+).*(ExitCode=[^ ]+).*/\1 \2 \3 \4 \5/' >&2 || true
  timeout 10 scontrol -o show job "$merge_id" 2>&1 |
    sed -E 's/.*(JobId=[0-9]+) .*(JobState=[^ ]+) (Reason=[^ ]+) (Dependency=[^ ]+).*(ExitCode=[^ ]+).*/\1 (merge) \2 \3 \4 \5/' >&2 || true
  local f
  for f in "$work"/slurm/logs/*; do
    [[ -f "$f" ]] || continue
    echo "----- $f -----" >&2
    tail -n 50 "$f" >&2
  done
}

deadline=$((SECONDS + timeout_s))
merge_state=
while :; do
  if ((SECONDS >= deadline)); then
    show_logs
    timeout 10 scancel "$array_id" "$merge_id" 2>/dev/null || true
    fail "timed out after ${timeout_s}s waiting for merge job $merge_id (last state: ${merge_state:-unknown})"
  fi
  # A failed shard dooms the merge (afterok): fail now rather than wait for
  # Slurm to cancel it.
  array_info=$(timeout 10 scontrol -o show job "$array_id" 2>/dev/null || true)
  bad=$(job_field JobState <<<"$array_info" | grep -vxE 'PENDING|CONFIGURING|RUNNING|COMPLETING|COMPLETED' || true)
  if [[ -n "$bad" ]]; then
    show_logs
    fail "shard task(s) of array job $array_id ended $(sort -u <<<"$bad" | tr '\n' ' ')- the merge job cannot run"
  fi
  merge_info=$(timeout 10 scontrol -o show job "$merge_id" 2>&1) || {
    if grep -q 'Invalid job id' <<<"$merge_info"; then
      show_logs
      fail "merge job $merge_id vanished from the controller"
    fi
    sleep 1; continue    # controller busy: try again
  }
  merge_state=$(job_field JobState <<<"$merge_info" | head -n1)
  reason=$(job_field Reason <<<"$merge_info" | head -n1)
  case "$merge_state" in
    COMPLETED) break ;;
    PENDING)
      if [[ "$reason" == DependencyNeverSatisfied ]]; then
        show_logs
        timeout 10 scancel "$merge_id" 2>/dev/null || true
        fail "merge job $merge_id can never run (a shard failed: DependencyNeverSatisfied)"
      fi ;;
    CONFIGURING | RUNNING | COMPLETING | SUSPENDED | REQUEUED | RESIZING) ;;
    *)
      show_logs
      fail "merge job $merge_id ended $merge_state (reason $reason)" ;;
  esac
  sleep 1
done
say "merge job $merge_id completed after $((SECONDS - t0)) s"

# --- 4. compare --------------------------------------------------------------
merged="$work/slurm/report"
[[ -f "$merged/timeline.json" ]] || { show_logs; fail "the merge wrote no $merged/timeline.json"; }
[[ -f "$work/single/timeline.json" ]] || fail "the single-process run wrote no $work/single/timeline.json"
merge_rc=$(cat "$work/slurm/merge.exitcode" 2>/dev/null || echo missing)
[[ "$merge_rc" == "$single_rc" ]] ||
  fail "verdicts differ: single-process verify exited $single_rc, sharded merge exited $merge_rc"
for f in "$work"/single/*.json; do   # the timeline, the verdict table and every report
  [[ -f "$merged/$(basename "$f")" ]] || fail "the merge wrote no $(basename "$f")"
  python3 "$here/compare_reports.py" "$f" "$merged/$(basename "$f")" ||
    fail "the merged $(basename "$f") differs from the single-process one"
done
[[ ! -e "$work/slurm/.partial" ]] || fail "the merge left the shards' staging folder $work/slurm/.partial behind"
ok=1
say "PASS: $n-shard Slurm run agrees with the single-process run (verdict exit $single_rc)"
