"""``predict particles`` over many files: per-image outputs, run tables and the HTML report.

A bad image is recorded with its reason and skipped; the others are still written.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.progress import track

from orescope.errors import InputError
from orescope.infer.restoration import INPAINT, restoration_model
from orescope.io import (
    find_images,
    image_size,
    output_names,
    read_image,
    write_image,
    write_labels,
    write_table,
    write_text,
)
from orescope.io.images import to_uint8_rgb
from orescope.jobs.blocks import scratch_folder
from orescope.jobs.manifest import Manifest
from orescope.jobs.parallel import Mapper, task_map, worker_count
from orescope.jobs.particles import (
    ParticleConfig,
    prepare_image,
    psd_sizes,
    psd_summary,
    segment_blocks_in_parallel,
    segment_particles,
    shared_model,
)
from orescope.measure import fit_all, measure_particles, size_distribution
from orescope.report import Thumbnail, instance_overlay, plot_psd, write_report

# an image of more pixels than this is segmented block by block on the workers of a cluster:
# four blocks at the model's own scale (orescope.infer.particles.BLOCK_PX)
LARGE_IMAGE_PX = 4 * 2048**2


@dataclass
class RunOutcome:
    """What a run did: the files processed (of which those an earlier run had finished), those
    skipped with their reason, and notes."""

    processed: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # finished by an earlier run (--resume)
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the person running it


def run_particles(
    inputs: list[str | Path],
    out: str | Path,
    config: ParticleConfig,
    progress: bool = True,
    workers: int | None = None,
    resume: bool = False,
    scheduler: str | None = None,
) -> RunOutcome:
    """Predict, measure and report every image under ``inputs`` into ``out``.

    ``orescope predict particles`` as a function. A bad image is skipped with its reason, so
    one broken file does not cost a night's batch.

    Parameters
    ----------
    inputs
        Image files or folders of images (folders are not recursed).
    out
        Output folder: per image ``<stem>/labels.tif``, ``overlay.png`` and ``particles.csv``;
        ``psd.csv``, ``summary.csv``, ``report.html`` and ``config.yaml`` for the run.
    config
        How particles are found and measured.
    progress
        Show a progress bar.
    workers
        Images predicted at once on a CPU, one process each (default: 1, this process; see
        ``orescope.jobs.parallel``).
    scheduler
        A Dask scheduler's address (``tcp://HOST:PORT``): the images are predicted on its
        cluster's workers instead, one task each.
    resume
        Keep the images an earlier, killed run into ``out`` finished with the same settings
        (its ``manifest.jsonl``, :mod:`orescope.jobs.manifest`) and do only the others; the
        run's tables come out as those of an uninterrupted run.

    Returns
    -------
    RunOutcome
        The files processed and those skipped, with their reasons.

    Raises
    ------
    InputError
        When no image could be processed at all, or ``out`` holds a run with other settings.

    Examples
    --------
    >>> from orescope import ParticleConfig, run_particles
    >>> config = ParticleConfig(mm_per_px=0.25)
    >>> outcome = run_particles(["photos/"], "results/", config)  # doctest: +SKIP
    >>> outcome.failures  # doctest: +SKIP
    [('photos/broken.png', 'cannot decode image (truncated or not an image)')]
    """
    if config.restore and config.restore_model != INPAINT:
        restoration_model(config.restore_model)  # a wrong model fails the run, not each image
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_dump(config.model_dump(), sort_keys=False)
    manifest = Manifest(out, settings, resume)
    write_text(out / "config.yaml", settings)
    outcome = RunOutcome()
    paths = find_images(inputs)
    jobs = list(zip(paths, output_names(paths), strict=True))
    done_before = {path for path, name in jobs if manifest.finished(path, name)}
    outcome.resumed = [str(path) for path in paths if path in done_before]
    todo = [(path, out / name) for path, name in jobs if path not in done_before]
    on_cpu = True
    if config.method == "model" and todo:  # loaded before any worker starts: one clear error
        loaded = shared_model(config.model)
        if loaded.card.architecture.spatial_dims != 2:
            raise InputError(config.model, "is a model of volumes, not of images (--model)")
        on_cpu = next(loaded.network.parameters()).is_cpu
    count = worker_count(workers, max(1, len(todo)), on_cpu)
    # on a cluster, a large image's blocks are its tasks; any other image is one task
    in_blocks = config.method == "model" and (count > 1 or scheduler is not None)
    large = [job for job in todo if in_blocks and _pixels(job[0]) > LARGE_IMAGE_PX]
    whole = [job for job in todo if job not in large]
    finished: dict[Path, _Finished] = {}
    with task_map(count, scheduler, lost=str) as run:
        results = chain(
            run(partial(_process, config=config), whole),
            (_process_in_blocks(job, config, run) for job in large),
        )
        shown = track(results, total=len(todo), description="particles", disable=not progress)
        for (path, folder), done in zip([*whole, *large], shown, strict=True):
            if isinstance(done, str):
                outcome.failures.append((str(path), done))
                continue
            manifest.record(path, folder.name)
            finished[path] = done
    for path, name in jobs:
        if path in done_before:
            finished[path] = _read_finished(out / name, config, path)
        if path in finished:
            outcome.processed.append(str(path))
    failures = out / "failures.csv"
    if outcome.failures:
        write_table(failures, pd.DataFrame(outcome.failures, columns=["file", "reason"]))
    else:
        failures.unlink(missing_ok=True)  # an earlier, resumed run's
    if not outcome.processed:
        file, reason = outcome.failures[0]
        others = len(outcome.failures) - 1
        more = f" (and {others} more, see {failures})" if others else ""
        raise InputError(file, f"{reason}; no image could be processed{more}")
    ordered = [finished[path] for path in paths if path in finished]
    _write_run_tables(out, config, ordered, outcome)
    return outcome


@dataclass(frozen=True)
class _Finished:
    particles: pd.DataFrame
    summary: dict
    thumbnail: Thumbnail


def _process(job: tuple[Path, Path], config: ParticleConfig) -> _Finished | str:
    """One image from file to its outputs in ``folder``; the reason if it cannot be read."""
    path, folder = job
    try:
        photo = read_image(path)
        image = _prepared(photo, folder, config)
    except InputError as error:
        return error.reason
    except ValueError as error:  # a photo the restoration cannot take
        return str(error)
    return _finish(image, segment_particles(image, config), folder, config, photo)


def _process_in_blocks(
    job: tuple[Path, Path], config: ParticleConfig, run: Mapper
) -> _Finished | str:
    """One large image, read here and segmented block by block on ``run``'s workers."""
    path, folder = job
    try:
        photo = read_image(path)
        image = _prepared(photo, folder, config)
    except InputError as error:
        return error.reason
    except ValueError as error:  # a photo the restoration cannot take
        return str(error)
    with scratch_folder(folder) as scratch:
        labels = segment_blocks_in_parallel(image, config, run, scratch)
    return _finish(image, labels, folder, config, photo)


