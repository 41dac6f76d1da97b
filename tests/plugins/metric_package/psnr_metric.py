"""A metric plugin as a package of one's own ships it: PSNR over RGB, peak 255 (test data for
tests/test_metric_registry.py, installed there as the distribution psnr-metric 1.0)."""
import numpy as np


def psnr(original, reconstruction):
    err = np.mean((original.astype(np.float64) - reconstruction.astype(np.float64)) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0 ** 2 / err))


def butteraugli_like(original, reconstruction):
    """A lower-is-better distance: the mean absolute error in levels."""
    return float(np.mean(np.abs(original.astype(np.float64) - reconstruction.astype(np.float64))))


butteraugli_like.higher_is_better = False
butteraugli_like.label = "mean error (levels)"
