"""How well a particle model finds the typical particle size of a photo by itself.

`predict particles` without `--particle-px` resamples each photo so its particles come to the
size the model was trained at, and so needs the photo's median particle diameter first. This
bench probes a model at a ladder of candidate sizes (each a central crop resampled to the
trained size, one forward pass) and records, per probe, the median diameter the model finds
there (by count and by area) and how confident it is; then it scores estimators made from
those probes against the reference labels' median ECD on the chosen side of every real set:

- ``probe``: `orescope.infer.particles.estimate_particle_px`, what `predict particles` uses;
- ``from 1x``: the estimate before issue 31: the median found at the image's own scale, and
  once more at the scale that corrects when that is off by more than 25 %;
- ``count fixed point``: the probe whose found median (by count) is nearest the trained size;
- ``area fixed point``: the same by the area-weighted median, which fines barely move;
- ``confidence``: the probe where the model is surest (mean max class probability);
- ``confident fixed point``: among probes whose area-weighted median is within 1.5x of the
  trained size, the surest; the area fixed point when none is.

    python bench/particle_size_estimate.py [--model particles] [--split validation]

Writes bench/results/particle_size_estimate_<split>.json: per set and estimator the median
and largest |log2 error| (1 = a factor 2) and the share of photos within 25 %.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from orescope.infer.particles import estimate_particle_px
from orescope.instances import remove_small
from orescope.instances.decode import decode_particles, particle_reduce
from orescope.io import load_conveyor, load_gravel
from orescope.io.splits import assign_splits
from orescope.measure import measure_particles
from orescope.preprocess import median_diameter_px
from orescope.preprocess.normalise import zscore_normaliser
from orescope.preprocess.resample import resize_image
from orescope.zoo import load_model

ROOT = Path(__file__).resolve().parents[1]
PROBE_PX = 512
LADDER = tuple(6 * 2 ** (k / 2) for k in range(13))  # candidate median diameters, 6-384 px


def probe(image: np.ndarray, loaded, size_px: float) -> dict[str, float]:
    """What the model finds on a central crop resampled so ``size_px`` becomes its size."""
    card = loaded.card
    scale = card.particle_px / size_px
    side = int(PROBE_PX / scale)
    top, left = max(0, (image.shape[0] - side) // 2), max(0, (image.shape[1] - side) // 2)
    crop = resize_image(image[top : top + side, left : left + side], scale)
    height, width = (32 * int(np.ceil(n / 32)) for n in crop.shape[:2])
    padded = np.pad(
        crop, ((0, height - crop.shape[0]), (0, width - crop.shape[1]), (0, 0)), "reflect"
    )
    normalise = zscore_normaliser(crop, card.in_channels, card.fixed_stats)
    with torch.no_grad():
        logits = loaded.network(torch.from_numpy(normalise(padded))[None])[0]
    probabilities = torch.softmax(logits, 0).numpy()[:, : crop.shape[0], : crop.shape[1]]
    reduce = particle_reduce(card.target)
    particle_map = reduce(probabilities) if reduce else (probabilities[0] > 0.5).astype(np.uint8)
    labels = decode_particles(particle_map, card.target, card.particle_px, every_seed=True)
    labels = remove_small(labels, int(np.pi / 4 * (card.particle_px / 4) ** 2))
    table = measure_particles(labels, None)
    table = table[~table["touches_border"]] if "touches_border" in table else table
    ecd = table["ecd_px"].to_numpy() if len(table) else np.array([])
    area = table["area_px"].to_numpy() if len(table) else np.array([])
    order = np.argsort(ecd)
    weighted = np.nan
    if len(ecd):
        cumulative = np.cumsum(area[order]) / area.sum()
        weighted = float(ecd[order][np.searchsorted(cumulative, 0.5)])
    return {
        "size_px": size_px,
        "scale": scale,
        "count_median": float(np.median(ecd)) / scale if len(ecd) else np.nan,
        "area_median": weighted / scale,
        "found": len(ecd),
        "confidence": float(probabilities.max(axis=0).mean()),
    }


def estimates(probes: list[dict], target: float, default: float) -> dict[str, float]:
    def nearest(key: str) -> float:
        usable = [p for p in probes if np.isfinite(p[key])]
        if not usable:
            return default
        best = min(usable, key=lambda p: abs(np.log(p[key] * p["scale"] / target)))
        return best[key]

    surest = max(probes, key=lambda p: p["confidence"])
    consistent = [
        p
        for p in probes
        if np.isfinite(p["area_median"])
        and abs(np.log(p["area_median"] * p["scale"] / target)) < np.log(1.5)
    ]
    confident = (
        max(consistent, key=lambda p: p["confidence"])["area_median"]
        if consistent
        else nearest("area_median")
    )
    return {
        "probe": default,
        "count fixed point": nearest("count_median"),
        "area fixed point": nearest("area_median"),
        "confidence": surest["area_median"] if np.isfinite(surest["area_median"]) else default,
        "confident fixed point": confident,
    }


def from_own_scale(image: np.ndarray, loaded) -> float:
    """The size estimate before issue 31: probed at the image's own scale, then once more at
    the corrected scale when that is more than 25 % off."""
    target = loaded.card.particle_px
    typical = target
    for _ in range(2):
        measured = probe(image, loaded, typical)["count_median"]
        if not np.isfinite(measured):
            return typical
        if abs(np.log(measured / typical)) < np.log(1.25):
            return measured
        typical = measured
    return typical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="particles")
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    loaded = load_model(args.model)
    results: dict = {"model": args.model, "split": args.split, "sets": {}, "images": {}}
    for kind, loader in (
        ("gravel", load_gravel),
        ("grains", load_gravel),
        ("conveyor", load_conveyor),
    ):
        samples = loader(args.data / kind)
        sides = assign_splits(kind, [s.stem for s in samples])
        errors: dict[str, list[float]] = {}
        for sample in (s for s in samples if sides[s.stem] == args.split):
            image, truth = sample.read_pair()
            reference = median_diameter_px(truth.clip(0))
            limit = min(image.shape[:2]) / 2
            probes = [probe(image, loaded, size) for size in LADDER if size < limit]
            found = estimates(probes, loaded.card.particle_px, estimate_particle_px(image, loaded))
            found["from 1x"] = from_own_scale(image, loaded)
            results["images"][sample.stem] = {"reference": reference, "probes": probes} | {
                "estimates": found
            }
            for name, value in found.items():
                errors.setdefault(name, []).append(float(np.log2(value / reference)))
            print(
                sample.stem,
                f"reference {reference:.1f}",
                {k: round(v, 1) for k, v in found.items()},
                flush=True,
            )
        results["sets"][kind] = {
            name: {
                "median_abs_log2_error": float(np.median(np.abs(values))),
                "largest_abs_log2_error": float(np.max(np.abs(values))),
                "within_25_percent": float(np.mean(np.abs(values) < np.log2(1.25))),
            }
            for name, values in errors.items()
        }
    output = args.out or ROOT / "bench" / "results" / f"particle_size_estimate_{args.split}.json"
    output.write_text(json.dumps(results, indent=2))
    for kind, table in results["sets"].items():
        print(f"\n**{kind}** ({args.split})\n")
        print("| estimator | median abs log2 err | largest | within 25 % |\n|---|---|---|---|")
        for name, row in table.items():
            cells = [row[k] for k in ("median_abs_log2_error", "largest_abs_log2_error")]
            cells.append(row["within_25_percent"])
            print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    print(f"\nwritten {output}")


if __name__ == "__main__":
    main()
