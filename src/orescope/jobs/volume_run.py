"""``predict volume`` as a run: every particle of micro-CT volumes labelled, measured in mm and
counted into a size distribution, with a report — in bounded memory.

Each volume is read lazily, segmented chunk by chunk into ``DIR/<stem>/labels.zarr`` (written
under a temporary name and renamed when complete), measured particle by particle from there,
and pictured by three orthogonal slices with the particles outlined and a maximum projection.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import numpy as np
import pandas as pd
import yaml
import zarr
from pydantic import BaseModel, Field
from rich.progress import track
from skimage.filters import threshold_otsu

from orescope.errors import InputError
from orescope.infer.chunks import scaled_grid, segment_in_chunks
from orescope.infer.particles import estimate_volume_particle_px, one_pass, volume_particle_map
from orescope.infer.settings import InferenceSettings
from orescope.infer.volume import Contrast, segment_volume
from orescope.instances.decode import CoreDecoding
from orescope.instances.threshold import Polarity, volume_intensity
from orescope.instances.threshwater import threshwater_instances
from orescope.io import (
    atomic_path,
    find_volumes,
    output_names,
    read_image,
    read_volume,
    write_image,
    write_table,
    write_text,
)
from orescope.jobs.manifest import Manifest
from orescope.jobs.parallel import task_map
from orescope.jobs.particle_run import RunOutcome
from orescope.jobs.particles import shared_model
from orescope.measure import Fit, fit_all, measure_volume_particles, psd_tables, size_distribution
from orescope.preprocess.intensity import IntensityStats, sample_voxels, volume_stats
from orescope.preprocess.resample import grid_shape, size_scale
from orescope.report.html import Thumbnail, write_report
from orescope.report.overlay import instance_overlay
from orescope.report.plots import plot_psd

VolumeSize = Literal["esd", "axis_major", "axis_middle", "axis_minor"]
PROBE_VOXELS = 96  # side of the central cube on which the particle size is measured


class VolumeJobConfig(BaseModel, extra="forbid"):
    """The settings of ``predict volume``, written next to its outputs as ``config.yaml``.

    Examples
    --------
    >>> config = VolumeJobConfig(spacing_mm=0.016)
    >>> config.chunk, config.halo
    (96, 16)
    """

    method: Literal["model", "threshwater"] = Field(
        "model",
        description="a 3D border-core model, or ThreshWater 3D (paper 002's baseline)",
    )
    model: str = Field("ct-particles", description="zoo name or folder with card.yaml")
    particle_size_mm: float | None = Field(
        None,
        gt=0,
        description="typical (median) particle ESD in mm, which the volume is resampled by to "
        "the model's trained size; default: measured by the model on the central chunk",
    )
    tta: bool = Field(False, description="average the model over the 8 mirrored copies")
    contrast_filter: bool = Field(
        False,
        description="model: drop particles whose mean grey value is on the resin's side of the "
        "volume's Otsu threshold (filler grains and artefacts a model takes for particles; "
        "off: ct-particles does better without it on its validation volumes)",
    )
    split_cores: bool = Field(
        True,
        description="model: cut seeds that are two cores joined by a neck at the neck "
        "(touching particles the model joined; on by default: fewer mergers on its "
        "validation volumes, bench/volume_core_split.py)",
    )
    spacing_mm: float | tuple[float, float, float] | None = Field(
        None, description="voxel size in mm (one value or z, y, x); default: the file's own"
    )
    size_measure: VolumeSize = "esd"
    include_border: bool = Field(False, description="count particles cut by the volume's edge")
    sieves: list[float] | None = Field(None, description="sieve openings in mm")
    chunk: int = Field(
        96,
        ge=16,
        le=1024,
        description="voxels a side of each task, at the model's scale (model: the decoding's "
        "tasks, which do not change the labels; ThreshWater: the chunks it segments)",
    )
    halo: int = Field(
        16,
        ge=0,
        le=256,
        description="voxels of context around each of the model's tiles (ThreshWater: each "
        "chunk), at the model's scale",
    )
    min_volume_px: int = Field(27, ge=1, description="smallest particle kept, in voxels")
    polarity: Polarity = "bright"
    workers: int = Field(
        1,
        ge=1,
        le=256,
        description="local Dask worker processes of one core each segmenting chunks at once "
        "(1: this process, on every core)",
    )
    scheduler: str | None = Field(
        None,
        description="a Dask scheduler's address (tcp://HOST:PORT): the chunks run on its "
        "workers, which must see the input and output folders",
    )


@dataclass(frozen=True)
class _Finished:
    particles: pd.DataFrame
    summary: dict
    thumbnail: Thumbnail


def run_volumes(
    inputs: list[str | Path],
    out: str | Path,
    config: VolumeJobConfig,
    progress: bool = True,
    resume: bool = False,
) -> RunOutcome:
    """Segment, measure and report every volume of ``inputs`` (TIFF stacks, folders of
    slices, zarr or OME-Zarr) into ``out``. A volume that cannot be read is reported and
    skipped; :class:`InputError` when none could be processed, or when ``out`` holds a run
    with other settings. ``resume`` keeps the volumes a killed run finished
    (:mod:`orescope.jobs.manifest`).

    Examples
    --------
    >>> run_volumes(["scan.tif"], "results/", VolumeJobConfig(spacing_mm=0.016))  # doctest: +SKIP
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # where the chunks run does not change the labels: a run may resume on other workers
    results = config.model_dump(mode="json", exclude={"workers", "scheduler"})
    manifest = Manifest(out, yaml.safe_dump(results, sort_keys=False), resume)
    write_text(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    paths = find_volumes(inputs)
    outcome, finished = RunOutcome(), []
    for path, name in zip(paths, output_names(paths), strict=True):
        if manifest.finished(path, name):
            outcome.resumed.append(str(path))
            finished.append(_read_finished(out / name, manifest.entries[name]["result"]))
        else:
            try:
                done = _process(path, out / name, config, progress)
            except InputError as error:
                outcome.failures.append((str(path), error.reason))
                continue
            manifest.record(path, name, **done.summary)
            finished.append(done)
        outcome.processed.append(str(path))
    failures = out / "failures.csv"
    if outcome.failures:
        write_table(failures, pd.DataFrame(outcome.failures, columns=["file", "reason"]))
    else:
        failures.unlink(missing_ok=True)  # an earlier, resumed run's
    if not finished:
        file, reason = outcome.failures[0]
        raise InputError(file, f"{reason}; no volume could be processed")
    _write_run_tables(out, config, finished, outcome)
    return outcome


def _process(path: Path, folder: Path, config: VolumeJobConfig, progress: bool) -> _Finished:
    volume = read_volume(path, config.spacing_mm)
    if volume.spacing_mm is None:
        raise InputError(path, "the voxel spacing is unknown: give it (--spacing MM)")
    # what the whole volume decides, before a cluster starts (it would compute these too)
    scales = (1.0, 1.0, 1.0)
    if config.method == "model":
        predict, decoding, scales = _model(volume.data, volume.spacing_mm, config)
        contrast = _contrast(volume.data, config) if config.contrast_filter else None
    else:
        segment = _threshwater(volume.data, config)
    final = folder / "labels.zarr"
    source: Any = volume.data
    if config.scheduler or config.workers > 1:  # an open TIFF cannot travel: its path can
        source = _VolumeFile(str(path), config.spacing_mm, tuple(volume.data.shape))
    sides = tuple(scaled_grid(config.chunk, config.halo, scale)[0] for scale in scales)
    started = time.perf_counter()
    with atomic_path(final) as partial_store, task_map(config.workers, config.scheduler) as run:
        labels = zarr.open_array(
            str(partial_store), mode="w", shape=volume.data.shape, chunks=sides, dtype="u4"
        )
        mapper = partial(_tracked, run, progress, path.name)
        if config.method == "threshwater":
            segment_in_chunks(source, segment, labels, config.chunk, config.halo, map=mapper)
        else:
            grid = grid_shape(volume.data.shape, scales)
            with tempfile.TemporaryDirectory(prefix=".work-", dir=folder) as scratch:
                segment_volume(
                    source,
                    labels,
                    predict,
                    grid,
                    config.chunk,
                    config.halo,
                    decoding,
                    config.min_volume_px,
                    Path(scratch),
                    mapper,
                    contrast,
                )
    segmented = time.perf_counter()
    labels = zarr.open_array(str(final), mode="r")
    particles = measure_volume_particles(labels, volume.spacing_mm, volume.data, max(sides))
    seconds = {
        "segment_s": segmented - started,
        "measure_s": time.perf_counter() - segmented,
    }
    write_table(folder / "particles.csv", particles)
    summary, _ = _psd(particles, config)
    picture = _slices(volume.data, labels)
    write_image(folder / "slices.png", picture)
    # plain numbers, as the manifest keeps them for a resumed run
    numbers = {k: v.item() if isinstance(v, np.generic) else v for k, v in summary.items()}
    resampled_by = float(np.mean(scales))
    summary = {"volume": folder.name, **numbers, "resampled_by": resampled_by, **seconds}
    return _Finished(
        particles.assign(volume=folder.name),
        summary,
        Thumbnail(folder.name, picture, _caption(summary)),
    )


def _read_finished(folder: Path, summary: dict) -> _Finished:
    """A volume an earlier run finished, from its outputs and the summary it recorded."""
    particles = pd.read_csv(folder / "particles.csv")
    picture = read_image(folder / "slices.png")
    return _Finished(
        particles.assign(volume=folder.name),
        summary,
        Thumbnail(folder.name, picture, _caption(summary)),
    )


def _caption(summary: dict) -> str:
    return f"{summary['particles']} particles, P50 {summary['mass_P50_mm']:.3g} mm (volume)"


def _threshwater(volume: da.Array, config: VolumeJobConfig) -> Callable[[np.ndarray], np.ndarray]:
    """ThreshWater 3D with one Otsu threshold for the whole volume."""
    return partial(
        threshwater_instances,
        threshold=_threshold(volume, config.polarity),
        polarity=config.polarity,
        min_area_px=config.min_volume_px,
        volume=True,
    )


def _model(
    volume: da.Array, spacing_mm: tuple[float, float, float], config: VolumeJobConfig
) -> tuple[ModelMap, CoreDecoding, tuple[float, float, float]]:
    """The model's map of a block, its decoding, and the scale of each axis that brings the
    typical particle to the trained size in cubic voxels: one normalisation (dark particles
    turned bright with ``--polarity dark``) and one resampling grid for the whole volume."""
    loaded = shared_model(config.model)  # here, before any worker: one clear error
    card = loaded.card
    if card.architecture.spatial_dims != 3:
        raise InputError(config.model, "is a model of images, not of volumes (--model)")
    if card.target != "border_core":
        raise InputError(config.model, "volumes are decoded from border-core maps only")
    stats = replace(volume_stats(volume), sign=-1.0 if config.polarity == "dark" else 1.0)
    scales = (1.0, 1.0, 1.0)
    if card.particle_px is not None:
        typical_mm = config.particle_size_mm
        if typical_mm is None:  # measured in voxels, counted as cubes of the mean spacing
            typical = estimate_volume_particle_px(_central(volume, PROBE_VOXELS), loaded, stats)
            typical_mm = typical * float(np.mean(spacing_mm))
        size = card.particle_px
        scales = tuple(size_scale(typical_mm / s, size) for s in spacing_mm)  # type: ignore[assignment]
    return (
        ModelMap(config.model, stats, config.tta),
        CoreDecoding.for_volume(card.particle_px, config.split_cores),
        scales,
    )


@dataclass(frozen=True)
class ModelMap:
    """The one-byte map of a block of the resampled volume by a model named by its zoo name
    or folder, loaded once a process: what a task sent to a cluster's worker carries (the
    network stays on the worker)."""

    model: str
    stats: IntensityStats
    tta: bool

    def __call__(self, block: np.ndarray) -> np.ndarray:
        loaded = shared_model(self.model)
        settings = one_pass(InferenceSettings.for_model(loaded, tta=self.tta), block.shape)
        return volume_particle_map(block, loaded, self.stats, settings)


def _contrast(volume: da.Array, config: VolumeJobConfig) -> Contrast:
    """The contrast filter's floor, in the volume's own grey values."""
    floor = _threshold(volume, config.polarity)
    if np.issubdtype(volume.dtype, np.integer):  # thresholds count integers scaled to [0, 1]
        floor *= float(np.iinfo(volume.dtype).max)
    return Contrast(floor, config.polarity)


def _central(volume: da.Array, side: int) -> np.ndarray:
    """The cube of ``side`` voxels (less where the volume is thinner) at the volume's centre."""
    box = tuple(
        slice(max(0, (size - side) // 2), max(0, (size - side) // 2) + side)
        for size in volume.shape
    )
    return np.asarray(volume[box])


def _tracked(
    mapper: Callable[..., Iterable[Any]], progress: bool, name: str, task: Callable, cores: list
) -> list:
    """The chunks' results in order, with a progress bar over the chunks."""
    results = mapper(task, cores)
    return list(track(results, total=len(cores), description=name, disable=not progress))


@dataclass(frozen=True)
class _VolumeFile:
    """A volume named by its path and opened where it is sliced, once a process: what a task
    sent to a cluster's worker carries."""

    path: str
    spacing_mm: float | tuple[float, float, float] | None
    shape: tuple[int, ...]

    def __getitem__(self, index: tuple[slice, ...]) -> np.ndarray:
        # read here, in this worker: not handed back to the cluster as a task of its own
        return _opened(self.path, self.spacing_mm)[index].compute(scheduler="synchronous")


@lru_cache(maxsize=4)
def _opened(path: str, spacing_mm: float | tuple[float, float, float] | None) -> da.Array:
    return read_volume(path, spacing_mm).data


def _threshold(volume: da.Array, polarity: Polarity) -> float:
    """One Otsu threshold for the whole volume, from a sample of its chunks, so that every
    chunk separates particles from resin at the same grey level."""
    values = volume_intensity(sample_voxels(volume))
    return float(threshold_otsu(values)) if values.min() < values.max() else 0.5


def _psd_sizes(particles: pd.DataFrame, config: VolumeJobConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and volumes (mm, mm³) of the particles that enter the PSD."""
    kept = particles if config.include_border else particles[~particles["touches_border"]]
    return kept[f"{config.size_measure}_mm"].to_numpy(), kept["volume_mm3"].to_numpy()


def _psd(
    particles: pd.DataFrame, config: VolumeJobConfig, fits: dict[str, Fit | None] | None = None
) -> tuple[dict, pd.DataFrame]:
    """Dx by count and by volume (uniform density: mass), fits (``fits`` when already
    computed) and sieve table in mm."""
    sizes, masses = _psd_sizes(particles, config)
    summary = {
        "particles": len(particles),
        "particles_in_psd": len(sizes),
        "size_measure": config.size_measure,
        "unit": "mm",
    }
    dx, table = psd_tables(sizes, masses, "mm", config.sieves, fits)
    return summary | dx, table


def _slices(volume: da.Array, labels: Any) -> np.ndarray:
    """The middle slice across each axis with every particle outlined, and the maximum
    projection along z, side by side (uint8 RGB), grey levels stretched alike."""
    middle = [size // 2 for size in volume.shape]
    planes = [
        (np.asarray(volume[middle[0]]), np.asarray(labels[middle[0]])),
        (np.asarray(volume[:, middle[1]]), np.asarray(labels[:, middle[1]])),
        (np.asarray(volume[:, :, middle[2]]), np.asarray(labels[:, :, middle[2]])),
    ]
    projection = np.asarray(volume.max(axis=0))
    low, high = np.percentile(np.concatenate([p.ravel() for p, _ in planes]), (0.5, 99.5))

    def grey(plane: np.ndarray) -> np.ndarray:
        scaled = (plane.astype(np.float32) - low) / max(float(high - low), 1e-6)
        return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)

    pictures = [instance_overlay(grey(p), ids) for p, ids in planes]
    pictures.append(np.repeat(grey(projection)[..., None], 3, axis=2))
    height = max(p.shape[0] for p in pictures)
    gap = np.full((height, 4, 3), 255, np.uint8)
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0))) for p in pictures]
    return np.concatenate([part for p in padded for part in (p, gap)][:-1], axis=1)


def _write_run_tables(
    out: Path, config: VolumeJobConfig, finished: list[_Finished], outcome: RunOutcome
) -> None:
    everything = pd.concat([f.particles for f in finished], ignore_index=True)
    sizes, masses = _psd_sizes(everything, config)
    curves = {"by count": size_distribution(sizes), "by volume": size_distribution(sizes, masses)}
    fits = fit_all(curves["by volume"])  # once, for the summary and the plot
    total, sieves = _psd(everything, config, fits)
    rows = pd.DataFrame([*(f.summary for f in finished), {"volume": "all", **total}])
    write_table(out / "summary.csv", rows)
    sieves.insert(0, "volume", "all")
    write_table(out / "psd.csv", sieves)
    measure = config.size_measure.replace("_", " ")
    plot_psd(curves, fits, "mm", out / "psd.png", f"PSD, {measure}")
    border = "included" if config.include_border else "left out of the PSD"
    notes = [
        f"Method {config.method} in chunks of {config.chunk} voxels with {config.halo} voxels "
        f"of context (at the model's scale); size measure {measure}; particles cut by the "
        f"volume's edge {border}; mass = particle volume at uniform density; fits on the "
        "mass basis. Pictures: the middle slice across z, y and x with each particle "
        "outlined, and the maximum projection along z."
    ]
    write_report(
        out / "report.html",
        "orescope volume report",
        rows,
        [out / "psd.png"],
        [f.thumbnail for f in finished],
        outcome.failures,
        notes,
    )
