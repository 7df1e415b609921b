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
from orescope.preprocess.intensity import IntensityStats
from orescope.preprocess.resample import grid_shape, resampled_block


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


@pytest.mark.parametrize("scales", [(0.5, 0.5, 0.5), (1.5, 1.5, 1.5), (2.0, 1.0, 0.37)])
def test_a_volume_resampled_block_by_block_is_the_volume_resampled_whole(scales):
    volume = np.random.default_rng(0).integers(0, 4000, (20, 26, 30)).astype(np.uint16)
    grid = grid_shape(volume.shape, scales)
    whole = resampled_block(volume, tuple(slice(0, n) for n in grid), grid)
    pieces = np.zeros(grid, np.float32)
    for z in range(0, grid[0], 7):
        for y in range(0, grid[1], 5):
            box = (slice(z, min(z + 7, grid[0])), slice(y, min(y + 5, grid[1])), slice(3, grid[2]))
            pieces[box] = resampled_block(volume, box, grid)
    assert np.array_equal(pieces[:, :, 3:], whole[:, :, 3:])
    if len(set(scales)) == 1:  # the sampling resize_volume does, away from the faces
        inner = (slice(2, -2),) * 3
        resized = resize_volume(volume.astype(np.float32), scales[0])
        assert np.abs(whole[inner] - resized[inner]).mean() < 0.01 * 4000


def test_a_volume_resampled_at_its_own_scale_is_itself():
    volume = np.random.default_rng(1).random((5, 6, 7)).astype(np.float32)
    box = (slice(1, 4), slice(0, 6), slice(2, 5))
    assert np.array_equal(resampled_block(volume, box, volume.shape), volume[box])


def test_dark_particles_are_z_scored_as_bright_ones():
    stats = IntensityStats(low=0.0, high=100.0, mean=40.0, std=10.0)
    dark = IntensityStats(low=0.0, high=100.0, mean=40.0, std=10.0, sign=-1.0)
    values = np.array([0.0, 40.0, 90.0, 150.0])
    assert stats.normalise(values).tolist() == [-4.0, 0.0, 5.0, 6.0]
    assert dark.normalise(values).tolist() == [4.0, 0.0, -5.0, -6.0]


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
