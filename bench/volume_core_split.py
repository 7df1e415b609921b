"""Fewer merged particles without retraining: split the seeds of a 3D border-core decoding that
are two cores joined by a neck (orescope.instances.core_split), chosen on validation volumes
only. Writes bench/results/volume_core_split.json.

    python bench/volume_core_split.py [--model ct-particles] [--cache runs/volume_core_split]

The validation volumes are those of configs/ct_particles.yaml (seeds 5000-5002, 96³) and 24
more drawn from the same ranges at the test volumes' size (seeds 5100-5123, 128³): validation
seeds by the split rule, so that a choice rests on more than a dozen mergers and a handful of
cracked particles. Each is resampled to the trained particle size by its true median (as
training validation does) and predicted once; the core maps are cached in ``--cache`` (a
cache per model). Every setting (height of the maxima that split a seed, or no split;
smallest seed; neck ratios of the core and of the particle's outline, or every cut kept)
decodes them all; the chosen setting has the best mean F1_match among those whose mean
splitter ratio stays within the 0.5 % target (of equals, the simpler). The merger sets of
every setting are sorted by cause: every particle of the set has a core of its own in the
seeds (an unsplit neck), or one has none (a small particle the model gave no core, grown into
by its neighbour's seed). ``--model`` takes a run folder too (a model trained otherwise,
compared on the same volumes), and ``--settings`` names the settings to decode with (of those
the chosen one; the cut ratios are measured with the whole grid only).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from orescope.infer.particles import predict_particle_map
from orescope.infer.settings import InferenceSettings
from orescope.instances.border_core import decode_core_map
from orescope.instances.components import label_regions, remove_small
from orescope.instances.core_split import (
    core_parts,
    core_window,
    cut_ratios,
    outline_distance,
    smoothed_distance,
    split_cores,
)
from orescope.instances.decode import CORE_THRESHOLD_3D, MIN_AREA_PX
from orescope.metrics import instance_metrics, merger_sets, overlap
from orescope.preprocess.resample import median_diameter_px
from orescope.train.config import read_train_config
from orescope.train.data import load_source
from orescope.zoo import LoadedModel, load_model

ROOT = Path(__file__).resolve().parents[1]
# (height of the maxima that split a seed, voxels of the smoothed distance map, None: no
# split; the smallest seed, the ball of this fraction of the trained particle diameter, an
# eighth the decoding's default, a sixth the seed disk's diameter, its earlier default;
# the neck ratio of the core and of the particle's outline, None: every cut kept). Listed
# simplest first: of two settings that score the same, the first is chosen.
NECK_RATIO = 0.6  # of the core, the rule before the outline's (the neck_ratio option)
SETTINGS = (
    (None, 1 / 6, None, None),
    (None, 1 / 8, None, None),
    *((h, 1 / 8, neck, None) for neck in (None, NECK_RATIO) for h in (0.75, 1.0, 1.5)),
    *(
        (h, 1 / 8, neck, outline)
        for neck in (None, NECK_RATIO)
        for h in (0.75, 1.0)
        for outline in (0.6, 0.7, 0.8)
    ),
    # smaller seeds (3, 2, 1 voxels at 16): small particles pressed against larger ones got
    # seeds under 4 voxels (bench/volume_merged_small.py)
    *((0.75, diameter, None, 0.7) for diameter in (1 / 9, 1 / 10, 1 / 12)),
)
SPLITTER_TARGET = 0.005
SCORES = ("f1_match", "ap50", "merger_ratio", "splitter_ratio")
COUNTS = ("n_truth", "n_mergers", "n_splitters")


def cached_maps(loaded: LoadedModel, cache: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, core map, labels) of every validation volume at the trained particle size,
    predicted once and kept in ``cache``."""
    card = loaded.card
    config = read_train_config(ROOT / "configs/ct_particles.yaml")
    larger = config.val[0].model_copy(
        update={"seed": 5100, "count": 24, "volume": {"shape": [128] * 3, "spacing_mm": 0.01}}
    )
    settings = InferenceSettings.for_model(loaded)
    cache.mkdir(parents=True, exist_ok=True)
    maps = []
    for source in (*config.val, larger):
        for item in load_source(source, card.particle_px):
            path = cache / f"{item.name}.npz"
            if not path.exists():
                particle_map = predict_particle_map(
                    item.image,
                    loaded.network,
                    card.target,
                    card.in_channels,
                    settings,
                    stats=(item.mean, item.std),
                )
                np.savez_compressed(path, map=particle_map, labels=item.labels)
            stored = np.load(path)
            maps.append((item.name, stored["map"], stored["labels"]))
    return maps


def seeds_of(
    particle_map: np.ndarray,
    min_core: int,
    h_px: float | None,
    neck: float | None,
    outline: float | None,
) -> np.ndarray:
    """The seeds the decoding grows, as :func:`decode_core_map` makes them."""
    seeds = remove_small(label_regions(particle_map > 1 + 254 * CORE_THRESHOLD_3D)[0], min_core)
    return seeds if h_px is None else split_cores(seeds, particle_map > 0, h_px, outline, neck)


def merger_causes(truth: np.ndarray, pred: np.ndarray, seeds: np.ndarray) -> dict[str, list]:
    """Merger sets by cause (a member without a seed voxel: "no core"; else "neck"), with the
    voxels of the set's smallest particle."""
    table = overlap(truth, pred)
    seeded = np.isin(np.unique(truth[truth > 0]), truth[seeds > 0])
    causes: dict[str, list] = {"neck": [], "no core": []}
    for members in merger_sets(table):
        cause = "neck" if seeded[members].all() else "no core"
        causes[cause].append(int(table.truth_areas[members].min()))
    return causes


