"""How sure a measured figure is: the intervals the notebooks' verdicts read instead of fixed thresholds.

``accuracy_interval``: Wilson's interval for an accuracy on n test images (notebooks 02 and 05).
``accuracy_difference_interval``: two classifiers' accuracies on the same images, their difference resampled by
image (notebook 03). ``paired_bootstrap``: any statistic of arrays over the same queries or images, resampled
together (scipy's percentile bootstrap; `anchoring`'s search intervals for notebook 04 are built on it).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["accuracy_difference_interval", "accuracy_interval", "check_interval_args", "paired_bootstrap"]


def check_interval_args(level: float, n_resamples: int | None = None) -> None:
    """A confidence `level` strictly between 0 and 1, and (when given) at least 100 resamples, or a clear error."""
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} is not allowed: a confidence level strictly between 0 and 1, e.g. 0.95.")
    if n_resamples is not None and (not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100):
        raise ValueError(f"n_resamples={n_resamples!r} is not allowed: an integer of at least 100.")


def paired_bootstrap(data: tuple[np.ndarray, ...], statistic: Callable[..., np.ndarray], level: float = 0.95,
                     n_resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """`statistic` of `data` (arrays with one entry per query or image, resampled together) and scipy's percentile
    bootstrap interval: value, low and high. `statistic(*data, axis=-1)` must reduce along `axis`. The same `seed`
    and length resample alike, so two calls on the same queries are paired too."""
    from scipy.stats import bootstrap  # scipy comes with scikit-learn; imported when an interval is asked for

    check_interval_args(level, n_resamples)
    value = float(statistic(*data, axis=-1))
    res = bootstrap(data, statistic, paired=True, vectorized=True, n_resamples=n_resamples, confidence_level=level,
                    method="percentile", rng=np.random.default_rng(seed))
    return {"value": value, "low": float(res.confidence_interval.low), "high": float(res.confidence_interval.high)}


def accuracy_interval(accuracy: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's `level` interval (scipy's ``binomtest``) for an accuracy measured on `n` test images: how far
    another draw of `n` images could move it."""
    from scipy.stats import binomtest

    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: the number of test images, a positive integer.")
    if not 0 <= accuracy <= 1 or abs(accuracy * n - round(accuracy * n)) > 1e-6:
        raise ValueError(f"accuracy={accuracy!r} is not allowed with n={n}: a share of n images (k / n, k = 0..n).")
    check_interval_args(level)
    ci = binomtest(round(accuracy * n), int(n)).proportion_ci(level, method="wilson")
    return float(ci.low), float(ci.high)


def accuracy_difference_interval(correct: np.ndarray, baseline: np.ndarray, level: float = 0.95,
                                 n_resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Accuracy of `correct` minus that of `baseline` (each a bool per test image, the same images in the same
    order), with a paired bootstrap interval over the images: value, low and high. An interval that holds 0 cannot
    tell the two classifiers apart on these images."""
    correct, baseline = np.asarray(correct, bool), np.asarray(baseline, bool)
    if correct.shape != baseline.shape or correct.ndim != 1 or len(correct) == 0:
        raise ValueError(f"correct has shape {correct.shape} and baseline {baseline.shape}: give one bool per test "
                         "image for each, the same images in the same order.")
    return paired_bootstrap((correct, baseline), lambda a, b, axis=-1: a.mean(axis) - b.mean(axis), level,
                            n_resamples, seed)
