#!/usr/bin/env bash
# ctest cluster/slurm_sharded_verify: a sharded verify on a real single-node
# Slurm cluster agrees with the single-process run.
#
#   tests/cluster/cluster_test.sh CIRCUITCHECK_BIN
#
# Trains a tiny S2 model for 40 steps with a snapshot every 10 (four
# snapshots, seconds), then runs slurm_test.sh on them with
# tests/cluster/array_index_quick.json (three of S2's claims on 512 examples:
# 12 (checkpoint, claim) units) over 4 shards. Without Slurm's packages it
# exits 77 (ctest: skipped), unless CIRCUITCHECK_STRICT is set, as in CI, where
# it fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
bin=$1
missing=()
for tool in slurmctld slurmd munged sbatch scontrol; do
  command -v "$tool" > /dev/null || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "cluster_test: missing ${missing[*]} (Debian: slurmctld slurmd slurm-client munge)" >&2
  [[ -n "${CIRCUITCHECK_STRICT:-}" && "${CIRCUITCHECK_STRICT}" != 0 ]] && exit 1
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/circuitcheck-cluster.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$bin" train array_index --out "$tmp/m.safetensors" --steps 40 --snapshot-every 10 --threads 1 \
  --set d_model=32 --set d_head=32 --set batch_size=16 --log-every 40 > "$tmp/train.log" 2>&1 ||
  { cat "$tmp/train.log" >&2; exit 1; }
CIRCUITCHECK_VERIFY_ARGS="--threads 1" "$here/slurm_test.sh" "$bin" "$here/array_index_quick.json" \
  "$tmp/m_snapshots" 4
