import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk
from skimage.morphology import h_maxima

from orescope.instances import (
    connected_components,
    foreground_mask,
    otsu_instances,
    remove_small,
    threshwater_instances,
    typical_radius_px,
)
from orescope.instances.components import label_regions
from orescope.instances.threshwater import _distance_map, _h_maxima
from orescope.metrics import instance_metrics


def _touching_disks(bright: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping disks of radius 20 on a plain background: Otsu must merge them and
    ThreshWater must split them."""
    truth = np.zeros((80, 120), np.uint32)
    truth[disk((40, 40), 20)] = 1
    truth[disk((40, 78), 20)] = 2  # centres 38 apart: a 2-pixel overlap, a 12-pixel neck
    image = np.where(truth > 0, 200, 40).astype(np.uint8)
    return (image if bright else 255 - image), truth


def test_otsu_merges_touching_particles():
    image, truth = _touching_disks()
    labels = otsu_instances(image)
    assert labels.max() == 1
    assert instance_metrics(truth > 0, labels)["ap90"] == 1.0


@pytest.mark.parametrize("seeds", ["distance", "erosion"])
def test_threshwater_splits_touching_particles(seeds):
    image, truth = _touching_disks()
    labels = threshwater_instances(image, seeds=seeds)
    metrics = instance_metrics(truth, labels)
    assert labels.max() == 2
    assert metrics["ap90"] == 1.0


def test_dark_particles_need_dark_polarity():
    image, truth = _touching_disks(bright=False)
    assert threshwater_instances(image, polarity="dark").max() == 2
    mask, threshold = foreground_mask(image, polarity="dark")
    assert 40 / 255 < threshold < 215 / 255
    overlap = (mask & (truth > 0)).sum() / (mask | (truth > 0)).sum()
    assert overlap > 0.97


def test_unseeded_small_particle_is_kept():
    image, _ = _touching_disks()
    image[5:10, 100:105] = 200  # a 5x5 fragment: too small for an erosion seed of radius 10
    labels = threshwater_instances(image, seeds="erosion", seed_size=10, min_area_px=10)
    assert labels.max() == 3


def test_small_objects_and_renumbering():
    labels = np.array([[5, 5, 0, 9], [5, 5, 0, 0]], np.uint32)
    assert remove_small(labels, 2).tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]
    signed = labels.astype(np.int32)
    renumbered = remove_small(signed, 2, in_place=True)
    assert renumbered.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]] and renumbered.dtype == np.uint32
    assert np.shares_memory(renumbered, signed)
    with pytest.raises(ValueError, match="32-bit"):
        remove_small(labels.astype(np.uint16), 2, in_place=True)
    mask = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], bool)
    assert connected_components(mask, 1).max() == 1  # diagonal neighbours connect


@pytest.mark.parametrize("density", [0.3, 0.55, 0.8])
def test_label_regions_finds_the_regions_scipy_finds(density):
    # random masks make many regions of every shape, wrapping around and merging late
    mask = np.random.default_rng(7).random((300, 257)) < density
    labels, count = label_regions(mask)
    expected, expected_count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    assert count == expected_count > 1 and labels.dtype == np.int32
    assert sorted(np.unique(labels)) == list(range(count + 1))
    # the same partition: every pair (ours, SciPy's) occurs for one id of each
    pairs = np.unique(np.stack([labels.ravel(), expected.ravel()]), axis=1)
    assert pairs.shape[1] == count + 1
    np.testing.assert_array_equal(labels == 0, ~mask)


def test_typical_radius_of_disks():
    mask = np.zeros((100, 100), bool)
    mask[disk((30, 30), 12)] = True
    mask[disk((70, 70), 12)] = True
    assert typical_radius_px(mask) == pytest.approx(12, abs=1)


@pytest.mark.parametrize("shape", [(50,), (30, 41), (13, 11, 17)])
@pytest.mark.parametrize("h", [0.5, 2.3, 7.0])
def test_h_maxima_and_distance_map_are_scikit_image_s_and_scipy_s_value_for_value(shape, h):
    rng = np.random.default_rng(len(shape))
    smooth = ndimage.gaussian_filter(rng.random(shape) * 20, 1.0)
    plateaus = np.round(rng.random(shape) * 6)  # ties everywhere: the sort's order matters
    for image in (smooth, plateaus, np.zeros(shape), ndimage.distance_transform_edt(smooth > 9)):
        np.testing.assert_array_equal(_h_maxima(image, h), h_maxima(image, h), strict=True)
    mask = rng.random(shape) < 0.7
    np.testing.assert_array_equal(
        _distance_map(mask), ndimage.distance_transform_edt(mask), strict=True
    )
    with pytest.raises(ValueError, match="positive"):
        _h_maxima(smooth, 0)


def _two_touching_balls(dtype=np.uint16) -> tuple[np.ndarray, np.ndarray]:
    """A (z, y, x) volume of two bright balls of radius 8 that touch, and their labels."""
    z, y, x = np.mgrid[:24, :24, :44]
    labels = np.zeros(z.shape, np.uint32)
    labels[(z - 12) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 < 64] = 1
    labels[(z - 12) ** 2 + (y - 12) ** 2 + (x - 27) ** 2 < 64] = 2
    volume = np.where(labels > 0, np.iinfo(dtype).max // 2, 0).astype(dtype)
    return volume, labels


def test_threshwater_splits_touching_balls_in_a_volume_where_otsu_merges_them():
    volume, labels = _two_touching_balls()
    assert otsu_instances(volume, volume=True).max() == 1
    found = threshwater_instances(volume, volume=True)
    assert found.shape == volume.shape and found.max() == 2
    scores = instance_metrics(labels, found)
    assert scores["ap90"] == 1.0 and scores["merger_ratio"] == scores["splitter_ratio"] == 0


def test_a_volume_is_not_read_as_an_rgb_image():
    volume, labels = _two_touching_balls(np.uint8)
    volume, labels = volume[:, :, 10:13], labels[:, :, 10:13]  # 3 deep along x: RGB-shaped
    mask, threshold = foreground_mask(volume, volume=True, min_area_px=1)
    assert mask.shape == volume.shape and 0 < threshold < 127 / 255
    assert abs(int(mask.sum()) - int((labels > 0).sum())) < 0.1 * (labels > 0).sum()


def test_faint_particles_go_and_dark_ones_stay_with_dark_polarity():
    from orescope.instances.threshold import keep_contrasting

    labels = np.zeros((4, 6, 6), np.uint32)
    labels[:, :2], labels[:, 3:5], labels[0, 5, 5] = 1, 2, 3
    intensity = np.full(labels.shape, 0.5, np.float32)
    intensity[:, :2], intensity[:, 3:5] = 0.2, 0.7  # particle 1 darker, 2 brighter
    bright = keep_contrasting(labels.copy(), intensity, 0.6, "bright")
    assert sorted(np.unique(bright).tolist()) == [0, 2]
    dark = keep_contrasting(labels.copy(), intensity, 0.4, "dark")
    assert sorted(np.unique(dark).tolist()) == [0, 1]
