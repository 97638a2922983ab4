#!/usr/bin/env bash
# One GPU call (docs/experiments.md, entry 33): universal.pt's stage 5, stage 4's renderer continued alone on the
# GPU (configs/universal-stage5-gpu.toml), stopped by a timer where its time runs out and exported there. Needs
# checkpoints/runs/universal-stage4/renderer.pt (benchmarks/runs/universal_stage4_gpu.sh's; the device tool's `carry`).
# The run's renderer and logs come back to $OUT as a tar of its run folder (no training checkpoints).
#   OUT=/tmp/out bash benchmarks/runs/universal_stage5_gpu.sh
# Knobs (seconds; a CPU rehearsal sets it small and EXTRA="--device cpu --workers 0 --batch 8"): RUN_S=330 EXTRA=""
set -u
OUT=${OUT:?set OUT to the folder for the results}
RUN_S=${RUN_S:-330} EXTRA=${EXTRA:-}
. benchmarks/runs/gpu_runs.sh
gpu_session
train configs/universal-stage5-gpu.toml universal-stage5 "$RUN_S"
pack universal-stage5 2>>"$log"
session_done
