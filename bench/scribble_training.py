"""Does a section model learn from scribbles (paper 003 §5, issue 34)? Two runs of the zoo
recipe (configs/lumenstone.yaml: PSPNet-ResNet18 from scratch, balanced patches, images at half
scale) from the same seed at the same small budget: one on the full masks of LumenStone
train-side images, one on labels made from at most ``--fraction`` of their pixels scribbled
(bench/scribble_labels.py's blind annotator, ``orescope annotate labels``'s labeller and
export), with ``loss.ignore_index: 255``. Both keep their best epoch on the validation side
(full masks) and are scored on the test side as bench/section_models.py scores them.

``--train full`` and ``--train scribbles`` (two processes, which may run at once) train into
``--work``; the scribble run first writes its dataset there: the labels of the chosen images,
and the other LumenStone images linked as they are, so that the split rule gives the folder
the sides it gives LumenStone (only the train side's chosen ``stems`` are read from it).
``--score`` scores both models on the test side and writes
bench/results/scribble_training.json::

    OMP_NUM_THREADS=1 python bench/scribble_training.py --train scribbles &
    python bench/scribble_training.py --train full; wait
    python bench/scribble_training.py --score
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml
from scribble_labels import agreement, blind_rounds, stroke_pieces
from section_models import ROOT, evaluate

from orescope.io import load_lumenstone, read_mask, write_image
from orescope.io.classes import UNLABELLED
from orescope.io.splits import assign_splits
from orescope.jobs.annotate_run import annotate_labels
from orescope.preprocess.superpixels import DEFAULT_LEVELS
from orescope.train import TrainConfig, train_model

RECIPE = ROOT / "configs" / "lumenstone.yaml"
RUNS = ("full", "scribbles")


def chosen_stems(stems: list[str], count: int) -> list[str]:
    """``count`` train-side stems spread evenly over the sorted train side (both series)."""
    sides = assign_splits("lumenstone", stems)
    train = sorted(s for s in stems if sides[s] == "train")
    return [train[i] for i in np.linspace(0, len(train) - 1, count).round().astype(int)]


def write_scribble_dataset(
    lumenstone: Path, out: Path, stems: list[str], fraction: float, fill: bool, seed: int
) -> dict:
    """Labels of ``stems`` from simulated scribbles over ``fraction`` of their pixels, written
    into ``out`` by ``annotate_labels``; every other image linked with its full mask. Returns
    the scribbled share and the labels' agreement with the full masks, per image."""
    samples, _ = load_lumenstone(lumenstone)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    measured = {}
    for sample in samples:
        if sample.stem not in stems:
            for link, target in (
                (out / "images" / sample.image_path.name, sample.image_path),
                (out / "masks" / sample.mask_path.name, sample.mask_path),
            ):
                link.unlink(missing_ok=True)
                link.symlink_to(target.resolve())
            continue
        mask = sample.read_mask()
        pieces = stroke_pieces(mask, erode_px=4, piece_px=48, brush_px=3)
        (strokes,) = blind_rounds(mask, pieces, fraction * mask.size, rounds=1, seed=seed)
        scribbles = out / "scribbles" / f"{sample.stem}.png"
        write_image(scribbles, strokes)
        start = time.perf_counter()
        export = annotate_labels(
            sample.image_path, scribbles, out, lumenstone / "classes.yaml", DEFAULT_LEVELS, fill
        )
        measured[sample.stem] = {
            "scribbled": float(np.mean(strokes != UNLABELLED)),
            **agreement(read_mask(export.mask), mask),
            "seconds": time.perf_counter() - start,
        }
        print(f"{sample.stem}: {measured[sample.stem]}", flush=True)
    return measured


def run_config(
    name: str, data: Path, stems: list[str], work: Path, args: argparse.Namespace
) -> TrainConfig:
    """The zoo recipe on ``stems`` of the train side of ``data``, validated on LumenStone's
    validation side, at the bench's budget."""
    recipe = yaml.safe_load(RECIPE.read_text())
    lumenstone = {"kind": "lumenstone", "path": str(args.data / "lumenstone"), "scale": 0.5}
    return TrainConfig.model_validate(
        {
            **recipe,
            "name": f"lumenstone_{name}",
            "out": str(work / name),
            "train": [{**lumenstone, "path": str(data), "stems": stems}],
            "val": [lumenstone],
            "epochs": args.epochs,
            "patches_per_epoch": args.patches,
            "loss": {**recipe["loss"], "ignore_index": UNLABELLED},
            "description": f"bench/scribble_training.py: {name}",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--train", choices=RUNS, help="train this model")
    action.add_argument("--score", action="store_true", help="score both on the test side")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "scribble_training")
    parser.add_argument("--images", type=int, default=16, help="train-side images used")
    parser.add_argument("--fraction", type=float, default=0.02, help="share scribbled")
    parser.add_argument("--fill", action="store_true", help="labels filled (else 255 stays)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patches", type=int, default=192, help="patches per epoch")
    parser.add_argument("--seed", type=int, default=0, help="of the stroke simulation")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "scribble_training.json"
    )
    args = parser.parse_args()
    lumenstone = args.data / "lumenstone"
    samples, _ = load_lumenstone(lumenstone)
    stems = chosen_stems([s.stem for s in samples], args.images)
    if args.train:
        data = lumenstone
        if args.train == "scribbles":
            data = args.work / "scribble_data"
            labels = write_scribble_dataset(
                lumenstone, data, stems, args.fraction, args.fill, args.seed
            )
            (args.work / "scribble_labels.json").write_text(json.dumps(labels, indent=2))
        start = time.perf_counter()
        train_model(run_config(args.train, data, stems, args.work, args), progress=False)
        (args.work / f"{args.train}_seconds.txt").write_text(f"{time.perf_counter() - start}")
        return
    sides = assign_splits("lumenstone", [s.stem for s in samples])
    test = [stem for stem, side in sides.items() if side == "test"]
    labels = json.loads((args.work / "scribble_labels.json").read_text())
    results = {
        name: evaluate(str(args.work / name), "lumenstone", args.data, test) for name in RUNS
    }
    for name in RUNS:
        history = (args.work / name / "history.csv").read_text().splitlines()
        results[name]["history"] = history
        results[name]["train_seconds"] = float((args.work / f"{name}_seconds.txt").read_text())
        print(f"{name}: test mIoU {results[name]['miou']:.3f}")
    ratio = results["scribbles"]["miou"] / results["full"]["miou"]
    print(f"scribbles / full: {ratio:.3f}")
    args.out.write_text(
        json.dumps(
            {
                "split": "test (scores), validation (epoch kept), train (images trained on)",
                "train_images": stems,
                "test_images": test,
                "options": {k: getattr(args, k) for k in ("fraction", "fill", "epochs", "patches")},
                "levels": [str(level) for level in DEFAULT_LEVELS],
                "scribble_labels": {
                    key: float(np.mean([item[key] for item in labels.values()]))
                    for key in ("scribbled", "all", "labelled", "unlabelled")
                },
                "miou_ratio": ratio,
                "runs": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
