"""Labels from scribbles (paper 003 §5) on LumenStone photos: how close labels made from strokes
over 0.5, 1 and 2 % of the pixels come to the full masks.

Strokes are simulated from the true masks along class interiors: each class region is eroded
by ``--erode-px``, its skeleton cut into pieces by a grid of ``--piece-px`` cells, and a piece
is painted with a ``--brush-px`` brush. Two annotators spend the same budget of painted pixels
in ``--rounds`` rounds, adding each round's strokes to one
:class:`~orescope.preprocess.superpixels.ScribbleLabeller` (the incremental path a viewer
takes):

``blind``
    draws without looking at the labels: first one piece (its longest) in every region,
    largest regions first, then the other pieces in a seeded random order.
``corrective``
    looks at the labels after each round, as a viewer shows them, and strokes where they are
    wrong (or missing): one piece in each connected wrong area of one true class, largest
    areas first, the piece that covers most of it; once with the labels shown as they are
    (unlabelled superpixels are "wrong"), once with the labels shown filled.

The labels are compared with the mask over all pixels (an unlabelled pixel counts as a miss)
and over the labelled pixels, with and without ``fill``, for each superpixel hierarchy of
``SETTINGS``. The blind session's labels are checked to equal those of all its strokes added at
once. Choices (the default hierarchy; the fill's step cost, ``HOP_COST``) are made on
``--split validation``; the numbers reported come from the test side.

Prints the numbers; writes bench/results/scribble_labels.json (or --out). Run on one core, as a
training run shares the machine::

    OMP_NUM_THREADS=1 .venv/bin/python bench/scribble_labels.py [--split test] [--stems 19,a50]
        [--settings slic,felzenszwalb+slic] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.measure import label
from skimage.morphology import skeletonize
from skimage.segmentation import expand_labels

from orescope.io import load_lumenstone
from orescope.io.splits import SPLITS, assign_splits
from orescope.preprocess.superpixels import (
    UNLABELLED,
    ScribbleLabeller,
    SuperpixelLevel,
    parse_levels,
    superpixel_hierarchy,
)

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.005, 0.01, 0.02)
SETTINGS: dict[str, tuple[SuperpixelLevel, ...]] = {
    "slic": parse_levels("slic:4000,slic:1000,slic:250"),
    "felzenszwalb+slic": parse_levels("felzenszwalb:400,slic:1000,slic:250"),
    "felzenszwalb": parse_levels("felzenszwalb:1600,felzenszwalb:400,felzenszwalb:100"),
}


def stroke_pieces(mask: np.ndarray, erode_px: int, piece_px: int, brush_px: int) -> np.ndarray:
    """int32 piece id per pixel (0 = none) of the strokes an annotator could draw: skeletons
    of the eroded class regions cut by a grid of ``piece_px`` cells, widened to ``brush_px``
    without pieces overlapping, ids numbered by region."""
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1,) * 2)
    interior = np.zeros(mask.shape, bool)
    for index in np.unique(mask):
        interior |= cv2.erode((mask == index).astype(np.uint8), disk).astype(bool)
    regions = label(interior, connectivity=1)
    rows, columns = np.nonzero(skeletonize(interior))
    cells = (rows // piece_px) * (mask.shape[1] // piece_px + 1) + columns // piece_px
    keys = regions[rows, columns].astype(np.int64) << 32 | cells
    pieces = np.zeros(mask.shape, np.int32)
    pieces[rows, columns] = np.unique(keys, return_inverse=True)[1].reshape(-1) + 1
    return np.where(interior, expand_labels(pieces, distance=brush_px // 2), 0)


def blind_rounds(
    mask: np.ndarray, pieces: np.ndarray, budget_px: float, rounds: int, seed: int
) -> list[np.ndarray]:
    """The blind annotator's strokes within ``budget_px`` painted pixels, as ``rounds`` masks
    in drawing order (class per stroked pixel, UNLABELLED elsewhere)."""
    sizes = np.bincount(pieces.ravel())
    region_of = np.zeros(len(sizes), np.int64)
    region_of[pieces.ravel()] = label(pieces > 0, connectivity=2).ravel()
    region_area = np.bincount(region_of, weights=sizes)
    ids = np.arange(1, len(sizes))
    by_size = ids[np.lexsort((-sizes[ids], -region_area[region_of[ids]]))]
    _, first = np.unique(region_of[by_size], return_index=True)
    leading = by_size[np.sort(first)]
    rest = np.random.default_rng(seed).permutation(np.setdiff1d(ids, leading))
    order = np.concatenate([leading, rest])
    drawn = order[np.cumsum(sizes[order]) <= budget_px]
    round_of = np.full(len(sizes), -1)
    round_of[drawn] = np.arange(len(drawn)) * rounds // max(len(drawn), 1)
    painted = round_of[pieces]
    return [np.where(painted == r, mask, UNLABELLED).astype(np.uint8) for r in range(rounds)]


def corrective_strokes(
    shown: np.ndarray,
    mask: np.ndarray,
    pieces: np.ndarray,
    sizes: np.ndarray,
    drawn: np.ndarray,
    budget_px: float,
) -> np.ndarray:
    """Ids of the pieces (of ``sizes`` pixels) the corrective annotator draws next, within
    ``budget_px``: in each connected area of one true class that the ``shown`` labels get
    wrong, the undrawn piece covering most of it, largest areas first."""
    wrong = shown != mask
    areas = label(np.where(wrong, mask.astype(np.int32) + 1, 0), connectivity=1)
    area_px = np.bincount(areas.ravel())
    candidate = wrong & (pieces > 0) & ~drawn[pieces]
    piece, area = pieces[candidate].astype(np.int64), areas[candidate]
    if piece.size == 0:
        return np.zeros(0, np.int64)
    pairs, overlap = np.unique(area * len(drawn) + piece, return_counts=True)
    order = np.lexsort((-overlap, -area_px[pairs // len(drawn)]))
    pairs = pairs[order]
    _, first = np.unique(pairs // len(drawn), return_index=True)
    chosen = pairs[np.sort(first)] % len(drawn)
    return chosen[np.cumsum(sizes[chosen]) <= budget_px]


def agreement(labels: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Share of all pixels labelled as in the mask (unlabelled ones miss), the same over the
    labelled pixels, and the share left unlabelled."""
    labelled = labels != UNLABELLED
    hits = labels == mask
    return {
        "all": float(hits.mean()),
        "labelled": float(hits[labelled].mean()) if labelled.any() else 0.0,
        "unlabelled": float(1 - labelled.mean()),
    }


