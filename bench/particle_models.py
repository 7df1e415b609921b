"""Paper 000 Table 2 on our data: Otsu, ThreshWater and trained models, side by side.

For each method, the mean over held-out images of pixel accuracy (ACC), mean IoU over
background and particles (MIoU), particle F1, ore segmentation accuracy η (share of reference
particles matched at IoU ≥ 0.5), AP@0.5, merger and splitter ratios, and the relative error of
P50 (ellipse minor axis in mm, border particles excluded; count and mass basis) — on held-out
synthetic scenes and on the gravel images no model was trained on — and the instance scores
on held-out conveyor crops, whose rocks are outlined sparsely (particles found off the
outlines are dropped before matching: `orescope.metrics.drop_unlabelled`). Writes
bench/results/particle_models.json and prints a Markdown table for the README.

    python bench/particle_models.py [--model NAME=FOLDER ...] [--scenes 4]

Models default to the zoo's `particles` plus every run under runs/bench/ with a card
(trained by bench/train_comparison.sh); rows already in the JSON for models not evaluated
this time are kept. A model that predicts foreground only is scored twice:
its mask split into particles by connected components (paper 000) and by watershed. A
border-core model is also scored with its size estimate replaced by the reference's median
particle (`--particle-px`, "size given"): what a user who knows the typical size gets.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from orescope.io import load_conveyor, load_gravel
from orescope.jobs import ParticleConfig, predict_particles, psd_summary
from orescope.measure import measure_particles
from orescope.metrics import drop_unlabelled, instance_metrics, pixel_metrics
from orescope.preprocess import median_diameter_px
from orescope.synth import SceneConfig, synthesize_scene
from orescope.zoo import CARD_FILE, read_card, resolve_model_dir, write_card

ROOT = Path(__file__).resolve().parents[1]
ZOO_MODEL, ZOO_LABEL = "particles", "particles (zoo)"
HELD_OUT_GRAVEL = ("6_P1060355_0", "7_P1060359_3")  # never trained on (configs/*.yaml)
HELD_OUT_CONVEYOR = tuple(f"images{i:04d}" for i in range(31, 39))  # nor these
GIVEN_SIZE = "reference"  # a method setting: --particle-px is the reference's median ECD
COLUMNS = {
    "accuracy": "ACC",
    "mean_iou": "MIoU",
    "f1": "F1",
    "eta": "η",
    "ap50": "AP50",
    "merger_ratio": "merger",
    "splitter_ratio": "splitter",
    "count_P50_error": "P50 err (count)",
    "mass_P50_error": "P50 err (mass)",
    "seconds_per_mp": "s/MP",
}


def score(
    image: np.ndarray, truth: np.ndarray, mm_per_px: float | None, config: ParticleConfig
) -> dict:
    """Every column for a dense reference; instance scores alone for a sparse one (no scale)."""
    started = time.perf_counter()
    result = predict_particles(image, config)
    seconds = time.perf_counter() - started
    if mm_per_px is None:
        row = instance_metrics(truth, drop_unlabelled(truth, result.labels))
        return row | {"seconds_per_mp": seconds / (image.shape[0] * image.shape[1] / 1e6)}
    pixels = pixel_metrics((truth > 0).astype(np.int64), (result.labels > 0).astype(np.int64))
    row = {k: pixels[k] for k in ("accuracy", "mean_iou", "f1")}
    row |= instance_metrics(truth, result.labels)
    predicted, _ = psd_summary(result.particles, config)
    reference, _ = psd_summary(measure_particles(truth, mm_per_px), config)
    for key in ("count_P50", "mass_P50"):
        row[f"{key}_error"] = predicted[f"{key}_mm"] / reference[f"{key}_mm"] - 1
    row["seconds_per_mp"] = seconds / (image.shape[0] * image.shape[1] / 1e6)
    return row


def evaluate(samples: list[tuple[np.ndarray, np.ndarray, float | None]], methods: dict) -> dict:
    table = {}
    for name, settings in methods.items():
        rows = []
        for image, truth, scale in samples:
            given = settings.get("particle_px") == GIVEN_SIZE
            size = {"particle_px": median_diameter_px(truth)} if given else {}
            config = ParticleConfig(mm_per_px=scale, **(settings | size))
            rows.append(score(image, truth, scale, config))
        table[name] = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
        print(f"  {name}: AP50 {table[name]['ap50']:.3f}, eta {table[name]['eta']:.3f}", flush=True)
    return table


def markdown(title: str, table: dict) -> str:
    lines = [
        f"**{title}**",
        "",
        "| method | " + " | ".join(COLUMNS.values()) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for method, row in table.items():
        cells = []
        for key in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("–")
            else:
                cells.append(f"{100 * value:+.1f} %" if key.endswith("_error") else f"{value:.3f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def record_on_card(results: dict, scenes: int) -> None:
    """Put the zoo model's measured scores, and the data they were measured on, on its card."""
    folder = resolve_model_dir(ZOO_MODEL)
    card = read_card(folder / CARD_FILE)
    names = {
        "synthetic": f"validation synthetic scenes ({scenes} x 768x768, seeds 7000+, x50 7 mm)",
        "gravel": f"held-out real gravel ({', '.join(HELD_OUT_GRAVEL)}, 0.39 mm/px)",
        "conveyor": "held-out conveyor crops (images0031-0038, sparse outlines)",
    }
    card.metrics = {k: v for k, v in card.metrics.items() if k.startswith("validation")}
    for data, table in results.items():
        labels = [
            (ZOO_LABEL, ""),
            (f"{ZOO_LABEL} + TTA", ", with --tta"),
            (f"{ZOO_LABEL} + size given", ", with --particle-px the reference's median ECD"),
        ]
        labels += [
            (label, f", with --{label.removeprefix(ZOO_LABEL + ' + ')}")
            for label in table
            if label.startswith(f"{ZOO_LABEL} + scales")
        ]
        for label, suffix in labels:
            # full precision, as in the results file: the docs round both the same way
            scores = {k: v for k, v in table[label].items() if k in COLUMNS}
            card.metrics[names[data] + suffix] = scores
    write_card(folder / CARD_FILE, card)
    print(f"scores written to {folder / CARD_FILE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="NAME=FOLDER (repeatable)")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--write-card", action="store_true", help="record the zoo model's scores on its card"
    )
    parser.add_argument(
        "--scales", help="also score border-core models averaged over these scales (0.8,1,1.25)"
    )
    args = parser.parse_args()
    methods: dict[str, dict] = {
        "Otsu": {"method": "otsu"},
        "ThreshWater": {"method": "threshwater"},
    }
    models = dict(item.split("=", 1) for item in args.model) or {ZOO_LABEL: ZOO_MODEL}
    if not args.model:
        for card in sorted((ROOT / "runs" / "bench").glob("*/card.yaml")):
            models[card.parent.name] = str(card.parent)
    for name, path in models.items():
        if read_card(resolve_model_dir(path) / CARD_FILE).target == "foreground":
            for split in ("components", "watershed"):
                methods[f"{name} + {split}"] = {
                    "method": "model",
                    "model": path,
                    "foreground_split": split,
                }
        else:
            methods[name] = {"method": "model", "model": path}
            methods[f"{name} + TTA"] = {"method": "model", "model": path, "tta": True}
            methods[f"{name} + size given"] = {
                "method": "model",
                "model": path,
                "particle_px": GIVEN_SIZE,
            }
            if args.scales:
                scales = [float(v) for v in args.scales.split(",")]
                methods[f"{name} + scales {args.scales}"] = {
                    "method": "model",
                    "model": path,
                    "scales": scales,
                }

    scene = SceneConfig(height=768, width=768, mm_per_px=0.25, x50_mm=7.0)
    synthetic = []
    for index in range(args.scenes):
        made = synthesize_scene(scene.model_copy(update={"seed": 7000 + index}))
        synthetic.append((made.image, made.labels, made.mm_per_px))
    results = {}
    print(f"validation synthetic scenes: {args.scenes} x 768x768", flush=True)
    results["synthetic"] = evaluate(synthetic, methods)
    gravel = [
        (s.read_image(), s.read_labels(), s.mm_per_px)
        for s in load_gravel(args.data / "gravel")
        if s.stem in HELD_OUT_GRAVEL
    ]
    print(f"held-out gravel: {', '.join(HELD_OUT_GRAVEL)}", flush=True)
    results["gravel"] = evaluate(gravel, methods)
    conveyor = [
        (s.read_image(), s.read_labels(), None)
        for s in load_conveyor(args.data / "conveyor")
        if s.stem in HELD_OUT_CONVEYOR
    ]
    print(f"held-out conveyor crops: {HELD_OUT_CONVEYOR[0]}-{HELD_OUT_CONVEYOR[-1]}", flush=True)
    results["conveyor"] = evaluate(conveyor, methods)
    if args.write_card:
        record_on_card(results, args.scenes)
    output = ROOT / "bench" / "results" / "particle_models.json"
    # rows of models not evaluated this time (runs/bench/ trained elsewhere) stay from before
    earlier = json.loads(output.read_text()) if output.exists() else {}
    for data, table in results.items():
        results[data] = {**earlier.get(data, {}), **table}
    output.write_text(json.dumps(results, indent=2))
    print()
    print(
        markdown(
            f"Validation synthetic scenes ({args.scenes} × 768², seeds 7000+)", results["synthetic"]
        )
    )
    print()
    print(markdown(f"Held-out real gravel ({', '.join(HELD_OUT_GRAVEL)})", results["gravel"]))
    print()
    print(markdown("Held-out conveyor crops (sparse outlines)", results["conveyor"]))
    print(f"\nwritten {output}")


if __name__ == "__main__":
    main()
