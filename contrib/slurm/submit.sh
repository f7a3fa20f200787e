#!/usr/bin/env bash
# Submit a sharded `circuitcheck verify` to Slurm: a job array of N shard tasks
# (verify_array.sbatch) and a merge job (merge.sbatch) that starts once every
# shard succeeded (--dependency=afterok).
#
#   CIRCUITCHECK=/path/to/circuitcheck CLAIMS=claims.json CHECKPOINTS=ckpts/ \
#   WORK=/shared/run1 contrib/slurm/submit.sh N [SBATCH_OPTION...]
#
# SBATCH_OPTIONs (e.g. --partition=cpu --account=proj --time=01:00:00) go to
# both sbatch calls, after this script's own options; sbatch's SBATCH_* input
# variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...) work too.
# Job logs go to WORK/logs/. WORK must not hold shard reports or a report of an
# earlier run. Prints ARRAY_JOB_ID=... and MERGE_JOB_ID=... on stdout.
set -euo pipefail

die() { echo "submit: $*" >&2; exit 2; }
[[ $# -ge 1 ]] || die "usage: CIRCUITCHECK=BIN CLAIMS=FILE CHECKPOINTS=DIR WORK=DIR $0 N [SBATCH_OPTION...]"
n=$1; shift
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "shard count must be a positive integer, got '$n'"
for v in CIRCUITCHECK CLAIMS CHECKPOINTS WORK; do
  [[ -n "${!v:-}" ]] || die "environment variable $v is not set"
done
command -v sbatch >/dev/null || die "sbatch not found (run on a Slurm submit host)"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }

# Jobs run in other processes (and usually on other hosts): pass absolute paths.
if [[ "$CIRCUITCHECK" != */* ]]; then   # a name on PATH
  CIRCUITCHECK=$(command -v "$CIRCUITCHECK") || die "CIRCUITCHECK: '$CIRCUITCHECK' not found on PATH"
fi
CIRCUITCHECK=$(abspath "$CIRCUITCHECK")
CLAIMS=$(abspath "$CLAIMS")
CHECKPOINTS=$(abspath "$CHECKPOINTS")
WORK=$(abspath "$WORK")
[[ -x "$CIRCUITCHECK" ]] || die "CIRCUITCHECK=$CIRCUITCHECK is not an executable file"

mkdir -p "$WORK/logs"
shopt -s nullglob
stale=("$WORK"/shard-*.json)
[[ ${#stale[@]} -eq 0 && ! -e "$WORK/report" ]] ||
  die "$WORK already holds shard reports or a report from an earlier run; use a fresh WORK directory"
shopt -u nullglob

export CIRCUITCHECK CLAIMS CHECKPOINTS WORK
export CIRCUITCHECK_SHARDS=$n

# `sbatch --parsable` prints "jobid" or "jobid;cluster".
array_out=$(sbatch --parsable --export=ALL --array="1-$n" --chdir="$WORK" \
  --output="$WORK/logs/verify-%A_%a.out" "$@" "$here/verify_array.sbatch")
array_id=${array_out%%;*}
[[ "$array_id" =~ ^[0-9]+$ ]] || die "could not parse the array job id from sbatch: '$array_out'"

merge_out=$(sbatch --parsable --export=ALL --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  --chdir="$WORK" --output="$WORK/logs/merge-%j.out" "$@" "$here/merge.sbatch") || {
  echo "submit: submitting the merge job failed; cancelling array job $array_id" >&2
  scancel "$array_id" || true
  exit 1
}
merge_id=${merge_out%%;*}
[[ "$merge_id" =~ ^[0-9]+$ ]] || die "could not parse the merge job id from sbatch: '$merge_out'"

echo "ARRAY_JOB_ID=$array_id"
echo "MERGE_JOB_ID=$merge_id"
