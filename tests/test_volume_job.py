"""predict volume end to end on synthetic scans: the contract files, bounded by chunks, and
one-line errors."""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch
import zarr
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.errors import InputError
from orescope.io import find_volumes
from orescope.jobs import parallel
from orescope.jobs.particle_evaluation import compare_volumes
from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.metrics import instance_metrics
from orescope.synth import VolumeConfig, synthesize_volume, write_volumes

SCANS = VolumeConfig(shape=(48, 48, 48), x50_mm=0.1, touching=0.2, seed=11)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scans")
    write_volumes(folder, SCANS, count=2)
    return folder


def test_the_run_writes_labels_tables_and_a_report_for_every_volume(scans, tmp_path):
    config = VolumeJobConfig(method="threshwater", chunk=24, halo=8, workers=2)
    outcome = run_volumes([scans / "images"], tmp_path, config, progress=False)
    assert len(outcome.processed) == 2 and not outcome.failures
    truth = synthesize_volume(SCANS).labels
    labels = zarr.open_array(str(tmp_path / "volume_000" / "labels.zarr"), mode="r")
    assert labels.shape == truth.shape and labels.dtype == np.uint32
    particles = pd.read_csv(tmp_path / "volume_000" / "particles.csv")
    assert len(particles) == int(labels[:].max()) and "esd_mm" in particles
    assert instance_metrics(truth, labels[:])["ap50"] > 0.3  # ThreshWater's, not a model's
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["volume"].tolist() == ["volume_000", "volume_001", "all"]
    assert summary["particles"].iloc[-1] == summary["particles"].iloc[:2].sum()
    assert (summary[["segment_s", "measure_s"]].iloc[:2] > 0).all(axis=None)
    report = (tmp_path / "report.html").read_text()
    assert report.count("data:image/jpeg") == 2 and report.count("data:image/png") == 1
    assert not list(tmp_path.rglob(".*partial*"))


def test_labels_do_not_depend_on_the_number_of_workers(scans, tmp_path):
    runs = []
    for workers in (1, 3):
        out = tmp_path / str(workers)
        config = VolumeJobConfig(method="threshwater", chunk=16, halo=6, workers=workers)
        run_volumes([scans / "images" / "volume_001.tif"], out, config, progress=False)
        runs.append(zarr.open_array(str(out / "volume_001" / "labels.zarr"), mode="r")[:])
    assert np.array_equal(*runs)


def test_folders_hold_stacks_or_slices(scans, tmp_path):
    stacks = find_volumes([scans / "images"])
    assert [p.name for p in stacks] == ["volume_000.tif", "volume_001.tif"]
    for index, plane in enumerate(np.zeros((3, 8, 8), np.uint16)):
        tifffile.imwrite(tmp_path / f"z{index}.tif", plane)
    assert find_volumes([tmp_path]) == [tmp_path]


def test_a_volume_without_spacing_is_skipped_and_a_run_of_none_stops(scans, tmp_path):
    tifffile.imwrite(tmp_path / "bare.tif", np.zeros((20, 20, 20), np.uint16))
    outcome = run_volumes(
        [tmp_path / "bare.tif", scans / "images" / "volume_000.tif"],
        tmp_path / "out",
        VolumeJobConfig(method="threshwater", chunk=24),
        progress=False,
    )
    assert outcome.failures == [
        (str(tmp_path / "bare.tif"), "the voxel spacing is unknown: give it (--spacing MM)")
    ]
    assert (tmp_path / "out" / "failures.csv").is_file()
    with pytest.raises(InputError, match="no volume could be processed"):
        run_volumes(
            [tmp_path / "bare.tif"],
            tmp_path / "none",
            VolumeJobConfig(method="threshwater"),
            progress=False,
        )


def test_predict_volume_from_the_command_line(scans, tmp_path):
    arguments = ["predict", "volume", str(scans / "images" / "volume_000.tif"), "--out"]
    done = CliRunner().invoke(
        app, [*arguments, str(tmp_path), "--chunk", "24", "--spacing", "0.02"]
    )
    assert done.exit_code == 0, done.output
    assert "1 volume(s) processed" in done.output
    assert pd.read_csv(tmp_path / "volume_000" / "particles.csv")["volume_mm3"].min() > 0
    refused = CliRunner().invoke(app, [*arguments, str(tmp_path / "x"), "--spacing", "-1"])
    assert refused.exit_code == 2 and "voxel spacing" in refused.output


