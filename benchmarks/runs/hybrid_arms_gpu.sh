#!/usr/bin/env bash
# The second leg of the GPU ablation (docs/experiments.md, entry 19): the three hybrid_coord arms of
# benchmarks/runs/universal_hybrid_gpu.sh continued side by side on one GPU for ARM_S seconds each, each from its own
# renderer (that session's exports: G_ema as G and G_ema; D and the optimizers start fresh), stopped and exported as
# the first leg was. Needs the three runs' renderer.pt under checkpoints/runs (the device tool's `carry`).
#   OUT=/tmp/out bash benchmarks/runs/hybrid_arms_gpu.sh
# Knobs: ARM_S=200 EXTRA="" (a CPU rehearsal: ARM_S=20 EXTRA="--device cpu --workers 0 --batch 8")
set -u
OUT=${OUT:?set OUT to the folder for the results}
ARM_S=${ARM_S:-200} EXTRA=${EXTRA:-}
. benchmarks/runs/gpu_runs.sh
gpu_session
has_cuda && start_mps

long=1000000  # longer than ARM_S allows: the budget (--stop-after) ends every arm
train configs/hybrid-coord/gpu-adversarial.toml hybrid-coord-gpu-adversarial-2 "$ARM_S" \
  --init-from "$RUNS/hybrid-coord-gpu-adversarial/renderer.pt" --adversarial-images "$long" &
train configs/ablations/hybrid-coord-gpu-fixed.toml hybrid-coord-gpu-fixed-2 "$ARM_S" \
  --init-from "$RUNS/hybrid-coord-gpu-fixed/renderer.pt" --adversarial-images "$long" &
train configs/ablations/hybrid-coord-gpu-l1.toml hybrid-coord-gpu-l1-2 "$ARM_S" \
  --init-from "$RUNS/hybrid-coord-gpu-l1/renderer.pt" --warmup-images "$long" &
wait
for run in hybrid-coord-gpu-adversarial-2 hybrid-coord-gpu-fixed-2 hybrid-coord-gpu-l1-2; do
  pack "$run" 2>>"$log"
done
session_done
