"""``evaluate particles`` and ``evaluate volume``: compare predicted labels with reference ones,
image by image or volume by volume (volumes block by block, never whole in memory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from orescope.errors import InputError
from orescope.io import read_labels, read_volume, write_text
from orescope.io.volumes import volume_blocks
from orescope.measure import measure_particles, measure_volume_particles, size_distribution
from orescope.metrics import confusion_matrix, instance_metrics, pixel_metrics
from orescope.metrics.pixel import confusion_metrics


def find_truth(truth_dir: Path, stem: str, volume: bool = False) -> Path | None:
    """The reference labels for ``stem``: ``<stem>.tif``, ``labels/<stem>.tif`` (the layout of
    ``synth`` and ../shared/data/gravel) or ``<stem>/labels.tif`` (the layout of ``predict``);
    for a volume also ``<stem>.zarr``, ``labels/<stem>.zarr`` or ``<stem>/labels.zarr``."""
    suffixes = (".tif", ".zarr") if volume else (".tif",)
    for suffix in suffixes:
        for candidate in (
            truth_dir / f"{stem}{suffix}",
            truth_dir / "labels" / f"{stem}{suffix}",
            truth_dir / stem / f"labels{suffix}",
        ):
            if candidate.exists():
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


def compare_volumes(truth: Any, pred: Any, chunk: int = 128) -> dict[str, float | int]:
    """Instance metrics, foreground voxel metrics and the P50 error (equivalent-sphere
    diameter) of one pair of label volumes, read block by block."""
    counts = np.zeros((2, 2), np.int64)
    for block in volume_blocks(tuple(truth.shape), chunk):
        counts += confusion_matrix(np.asarray(truth[block]) > 0, np.asarray(pred[block]) > 0, 2)
    voxels = confusion_metrics(counts)
    p50 = []
    for labels in (truth, pred):
        table = measure_volume_particles(labels, chunk=chunk)
        p50.append(size_distribution(table.loc[~table["touches_border"], "esd_px"]).size_at(50))
    return {
        **instance_metrics(truth, pred),
        **{f"voxel_{k}": voxels[k] for k in ("accuracy", "mean_iou", "f1", "precision", "recall")},
        "p50_relative_error": float((p50[1] - p50[0]) / p50[0]) if p50[0] > 0 else float("nan"),
    }


def evaluate_particles(pred_dir: str | Path, truth_dir: str | Path, out: str | Path) -> dict:
    """Score every ``<pred_dir>/<stem>/labels.tif`` that has a reference; write ``metrics.json``."""
    return _evaluate(Path(pred_dir), Path(truth_dir), Path(out), volume=False)


def evaluate_volumes(pred_dir: str | Path, truth_dir: str | Path, out: str | Path) -> dict:
    """Score every ``<pred_dir>/<stem>/labels.zarr`` (``predict volume``) that has a reference
    (a TIFF stack or a zarr); write ``metrics.json``."""
    return _evaluate(Path(pred_dir), Path(truth_dir), Path(out), volume=True)


def _evaluate(pred_dir: Path, truth_dir: Path, out: Path, volume: bool) -> dict:
    name = "labels.zarr" if volume else "labels.tif"
    predictions = sorted(pred_dir.glob(f"*/{name}"))
    if not predictions:
        raise InputError(pred_dir, f"no <stem>/{name} predictions found")
    per_item: dict[str, dict] = {}
    failures: dict[str, str] = {}
    for path in predictions:
        stem = path.parent.name
        truth_path = find_truth(truth_dir, stem, volume)
        try:
            if truth_path is None:
                raise InputError(truth_dir, f"no reference labels for {stem}")
            truth, pred = _read(truth_path, volume), _read(path, volume)
            if tuple(truth.shape) != tuple(pred.shape):
                raise InputError(path, f"shape {pred.shape} differs from reference {truth.shape}")
        except InputError as error:
            failures[stem] = str(error)
            continue
        per_item[stem] = compare_volumes(truth, pred) if volume else compare_labels(truth, pred)
    if not per_item:
        raise InputError(pred_dir, f"no prediction could be compared ({len(failures)} failed)")
    keys = next(iter(per_item.values())).keys()
    mean = {k: float(np.nanmean([m[k] for m in per_item.values()])) for k in keys}
    result = {"mean": mean, "volumes" if volume else "images": per_item, "failures": failures}
    write_text(out / "metrics.json", json.dumps(result, indent=2))
    return result


def _read(path: Path, volume: bool) -> Any:
    """A label image in memory, or a label volume as it lies (zarr, or a lazy TIFF stack)."""
    if not volume:
        return read_labels(path)
    if path.suffix == ".zarr":
        return zarr.open_array(str(path), mode="r")
    return read_volume(path).data
