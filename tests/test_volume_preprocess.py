"""Volumes resized and normalised as images are: ids kept, shapes rounded, robust statistics."""

import dask.array as da
import numpy as np
import pytest

from orescope.preprocess import (
    median_diameter_px,
    resize_labels,
    resize_volume,
    volume_stats,
)


def test_labels_of_a_volume_resize_by_nearest_neighbour_exactly():
    labels = np.arange(1, 28, dtype=np.uint32).reshape(3, 3, 3) * 1000
    doubled = resize_labels(labels, (6, 6, 6))
    assert doubled.dtype == np.uint32
    assert np.array_equal(doubled, labels.repeat(2, 0).repeat(2, 1).repeat(2, 2))
    assert np.array_equal(resize_labels(doubled, (3, 3, 3)), labels)
    with pytest.raises(ValueError, match="3 positive sizes"):
        resize_labels(labels, (6, 6))


def test_a_volume_resizes_to_rounded_sizes_keeping_its_type_and_its_values():
    ramp = np.broadcast_to(np.arange(20, dtype=np.uint16) * 100, (10, 12, 20)).copy()
    assert resize_volume(ramp, 1.0) is ramp
    bigger = resize_volume(ramp, 1.5)
    assert bigger.shape == (15, 18, 30) and bigger.dtype == np.uint16
    assert np.all(np.diff(bigger[5, 5].astype(int)) >= 0)  # still a ramp along x
    smaller = resize_volume(ramp, 0.5)
    assert smaller.shape == (5, 6, 10) and 0 < smaller.mean() < 1900
    flat = np.full((8, 8, 8), 777, np.uint16)
    assert np.array_equal(resize_volume(flat, 0.37), np.full((3, 3, 3), 777, np.uint16))


def test_the_typical_size_of_a_volume_is_the_median_equivalent_sphere_diameter():
    z, y, x = np.mgrid[:40, :40, :60]
    labels = np.zeros(z.shape, np.uint32)
    balls = [((10, 10, 10), 5), ((28, 28, 28), 10), ((10, 28, 48), 5)]
    for index, ((cz, cy, cx), radius) in enumerate(balls, start=1):
        labels[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius**2] = index
    assert median_diameter_px(labels) == pytest.approx(10, rel=0.02)


def test_volume_statistics_are_robust_and_seeded():
    rng = np.random.default_rng(0)
    values = rng.normal(1000, 50, (32, 32, 32)).astype(np.float32)
    values[0, 0, :8] = 60000  # a few metal-bright outliers
    volume = da.from_array(values, chunks=8)
    whole = volume_stats(volume, count=10**9)
    low, high = np.percentile(values.astype(np.float64), (0.5, 99.5))
    assert (whole.low, whole.high) == pytest.approx((low, high))
    assert whole.mean == pytest.approx(1000, abs=2) and whole.std == pytest.approx(50, rel=0.05)
    assert volume_stats(volume, 5000, seed=3) == volume_stats(volume, 5000, seed=3)
    normalised = whole.normalise(values)
    assert normalised.dtype == np.float32 and normalised.max() == pytest.approx(
        (high - whole.mean) / whole.std
    )
    flat = volume_stats(da.zeros((4, 4, 4), chunks=2))
    assert flat.std == 1e-6 and np.all(flat.normalise(np.zeros(3)) == 0)
