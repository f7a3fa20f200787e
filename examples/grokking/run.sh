#!/usr/bin/env bash
# Regenerates examples/grokking/: S1 (modular addition) trained with its
# shipped recipe (seed 1, full batch, AdamW lr 1e-3, weight decay 1.0), with a
# snapshot every 250 steps up to step 24,000, and S1's shipped claims verified
# on every second snapshot (every 500 steps: 48 snapshots).
#
#   examples/grokking/run.sh [WORK_DIR]      (from the repository root; default /tmp/grokking)
#
# Training took 54 minutes on one thread of a 2-core machine (the
# shipped run used --threads 1: the same thread count gives the same weights);
# the verification about 80 s on 2 threads (README.md, "Cost"). Writes the snapshots and the
# full report (a JSON and an HTML page per snapshot, index.html with the
# timeline) under WORK_DIR, and copies timeline.json here.
set -euo pipefail
cc=${CIRCUITCHECK:-build/harness/circuitcheck}
work=${1:-/tmp/grokking}
mkdir -p "$work/every500"
"$cc" train modular_addition --out "$work/s1.safetensors" --seed 1 --steps 24000 --threads 1 \
  --snapshot-every 250 --snapshot-dir "$work/snapshots" --log-every 250
for f in "$work"/snapshots/step_*.safetensors; do
  step=$((10#$(basename "$f" .safetensors | cut -c6-)))
  if ((step % 500 == 0)); then cp "$f" "$work/every500/"; fi
done
/usr/bin/time -v "$cc" verify claims/modular_addition.json --checkpoints "$work/every500" \
  --report-dir "$work/report" --threads 2 --quiet || true   # exit 1: claims fail before grokking
cp "$work/report/timeline.json" examples/grokking/timeline.json