def _prepared(photo: np.ndarray, folder: Path, config: ParticleConfig) -> np.ndarray:
    """The image particles are found in; a restored one is written as ``restored.png``."""
    image = prepare_image(photo, config)
    if image is not photo:
        folder.mkdir(parents=True, exist_ok=True)
        write_image(folder / "restored.png", image)
    return image


def _pixels(path: Path) -> int:
    """Pixels of an image by its header; 0 where the header cannot tell."""
    size = image_size(path)
    return 0 if size is None else size[0] * size[1]


def _finish(
    image: np.ndarray, labels: np.ndarray, folder: Path, config: ParticleConfig, photo: np.ndarray
) -> _Finished:
    """Measure one image's particles and write its labels, overlay and table. The pictures
    are drawn and encoded in a second thread while the particles are measured: OpenCV and the
    encoders release the GIL, so on a large image the two share the cores. A restored
    ``image``'s thumbnail shows the ``photo`` before it beside the overlay."""
    with ThreadPoolExecutor(1) as painter:
        drawing = painter.submit(_write_pictures, image, labels, folder)
        particles = measure_particles(labels, config.mm_per_px)
        overlay = drawing.result()
    write_table(folder / "particles.csv", particles)
    summary, _ = psd_summary(particles, config)
    stem = folder.name
    return _Finished(
        particles.assign(image=stem),
        {"image": stem, **summary},
        Thumbnail(stem, _before_after(photo, overlay, config), _caption(summary, config)),
    )


