"""Mineral models on section images they were not trained on: per-class IoU, mIoU over the
classes present, pixel accuracy, and one mineral against the rest with the full metric suite
of paper 001 (accuracy, precision, recall, F1, specificity, AUC, IoU; and the IoU with the
background's pixels left out, for masks that outline only some grains).

Each model runs as `predict minerals` does (its trained input scale, tiled, class map scaled
back), and is scored against the full-resolution masks: on one side of the split rule
(``--split``, docs/guide/training.md), or on the images named by ``--stems``. Prints a table
per data set and writes bench/results/section_models.json (or `--out`); `--write-card` puts the
scores on the models' cards.

    python bench/section_models.py lumenstone=src/orescope/zoo/lumenstone \
        --dataset lumenstone (--split test|validation | --stems 03,09,...) [--mineral quartz] \
        [--tta] [--scales 0.8,1,1.25] [--ore-type auto|any|given|NAME] [--tile 768] \
        [--refine-px 8] [--write-card] [--out FILE]

`--refine-px` is the radius of the guided filter that moves class borders onto the image's
edges, as `predict minerals --refine-px` (whose default is 8); by default 0 here, the model's
own borders.

`--tile` predicts with tiles of that side instead of the card's: a PSPNet's pyramid pooling
sees one tile at a time, so the tile sets how much of the section each prediction takes in.

`--ore-type` keeps each photo to the minerals of one of the ore types on the model's card, as
`predict minerals --ore-type` does: `auto` (the default of both) the type the model's own
probabilities point to, `any` no restriction, `given` the photo's true type, which a
microscopist knows of a section before looking at it; for LumenStone its series (S1, complex
ores: images aNN; S2, copper-nickel sulfide ores: images NN; ../shared/data/SOURCES.md).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from orescope.infer.guided import refine_bands
from orescope.infer.multiscale import multiscale_bands
from orescope.infer.ore_types import OreTypeVote
from orescope.infer.sliding_window import class_index, probabilities_from_bands
from orescope.infer.tiling import tiles_per_batch
from orescope.io import load_lumenstone, load_thinsections
from orescope.io.splits import assign_splits
from orescope.jobs.minerals import (
    MineralConfig,
    brightness_rows,
    mineral_index,
    model_input,
    section_reduce,
)
from orescope.metrics.pixel import auc, confusion_matrix, confusion_metrics
from orescope.preprocess.normalise import zscore_normaliser
from orescope.preprocess.resample import resize_image, resize_labels
from orescope.zoo import CARD_FILE, load_model, read_card, write_card

LOADERS = {"lumenstone": load_lumenstone, "thinsections": load_thinsections}
ROOT = Path(__file__).resolve().parents[1]
# the true ore type of each photo, by the names on the card
TRUE_ORE_TYPES: dict[str, Callable[[str], str]] = {
    "lumenstone": lambda stem: "complex" if stem.startswith("a") else "copper-nickel",
}


def evaluate(
    folder: str,
    dataset: str,
    data: Path,
    stems: list[str],
    mineral: str | None = None,
    recolour: Callable[[np.ndarray], np.ndarray] | None = None,
    tta: bool = False,
    scales: tuple[float, ...] = (1.0,),
    ore_type: str = "auto",
    tile: int | None = None,
    refine_px: int = 0,
) -> dict:
    """Scores of one model on the ``stems`` of ``dataset``; ``recolour`` changes each photo
    first (to measure colour distortion and its correction); ``scales`` other than (1,)
    average the model over those multiples of its trained scale; ``ore_type`` keeps each
    photo to the minerals of an ore type, as ``predict minerals --ore-type`` does (``given``:
    its true one); ``tile`` replaces the card's inference tile; ``refine_px`` is the radius of
    the edge refinement, as in ``predict minerals`` (0, the default here: the model's own
    borders)."""
    loaded = load_model(folder)
    card = loaded.card
    tile = tile or card.tile
    samples, _ = LOADERS[dataset](data / dataset)
    samples = [s for s in samples if s.stem in stems]
    classes = len(card.class_names)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    target = mineral_index(card.class_names, mineral) if mineral else None
    truths, scores = [], []
    chosen: dict[str, str] = {}
    for sample in samples:
        image, mask = sample.read_image(), sample.read_mask()
        if recolour is not None:
            image = recolour(image)
        xpl = sample.read_xpl() if card.in_channels == 6 else None
        pixels = resize_image(model_input(image, xpl, card.in_channels), card.input_scale)
        normalise = zscore_normaliser(pixels, card.in_channels, card.fixed_stats)
        bands = multiscale_bands(
            pixels,
            loaded.network,
            normalise=normalise,
            scales=scales,
            tile=tile,
            batch_size=tiles_per_batch(tile),
            tta=tta,
        )
        if refine_px:
            bands = refine_bands(bands, brightness_rows(pixels), len(pixels), refine_px)
        probabilities = probabilities_from_bands(pixels.shape[:2], bands)
        named = TRUE_ORE_TYPES[dataset](sample.stem) if ore_type == "given" else ore_type
        reduce = section_reduce(card, MineralConfig(model=folder, ore_type=named)) or class_index
        predicted = reduce(probabilities)
        if isinstance(reduce, OreTypeVote):
            named, predicted = reduce.decide(predicted)
        if named not in ("auto", "any"):
            chosen[sample.stem] = named
        matrix += confusion_matrix(mask, resize_labels(predicted, mask.shape), classes)
        if target is not None:  # AUC at the model's scale, every 7th pixel: enough for 3 digits
            truths.append((resize_labels(mask, pixels.shape[:2]) == target).ravel()[::7])
            scores.append(probabilities[target].ravel()[::7])
    found = confusion_metrics(matrix)
    present = np.flatnonzero(matrix.sum(axis=1) > 0)
    iou = found["iou_per_class"]
    result: dict = {
        "tile": tile,
        "refine_px": refine_px,
        "miou": float(np.mean([iou[i] or 0.0 for i in present])),
        "pixel_accuracy": found["accuracy"],
        "iou": {card.class_names[i]: iou[i] or 0.0 for i in present},
        "ore_types": chosen,
    }
    if target is not None:
        hit = matrix[target, target]
        binary = np.array(
            [
                [
                    matrix.sum() - matrix[target].sum() - matrix[:, target].sum() + hit,
                    matrix[:, target].sum() - hit,
                ],
                [matrix[target].sum() - hit, hit],
            ]
        )
        one = confusion_metrics(binary)
        # thin-section masks label only some grains, the others are background: leaving the
        # background's pixels out shows how well the labelled grains are told apart
        on_grains = matrix[target].sum() + matrix[1:, target].sum() - hit
        result["one_vs_rest"] = {
            "mineral": card.class_names[target],
            "accuracy": one["accuracy"],
            **{k: one[f"{k}_per_class"][1] for k in ("precision", "recall", "f1", "specificity")},
            "iou": one["iou_per_class"][1],
            "iou_background_left_out": float(hit / on_grains) if on_grains else 0.0,
            "auc": auc(np.concatenate(truths), np.concatenate(scores)),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=FOLDER of each model to score")
    parser.add_argument("--dataset", choices=sorted(LOADERS), required=True)
    images = parser.add_mutually_exclusive_group(required=True)
    images.add_argument("--split", choices=["validation", "test"], help="a side of the rule")
    images.add_argument("--stems", help="image stems, comma-separated")
    parser.add_argument("--mineral", help="one mineral against the rest (e.g. quartz)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--tta", action="store_true", help="mirror test-time augmentation")
    parser.add_argument(
        "--scales", default="1", help="multiples of the trained scale to average, e.g. 0.8,1,1.25"
    )
    parser.add_argument(
        "--ore-type",
        default="auto",
        help="auto (the model's own vote), any, given (each photo's true type) or a card's name",
    )
    parser.add_argument("--tile", type=int, help="inference tile instead of the card's")
    parser.add_argument(
        "--refine-px",
        type=int,
        default=0,
        help="radius of the edge refinement (predict minerals' default: 8); default 0, the "
        "model's own borders",
    )
    parser.add_argument("--write-card", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "section_models.json"
    )
    args = parser.parse_args()
    if args.split:
        samples, _ = LOADERS[args.dataset](args.data / args.dataset)
        sides = assign_splits(args.dataset, [sample.stem for sample in samples])
        stems = [stem for stem, side in sides.items() if side == args.split]
    else:
        stems = args.stems.split(",")
    scales = tuple(float(v) for v in args.scales.split(","))
    if args.ore_type == "given" and args.dataset not in TRUE_ORE_TYPES:
        parser.error(f"the ore types of {args.dataset} photos are not known")
    if args.tile and args.write_card:
        parser.error(
            "a card's metrics are measured at its own tile: --tile goes without --write-card"
        )
    out = args.out
    saved = json.loads(out.read_text()) if out.exists() else {}
    for entry in args.models:
        name, folder = entry.split("=", 1)
        result = evaluate(
            folder,
            args.dataset,
            args.data,
            stems,
            args.mineral,
            tta=args.tta,
            scales=scales,
            ore_type=args.ore_type,
            tile=args.tile,
            refine_px=args.refine_px,
        )
        saved.setdefault(args.dataset, {})[name] = {
            "split": args.split,
            "stems": stems,
            "tta": args.tta,
            "scales": list(scales),
            "ore_type": args.ore_type,
            **result,
        }
        print(f"\n{name} on {args.dataset} ({len(stems)} images)")
        print(f"  mIoU {result['miou']:.3f}  pixel accuracy {result['pixel_accuracy']:.3f}")
        for mineral, value in result["iou"].items():
            print(f"  IoU {mineral:<26}{value:.3f}")
        if args.mineral:
            one = dict(result["one_vs_rest"])
            print(
                f"  {one.pop('mineral')} vs rest: "
                + "  ".join(f"{k} {v:.3f}" for k, v in one.items())
            )
        if args.write_card:
            card = read_card(Path(folder) / CARD_FILE)
            images = f"{args.split} side" if args.split else "held-out"
            data = f"{images} {args.dataset} ({', '.join(stems)}), full resolution"
            data += ", mirror TTA" if args.tta else ""
            data += f", scales {args.scales}" if scales != (1.0,) else ""
            data += f", ore type {args.ore_type}" if args.ore_type != "auto" else ""
            data += ", edges not refined" if not args.refine_px else ""
            # full precision, as in the results file: the docs round both the same way
            card.metrics[data] = {
                "miou": result["miou"],
                "pixel_accuracy": result["pixel_accuracy"],
                **{f"iou {k}": v for k, v in result["iou"].items()},
            }
            if args.mineral:
                one = dict(result["one_vs_rest"])
                mineral = one.pop("mineral")
                card.metrics[f"{data}: {mineral} vs rest"] = one
            write_card(Path(folder) / CARD_FILE, card)
    out.write_text(json.dumps(saved, indent=2))


if __name__ == "__main__":
    main()
