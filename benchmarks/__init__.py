"""neurender's benchmarks: speed/ (throughput and latency), studies/ (quality studies and figures), runs/
(the scripts that trained the shipped renderers on a GPU). Run one as ``python -m benchmarks.speed.raster_speed``,
or a whole kind with the runner, ``python -m benchmarks speed`` (docs/benchmarks.md)."""
