#!/usr/bin/env bash
# One GPU call (docs/experiments.md, entry 33): the tests that skip without CUDA, and universal.pt's stage 4 in two
# arms side by side on the one GPU under CUDA MPS, the same recipe at 512 and at 2,048 sampled pixels a scene
# (configs/universal-stage4-gpu.toml, configs/ablations/universal-stage4-gpu-2048px.toml), each stopped by a timer
# if its time runs out first and exported there. Needs stage 3's renderer, checkpoints/runs/universal-stage3/
# renderer.pt (the device tool's `carry`). Each run's renderer and logs come back to $OUT as a tar of its run folder
# (no training checkpoints).
#   OUT=/tmp/out bash benchmarks/runs/universal_stage4_gpu.sh
# Knobs (seconds; a CPU rehearsal sets it small and EXTRA="--device cpu --workers 0 --batch 8"): ARM_S=470 EXTRA=""
# Score afterwards on the CPU: neurender results --presets easy,default --checkpoint NAME=RUN/renderer.pt ...
set -u
OUT=${OUT:?set OUT to the folder for the results}
ARM_S=${ARM_S:-470} EXTRA=${EXTRA:-}
. benchmarks/runs/gpu_runs.sh
gpu_session
has_cuda && start_mps

train configs/universal-stage4-gpu.toml universal-stage4 "$ARM_S" &
train configs/ablations/universal-stage4-gpu-2048px.toml universal-stage4-2048px "$ARM_S" &
has_cuda && cuda_tests
wait
for run in universal-stage4 universal-stage4-2048px; do
  pack "$run" 2>>"$log"
done
session_done
