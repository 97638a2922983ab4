"""Metric functions validate their inputs; pixel metrics on hand-made cases; summaries."""

import numpy as np
import pytest

from neurender.metrics.flip import flip
from neurender.metrics.images import MetricInputError, quantize_8bit
from neurender.metrics.pixel import l1, masked_l1, psnr
from neurender.metrics.registry import Pair, available
from neurender.metrics.ssim import ssim
from neurender.metrics.suite import summary

GOOD = np.full((2, 16, 16, 3), 0.5, np.float32)


@pytest.mark.parametrize("bad,match", [
    ((GOOD * 255).astype(np.uint8), "divide uint8 images by 255"),
    (GOOD[..., :2], r"shape \(N, H, W, 3\)"),
    (GOOD[0], r"shape \(N, H, W, 3\)"),
    (GOOD + 0.6, "within \\[0, 1\\]"),
    (np.where(GOOD > 0, np.nan, GOOD).astype(np.float32), "within \\[0, 1\\]"),
    (GOOD.tolist(), "NumPy array"),
])
@pytest.mark.parametrize("metric", [flip, ssim, psnr, l1])
def test_bad_images_are_refused(metric, bad, match):
    with pytest.raises(MetricInputError, match=match):
        metric(GOOD, bad)


def test_shape_mismatch_and_bad_masks():
    with pytest.raises(MetricInputError, match="differ in shape"):
        l1(GOOD, GOOD[:1])
    with pytest.raises(MetricInputError, match="bool"):
        masked_l1(GOOD, GOOD, np.ones((2, 16, 16), np.uint8))
    with pytest.raises(MetricInputError, match="expected shape"):
        masked_l1(GOOD, GOOD, np.ones((2, 8, 8), bool))
    with pytest.raises(MetricInputError, match="at least 11x11"):
        ssim(GOOD[:, :8, :8], GOOD[:, :8, :8])


def test_pixel_metrics_by_hand():
    ref = np.zeros((2, 4, 4, 3), np.float32)
    pred = ref.copy()
    pred[0, 0, 0] = 1.0  # one pixel fully wrong in image 0; image 1 identical
    mask = np.zeros((2, 4, 4), bool)
    mask[0, :2, :2] = True
    assert l1(ref, pred)["l1"].tolist() == pytest.approx([1 / 16, 0.0])
    assert masked_l1(ref, pred, mask)["masked_l1"][0] == pytest.approx(1 / 4)
    assert np.isnan(masked_l1(ref, pred, mask)["masked_l1"][1])  # no object pixels: not scored
    assert psnr(ref, pred)["psnr"].tolist() == pytest.approx([10 * np.log10(16), 100.0])


def test_quantize_rounds_to_8_bit_levels():
    x = np.array([0.0, 0.5 / 255 - 1e-6, 0.5 / 255 + 1e-6, 1.0], np.float32)
    np.testing.assert_array_equal(quantize_8bit(x) * 255, [0, 0, 1, 255])


def test_summary_ignores_nan_and_counts():
    s = summary(np.array([1.0, 2.0, 3.0, np.nan]))
    assert s["count"] == 3 and s["mean"] == 2.0 and s["median"] == 2.0
    assert summary(np.array([np.nan]))["count"] == 0


def test_metrics_needing_masks_are_skipped_with_a_reason():
    runnable, skipped = available(("l1", "masked_l1", "silhouette_hausdorff"), Pair(GOOD, GOOD))
    assert runnable == ["l1"] and set(skipped) == {"masked_l1", "silhouette_hausdorff"}
    with pytest.raises(MetricInputError, match="unknown metric"):
        available(("nope",), Pair(GOOD, GOOD))


def test_a_scoring_process_that_dies_is_one_clear_error():
    """A worker killed mid-task (a signal to the whole process group, the system out of memory) is a
    NeurenderError, not concurrent.futures' BrokenProcessPool traceback."""
    import os

    from neurender.errors import NeurenderError
    from neurender.metrics.pool import scoring_pool

    with pytest.raises(NeurenderError, match="a scoring process ended before its work was done"), \
            scoring_pool(2) as pool:
        pool.submit(os._exit, 1).result()
