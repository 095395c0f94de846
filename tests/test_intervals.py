"""How sure a figure is: Wilson's interval for an accuracy, paired bootstraps of differences."""
import numpy as np
import pytest

from clipbook import intervals


def test_accuracy_interval_is_wilsons_and_narrows_with_more_images():
    low, high = intervals.accuracy_interval(0.75, 8)  # the seed's portraits: a handful of test images
    # Wilson's score interval by hand: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    z, p, n = 1.959963984540054, 0.75, 8
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (low, high) == pytest.approx(((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)))
    wide, narrow = high - low, np.subtract(*intervals.accuracy_interval(0.75, 800)[::-1])
    assert wide > 0.4 and narrow < 0.07
    assert intervals.accuracy_interval(0.0, 10)[0] == 0.0 and intervals.accuracy_interval(1.0, 10)[1] == 1.0
    for kwargs, message in (({"accuracy": 0.5, "n": 0}, "n=0 is not allowed"),
                            ({"accuracy": 0.55, "n": 10}, "accuracy=0.55 is not allowed with n=10"),
                            ({"accuracy": 0.5, "n": 10, "level": 95}, "level=95 is not allowed")):
        with pytest.raises(ValueError, match=message):
            intervals.accuracy_interval(**kwargs)


def test_accuracy_difference_interval_is_paired():
    rng = np.random.default_rng(0)
    a = rng.random(400) < 0.8
    # a classifier against itself differs by exactly 0 in every resample: the images are resampled together
    assert intervals.accuracy_difference_interval(a, a) == {"value": 0.0, "low": 0.0, "high": 0.0}
    # one that fixes 40 of a's mistakes is better by 0.1, and the paired interval says so; an unpaired comparison
    # of two accuracies near 0.8 and 0.9 on 400 images each would be about twice as wide
    b = a.copy()
    b[np.flatnonzero(~a)[:40]] = True
    d = intervals.accuracy_difference_interval(b, a)
    assert d["value"] == pytest.approx(0.1) and 0.05 < d["low"] <= d["value"] <= d["high"] < 0.15
    assert d["high"] - d["low"] < 0.07
    with pytest.raises(ValueError, match=r"correct has shape \(400,\) and baseline \(399,\)"):
        intervals.accuracy_difference_interval(a, a[:-1])
    with pytest.raises(ValueError, match="n_resamples=5 is not allowed"):
        intervals.accuracy_difference_interval(a, a, n_resamples=5)