def test_a_dask_cluster_gives_the_labels_of_a_local_run(scans, tmp_path):
    from distributed import LocalCluster

    volume = scans / "images" / "volume_000.tif"
    local = VolumeJobConfig(method="threshwater", chunk=24, halo=8)
    run_volumes([volume], tmp_path / "local", local, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        remote = local.model_copy(update={"scheduler": cluster.scheduler_address})
        run_volumes([volume], tmp_path / "cluster", remote, progress=False)
    labels = [
        zarr.open_array(str(tmp_path / run / "volume_000" / "labels.zarr"), mode="r")[:]
        for run in ("local", "cluster")
    ]
    assert labels[0].max() > 0 and np.array_equal(*labels)


def test_a_scheduler_that_does_not_answer_is_reported_in_time(scans, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "SCHEDULER_TIMEOUT_S", 2)
    config = VolumeJobConfig(method="threshwater", chunk=24, scheduler="tcp://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(InputError, match="no Dask scheduler answered at tcp://127.0.0.1:9"):
        run_volumes([scans / "images" / "volume_000.tif"], tmp_path, config, progress=False)
    assert time.monotonic() - started < 15


def test_evaluate_volume_scores_predictions_against_reference_stacks(scans, tmp_path):
    out = tmp_path / "run"
    run_volumes(
        [scans / "images"],
        out,
        VolumeJobConfig(method="threshwater", chunk=24, halo=8),
        progress=False,
    )
    result = CliRunner().invoke(
        app, ["evaluate", "volume", "--pred", str(out), "--truth", str(scans / "labels")]
    )
    assert result.exit_code == 0, result.output
    assert "mean over 2 volume(s)" in result.output
    scores = json.loads((out / "metrics.json").read_text())
    truth = synthesize_volume(SCANS).labels
    found = zarr.open_array(str(out / "volume_000" / "labels.zarr"), mode="r")[:]
    expected = instance_metrics(truth, found)
    for name in ("ap50", "f1_match", "f1_instance", "merger_ratio", "splitter_ratio"):
        assert scores["volumes"]["volume_000"][name] == pytest.approx(expected[name]), name
    assert 0 < scores["mean"]["voxel_f1"] <= 1 and not scores["failures"]


def test_a_volume_scored_against_itself_is_perfect(tmp_path):
    labels = synthesize_volume(SCANS).labels
    stored = zarr.zeros(labels.shape, chunks=(20, 20, 20), dtype="u4")
    stored[:] = labels
    scores = compare_volumes(stored, np.where(labels > 0, labels + 100, 0), chunk=20)
    assert scores["ap90"] == scores["f1_match"] == scores["voxel_f1"] == 1.0
    assert scores["merger_ratio"] == scores["splitter_ratio"] == scores["p50_relative_error"] == 0


def _saved_model(folder, architecture: dict, in_channels: int):
    from orescope.instances.border_core import CLASS_NAMES
    from orescope.models.spec import ArchitectureSpec
    from orescope.zoo import LoadedModel, ModelCard

    card = ModelCard(
        name="tiny",
        architecture=ArchitectureSpec(**architecture),
        in_channels=in_channels,
        class_names=list(CLASS_NAMES),
        particle_px=12,
        tile=32,
    )
    torch.manual_seed(0)
    return LoadedModel.untrained(card).save(folder)


@pytest.fixture(scope="module")
def tiny_volume_model(tmp_path_factory):
    """An untrained 3D border-core model: the job's plumbing, not its accuracy, is tested."""
    options = {"features": [4, 4, 4, 8, 8, 4]}
    return _saved_model(tmp_path_factory.mktemp("model"), {"name": "unet3d", "options": options}, 1)


def _model_labels(volume: Path, out: Path, model: str, **settings) -> np.ndarray:
    config = VolumeJobConfig(
        method="model", model=model, particle_size_mm=0.12, min_volume_px=1, **settings
    )
    run_volumes([volume], out, config, progress=False)
    return zarr.open_array(str(out / volume.stem / "labels.zarr"), mode="r")[:]


def test_a_volume_model_labels_alike_whatever_the_workers_and_chunks(scans, tmp_path):
    volume = scans / "images" / "volume_000.tif"
    runs = [
        _model_labels(volume, tmp_path / f"{n}", "ct-particles", **settings)
        for n, settings in enumerate(
            [
                {"chunk": 24, "halo": 8, "workers": 1},
                {"chunk": 24, "halo": 8, "workers": 2},
                {"chunk": 16, "halo": 8, "workers": 1},
                {"chunk": 40, "halo": 8, "workers": 1},
            ]
        )
    ]
    assert runs[0].shape == SCANS.shape and runs[0].dtype == np.uint32
    assert runs[0].max() > 20  # particles the chunks cut, all whole
    for other in runs[1:]:
        assert np.array_equal(runs[0], other)
    particles = pd.read_csv(tmp_path / "0" / "volume_000" / "particles.csv")
    assert len(particles) == runs[0].max()
    assert not any(p.name.startswith(".") for p in (tmp_path / "0" / "volume_000").iterdir())


def test_dark_particles_are_labelled_as_the_bright_ones_of_the_turned_over_volume(scans, tmp_path):
    bright = scans / "images" / "volume_000.tif"
    dark = tmp_path / "dark.tif"
    tifffile.imwrite(dark, np.iinfo(np.uint16).max - tifffile.imread(bright))
    settings = {"chunk": 24, "halo": 8, "spacing_mm": SCANS.spacing_mm}
    as_bright = _model_labels(bright, tmp_path / "bright", "ct-particles", **settings)
    as_dark = _model_labels(dark, tmp_path / "dark", "ct-particles", polarity="dark", **settings)
    assert as_bright.max() > 20
    assert np.array_equal(as_bright, as_dark)  # z-scores turned over are the same numbers
    as_if_bright = _model_labels(dark, tmp_path / "as if bright", "ct-particles", **settings)
    # without it, the resin is taken for particles (cut at its necks): three times the voxels
    assert np.count_nonzero(as_if_bright) > 2 * np.count_nonzero(as_bright)


def test_anisotropic_voxels_are_resampled_to_cubes_of_the_trained_size(
    scans, tmp_path, tiny_volume_model
):
    volume = scans / "images" / "volume_000.tif"
    labels = _model_labels(
        volume, tmp_path, str(tiny_volume_model), chunk=24, halo=8, spacing_mm=(0.02, 0.01, 0.01)
    )
    assert labels.shape == SCANS.shape
    summary = pd.read_csv(tmp_path / "summary.csv")
    # 12 trained voxels over 0.12 mm: 2 along z (0.02 mm voxels), 1 along y and x
    assert summary["resampled_by"].iloc[0] == pytest.approx(4 / 3)


def test_the_particle_size_is_measured_when_not_given(scans, tmp_path, tiny_volume_model):
    config = VolumeJobConfig(method="model", model=str(tiny_volume_model), chunk=48, halo=0)
    outcome = run_volumes([scans / "images" / "volume_001.tif"], tmp_path, config, progress=False)
    assert outcome.processed and (tmp_path / "volume_001" / "labels.zarr").is_dir()


def test_a_model_of_images_is_refused_for_volumes(scans, tmp_path):
    options = {"encoder_depth": 3, "decoder_channels": [16, 8, 4]}
    folder = _saved_model(tmp_path / "model", {"name": "unet", "options": options}, 3)
    result = CliRunner().invoke(
        app,
        [
            "predict",
            "volume",
            str(scans / "images" / "volume_000.tif"),
            "--out",
            str(tmp_path / "out"),
            "--method",
            "model",
            "--model",
            str(folder),
        ],
    )
    assert result.exit_code == 2
    assert "is a model of images, not of volumes" in result.output
    assert not (tmp_path / "out" / "volume_000" / "labels.zarr").exists()


def test_a_model_of_volumes_is_refused_for_images(tmp_path, tiny_volume_model):
    tifffile.imwrite(tmp_path / "photo.tif", np.zeros((64, 64, 3), np.uint8))
    image = tmp_path / "photo.tif"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            "particles",
            str(image),
            "--out",
            str(tmp_path / "out"),
            "--model",
            str(tiny_volume_model),
        ],
    )
    assert result.exit_code == 2
    assert "is a model of volumes, not of images" in result.output


def test_a_resumed_volume_run_keeps_what_was_finished_even_on_other_workers(scans, tmp_path):
    config = VolumeJobConfig(method="threshwater", chunk=24, halo=8)
    run_volumes([scans / "images"], tmp_path, config, progress=False)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:-1]))
    first = pd.read_csv(tmp_path / "summary.csv")
    more = config.model_copy(update={"workers": 2})
    outcome = run_volumes([scans / "images"], tmp_path, more, progress=False, resume=True)
    assert [Path(p).name for p in outcome.resumed] == ["volume_000.tif"]
    again = pd.read_csv(tmp_path / "summary.csv")
    assert again.loc[0].equals(first.loc[0])  # the finished volume's row, timings included
    columns = ["volume", "particles", "mass_P50_mm"]
    assert again[columns].equals(first[columns])
    other = config.model_copy(update={"min_volume_px": 99})
    with pytest.raises(InputError, match="a run with other settings"):
        run_volumes([scans / "images"], tmp_path, other, progress=False, resume=True)
