"""``predict particles`` over many files: per-image outputs, run tables and the HTML report.

A bad image is recorded with its reason and skipped; the others are still written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from rich.progress import track

from orescope.errors import InputError
from orescope.io import find_images, read_image, write_image, write_labels
from orescope.jobs.particles import ParticleConfig, predict_particles, psd_sizes, psd_summary
from orescope.measure import size_distribution
from orescope.report import Thumbnail, instance_overlay, plot_psd, write_report


@dataclass
class RunOutcome:
    processed: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def run_particles(
    inputs: list[str | Path], out: str | Path, config: ParticleConfig, progress: bool = True
) -> RunOutcome:
    """Predict, measure and report every image under ``inputs`` into ``out``.

    Raises :class:`InputError` when no image could be processed at all.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.model_dump(), sort_keys=False))
    outcome = RunOutcome()
    tables: list[pd.DataFrame] = []
    summaries: list[dict] = []
    thumbnails: list[Thumbnail] = []
    paths = find_images(inputs)
    stems = [p.stem for p in paths]
    for path in track(paths, description="particles", disable=not progress):
        # two inputs with the same stem would overwrite each other: prefix the folder name
        stem = path.stem if stems.count(path.stem) == 1 else f"{path.parent.name}_{path.stem}"
        try:
            image = read_image(path)
        except InputError as error:
            outcome.failures.append((str(path), error.reason))
            continue
        result = predict_particles(image, config)
        folder = out / stem
        write_labels(folder / "labels.tif", result.labels)
        overlay = instance_overlay(image, result.labels)
        write_image(folder / "overlay.png", overlay)
        result.particles.to_csv(folder / "particles.csv", index=False)
        summary, _ = psd_summary(result.particles, config)
        summaries.append({"image": stem, **summary})
        tables.append(result.particles.assign(image=stem))
        thumbnails.append(Thumbnail(stem, overlay, _caption(summary, config)))
        outcome.processed.append(str(path))
    if outcome.failures:
        pd.DataFrame(outcome.failures, columns=["file", "reason"]).to_csv(
            out / "failures.csv", index=False
        )
    if not outcome.processed:
        file, reason = outcome.failures[0]
        others = len(outcome.failures) - 1
        more = f" (and {others} more, see {out / 'failures.csv'})" if others else ""
        raise InputError(file, f"{reason}; no image could be processed{more}")
    _write_run_tables(out, config, tables, summaries, thumbnails, outcome)
    return outcome


def _caption(summary: dict, config: ParticleConfig) -> str:
    unit = config.unit
    p50 = summary[f"mass_P50_{unit}"]
    counts = f"{summary['particles']} particles, {summary['particles_in_psd']} in PSD"
    return f"{counts}, P50 {p50:.3g} {unit} (mass)"


def _write_run_tables(
    out: Path,
    config: ParticleConfig,
    tables: list[pd.DataFrame],
    summaries: list[dict],
    thumbnails: list[Thumbnail],
    outcome: RunOutcome,
) -> None:
    everything = pd.concat(tables, ignore_index=True)
    total, sieves = psd_summary(everything, config)
    rows = pd.DataFrame([*summaries, {"image": "all", **total}])
    rows.insert(1, "mm_per_px", config.mm_per_px)
    rows.to_csv(out / "summary.csv", index=False)
    sieves.insert(0, "image", "all")
    sieves.to_csv(out / "psd.csv", index=False)
    unit = config.unit
    sizes, volumes = psd_sizes(everything, config)
    curves = {"by count": size_distribution(sizes), "by mass": size_distribution(sizes, volumes)}
    plot_psd(curves, unit, out / "psd.png", f"PSD, {config.size_measure.replace('_', ' ')}")
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
        thumbnails,
        outcome.failures,
        notes,
    )
