"""Particle models on one side of the split rule: every real set and synthetic scenes.

Scores each model (and, with ``--baselines``, Otsu and ThreshWater) on the ``--split`` side
(default test; validation is where choices are made) of every particle set in
../shared/data by the split rule (docs/guide/splits.md): gravel (0.39 mm/px), grains (no
scale: sizes in px), conveyor crops (sparse outlines: found particles off the outlines are
dropped, so precision and AP count only outlined rocks; η is the recall of outlined rocks at
IoU 0.5) and synthetic belt scenes (768², seeds of the side's range). Per set the mean over
images of AP@0.5, AP@0.75, F1 of matched particles, η, merger and splitter ratios, the
relative error of P50 and P80 (count basis, ellipse minor axis, border particles left out)
and seconds per megapixel; each model with its own size estimate (the default) and with the
reference's median particle size given (``--particle-px``, "size given").

    python bench/particle_representations.py --model NAME=FOLDER ... [--split test]
        [--baselines] [--seed-height 1,2,3] [--out FILE]

``--seed-height`` scores distance models at each of these h-maxima heights (a validation
choice). Writes bench/results/particle_representations_<split>.json (or ``--out``), keeping
rows of models not evaluated this time; docs/benchmarks/unseen.md renders its tables.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

from orescope.instances import distance as distance_levels
from orescope.io import load_conveyor, load_gravel
from orescope.io.splits import FIRST_SEED, Split, assign_splits
from orescope.jobs import ParticleConfig, predict_particles, psd_summary
from orescope.measure import measure_particles
from orescope.metrics import drop_unlabelled, instance_metrics
from orescope.preprocess import median_diameter_px
from orescope.synth import SceneConfig, synthesize_scene
from orescope.zoo import CARD_FILE, read_card, resolve_model_dir

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = {
    "ap50": "AP50",
    "ap75": "AP75",
    "f1_match": "F1",
    "eta": "η (recall)",
    "merger_ratio": "merger",
    "splitter_ratio": "splitter",
    "count_P50_error": "P50 err",
    "count_P80_error": "P80 err",
    "seconds_per_mp": "s/MP",
}


@dataclass
class Sample:
    name: str
    image: np.ndarray
    truth: np.ndarray
    mm_per_px: float | None  # None: no scale (sizes in px)
    sparse: bool = False


def side_samples(data: Path, split: Split, scenes: int) -> dict[str, list[Sample]]:
    """The ``split`` side of every particle set."""
    sets: dict[str, list[Sample]] = {}
    for kind, folder, loader in (
        ("gravel", "gravel", load_gravel),
        ("grains", "grains", load_gravel),
        ("conveyor", "conveyor", load_conveyor),
    ):
        loaded = loader(data / folder)
        sides = assign_splits(kind, [s.stem for s in loaded])
        sets[kind] = [
            Sample(s.stem, *s.read_pair(), s.mm_per_px, s.sparse)
            for s in loaded
            if sides[s.stem] == split
        ]
    scene = SceneConfig(height=768, width=768, mm_per_px=0.25, x50_mm=7.0)
    sets["synthetic"] = []
    for index in range(scenes):
        seed = FIRST_SEED[split] + index
        made = synthesize_scene(scene.model_copy(update={"seed": seed}))
        sets["synthetic"].append(Sample(f"seed {seed}", made.image, made.labels, made.mm_per_px))
    return sets


def score(sample: Sample, config: ParticleConfig) -> dict[str, float]:
    started = time.perf_counter()
    result = predict_particles(sample.image, config)
    seconds = time.perf_counter() - started
    found = drop_unlabelled(sample.truth, result.labels) if sample.sparse else result.labels
    row = {k: float(v) for k, v in instance_metrics(sample.truth, found).items() if k in COLUMNS}
    row["seconds_per_mp"] = seconds / (sample.image.shape[0] * sample.image.shape[1] / 1e6)
    if not sample.sparse:
        predicted, _ = psd_summary(measure_particles(found, config.mm_per_px), config)
        reference, _ = psd_summary(measure_particles(sample.truth, config.mm_per_px), config)
        unit = predicted["unit"]
        for key in ("count_P50", "count_P80"):
            row[f"{key}_error"] = predicted[f"{key}_{unit}"] / reference[f"{key}_{unit}"] - 1
    return row


def evaluate(samples: list[Sample], settings: dict, seed_height: float | None) -> dict:
    rows = []
    for sample in samples:
        size = {}
        if settings.get("size_given"):
            size = {"particle_px": median_diameter_px(sample.truth.clip(0))}
        options = {k: v for k, v in settings.items() if k != "size_given"}
        config = ParticleConfig(mm_per_px=sample.mm_per_px, **options, **size)
        if seed_height is None:
            rows.append(score(sample, config))
            continue
        with mock.patch.object(distance_levels, "SEED_HEIGHT_PX", seed_height):
            rows.append(score(sample, config))
    keys = sorted({k for row in rows for k in row}, key=list(COLUMNS).index)
    return {k: float(np.nanmean([row.get(k, np.nan) for row in rows])) for k in keys} | {
        "images": len(rows)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="NAME=FOLDER (repeatable)")
    parser.add_argument("--split", choices=["validation", "test"], default="test")
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--baselines", action="store_true", help="also Otsu and ThreshWater")
    parser.add_argument("--no-size-given", action="store_true")
    parser.add_argument("--seed-height", help="distance models: h-maxima heights to score")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    methods: dict[str, tuple[dict, float | None]] = {}
    if args.baselines:
        methods["Otsu"] = ({"method": "otsu"}, None)
        methods["ThreshWater"] = ({"method": "threshwater"}, None)
    models = dict(item.split("=", 1) for item in args.model) or {"particles (zoo)": "particles"}
    for name, path in models.items():
        target = read_card(resolve_model_dir(path) / CARD_FILE).target
        heights: list[float | None] = [None]
        if target == "distance" and args.seed_height:
            heights = [float(v) for v in args.seed_height.split(",")]
        for height in heights:
            label = name if height is None else f"{name} h={height:g}"
            methods[label] = ({"method": "model", "model": path}, height)
            if not args.no_size_given:
                given = {"method": "model", "model": path, "size_given": True}
                methods[f"{label} + size given"] = (given, height)
    sets = side_samples(args.data, args.split, args.scenes)
    results: dict = {}
    for data, samples in sets.items():
        print(f"{data} ({args.split}): {', '.join(s.name for s in samples)}", flush=True)
        results[data] = {}
        for label, (settings, height) in methods.items():
            results[data][label] = evaluate(samples, settings, height)
            row = results[data][label]
            print(f"  {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    output = args.out or ROOT / "bench" / "results" / f"particle_representations_{args.split}.json"
    earlier = json.loads(output.read_text()) if output.exists() else {}
    for data, table in results.items():
        results[data] = {**earlier.get(data, {}), **table}
    results["images"] = {data: [s.name for s in samples] for data, samples in sets.items()}
    output.write_text(json.dumps(results, indent=2))
    print(f"written {output} (docs/benchmarks/unseen.md renders its tables)")


if __name__ == "__main__":
    main()
