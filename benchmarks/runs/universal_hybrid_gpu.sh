#!/usr/bin/env bash
# One GPU session (docs/experiments.md, entry 19): the tests that skip without CUDA, and two trainings side by side
# on the one GPU under CUDA MPS, each stopped where its time runs out and exported there:
#   - universal.pt continued on the mixture of both presets (configs/universal-gpu.toml);
#   - hybrid_coord from scratch: the GPU warm-up (configs/hybrid-coord/gpu-warmup.toml), then its three ablation
#     arms side by side (configs/hybrid-coord/gpu-adversarial.toml, configs/ablations/hybrid-coord-gpu-{fixed,l1}.toml).
# Each run's renderer and logs come back to $OUT as a tar of its run folder (no training checkpoints).
#   OUT=/tmp/out bash benchmarks/runs/universal_hybrid_gpu.sh
# Knobs (seconds; a CPU rehearsal sets them small and EXTRA="--device cpu --workers 0 --batch 8"):
# UNIVERSAL_S=470 WARMUP_S=290 ARM_S=170 EXTRA=""
# Score afterwards on the CPU: neurender results --presets easy,default --checkpoint NAME=RUN/renderer.pt ...
set -u
OUT=${OUT:?set OUT to the folder for the results}
UNIVERSAL_S=${UNIVERSAL_S:-470} WARMUP_S=${WARMUP_S:-290} ARM_S=${ARM_S:-170} EXTRA=${EXTRA:-}
. benchmarks/runs/gpu_runs.sh
gpu_session
has_cuda && start_mps

train configs/universal-gpu.toml universal-gpu "$UNIVERSAL_S" &
(
  train configs/hybrid-coord/gpu-warmup.toml hybrid-coord-gpu-warmup "$WARMUP_S"
  train configs/hybrid-coord/gpu-adversarial.toml hybrid-coord-gpu-adversarial "$ARM_S" &
  train configs/ablations/hybrid-coord-gpu-fixed.toml hybrid-coord-gpu-fixed "$ARM_S" &
  train configs/ablations/hybrid-coord-gpu-l1.toml hybrid-coord-gpu-l1 "$ARM_S" &
  wait
) &
has_cuda && cuda_tests
wait
for run in universal-gpu hybrid-coord-gpu-{warmup,adversarial,fixed,l1}; do
  pack "$run" 2>>"$log"
done
session_done
