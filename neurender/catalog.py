"""The names that the registries hold, without importing them (they need torch): the command line checks a
preset, architecture or metric name against these at once. tests/test_catalog.py holds each registry
to its list."""

from __future__ import annotations

import math

from neurender.errors import NeurenderError

PRESET_NAMES = ("default", "easy", "visible")  # presets.PRESETS
GENERATOR_NAMES = ("upsample", "deconv", "hybrid", "cspup", "upsample_coord", "deconv_coord", "hybrid_coord",
                   "cspup_coord", "coord", "field", "phong_field", "conv_field",
                   "window")  # models.generators.GENERATORS
METRIC_NAMES = ("flip", "lpips", "ssim", "hausdorff", "silhouette_hausdorff", "psnr", "l1",
                "masked_l1")  # metrics.registry.METRICS, in table order
MAX_SEED = 2**63 - 1  # numpy's and torch's generators take seeds up to here: every --seed, the API, the viewer


def mixture_parts(spec: str) -> list[tuple[str, float]]:
    """The presets of a mixture with their shares, unchecked names: "easy" -> [("easy", 1.0)]; "easy:1,default:3"
    -> [("easy", 1.0), ("default", 3.0)]. One reading of the syntax for the command line (before torch) and for
    ``presets.load_mixture``; a share that is not a positive number is a NeurenderError."""
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) == 1:
        return [(spec, 1.0)]
    shares = []
    for part in parts:
        name, _, weight = part.rpartition(":")
        try:
            share = float(weight)
        except ValueError:
            raise NeurenderError(f"preset mixture {spec!r}: {weight!r} is not a number (use name:share,...)") from None
        if not (name and math.isfinite(share) and share > 0):
            raise NeurenderError(f"preset mixture {spec!r}: {part!r} needs a name and a positive share, e.g. "
                                 f"easy:1,default:1")
        shares.append((name, share))
    return shares