def _read_finished(folder: Path, config: ParticleConfig, path: Path) -> _Finished:
    """An image an earlier run finished, from its outputs (and its photo, ``path``, when it
    was restored): the same tables and thumbnail as if it were done now (the particles'
    numbers read back exactly, the overlay losslessly)."""
    particles = pd.read_csv(folder / "particles.csv")
    summary, _ = psd_summary(particles, config)
    stem = folder.name
    overlay = read_image(folder / "overlay.png")
    photo = read_image(path) if config.restore else overlay
    return _Finished(
        particles.assign(image=stem),
        {"image": stem, **summary},
        Thumbnail(stem, _before_after(photo, overlay, config), _caption(summary, config)),
    )


def _before_after(photo: np.ndarray, overlay: np.ndarray, config: ParticleConfig) -> np.ndarray:
    """The report's picture of an image: its overlay, after the photo when it was restored."""
    if not config.restore:
        return overlay
    gap = np.full((overlay.shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([to_uint8_rgb(photo), gap, overlay], axis=1)


def _write_pictures(image: np.ndarray, labels: np.ndarray, folder: Path) -> np.ndarray:
    """Write ``labels.tif`` and ``overlay.png``; returns the overlay."""
    write_labels(folder / "labels.tif", labels)
    overlay = instance_overlay(image, labels)
    write_image(folder / "overlay.png", overlay)
    return overlay


def _caption(summary: dict, config: ParticleConfig) -> str:
    unit = config.unit
    p50 = summary[f"mass_P50_{unit}"]
    counts = f"{summary['particles']} particles, {summary['particles_in_psd']} in PSD"
    return f"{counts}, P50 {p50:.3g} {unit} (mass)"


def _write_run_tables(
    out: Path,
    config: ParticleConfig,
    finished: list[_Finished],
    outcome: RunOutcome,
) -> None:
    everything = pd.concat([f.particles for f in finished], ignore_index=True)
    unit = config.unit
    sizes, volumes = psd_sizes(everything, config)
    curves = {"by count": size_distribution(sizes), "by mass": size_distribution(sizes, volumes)}
    fits = fit_all(curves["by mass"])  # once, for the summary and the plot
    total, sieves = psd_summary(everything, config, fits)
    rows = pd.DataFrame([*(f.summary for f in finished), {"image": "all", **total}])
    rows.insert(1, "mm_per_px", config.mm_per_px)
    write_table(out / "summary.csv", rows)
    sieves.insert(0, "image", "all")
    write_table(out / "psd.csv", sieves)
    title = f"PSD, {config.size_measure.replace('_', ' ')}"
    plot_psd(curves, fits, unit, out / "psd.png", title)
    scale = (
        f"{config.mm_per_px} mm per pixel" if config.mm_per_px else "no scale given: sizes in px"
    )
    border = (
        "border particles included"
        if config.include_border
        else "border-cut particles (red outlines) left out of the PSD"
    )
    notes = [
        f"Method {config.method}; {scale}; size measure {config.size_measure}; {border}; "
        "mass = prolate spheroid volume from the ellipse axes, uniform density; "
        "fits on the mass basis."
    ]
    write_report(
        out / "report.html",
        "orescope particle report",
        rows,
        [out / "psd.png"],
        [f.thumbnail for f in finished],
        outcome.failures,
        notes,
    )
