"""``evaluate particles``: compare predicted label images with reference ones, image by image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from orescope.errors import InputError
from orescope.io import read_labels
from orescope.measure import measure_particles, size_distribution
from orescope.metrics import instance_metrics, pixel_metrics


def find_truth(truth_dir: Path, stem: str) -> Path | None:
    """The reference labels for ``stem``: ``<stem>.tif``, ``labels/<stem>.tif`` (the layout of
    ``synth`` and ../shared/data/gravel) or ``<stem>/labels.tif`` (the layout of ``predict``)."""
    for candidate in (
        truth_dir / f"{stem}.tif",
        truth_dir / "labels" / f"{stem}.tif",
        truth_dir / stem / "labels.tif",
    ):
        if candidate.is_file():
            return candidate
    return None


def p50_relative_error(
    truth: np.ndarray, pred: np.ndarray, measure: str = "ellipse_minor"
) -> float:
    """Relative error of the count-basis P50 (border-cut particles excluded); scale-free."""
    p50 = []
    for labels in (truth, pred):
        table = measure_particles(labels)
        sizes = table.loc[~table["touches_border"], f"{measure}_px"].to_numpy()
        p50.append(size_distribution(sizes).size_at(50))
    return float((p50[1] - p50[0]) / p50[0]) if p50[0] > 0 else float("nan")


def compare_labels(truth: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    """Instance metrics, foreground pixel metrics and the P50 error of one image pair."""
    pixels = pixel_metrics(truth > 0, pred > 0, 2)
    return {
        **instance_metrics(truth, pred),
        **{f"pixel_{k}": pixels[k] for k in ("accuracy", "mean_iou", "f1", "precision", "recall")},
        "p50_relative_error": p50_relative_error(truth, pred),
    }


def evaluate_particles(pred_dir: str | Path, truth_dir: str | Path, out: str | Path) -> dict:
    """Score every ``<pred_dir>/<stem>/labels.tif`` that has a reference; write ``metrics.json``."""
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    predictions = sorted(pred_dir.glob("*/labels.tif"))
    if not predictions:
        raise InputError(pred_dir, "no <stem>/labels.tif predictions found")
    per_image: dict[str, dict] = {}
    failures: dict[str, str] = {}
    for path in predictions:
        stem = path.parent.name
        truth_path = find_truth(truth_dir, stem)
        try:
            if truth_path is None:
                raise InputError(truth_dir, f"no reference labels for {stem}")
            truth, pred = read_labels(truth_path), read_labels(path)
            if truth.shape != pred.shape:
                raise InputError(path, f"shape {pred.shape} differs from reference {truth.shape}")
        except InputError as error:
            failures[stem] = str(error)
            continue
        per_image[stem] = compare_labels(truth, pred)
    if not per_image:
        raise InputError(pred_dir, f"no prediction could be compared ({len(failures)} failed)")
    keys = next(iter(per_image.values())).keys()
    mean = {k: float(np.nanmean([m[k] for m in per_image.values()])) for k in keys}
    result = {"mean": mean, "images": per_image, "failures": failures}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "metrics.json").write_text(json.dumps(result, indent=2))
    return result
