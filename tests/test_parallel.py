"""Tasks side by side on Dask workers: same results, same order, one core a worker."""

import os

import cv2
import pandas as pd
import pytest
import torch

import orescope.infer.particles as infer_particles
import orescope.jobs.particle_run as particle_run
from orescope.io import read_labels
from orescope.jobs import ParticleConfig, run_particles
from orescope.jobs.parallel import task_map, worker_count
from orescope.measure import fit_all
from orescope.synth import SceneConfig, write_scenes


def square_and_process(value: int) -> tuple[int, int, int, int]:
    return value * value, os.getpid(), torch.get_num_threads(), cv2.getNumThreads()


def test_worker_count_defaults_to_the_cores_and_never_exceeds_the_images():
    assert worker_count(None, 1, on_cpu=True) == 1
    assert worker_count(1, 10, on_cpu=True) == 1
    assert worker_count(8, 10, on_cpu=False) == 1  # a GPU model runs in this process
    assert worker_count(8, 3, on_cpu=True) == 3
    assert worker_count(None, 100, on_cpu=True) == 1  # this process unless asked
    with pytest.raises(ValueError, match="at least 1"):
        worker_count(0, 3, on_cpu=True)


def test_local_workers_return_every_result_in_order_from_one_core_processes():
    with task_map(2) as run:
        results = list(run(square_and_process, list(range(7))))
    assert [square for square, *_ in results] == [n * n for n in range(7)]
    assert os.getpid() not in {pid for _, pid, _, _ in results}
    assert {(torch_threads, cv2_threads) for _, _, torch_threads, cv2_threads in results} == {
        (1, 1)
    }


def test_one_worker_runs_in_this_process():
    with task_map(1) as run:
        assert list(run(square_and_process, [3])) == [
            (9, os.getpid(), torch.get_num_threads(), cv2.getNumThreads())
        ]


@pytest.mark.parametrize("method", ["model", "threshwater"])
def test_two_workers_write_exactly_what_one_writes(tmp_path, method):
    scenes = SceneConfig(height=256, width=320, mm_per_px=0.25, x50_mm=5.0, seed=5)
    paths = write_scenes(tmp_path / "in", scenes, 3, progress=False)
    config = ParticleConfig(method=method, mm_per_px=0.25)
    for workers in (1, 2):
        run_particles(paths, tmp_path / f"out{workers}", config, progress=False, workers=workers)
    for path in paths:
        one = read_labels(tmp_path / "out1" / path.stem / "labels.tif")
        two = read_labels(tmp_path / "out2" / path.stem / "labels.tif")
        assert one.max() > 10 and (one == two).all()
    for table in ("summary.csv", "psd.csv"):
        assert (tmp_path / "out1" / table).read_text() == (tmp_path / "out2" / table).read_text()


def test_a_large_image_is_segmented_block_by_block_on_the_workers(tmp_path, monkeypatch):
    # blocks of 96 px with 24 around, every image "large": their blocks are the tasks
    monkeypatch.setattr(infer_particles, "BLOCK_PX", 96)
    monkeypatch.setattr(infer_particles, "BLOCK_HALO_PX", 24)
    scenes = SceneConfig(height=256, width=320, mm_per_px=0.25, x50_mm=5.0, seed=5)
    paths = write_scenes(tmp_path / "in", scenes, 2, progress=False)
    config = ParticleConfig(mm_per_px=0.25)
    run_particles(paths, tmp_path / "here", config, progress=False)
    blocks_run = []
    segment = particle_run.segment_blocks_in_parallel
    monkeypatch.setattr(particle_run, "LARGE_IMAGE_PX", 0)
    monkeypatch.setattr(
        particle_run,
        "segment_blocks_in_parallel",
        lambda *args: blocks_run.append(1) or segment(*args),
    )
    run_particles(paths, tmp_path / "workers", config, progress=False, workers=2)
    assert len(blocks_run) == 2  # each image went block by block
    for path in paths:
        here = read_labels(tmp_path / "here" / path.stem / "labels.tif")
        workers = read_labels(tmp_path / "workers" / path.stem / "labels.tif")
        assert here.max() > 10 and (here == workers).all()
        assert not any(p.name.startswith(".") for p in (tmp_path / "workers" / path.stem).iterdir())


def test_the_run_fits_its_psd_once_for_the_summary_and_the_plot(tmp_path, monkeypatch):
    fitted = []

    def counted(distribution):
        fitted.append(distribution)
        return fit_all(distribution)

    monkeypatch.setattr(particle_run, "fit_all", counted)
    scenes = SceneConfig(height=256, width=320, mm_per_px=0.25, x50_mm=5.0, seed=5)
    paths = write_scenes(tmp_path / "in", scenes, 2, progress=False)
    config = ParticleConfig(method="threshwater", mm_per_px=0.25)
    run_particles(paths, tmp_path / "out", config, progress=False, workers=1)
    assert len(fitted) == 1  # the per-image fits are the workers' own
    everything = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("image").loc["all"]
    fit = fit_all(fitted[0])["rosin_rammler"]
    assert fit is not None
    assert everything["rosin_rammler_x50"] == pytest.approx(fit.params["x50"], rel=1e-12)
    assert (tmp_path / "out" / "psd.png").stat().st_size > 0


def test_a_batch_runs_on_a_dask_scheduler_as_it_runs_here(tmp_path):
    from distributed import LocalCluster

    scenes = SceneConfig(height=192, width=192, mm_per_px=0.25, x50_mm=5.0, seed=8)
    paths = write_scenes(tmp_path / "in", scenes, 3, progress=False)
    config = ParticleConfig(method="threshwater", mm_per_px=0.25)
    run_particles(paths, tmp_path / "here", config, progress=False, workers=1)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        run_particles(paths, tmp_path / "there", config, progress=False, scheduler=address)
    for table in ("summary.csv", "psd.csv"):
        assert (tmp_path / "here" / table).read_bytes() == (tmp_path / "there" / table).read_bytes()


def dies_on_three(value: int) -> int:
    if value == 3:
        os._exit(1)  # the worker process dies, as on a segfault or the OOM killer
    return value


def test_a_task_whose_worker_dies_twice_is_reported_and_the_rest_finish():
    with task_map(2, lost=lambda why: f"lost: {why}") as run:
        results = list(run(dies_on_three, list(range(6))))
    assert results[:3] + results[4:] == [0, 1, 2, 4, 5]
    assert results[3] == "lost: its worker process died, and again on a second try"
