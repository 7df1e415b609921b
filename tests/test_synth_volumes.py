"""Synthetic CT volumes: deterministic, exact labels, the sizes, contacts and contrast asked for."""

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.io import read_volume
from orescope.synth import VolumeConfig, synthesize_volume

SMALL = {"shape": (48, 48, 48), "x50_mm": 0.08, "spacing_mm": 0.01}
FULL = np.ones((3, 3, 3), bool)


def _touching(labels: np.ndarray) -> int:
    """How many particles touch another (26-neighbours)."""
    count = 0
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        window = labels[grown]
        around = ndimage.binary_dilation(window == index, structure=FULL)
        count += bool(((window != index) & (window > 0) & around).any())
    return count


def test_the_same_config_gives_the_same_volume_and_another_seed_another():
    first = synthesize_volume(VolumeConfig(**SMALL, seed=5))
    again = synthesize_volume(VolumeConfig(**SMALL, seed=5))
    other = synthesize_volume(VolumeConfig(**SMALL, seed=6))
    assert np.array_equal(first.image, again.image) and np.array_equal(first.labels, again.labels)
    assert not np.array_equal(first.labels, other.labels)


def test_every_label_is_one_particle_numbered_from_one():
    scan = synthesize_volume(VolumeConfig(**SMALL, seed=2, cracks=1.0, inclusions=1.0))
    ids = np.unique(scan.labels)
    assert ids[0] == 0 and np.array_equal(ids[1:], np.arange(1, ids.size))
    for index, box in enumerate(ndimage.find_objects(scan.labels), start=1):
        assert ndimage.label(scan.labels[box] == index, structure=FULL)[1] == 1, index


def test_particles_stand_out_from_the_resin():
    scan = synthesize_volume(VolumeConfig(**SMALL, seed=3))
    inside = ndimage.binary_erosion(scan.labels > 0, iterations=2)
    outside = ndimage.binary_erosion(scan.labels == 0, iterations=2)
    assert scan.image[inside].mean() > 2 * scan.image[outside].mean()


def test_sizes_span_a_tenfold_range_and_fill_about_the_packing():
    config = VolumeConfig(shape=(128, 128, 128), x50_mm=0.12, seed=1)
    scan = synthesize_volume(config)
    voxels = np.bincount(scan.labels.ravel())[1:]
    diameters = (6 * voxels / np.pi) ** (1 / 3)
    assert diameters.max() / diameters.min() >= 10
    assert 0.2 < (scan.labels > 0).mean() <= config.packing + 0.02


@pytest.mark.parametrize(("touching", "least", "most"), [(0.0, 0.0, 0.0), (1.0, 0.5, 1.0)])
def test_the_share_of_touching_particles_follows_the_setting(touching, least, most):
    scan = synthesize_volume(VolumeConfig(**SMALL, seed=4, touching=touching))
    share = _touching(scan.labels) / scan.labels.max()
    assert least <= share <= most


def test_a_volume_too_small_for_its_sizes_is_refused():
    with pytest.raises(ValidationError, match="at least 16 voxels"):
        VolumeConfig(shape=(8, 64, 64))
    with pytest.raises(ValidationError, match="at least twice the smallest"):
        VolumeConfig(shape=(16, 16, 16), min_size_px=4)


def test_synth_volume_writes_stacks_that_read_back_with_their_spacing(tmp_path):
    arguments = ["synth", "volume", "--out", str(tmp_path), "--count", "2", "--size", "32"]
    result = CliRunner().invoke(app, [*arguments, "--x50-mm", "0.06", "--seed", "7"])
    assert result.exit_code == 0, result.output
    image = read_volume(tmp_path / "images" / "volume_001.tif")
    labels = read_volume(tmp_path / "labels" / "volume_001.tif", spacing_mm=0.01).data.compute()
    expected = synthesize_volume(VolumeConfig(shape=(32, 32, 32), x50_mm=0.06, seed=8))
    assert image.spacing_mm == pytest.approx((0.01, 0.01, 0.01))
    assert np.array_equal(image.data.compute(), expected.image)
    assert labels.dtype == np.uint32 and np.array_equal(labels, expected.labels)
    assert not list(tmp_path.rglob(".*partial*"))
