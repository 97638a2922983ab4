#!/usr/bin/env bash
# One GPU session: the tests that skip without CUDA, and the course report's eight recipes (upsample, deconv,
# hybrid, cspup, each as the report built it and with coordinate channels) trained side by side on the one GPU
# for at most SECONDS each (benchmarks/report_recipes.py), packed into $OUT as four tars of two runs.
#   OUT=/tmp/out bash benchmarks/report_recipes_gpu.sh [SECONDS] [DEVICE] [report_recipes.py options...]
# Score the renderers afterwards on the CPU: neurender results --presets easy --checkpoint NAME=RUN/renderer.pt ...
set -u
OUT=${OUT:?set OUT to the folder for the results}
SECONDS_EACH=${1:-400}
DEVICE=${2:-cuda}
shift 2 2>/dev/null || shift $#  # the rest goes to every benchmarks/report_recipes.py run
PY=${PY:-python3}
RUNS=${RUNS:-/tmp/report-runs}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$RUNS"
log="$OUT/session.log"
{ date -u; nvidia-smi -L 2>&1; $PY -c "import torch; print('torch', torch.__version__)"; } >"$log" 2>&1
if [ "$DEVICE" = cuda ]; then
  # MPS runs the eight small processes' kernels at once instead of in time slices; without it, they take turns
  if nvidia-cuda-mps-control -d >>"$log" 2>&1 && $PY -c "import torch; torch.zeros(1, device='cuda')" >>"$log" 2>&1; then
    echo "MPS on" >>"$log"
  else
    echo quit | nvidia-cuda-mps-control >/dev/null 2>&1; echo "MPS off" >>"$log"
  fi
fi
for recipe in upsample deconv hybrid cspup; do
  for arch in "$recipe" "${recipe}_coord"; do
    $PY benchmarks/report_recipes.py --recipe "$recipe" --arch "$arch" --seconds "$SECONDS_EACH" --device "$DEVICE" \
      --threads 1 --workers 1 --out "$RUNS/$arch" "$@" >"$RUNS/$arch.log" 2>&1 &
  done
done
if [ "$DEVICE" = cuda ]; then
  $PY -m pytest -q -p no:cacheprovider -rs \
    "tests/test_online_training.py::test_a_run_on_the_gpu_exports_a_renderer_that_loads_anywhere" \
    "tests/test_raster.py::test_render_spheres_runs_on_the_device_of_its_inputs" >"$OUT/cuda-tests.log" 2>&1
fi
wait
cat "$RUNS"/report_recipes.jsonl >"$OUT/report_recipes.jsonl" 2>>"$log"
for recipe in upsample deconv hybrid cspup; do
  files=()
  for arch in "$recipe" "${recipe}_coord"; do
    sample=$(ls "$RUNS/$arch"/samples/*.png 2>/dev/null | tail -1)
    for f in "$arch.log" "$arch/renderer.pt" "$arch/config.json" "$arch/log.jsonl" "${sample#"$RUNS/"}"; do
      [ -n "$f" ] && [ -e "$RUNS/$f" ] && files+=("$f")
    done
  done
  tar -cf "$OUT/$recipe.tar" -C "$RUNS" "${files[@]}"
done
date -u >>"$log"
ls -la "$OUT"