def blind_session(
    image: np.ndarray,
    hierarchy: list[np.ndarray],
    mask: np.ndarray,
    pieces: np.ndarray,
    budget_px: float,
    args: argparse.Namespace,
) -> dict:
    """Agreement of the blind annotator's labels, without and with fill, and the times of an
    incremental add and of the fill."""
    labeller = ScribbleLabeller(image, hierarchy)
    strokes = blind_rounds(mask, pieces, budget_px, args.rounds, args.seed)
    adds = []
    for batch in strokes:
        start = time.perf_counter()
        labeller.add(batch)
        adds.append(time.perf_counter() - start)
    start = time.perf_counter()
    filled = labeller.labels(fill=True)
    fill_s = time.perf_counter() - start
    once = ScribbleLabeller(image, hierarchy)
    once.add(labeller.strokes.copy())
    if not np.array_equal(once.labels(), labeller.labels()):
        raise AssertionError("incremental labels differ from the labels of all strokes at once")
    scribbled = float(np.mean(labeller.strokes != UNLABELLED))
    return {
        "strokes": {**agreement(labeller.labels(), mask), "scribbled": scribbled},
        "filled": {**agreement(filled, mask), "scribbled": scribbled},
        "add_s": float(np.mean(adds)),
        "add_max_s": float(np.max(adds)),
        "fill_s": fill_s,
    }


