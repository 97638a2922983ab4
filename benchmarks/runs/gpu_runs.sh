# Helpers for the GPU session scripts (sourced; needs OUT, then gpu_session sets PY, RUNS and log; train also needs
# EXTRA): the session's settings and the log's header, CUDA MPS, the CUDA tests, and runs with a wall-clock
# budget, packed into $OUT without their training checkpoints.

gpu_session() {  # the session's settings (PY, RUNS: kept where set), this checkout on PYTHONPATH, the log's header
  PY=${PY:-python3} RUNS=${RUNS:-checkpoints/runs} log="$OUT/session.log"
  export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
  mkdir -p "$RUNS"
  session_header
}

stamp() { echo "$(date -u +%T) $*" >>"$log"; }

session_done() {  # the log's last lines: the time, and what $OUT holds to come back
  stamp done
  ls -la "$OUT" >>"$log"
}

session_header() {  # the machine, the GPU and torch's version, at the top of the session log
  { date -u; nvidia-smi -L 2>&1; $PY -c "import torch; print('torch', torch.__version__)"; } >"$log" 2>&1
}

has_cuda() { $PY -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; }

start_mps() {  # MPS runs the processes' kernels at once instead of in time slices; without it, they take turns
  if nvidia-cuda-mps-control -d >>"$log" 2>&1 \
    && $PY -c "import torch; torch.zeros(1, device='cuda')" >>"$log" 2>&1; then
    stamp "MPS on"
  else
    echo quit | nvidia-cuda-mps-control >/dev/null 2>&1; stamp "MPS off"
  fi
}

cuda_tests() {  # the tests that skip without CUDA, into $OUT/cuda-tests.log
  $PY -m pytest -q -p no:cacheprovider -rs \
    "tests/training/test_sources.py::test_a_run_on_the_gpu_exports_a_renderer_that_loads_anywhere" \
    "tests/test_raster.py::test_render_spheres_runs_on_the_device_of_its_inputs" >"$OUT/cuda-tests.log" 2>&1
  stamp "cuda tests rc $?"
}

# train CONFIG RUN SECONDS [TRAIN_OPTIONS...]: a run with a wall-clock budget (train --stop-after): when it is
# spent, the schedule ends where the run is, and the run validates and exports renderer.pt as at its end
train() {
  local config=$1 run=$2 seconds=$3
  shift 3
  stamp "start $run"
  # shellcheck disable=SC2086
  $PY -m neurender train --config "$config" --out "$RUNS/$run" --stop-after "$seconds" "$@" $EXTRA \
    >"$RUNS/$run.log" 2>&1
  stamp "end $run rc $?"
}

pack() {  # the run folder without its training checkpoints, its renderer and its console log
  tar -cf "$OUT/$1.tar" --exclude='*.pt' -C "$RUNS" "$1" "$1.log" && tar -rf "$OUT/$1.tar" -C "$RUNS" "$1/renderer.pt"
}
