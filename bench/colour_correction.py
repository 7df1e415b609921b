"""Colour correction (paper 003 §2) on a mineral model: mIoU of held-out sections as taken,
colour-distorted (another lamp and camera: an affine map in linear light, mild and strong), and
distorted then corrected by one matrix per distortion fitted in calibration mode — from the
class-mean colours of the series' distorted photos (their labels standing for the regions a user
would outline, ``--calibration`` of them) against the reference colours on the model's card, by
what `orescope predict minerals --calibration-image ... --calibration-mask ...` runs.

Prints the mIoUs and the share of the undistorted mIoU kept; writes
bench/results/colour_correction.json (or --out).

    python bench/colour_correction.py --model src/orescope/zoo/lumenstone --stems 03,09,... \
        [--calibration 6] [--calibration-start 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from section_models import LOADERS, ROOT, evaluate

from orescope.jobs.minerals import calibrate_colours
from orescope.preprocess.colour import (
    MIN_SPREAD,
    ColourCorrection,
    colour_spread,
    linearise,
    region_colours,
)
from orescope.zoo import CARD_FILE, read_card

DISTORTIONS = {
    # warmer lamp, weaker blue channel, a little crosstalk and a raised black level
    "mild": np.array(
        [[0.95, 0.08, 0.00], [0.10, 0.80, 0.06], [0.00, 0.08, 0.60], [0.03, 0.02, 0.01]]
    ),
    # a halogen lamp without a daylight filter on an under-exposed, cross-talking camera
    "strong": np.array(
        [[0.90, 0.15, 0.05], [0.15, 0.60, 0.10], [0.00, 0.10, 0.35], [0.05, 0.03, 0.00]]
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", default="lumenstone", choices=sorted(LOADERS))
    parser.add_argument("--stems", required=True, help="held-out image stems, comma-separated")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--calibration", type=int, default=6, help="held-out photos whose labels calibrate"
    )
    parser.add_argument(
        "--calibration-start", type=int, default=0, help="index of the first of those photos"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "colour_correction.json"
    )
    args = parser.parse_args()
    stems = args.stems.split(",")
    samples, _ = LOADERS[args.dataset](args.data / args.dataset)
    held_out = [s for s in samples if s.stem in stems]
    card = read_card(Path(args.model) / CARD_FILE)
    reference = {i: np.asarray(rgb) for i, rgb in card.reference_colours.items()}
    calibration = held_out[args.calibration_start :][: args.calibration]
    runs: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {"as taken": None}
    matrices, spreads = {}, {}
    for name, matrix in DISTORTIONS.items():
        distort = ColourCorrection(matrix).apply
        photos = [(distort(s.read_image()), s.read_mask()) for s in calibration]
        spreads[name] = colour_spread(linearise(region_colours(photos, reference)[0]))
        print(
            f"{name}: calibration colours spread {spreads[name]:.3f} (all 12 entries fitted "
            f"from {MIN_SPREAD}); reference saturation {card.reference_saturation}"
        )
        correction = calibrate_colours(photos, card)
        matrices[name] = correction.matrix.tolist()
        runs[f"{name} distortion"] = distort
        runs[f"{name} distortion, corrected"] = (
            lambda image, distort=distort, correction=correction: correction.apply(distort(image))
        )
    results = {}
    for name, recolour in runs.items():
        results[name] = evaluate(args.model, args.dataset, args.data, stems, recolour=recolour)
        kept = results[name]["miou"] / results["as taken"]["miou"]
        print(f"{name:<30} mIoU {results[name]['miou']:.3f}  kept {kept:.1%}", flush=True)
    summary = {
        name: {
            "miou": r["miou"],
            "pixel_accuracy": r["pixel_accuracy"],
            "kept": r["miou"] / results["as taken"]["miou"],
        }
        for name, r in results.items()
    }
    args.out.write_text(
        json.dumps(
            {
                "model": args.model,
                "stems": stems,
                "calibration_images": [s.stem for s in calibration],
                "calibration_colour_spread": spreads,
                "reference_saturation": card.reference_saturation,
                "distortions": {name: m.tolist() for name, m in DISTORTIONS.items()},
                "matrices": matrices,
                "results": summary,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
