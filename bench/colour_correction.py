"""Colour correction (paper 003 §2) on a mineral model: mIoU of held-out sections as taken,
colour-distorted (another lamp and camera: an affine map in linear light), and distorted then
corrected by a matrix fitted in calibration mode — once, from the class-mean colours of one
distorted image (its labels standing for the few regions a user would outline) against the
class means of the training images.

Prints the three mIoUs and the share of the undistorted mIoU recovered; writes
bench/results/colour_correction.json.

    python bench/colour_correction.py --model src/orescope/zoo/lumenstone --stems 03,09,...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from section_models import LOADERS, ROOT, evaluate

from orescope.preprocess.colour import (
    ColourCorrection,
    class_colours,
    fit_colour_correction,
    matching_colours,
    mean_class_colours,
)

# warmer lamp, weaker blue channel, a little crosstalk and a raised black level
DISTORTION = np.array(
    [[0.95, 0.08, 0.00], [0.10, 0.80, 0.06], [0.00, 0.08, 0.60], [0.03, 0.02, 0.01]]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", default="lumenstone", choices=sorted(LOADERS))
    parser.add_argument("--stems", required=True, help="held-out image stems, comma-separated")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    stems = args.stems.split(",")
    samples, _ = LOADERS[args.dataset](args.data / args.dataset)
    distort = ColourCorrection(DISTORTION).apply
    training = [(s.read_image(), s.read_mask()) for s in samples if s.stem not in stems]
    calibration = next(s for s in samples if s.stem == stems[0])
    source = class_colours(distort(calibration.read_image()), calibration.read_mask())
    correction = fit_colour_correction(*matching_colours(source, mean_class_colours(training)))
    runs = {
        "as taken": None,
        "distorted": distort,
        "distorted, then corrected": lambda image: correction.apply(distort(image)),
    }
    results = {}
    for name, recolour in runs.items():
        results[name] = evaluate(args.model, args.dataset, args.data, stems, recolour=recolour)
        print(f"{name:<28} mIoU {results[name]['miou']:.3f}", flush=True)
    recovered = results["distorted, then corrected"]["miou"] / results["as taken"]["miou"]
    print(f"share of the undistorted mIoU recovered: {recovered:.1%}")
    out = ROOT / "bench" / "results" / "colour_correction.json"
    summary = {
        name: {"miou": r["miou"], "pixel_accuracy": r["pixel_accuracy"]}
        for name, r in results.items()
    }
    out.write_text(
        json.dumps(
            {
                "model": args.model,
                "stems": stems,
                "calibration_image": stems[0],
                "distortion": DISTORTION.tolist(),
                "matrix": correction.matrix.tolist(),
                "results": summary,
                "recovered": recovered,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
