"""``predict minerals`` over many files: per-image maps and tables, run totals, the report.

XPL images are paired with their PPL images by file stem. A bad image (or pair) is recorded
with its reason and skipped; the others are still written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rich.progress import track

from orescope.errors import InputError
from orescope.io import (
    find_images,
    image_size,
    output_names,
    read_image,
    read_mask,
    write_image,
    write_table,
    write_text,
)
from orescope.io.panoramas import Panorama, Pixels, is_zarr_image, read_panorama
from orescope.jobs.blocks import scratch_folder
from orescope.jobs.manifest import Manifest
from orescope.jobs.minerals import (
    MineralConfig,
    MineralResult,
    calibrate_colours,
    measure_section,
    mineral_index,
    section_reduce,
    segment_section,
    shared_section_model,
)
from orescope.jobs.parallel import Mapper, task_map, worker_count
from orescope.jobs.particle_run import LARGE_IMAGE_PX, RunOutcome
from orescope.measure.minerals import modal_from_pixels
from orescope.preprocess.colour import ColourCorrection, flat_field
from orescope.report import Thumbnail, class_overlay, write_report
from orescope.zoo import ModelCard


def pair_xpl(paths: list[Path], xpl_inputs: list[str | Path]) -> dict[Path, Path]:
    """XPL file per PPL file, matched by stem; a PPL image without its XPL twin is an error
    for that image only (it is reported, the others run)."""
    if not xpl_inputs:
        return {}
    by_stem = {path.stem: path for path in find_images(xpl_inputs)}
    return {path: by_stem[path.stem] for path in paths if path.stem in by_stem}


class ColourPreparation:
    """Flat field and colour correction of every photo before the model sees it, as the run's
    config asks: one matrix for the run (calibration mode) or one per image (region masks)."""

    def __init__(self, config: MineralConfig, card: ModelCard) -> None:
        self.config, self.card = config, card
        self.blank = read_image(config.blank) if config.blank else None
        self.calibration: ColourCorrection | None = None
        if config.calibration_images:
            photos = []
            pairs = zip(config.calibration_images, config.calibration_masks, strict=True)
            for photo, mask in pairs:
                image, regions = self._flat(read_image(photo)), read_mask(mask)
                if regions.shape != image.shape[:2]:
                    reason = f"region mask {regions.shape} and photo {image.shape[:2]} differ"
                    raise InputError(mask, reason)
                photos.append((image, regions))
            try:
                self.calibration = calibrate_colours(photos, card)
            except InputError as error:
                raise InputError(config.calibration_images[0], error.reason) from None

    def _flat(self, image: np.ndarray) -> np.ndarray:
        return image if self.blank is None else flat_field(image, self.blank)

    def __call__(self, image: Pixels, stem: str) -> Pixels:
        if isinstance(image, Panorama):
            return self._panorama(image)
        image = self._flat(image)
        if self.calibration is not None:
            return self.calibration.apply(image)
        if self.config.colour_masks:
            mask = read_mask(Path(self.config.colour_masks) / f"{stem}.png")
            return calibrate_colours([(image, mask)], self.card).apply(image)
        return image

    def _panorama(self, image: Panorama) -> Panorama:
        """A panorama corrected as it is read, block by block: its fields were flat-fielded
        when stitched, and one region mask cannot calibrate the fields of many exposures."""
        if self.blank is not None:
            raise InputError(None, "a panorama is flat-fielded by orescope stitch (--blank)")
        if self.config.colour_masks:
            raise InputError(None, "calibrate a panorama's colours with --calibration-image")
        return image if self.calibration is None else image.mapped(self.calibration.apply)


def uncalibrated_colour_note(card: ModelCard, config: MineralConfig) -> str | None:
    """A reminder when a model that reads absolute colours sees photos nobody corrected:
    another microscope, lamp or camera shifts every colour it relies on."""
    if card.normalisation != "dataset" or config.calibration_images or config.colour_masks:
        return None
    return (
        f"model '{config.model}' reads absolute colours, as in its training photos: calibrate "
        "photos from another microscope, lamp or camera (--calibration-image with "
        "--calibration-mask), or use a model that normalises each photo by itself "
        "(lumenstone_zscore)"
    )


@dataclass(frozen=True)
class _Section:
    """What the run's tables need of one finished image."""

    modal: pd.DataFrame
    thumbnail: Thumbnail
    vote: dict[str, Any]  # the voted ore type and its evidence; empty without a vote


