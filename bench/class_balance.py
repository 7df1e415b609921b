"""Class pixel frequencies fed to training: random patches vs paper 003's class-balanced sampler.

For each section data set, draws the same number of patch windows both ways (the windows the
training loop would crop, before augmentation) and prints the share of each class among the
fed pixels, the share in the masks themselves, and the ratio of the rarest to the most common
present class. Writes bench/results/class_balance.json.

    python bench/class_balance.py [--patches 2000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from orescope.io import load_lumenstone, load_thinsections
from orescope.preprocess.resample import resize_labels
from orescope.train.balanced import ClassBalancedSampler

DATASETS = {"lumenstone": load_lumenstone, "thinsections": load_thinsections}


def random_fed(masks: list[np.ndarray], classes: list[int], patch: int, count: int) -> np.ndarray:
    """Class pixels of ``count`` uniformly placed windows in uniformly chosen images, as the
    random sampler of the training loop draws them."""
    rng = np.random.default_rng(0)
    fed = np.zeros(len(classes))
    for _ in range(count):
        mask = masks[int(rng.integers(len(masks)))]
        top = int(rng.integers(0, mask.shape[0] - patch + 1))
        left = int(rng.integers(0, mask.shape[1] - patch + 1))
        window = mask[top : top + patch, left : left + patch]
        fed += [np.count_nonzero(window == index) for index in classes]
    return fed


def shares(counts: np.ndarray) -> list[float]:
    return [float(c) for c in counts / counts.sum()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=2000)
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--scale", type=float, default=0.5, help="resampling of the masks")
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    args = parser.parse_args()
    results = {}
    for name, loader in DATASETS.items():
        samples, registry = loader(args.data / name)
        masks = []
        for sample in samples:
            mask = sample.read_mask()
            shape = (round(mask.shape[0] * args.scale), round(mask.shape[1] * args.scale))
            masks.append(resize_labels(mask, shape))
        classes = registry.indices
        in_masks = np.array([sum(np.count_nonzero(m == c) for m in masks) for c in classes])
        present = in_masks > 0
        sampler = ClassBalancedSampler(masks, classes, args.patch)
        rng = np.random.default_rng(0)
        for _ in range(args.patches):
            sampler.draw(rng)
        fed = {
            "masks": shares(in_masks),
            "random": shares(random_fed(masks, classes, args.patch, args.patches)),
            "balanced": shares(sampler.fed),
        }
        print(f"\n{name}: {len(masks)} images, {args.patches} patches of {args.patch} px")
        print(f"{'class':<26}" + "".join(f"{way:>10}" for way in fed))
        for k, index in enumerate(classes):
            if present[k]:
                row = "".join(f"{100 * fed[way][k]:9.2f}%" for way in fed)
                print(f"{index:>2} {registry.name(index):<23}{row}")
        spread = {
            way: min(np.array(v)[present]) / max(np.array(v)[present]) for way, v in fed.items()
        }
        print(f"{'rarest / commonest':<26}" + "".join(f"{s:10.3f}" for s in spread.values()))
        results[name] = {
            "classes": [registry.name(i) for i in classes],
            "shares": fed,
            "rarest_over_commonest": spread,
        }
    out = Path(__file__).parent / "results" / "class_balance.json"
    settings = {"patches": args.patches, "patch": args.patch, "scale": args.scale}
    out.write_text(json.dumps({"settings": settings, "results": results}, indent=2))


if __name__ == "__main__":
    main()
