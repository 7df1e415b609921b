"""Classical particle methods (Otsu, ThreshWater) on synthetic belt scenes and real gravel.

Prints, per data set and method, the mean over images of AP@0.5, F1_match, merger and splitter
ratios and the relative error of P50/P80 (count and mass basis, ellipse minor axis in mm, border
particles excluded) against the ground-truth labels; then the wall time per megapixel of the
whole `predict particles` run (read, segment, measure, write, report) with ThreshWater.
Writes bench/results/classical_particles.json.

    python bench/classical_particles.py [--scenes 4] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from orescope.io import load_gravel, read_image, read_labels
from orescope.jobs import ParticleConfig, predict_particles, psd_summary, run_particles
from orescope.measure import measure_particles
from orescope.metrics import instance_metrics
from orescope.synth import SceneConfig, write_scenes

METHODS = ("otsu", "threshwater")
KEYS = ("ap50", "f1_match", "merger_ratio", "splitter_ratio")
SIZES = ("count_P50", "count_P80", "mass_P50", "mass_P80")


def score(image: np.ndarray, truth: np.ndarray, mm_per_px: float, method: str) -> dict:
    config = ParticleConfig(method=method, mm_per_px=mm_per_px)
    result = predict_particles(image, config)
    metrics = instance_metrics(truth, result.labels)
    predicted, _ = psd_summary(result.particles, config)
    reference, _ = psd_summary(measure_particles(truth, mm_per_px), config)
    for key in SIZES:
        metrics[f"{key}_error"] = predicted[f"{key}_mm"] / reference[f"{key}_mm"] - 1
    return metrics


def evaluate(samples: list[tuple[np.ndarray, np.ndarray, float]]) -> dict:
    table = {}
    for method in METHODS:
        rows = [score(image, truth, scale, method) for image, truth, scale in samples]
        table[method] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return table


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}")
    columns = [*KEYS, *(f"{k}_error" for k in SIZES)]
    print(f"{'method':<12}" + "".join(f"{c:>17}" for c in columns))
    for method, row in table.items():
        print(f"{method:<12}" + "".join(f"{row[c]:>17.3f}" for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        scene_config = SceneConfig(height=1024, width=1024, seed=100)
        paths = write_scenes(Path(folder) / "synth", scene_config, args.scenes, progress=False)
        synthetic = [
            (
                read_image(p),
                read_labels(p.parent.parent / "labels" / f"{p.stem}.tif"),
                scene_config.mm_per_px,
            )
            for p in paths
        ]
        particles = np.mean([truth.max() for _, truth, _ in synthetic])
        results["synthetic"] = evaluate(synthetic)
        print_table(
            f"synthetic 1024x1024 scenes: {args.scenes}, {particles:.0f} particles each",
            results["synthetic"],
        )
        started = time.perf_counter()
        run_particles(paths, Path(folder) / "out", ParticleConfig(mm_per_px=0.25), progress=False)
        seconds = time.perf_counter() - started
        megapixels = args.scenes * 1024 * 1024 / 1e6
        results["threshwater_seconds_per_megapixel"] = seconds / megapixels
        rate = seconds / megapixels
        print(f"\npredict particles (threshwater), whole run: {rate:.2f} s per megapixel")
    gravel = args.data / "gravel"
    if gravel.is_dir():
        samples = [(s.read_image(), s.read_labels(), s.mm_per_px) for s in load_gravel(gravel)]
        results["gravel"] = evaluate(samples)
        print_table(f"../shared/data/gravel: {len(samples)} images, 0.39 mm/px", results["gravel"])
    output = Path(__file__).parent / "results" / "classical_particles.json"
    output.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {output}")


if __name__ == "__main__":
    main()
