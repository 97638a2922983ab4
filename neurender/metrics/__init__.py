"""Image metrics: one module per metric, one registry (``registry.METRICS``) shared by training and evaluation.

Every metric takes float images in [0, 1], shaped (N, H, W, 3), and returns a dict of per-image arrays.
"""
