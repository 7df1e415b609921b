"""How much of a section's minerals its colours alone tell, with and without per-image z-scoring.

A colour-only classifier: the RGB cube cut into 32³ bins, each bin labelled with the class
most often found in it over the training photos (every 4th pixel), applied to the held-out
photos. Run once on the raw colours and once on each photo z-scored by its own channel
statistics (what `normalisation: image_zscore` feeds a model). The gap says how much a model
loses by normalising every photo by itself. Writes bench/results/colour_lut.json.

    python bench/colour_lut.py --dataset lumenstone \
        --stems 03,09,15,21,a05,a11,a17,a23,a29,a35,a41,a47,a53,a59
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from section_models import LOADERS, ROOT

from orescope.metrics.pixel import confusion_matrix, confusion_metrics

BINS = 32
STEP = 4  # every 4th pixel in each direction: colours repeat, 1/16 of them is plenty
ZSCORE_RANGE = 3.0  # z-scores binned over [-3, 3]


def colour_bins(image: np.ndarray, zscore: bool) -> np.ndarray:
    """Bin index of every pixel's colour: raw 0-255, or z-scored by the photo's own stats."""
    values = image.reshape(-1, 3).astype(np.float32)
    if zscore:
        values = (values - values.mean(axis=0)) / np.maximum(values.std(axis=0), 1e-6)
        values = (values + ZSCORE_RANGE) / (2 * ZSCORE_RANGE) * 255
    q = np.clip(values * BINS / 256, 0, BINS - 1).astype(np.int64)
    return (q[:, 0] * BINS + q[:, 1]) * BINS + q[:, 2]


def score(train: list, test: list, classes: int, zscore: bool) -> dict:
    """Fits the bin -> class table on ``train`` and scores it on ``test`` (mIoU over the
    classes present in the test masks, pixel accuracy)."""
    counts = np.zeros((BINS**3, classes), dtype=np.int64)
    for image, mask in train:
        np.add.at(counts, (colour_bins(image, zscore), mask.ravel()), 1)
    table = counts.argmax(axis=1)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    for image, mask in test:
        matrix += confusion_matrix(mask.ravel(), table[colour_bins(image, zscore)], classes)
    found = confusion_metrics(matrix)
    present = np.flatnonzero(matrix.sum(axis=1) > 0)
    iou = found["iou_per_class"]
    return {
        "miou": float(np.mean([iou[i] or 0.0 for i in present])),
        "pixel_accuracy": float(found["accuracy"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="lumenstone")
    parser.add_argument("--stems", required=True, help="held-out photos, comma-separated")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "colour_lut.json")
    args = parser.parse_args()
    held_out = set(args.stems.split(","))
    samples, registry = LOADERS[args.dataset](args.data / args.dataset)
    classes = max(registry.indices) + 1
    photos = {
        s.stem: (s.read_image()[::STEP, ::STEP, :3], s.read_mask()[::STEP, ::STEP]) for s in samples
    }
    train = [pair for stem, pair in photos.items() if stem not in held_out]
    test = [pair for stem, pair in photos.items() if stem in held_out]
    results = {
        "dataset": args.dataset,
        "held_out": sorted(held_out),
        "raw colours": score(train, test, classes, zscore=False),
        "per-image z-scored colours": score(train, test, classes, zscore=True),
    }
    for name in ("raw colours", "per-image z-scored colours"):
        found = results[name]
        print(f"{name:28s} mIoU {found['miou']:.3f}  pixel accuracy {found['pixel_accuracy']:.3f}")
    results_path = args.out
    results_path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(results_path.read_text()) if results_path.exists() else {}
    previous[args.dataset] = results
    results_path.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
