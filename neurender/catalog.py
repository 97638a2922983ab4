"""The names that the registries hold, without importing them (they need torch): the command line checks a
preset, architecture, metric or GAN-loss name against these at once. tests/test_catalog.py holds each registry
to its list."""

from __future__ import annotations

PRESET_NAMES = ("default", "easy")  # presets.PRESETS
GENERATOR_NAMES = ("upsample", "deconv", "hybrid", "cspup", "upsample_coord", "deconv_coord", "hybrid_coord",
                   "cspup_coord", "coord", "field", "phong_field", "conv_field")  # models.generators.GENERATORS
METRIC_NAMES = ("flip", "lpips", "ssim", "hausdorff", "silhouette_hausdorff", "psnr", "l1",
                "masked_l1")  # metrics.registry.METRICS, in table order
GAN_LOSSES = ("bce", "lsgan", "hinge", "rpgan")  # training.losses
