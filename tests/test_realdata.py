"""The loaders on ../shared/data (skipped with a reason when the folder is absent)."""

import numpy as np
import pytest

from orescope.errors import InputError
from orescope.io import load_conveyor, load_gravel, load_lumenstone, load_thinsections, read_volume
from orescope.jobs import ParticleConfig, predict_particles

pytestmark = pytest.mark.realdata


def test_gravel_images_labels_and_scale(shared_data):
    samples = load_gravel(shared_data / "gravel")
    assert [s.stem for s in samples][:2] == ["1_P1060330_1", "2_P1060338_0"]
    assert len(samples) == 6 and {s.mm_per_px for s in samples} == {0.39}
    labels = samples[0].read_labels()
    assert labels.dtype == np.uint32 and labels.shape == samples[0].read_image().shape[:2]
    assert len(np.unique(labels)) - 1 == 124  # SOURCES.md: 124 grains


def test_conveyor_polygons_become_sparse_labels(shared_data):
    samples = load_conveyor(shared_data / "conveyor")
    assert len(samples) == 40 and all(s.sparse and s.mm_per_px is None for s in samples)
    assert sum(s.read_labels().max() for s in samples) == 1003 + 243  # rocks + agglomerates
    assert samples[0].read_image().shape == (250, 250, 3)


def test_section_datasets_and_registries(shared_data):
    lumenstone, registry = load_lumenstone(shared_data / "lumenstone")
    assert len(lumenstone) == 82 and registry.name(6) == "pyrite/marcasite"
    registry.check_mask(lumenstone[0].read_mask(), lumenstone[0].mask_path)
    thin, thin_registry = load_thinsections(shared_data / "thinsections")
    assert len(thin) == 14 and thin_registry.name(4) == "quartz"
    assert thin[0].read_xpl().shape == thin[0].read_image().shape == (1200, 1600, 3)


def test_gravel_particles_are_measured_in_mm(shared_data):
    sample = load_gravel(shared_data / "gravel")[0]
    result = predict_particles(sample.read_image(), ParticleConfig(mm_per_px=sample.mm_per_px))
    assert result.labels.max() > 20
    assert np.allclose(result.particles["feret_max_mm"], 0.39 * result.particles["feret_max_px"])


def test_zoo_model_on_held_out_gravel_beats_threshwater(shared_data):
    """6_P1060355_0 is never trained on (configs/particles.yaml); ThreshWater's AP@0.5 on the
    gravel set is 0.07 (bench/results/classical_particles.json)."""
    from orescope.metrics import instance_metrics

    sample = next(s for s in load_gravel(shared_data / "gravel") if s.stem == "6_P1060355_0")
    truth = sample.read_labels()
    result = predict_particles(sample.read_image(), mm_per_px=sample.mm_per_px)
    assert result.labels.shape == truth.shape
    assert instance_metrics(truth, result.labels)["ap50"] > 0.2


def test_conveyor_crops_smaller_than_a_tile_are_predicted(shared_data):
    sample = load_conveyor(shared_data / "conveyor")[5]
    result = predict_particles(sample.read_image())
    assert result.labels.shape == (250, 250) and result.labels.max() > 0


def test_thinsection_zoo_model_finds_quartz_on_a_held_out_section(shared_data):
    """Sample 7 (7a, 7b) is never trained on (configs/thinsection.yaml); the model takes PPL
    and the XPL twin, and its class map keeps the data set's indices (4 = quartz)."""
    from orescope.jobs import MineralConfig, predict_minerals
    from orescope.metrics import pixel_metrics

    samples, registry = load_thinsections(shared_data / "thinsections")
    sample = next(s for s in samples if s.stem == "7a")
    truth = sample.read_mask()
    result = predict_minerals(
        sample.read_image(), MineralConfig(model="thinsection"), xpl=sample.read_xpl()
    )
    assert result.classes.shape == truth.shape and result.classes.max() <= 4
    quartz = 4
    assert registry.name(quartz) == "quartz"
    scores = pixel_metrics(
        (truth == quartz).astype(np.int64), (result.classes == quartz).astype(np.int64)
    )
    assert scores["iou"] > 0.4


def test_the_shared_volumes_read_as_volumes_and_the_2d_image_is_refused(shared_data):
    folder = shared_data / "volumes"
    shapes = {name: read_volume(folder / f"{name}.tif").data.shape for name in VOLUMES}
    assert shapes == VOLUMES
    image = read_volume(folder / "nuclei3d_image.tif").data.compute()
    labels = read_volume(folder / "nuclei3d_labels.tif").data.compute()
    assert image.dtype == labels.dtype == np.uint16 and len(np.unique(labels)) - 1 == 51
    with pytest.raises(InputError, match="a 2D image, not a volume"):
        read_volume(folder / "nuclei2d_image.tif")


VOLUMES = {
    "concrete_xray": (100, 100, 100),
    "snow": (100, 100, 100),
    "nuclei3d_image": (31, 61, 57),
    "nuclei3d_labels": (31, 61, 57),
}


def test_predict_volume_runs_on_the_shared_nuclei_volume(shared_data, tmp_path):
    import zarr

    from orescope.jobs.volume_run import VolumeJobConfig, run_volumes

    volume = shared_data / "volumes" / "nuclei3d_image.tif"
    config = VolumeJobConfig(
        method="threshwater", spacing_mm=1.0, chunk=32, halo=8, min_volume_px=8
    )
    outcome = run_volumes([volume], tmp_path, config, progress=False)
    assert outcome.processed == [str(volume)]
    labels = zarr.open_array(str(tmp_path / "nuclei3d_image" / "labels.zarr"), mode="r")
    assert labels.shape == VOLUMES["nuclei3d_image"] and labels[:].max() > 0
