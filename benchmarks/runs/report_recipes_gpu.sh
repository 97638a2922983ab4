#!/usr/bin/env bash
# One GPU session: the tests that skip without CUDA, and the course report's eight recipes (upsample, deconv,
# hybrid, cspup, each as the report built it and with coordinate channels) trained side by side on the one GPU
# for at most SECONDS each (benchmarks/studies/report_recipes.py), packed into $OUT as four tars of two runs.
#   OUT=/tmp/out bash benchmarks/runs/report_recipes_gpu.sh [SECONDS] [DEVICE] [report_recipes.py options...]
# Score the renderers afterwards on the CPU: neurender results --presets easy --checkpoint NAME=RUN/renderer.pt ...
set -u
OUT=${OUT:?set OUT to the folder for the results}
SECONDS_EACH=${1:-400}
DEVICE=${2:-cuda}
shift 2 2>/dev/null || shift $#  # the rest goes to every benchmarks/studies/report_recipes.py run
RUNS=${RUNS:-/tmp/report-runs}
. benchmarks/runs/gpu_runs.sh
gpu_session
[ "$DEVICE" = cuda ] && start_mps
for recipe in upsample deconv hybrid cspup; do
  for arch in "$recipe" "${recipe}_coord"; do
    $PY -m benchmarks.studies.report_recipes --recipe "$recipe" --arch "$arch" --seconds "$SECONDS_EACH" --device "$DEVICE" \
      --threads 1 --workers 1 --out "$RUNS/$arch" "$@" >"$RUNS/$arch.log" 2>&1 &
  done
done
[ "$DEVICE" = cuda ] && cuda_tests
wait
for recipe in upsample deconv hybrid cspup; do
  files=()
  for arch in "$recipe" "${recipe}_coord"; do
    sample=$(ls "$RUNS/$arch"/samples/*.png 2>/dev/null | tail -1)
    for f in "$arch.log" "$arch/renderer.pt" "$arch/config.json" "$arch/log.jsonl" "$arch/report_recipes.json" \
             "${sample#"$RUNS/"}"; do
      [ -n "$f" ] && [ -e "$RUNS/$f" ] && files+=("$f")
    done
  done
  tar -cf "$OUT/$recipe.tar" -C "$RUNS" "${files[@]}"
done
date -u >>"$log"
ls -la "$OUT"