def _section_outputs(
    job: tuple[Path, Path | None, Path],
    config: MineralConfig,
    recolour: ColourPreparation,
    colours: np.ndarray,
    xpl: bool,
    run: Mapper | None = None,
) -> _Section | str:
    """One image from file to its outputs in ``folder`` (a task of the run, in any worker;
    or, given ``run``, here, its blocks the tasks of ``run``'s workers); the reason when it
    cannot be read."""
    path, twin, folder = job
    loaded = shared_section_model(config.model)
    try:
        if xpl and twin is None:
            raise InputError(path, "no XPL image with the same stem among --xpl")
        image = read_panorama(path) if is_zarr_image(path) else read_image(path)
        partner = read_image(twin) if twin is not None else None
        prepared = recolour(image, path.stem)
        if run is None:
            section = segment_section(prepared, loaded, config, partner)
        else:
            with scratch_folder(folder) as scratch:
                section = segment_section(prepared, loaded, config, partner, run, scratch)
    except InputError as error:
        return error.reason
    result = measure_section(section.classes, loaded.card.class_names, config)
    overlay = _write_outputs(folder, image, result, colours)
    vote: dict[str, Any] = {}
    if section.ore_type is not None:
        shares = {key: float(share) for key, share in section.evidence.items()}
        vote = {"ore_type": section.ore_type, **shares}
    caption = _caption(result.modal, section.ore_type)
    return _Section(result.modal, Thumbnail(folder.name, overlay, caption), vote)


def _read_section(folder: Path, vote: dict[str, Any]) -> _Section:
    """An image an earlier run finished, from its outputs and the vote it recorded."""
    modal = pd.read_csv(folder / "modal.csv")
    overlay = read_image(folder / "overlay.png")
    caption = _caption(modal, vote.get("ore_type"))
    return _Section(modal, Thumbnail(folder.name, overlay, caption), vote)


def _write_outputs(
    folder: Path, image: Pixels, result: MineralResult, colours: np.ndarray
) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / "classes.png", result.classes)
    overlay = class_overlay(image, result.classes, colours)
    write_image(folder / "overlay.png", overlay)
    write_table(
        folder / "modal.csv", result.modal.merge(result.grain_sizes, on=["index", "mineral"])
    )
    write_table(folder / "grains.csv", result.grains)
    write_table(folder / "association.csv", result.association, index=True)
    if result.liberation is not None:
        write_table(folder / "liberation.csv", result.liberation)
    return overlay


