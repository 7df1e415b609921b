"""``ct-particles`` against ThreshWater 3D on synthetic test volumes that no choice was made on
(seeds 10100-10111 by the split rule, the training config's generator ranges, 128³ voxels, touching
CT artefacts), each run through ``predict volume`` in chunks, scored by paper 002's metrics and
the equivalent-sphere-diameter P50 (results in bench/results/volume_models.json).

    python bench/volume_models.py [--model ct-particles] [--seed 10100] [--count 12] [--side 128]

The first test volumes, seeds 10000-10003, were looked into after they were measured (which
particles the decoding split, bench/volume_split_particles.py), so they are no longer a test:
``--seed 10000 --count 4`` measures them again, for the record, as validation.

The model runs with the volume's true median particle size given (``--particle-size``), and
with the size it measures itself; and once more with the true size in chunks of
``--other-chunk`` voxels, to count the particles that come out voxel for voxel the same
whatever the chunk size, and whether the labels are equal (``chunk_consistency``); and with
the measured size but seeds not split at their necks (``--no-split-cores``), the decoding
before bench/volume_core_split.py chose the split on validation volumes.
``--write-card`` records the zoo model's scores on its card.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import zarr
from scipy import ndimage

from orescope.io.splits import FIRST_SEED
from orescope.jobs.particle_evaluation import compare_volumes
from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.preprocess.resample import median_diameter_px
from orescope.train.config import read_train_config
from orescope.train.data import synth_volumes
from orescope.zoo import CARD_FILE, read_card, resolve_model_dir, write_card

ROOT = Path(__file__).resolve().parents[1]
SPACING_MM = 0.01
CARD_SCORES = (
    "f1_match",
    "f1_instance",
    "merger_ratio",
    "splitter_ratio",
    "ap50",
    "voxel_f1",
    "p50_relative_error",
    "seconds",
)
TEST_SEED = FIRST_SEED["test"] + 100  # the split rule (orescope.io.splits): test from 10000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--seed", type=int, default=TEST_SEED)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=96)
    parser.add_argument("--other-chunk", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_models.json")
    parser.add_argument("--write-card", action="store_true", help="scores onto the model's card")
    args = parser.parse_args()
    config = read_train_config(ROOT / "configs/ct_particles.yaml")
    spec = config.val[0].model_copy(
        update={
            "seed": args.seed,
            "count": args.count,
            "volume": {"shape": [args.side] * 3, "spacing_mm": SPACING_MM},
        }
    )
    methods = {
        "threshwater": {"method": "threshwater"},
        "model, true size": {"method": "model", "model": args.model},
        "model, measured size": {"method": "model", "model": args.model},
        "model, true size, other chunk": {"method": "model", "model": args.model},
        "model, measured size, cores not split": {
            "method": "model",
            "model": args.model,
            "split_cores": False,
        },
    }
    results: dict = {
        "test_volumes": spec.model_dump(mode="json"),
        "settings": {"chunk": args.chunk, "halo": 16, "spacing_mm": SPACING_MM},
        "methods": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        truths, sizes, touching = {}, {}, {}
        for name, image, labels in synth_volumes(spec):
            tifffile.imwrite(folder / f"{name}.tif", image)
            truths[name], sizes[name] = labels, median_diameter_px(labels) * SPACING_MM
            touching[name] = touching_share(labels)
        results["touching_share"] = {"mean": float(np.mean(list(touching.values()))), **touching}
        for method, settings in methods.items():
            per_volume = {}
            for name, truth in truths.items():
                size = sizes[name] if "true size" in method else None
                job = VolumeJobConfig(
                    **settings,
                    particle_size_mm=size,
                    spacing_mm=SPACING_MM,
                    chunk=args.other_chunk if "other chunk" in method else args.chunk,
                    halo=16,
                )
                # a folder a volume: each run's settings (its size) are its own
                out = folder / method.replace(",", "").replace(" ", "_") / name
                started = time.perf_counter()
                run_volumes([folder / f"{name}.tif"], out, job, progress=False)
                seconds = time.perf_counter() - started
                predicted = zarr.open_array(str(out / name / "labels.zarr"), mode="r")[:]
                scores = compare_volumes(truth, predicted)
                per_volume[name] = {**scores, "seconds": seconds}
                print(method, name, {k: round(float(v), 4) for k, v in scores.items()})
            keys = next(iter(per_volume.values())).keys()
            mean = {k: float(np.nanmean([v[k] for v in per_volume.values()])) for k in keys}
            results["methods"][method] = {"mean": mean, "volumes": per_volume}
            print(method, "mean", {k: round(v, 4) for k, v in mean.items()})
        results["chunk_consistency"] = {
            "chunks": [args.chunk, args.other_chunk],
            "identical_particles": float(
                np.mean([_identical_particles(folder, name) for name in truths])
            ),
            "identical_labels": all(_identical_labels(folder, name) for name in truths),
        }
        print(results["chunk_consistency"])
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.write_card:
        record_on_card(args.model, results, args.seed, args.count, args.side)


def touching_share(labels: np.ndarray) -> float:
    """Share of the reference particles that touch another (a voxel of another particle among
    their 26 neighbours): the particles a merger can be made of. Paper 002's test scans hold
    7 % of them (its spacer keeps particles apart), so its merger ratio is out of fewer."""
    highest = ndimage.maximum_filter(labels, size=3)
    lowest = ndimage.minimum_filter(np.where(labels == 0, labels.max() + 1, labels), size=3)
    touches = (labels > 0) & ((highest != labels) | (lowest != labels))
    return float(np.unique(labels[touches]).size / max(np.unique(labels).size - 1, 1))


def _runs(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The labels of the true-size runs in both chunk sizes."""
    a, b = (
        zarr.open_array(str(folder / run / name / name / "labels.zarr"), mode="r")[:].astype(
            np.int64
        )
        for run in ("model_true_size", "model_true_size_other_chunk")
    )
    return a, b


def _identical_labels(folder: Path, name: str) -> bool:
    """Whether both chunk sizes' runs wrote the same labels, ids and all."""
    return bool(np.array_equal(*_runs(folder, name)))


def _identical_particles(folder: Path, name: str) -> float:
    """Share of the particles of the true-size run that the other chunk size's run holds voxel
    for voxel (under whatever id)."""
    a, b = _runs(folder, name)
    pairs, shared = np.unique(a * (b.max() + 1) + b, return_counts=True)
    first, second = pairs // (b.max() + 1), pairs % (b.max() + 1)
    size_a, size_b = np.bincount(a.ravel()), np.bincount(b.ravel())
    same = (first > 0) & (second > 0) & (shared == size_a[first]) & (shared == size_b[second])
    return float(same.sum() / max(np.count_nonzero(size_a[1:]), 1))


def record_on_card(model: str, results: dict, seed: int, count: int, side: int) -> None:
    """The model's scores on the test volumes, by the size setting, onto its card."""
    folder = resolve_model_dir(model)
    card = read_card(folder / CARD_FILE)
    data = f"held-out synthetic volumes ({count} x {side}³, seeds {seed}-{seed + count - 1})"
    for method, suffix in (
        ("model, measured size", ""),
        ("model, true size", ", with --particle-size the reference's median ESD"),
    ):
        mean = results["methods"][method]["mean"]
        card.metrics[data + suffix] = {k: mean[k] for k in CARD_SCORES}
    write_card(folder / CARD_FILE, card)
    print(f"scores written to {folder / CARD_FILE}")


if __name__ == "__main__":
    main()