def corrective_session(
    image: np.ndarray,
    hierarchy: list[np.ndarray],
    mask: np.ndarray,
    pieces: np.ndarray,
    budget_px: float,
    fill: bool,
    args: argparse.Namespace,
) -> dict:
    """Agreement of the labels (filled if ``fill``) the corrective annotator ends with."""
    labeller = ScribbleLabeller(image, hierarchy)
    drawn = np.zeros(pieces.max() + 1, bool)
    drawn[0] = True
    sizes = np.bincount(pieces.ravel(), minlength=len(drawn))
    spent = 0
    for round_ in range(args.rounds):
        shown = labeller.labels(fill)
        budget = budget_px * (round_ + 1) / args.rounds - spent
        chosen = corrective_strokes(shown, mask, pieces, sizes, drawn, budget)
        drawn[chosen] = True
        spent += int(sizes[chosen].sum())
        labeller.add(np.where(np.isin(pieces, chosen), mask, UNLABELLED).astype(np.uint8))
    labels = labeller.labels(fill)
    return {**agreement(labels, mask), "scribbled": float(np.mean(labeller.strokes != UNLABELLED))}


def measure_image(image: np.ndarray, mask: np.ndarray, args: argparse.Namespace) -> dict:
    """Per setting: the superpixel time and, per budget, both annotators' results."""
    pieces = stroke_pieces(mask, args.erode_px, args.piece_px, args.brush_px)
    results: dict[str, dict] = {}
    for name in args.settings.split(","):
        start = time.perf_counter()
        hierarchy = superpixel_hierarchy(image, SETTINGS[name])
        results[name] = {"superpixel_s": time.perf_counter() - start}
        for fraction in map(float, args.fractions.split(",")):
            budget = fraction * mask.size
            session = (image, hierarchy, mask, pieces, budget)
            results[name][f"{fraction:g}"] = {
                "blind": blind_session(*session, args),
                "corrective": {
                    "strokes": corrective_session(*session, False, args),
                    "filled": corrective_session(*session, True, args),
                },
            }
    return results


def mean_of(items: list[dict]) -> dict:
    """The mean over ``items`` (one per image) of every number of their nested results."""
    return {
        key: mean_of([item[key] for item in items])
        if isinstance(value, dict)
        else float(np.mean([item[key] for item in items]))
        for key, value in items[0].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--split", choices=SPLITS, default="test", help="side of the split rule")
    parser.add_argument("--stems", help="only these images of the side, comma-separated")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="names of SETTINGS")
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    parser.add_argument("--rounds", type=int, default=10, help="stroke rounds per session")
    parser.add_argument(
        "--erode-px", type=int, default=4, help="strokes keep this far from borders"
    )
    parser.add_argument("--piece-px", type=int, default=48, help="longest stroke piece")
    parser.add_argument("--brush-px", type=int, default=3, help="stroke width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "scribble_labels.json"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    samples, _ = load_lumenstone(args.data / "lumenstone")
    sides = assign_splits("lumenstone", [s.stem for s in samples])
    chosen = [s for s in samples if sides[s.stem] == args.split]
    if args.stems:
        chosen = [s for s in chosen if s.stem in args.stems.split(",")]
    per_image = {}
    for sample in chosen:
        start = time.perf_counter()
        per_image[sample.stem] = measure_image(sample.read_image(), sample.read_mask(), args)
        print(f"{sample.stem}: {time.perf_counter() - start:.0f} s", flush=True)
    mean = mean_of(list(per_image.values()))
    for name, setting in mean.items():
        print(f"{name}: superpixels {setting['superpixel_s']:.1f} s per image")
        for fraction in args.fractions.split(","):
            row = setting[f"{float(fraction):g}"]
            blind, corrective = row["blind"], row["corrective"]
            print(
                f"  {float(fraction):>5.1%} blind: all {blind['strokes']['all']:.3f} labelled "
                f"{blind['strokes']['labelled']:.3f} unlabelled "
                f"{blind['strokes']['unlabelled']:.1%} filled {blind['filled']['all']:.3f} | "
                f"corrective: all {corrective['strokes']['all']:.3f} labelled "
                f"{corrective['strokes']['labelled']:.3f} filled "
                f"{corrective['filled']['all']:.3f} | add {blind['add_s'] * 1000:.0f} ms, "
                f"fill {blind['fill_s'] * 1000:.0f} ms"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "split": args.split,
                "images": [s.stem for s in chosen],
                "settings": {name: [str(level) for level in SETTINGS[name]] for name in mean},
                "options": {
                    key: getattr(args, key)
                    for key in ("rounds", "erode_px", "piece_px", "brush_px", "seed")
                },
                "mean": mean,
                "per_image": per_image,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