def run_minerals(
    inputs: list[str | Path],
    out: str | Path,
    config: MineralConfig,
    xpl: list[str | Path] | None = None,
    progress: bool = True,
    resume: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
) -> RunOutcome:
    """Segment, measure and report every section image under ``inputs`` into ``out``.

    ``orescope predict minerals`` as a function. A bad image (or a PPL image without its XPL
    twin) is skipped with its reason; the others are still written.

    Parameters
    ----------
    inputs
        Section images (PPL or reflected light) or folders of them.
    out
        Output folder: per image ``<stem>/classes.png``, ``overlay.png`` and tables;
        ``modal.csv``, ``report.html`` and ``config.yaml`` for the run.
    config
        Model, scale, colour correction and what to measure.
    xpl
        XPL images or folders, paired with the inputs by file stem.
    progress
        Show a progress bar.
    resume
        Keep the images an earlier, killed run into ``out`` finished with the same settings
        and do only the others (:mod:`orescope.jobs.manifest`).
    workers
        Images segmented at once on a CPU, one process each (default: 1, this process; see
        :mod:`orescope.jobs.parallel`).
    scheduler
        A Dask scheduler's address (``tcp://HOST:PORT``): the images are segmented on its
        cluster's workers instead.

    Returns
    -------
    RunOutcome
        The files processed, those skipped with their reasons, and notes for the user.

    Raises
    ------
    InputError
        When no image could be processed at all, or ``out`` holds a run with other settings.

    Examples
    --------
    >>> from orescope import MineralConfig, run_minerals
    >>> config = MineralConfig(um_per_px=1.2, liberation="chalcopyrite")
    >>> outcome = run_minerals(["sections/"], "results/", config)  # doctest: +SKIP
    """
    out = Path(out)
    loaded = shared_section_model(config.model)
    names = loaded.card.class_names
    if config.liberation is not None:
        mineral_index(names, config.liberation)
    section_reduce(loaded.card, config)  # a typo fails once, before any image
    colours = np.zeros((256, 3), dtype=np.float32)
    colours[: len(loaded.card.class_colours)] = loaded.card.class_colours
    out.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_dump(config.model_dump(), sort_keys=False)
    manifest = Manifest(out, settings, resume)
    write_text(out / "config.yaml", settings)
    paths = find_images(inputs)
    twins = pair_xpl(paths, xpl or [])
    recolour = ColourPreparation(config, loaded.card)
    outcome = RunOutcome()
    if note := uncalibrated_colour_note(loaded.card, config):
        outcome.notes.append(note)
    totals = np.zeros(len(names), dtype=np.int64)
    thumbnails: list[Thumbnail] = []
    ore_types: list[dict] = []
    jobs = list(zip(paths, output_names(paths), strict=True))
    done_before = {path for path, name in jobs if manifest.finished(path, name)}
    todo = [(path, twins.get(path), out / name) for path, name in jobs if path not in done_before]
    on_cpu = next(loaded.network.parameters()).is_cpu
    count = worker_count(workers, max(1, len(todo)), on_cpu)
    # on a cluster, a large image's blocks are its tasks; any other image is one task
    in_blocks = count > 1 or scheduler is not None
    large = [job for job in todo if in_blocks and _pixels(job[0]) > LARGE_IMAGE_PX]
    whole = [job for job in todo if job not in large]
    task = partial(
        _section_outputs, config=config, recolour=recolour, colours=colours, xpl=bool(xpl)
    )
    sections: dict[Path, _Section | str] = {}
    with task_map(count, scheduler, lost=str) as run:
        results = chain(run(task, whole), (task(job, run=run) for job in large))
        shown = track(results, total=len(todo), description="minerals", disable=not progress)
        for (path, _, folder), done in zip([*whole, *large], shown, strict=True):
            if not isinstance(done, str):
                manifest.record(path, folder.name, **done.vote)
            sections[path] = done
    for path, name in jobs:
        if path in done_before:
            outcome.resumed.append(str(path))
            sections[path] = _read_section(out / name, manifest.entries[name]["result"])
        done = sections[path]
        if isinstance(done, str):
            outcome.failures.append((str(path), done))
            continue
        totals += done.modal["pixels"].to_numpy()
        thumbnails.append(done.thumbnail)
        if done.vote:
            ore_types.append({"image": name, **done.vote})
        outcome.processed.append(str(path))
    failures = out / "failures.csv"
    if outcome.failures:
        write_table(failures, pd.DataFrame(outcome.failures, columns=["file", "reason"]))
    else:
        failures.unlink(missing_ok=True)  # an earlier, resumed run's
    if not outcome.processed:
        file, reason = outcome.failures[0]
        raise InputError(file, f"{reason}; no image could be processed")
    modal = _run_modal(totals, names, config)
    write_table(out / "modal.csv", modal)
    if ore_types:  # the evidence columns: each type's share of it, where the type was voted
        write_table(out / "ore_types.csv", pd.DataFrame(ore_types))
    legend = [
        (name, (int(colours[i, 0]), int(colours[i, 1]), int(colours[i, 2])))
        for i, name in enumerate(names)
        if totals[i] and i > 0
    ]
    scale = f"{config.um_per_px} µm per pixel" if config.um_per_px else "no scale: sizes in px"
    borders = (
        "class borders moved onto the edges in the photos "
        f"(guided filter, radius {config.refine_px} px)"
        if config.refine_px
        else "class borders as the model drew them"
    )
    write_report(
        out / "report.html",
        "orescope mineral report",
        modal,
        [],
        thumbnails,
        outcome.failures,
        [
            f"Model {config.model}; {scale}; {borders}; modal mineralogy over all images.",
            *outcome.notes,
        ],
        legend=legend,
    )
    return outcome


def _pixels(path: Path) -> int:
    """Pixels of an image (or a panorama) by its header; 0 where the header cannot tell."""
    size = image_size(path)
    return 0 if size is None else size[0] * size[1]


def _run_modal(totals: np.ndarray, names: list[str], config: MineralConfig) -> pd.DataFrame:
    """Modal mineralogy of all images together: the pixel counts added up."""
    table = modal_from_pixels(totals, names, config.um_per_px)
    return table[table["pixels"] > 0]


def _caption(modal: pd.DataFrame, ore_type: str | None) -> str:
    top = modal[modal["index"] > 0].nlargest(3, "mineral_percent")
    minerals = ", ".join(f"{row.mineral} {row.mineral_percent:.1f} %" for row in top.itertuples())
    return f"{ore_type} ore: {minerals}" if ore_type else minerals
