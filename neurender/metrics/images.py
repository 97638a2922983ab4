"""Checks and conversions shared by the metrics: shapes, dtypes, ranges, 8-bit quantization."""

from __future__ import annotations

import numpy as np

from neurender.errors import NeurenderError


class MetricInputError(NeurenderError, ValueError):
    """Images a metric cannot score: wrong shape, dtype or range."""


def check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    """Validate a batch of RGB images and return it as float32.

    images: (N, H, W, 3) float32 or float64 with values in [0, 1]. uint8 is refused on purpose: FLIP silently
    gives wrong values on it (a report got 0.95 instead of 0.17); divide by 255 first.
    """
    if not isinstance(images, np.ndarray):
        raise MetricInputError(f"{name}: expected a NumPy array, got {type(images).__name__}")
    if images.dtype not in (np.float32, np.float64):
        hint = " (divide uint8 images by 255 first)" if images.dtype == np.uint8 else ""
        raise MetricInputError(f"{name}: expected float32 or float64 values in [0, 1], got {images.dtype}{hint}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise MetricInputError(f"{name}: expected shape (N, H, W, 3), got {images.shape}")
    if images.size and not (images.min() >= 0.0 and images.max() <= 1.0):  # also False for NaN
        raise MetricInputError(f"{name}: values must be finite and within [0, 1]")
    return images.astype(np.float32, copy=False)


def check_pair(reference: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two batches that are scored image by image: both (N, H, W, 3) floats in [0, 1], same shape."""
    reference = check_images(reference, "reference")
    prediction = check_images(prediction, "prediction")
    if reference.shape != prediction.shape:
        raise MetricInputError(f"reference {reference.shape} and prediction {prediction.shape} differ in shape")
    return reference, prediction


def check_masks(masks: np.ndarray, like: np.ndarray, name: str = "mask") -> np.ndarray:
    """Validate object masks for a batch like (N, H, W, 3): bool (N, H, W)."""
    if not isinstance(masks, np.ndarray) or masks.dtype != np.bool_:
        raise MetricInputError(f"{name}: expected a bool NumPy array")
    if masks.shape != like.shape[:3]:
        raise MetricInputError(f"{name}: expected shape {like.shape[:3]}, got {masks.shape}")
    return masks


def quantize_8bit(images: np.ndarray) -> np.ndarray:
    """Round float images in [0, 1] to the 256 levels a saved PNG holds, as float32 (same shape)."""
    return to_uint8(images).astype(np.float32) / 255.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (clipped) -> uint8, round(255 v) with halves up: how every image is saved."""
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


_LEVELS = np.arange(256, dtype=np.float32) / 255.0  # level / 255 in float32, as images.astype(float32) / 255


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images (any shape) to float32 in [0, 1] (a table lookup: three times faster than dividing)."""
    return _LEVELS[images]