def cuts_by_kind(
    maps: list[tuple[str, np.ndarray, np.ndarray]], min_core: int, h_px: float
) -> dict[str, dict[str, list[float]]]:
    """The :func:`cut_ratios` of the core and of the particle's outline of every cut a split
    at ``h_px`` makes with every cut kept, by kind: between two reference particles (the
    parts' most common particles differ), or within one (a splitter), and of the latter those
    whose core ratio is a neck's (at most :data:`NECK_RATIO`): what the ratios are chosen
    from."""
    pairs: dict[str, list[tuple[float, float]]] = {"between particles": [], "within one": []}
    for _, particle_map, truth in maps:
        seeds = seeds_of(particle_map, min_core, None, None, None)
        for index, box in enumerate(ndimage.find_objects(seeds), start=1):
            if box is None:
                continue
            window = core_window(box, seeds.shape)
            core = seeds[window] == index
            particle = particle_map[window] > 0
            parts, count = core_parts(core, particle, h_px, None, None)
            if count < 2:
                continue
            inside = truth[window]
            owner = [np.bincount(inside[parts == k]).argmax() for k in range(count + 1)]
            by_outline = cut_ratios(parts, count, outline_distance(particle))
            for (first, second), ratio in cut_ratios(parts, count, smoothed_distance(core)).items():
                kind = "within one" if owner[first] == owner[second] else "between particles"
                pairs[kind].append((round(ratio, 3), round(by_outline[first, second], 3)))
    within = pairs["within one"]
    return {
        "between particles": _sorted_ratios(pairs["between particles"]),
        "within one particle": _sorted_ratios(within),
        "within one particle, a neck of the core": _sorted_ratios(
            [pair for pair in within if pair[0] <= NECK_RATIO]
        ),
    }


def _sorted_ratios(pairs: list[tuple[float, float]]) -> dict[str, list[float]]:
    """The core and the outline ratios of ``pairs`` of them, each sorted."""
    return {"core": sorted(p[0] for p in pairs), "outline": sorted(p[1] for p in pairs)}


def setting_name(
    h_px: float | None, diameter: float, neck: float | None, outline: float | None
) -> str:
    """The results' name of a setting of :data:`SETTINGS`."""
    seed = f"min core d/{round(1 / diameter)}"
    name = f"split {h_px} {seed}" if h_px else f"no split {seed}"
    name += f" neck {neck}" if neck else ""
    return name + (f" outline {outline}" if outline else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--cache", type=Path, default=ROOT / "runs/volume_core_split")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_core_split.json")
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=[setting_name(*setting) for setting in SETTINGS],
        help="only these settings (a model compared at a chosen decoding; no cut ratios)",
    )
    args = parser.parse_args()
    loaded = load_model(args.model)
    maps = cached_maps(loaded, args.cache)
    particle_px = loaded.card.particle_px or 0.0
    table: dict[str, dict] = {}
    for h_px, diameter, neck, outline in SETTINGS:
        key = setting_name(h_px, diameter, neck, outline)
        if args.settings and key not in args.settings:
            continue
        min_core = max(1, round(np.pi / 6 * (particle_px * diameter) ** 3))
        rows = []
        causes: dict[str, list] = {"neck": [], "no core": []}
        for _, particle_map, truth in maps:
            labels = decode_core_map(
                particle_map, CORE_THRESHOLD_3D, min_core, MIN_AREA_PX, h_px, outline, neck
            )
            rows.append(instance_metrics(truth, labels))
            seeds = seeds_of(particle_map, min_core, h_px, neck, outline)
            for cause, found in merger_causes(truth, labels, seeds).items():
                causes[cause] += found
        table[key] = {
            "split_h_px": h_px,
            "neck_ratio": neck,
            "outline_ratio": outline,
            "min_core_px": min_core,
            **{s: float(np.mean([r[s] for r in rows])) for s in SCORES},
            **{f"total_{c}": int(sum(r[c] for r in rows)) for c in COUNTS},
            "mergers_by_cause": {
                cause: {
                    "count": len(found),
                    "smallest_particle_median_voxels": float(np.median(found)) if found else 0.0,
                }
                for cause, found in causes.items()
            },
        }
        print(key, {k: round(v, 4) for k, v in table[key].items() if isinstance(v, float)})
    allowed = [k for k, v in table.items() if v["splitter_ratio"] <= SPLITTER_TARGET]
    chosen = max(allowed, key=lambda k: table[k]["f1_match"])
    medians = [np.pi / 6 * median_diameter_px(truth) ** 3 for _, _, truth in maps]
    results = {
        "model": args.model,
        "volumes": [name for name, _, _ in maps],
        "core_threshold": CORE_THRESHOLD_3D,
        "trained_particle_px": particle_px,
        "settings": table,
        "chosen": chosen,
        "chosen_setting": table[chosen],
        "mergers_left": table[chosen]["mergers_by_cause"],
        "median_particle_voxels": float(np.median(medians)),
    }
    if not args.settings:
        min_core = table["no split min core d/8"]["min_core_px"]
        results["cut_ratios_at_h_0.75"] = cuts_by_kind(maps, min_core, 0.75)
    print("chosen", chosen, results["mergers_left"])
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
