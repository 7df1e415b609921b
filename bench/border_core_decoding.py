"""How a border-core model's output becomes particles: seed threshold and smallest seed.

The zoo model predicts each held-out image once, at the trained particle size (the reference
labels' median ECD, so the size estimate plays no part), and its core map is decoded with
every (core threshold, smallest seed) pair; 0.5 is the argmax's own cores. Prints mean AP50,
η, merger and splitter ratios on the held-out synthetic scenes and gravel images and writes
bench/results/border_core_decoding.json. `orescope.infer.particles` uses the best pair.

    python bench/border_core_decoding.py [--model particles] [--scenes 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from orescope.infer.particles import predict_particle_map
from orescope.instances import remove_small
from orescope.instances.border_core import decode_core_map
from orescope.io import load_gravel
from orescope.metrics import instance_metrics
from orescope.preprocess.resample import median_diameter_px, resize_image, resize_labels
from orescope.synth import SceneConfig, synthesize_scene
from orescope.zoo import load_model

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_GRAVEL = ("6_P1060355_0", "7_P1060359_3")
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
MIN_CORES = (4, 8, 12, 24)
SCORES = ("ap50", "eta", "merger_ratio", "splitter_ratio")


def decoded_scores(model_name: str, samples: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    loaded = load_model(model_name)
    card = loaded.card
    assert card.particle_px is not None
    rows: dict[str, list[list[float]]] = {}
    for image, truth in samples:
        scale = card.particle_px / median_diameter_px(truth)
        particle_map = predict_particle_map(
            resize_image(image, scale), loaded.network, card.target, card.tile, card.in_channels
        )
        for threshold in THRESHOLDS:
            for min_core in MIN_CORES:
                labels = decode_core_map(particle_map, threshold, min_core, min_area_px=4)
                labels = remove_small(resize_labels(labels, truth.shape), 16)
                found = instance_metrics(truth, labels)
                rows.setdefault(f"{threshold} {min_core}", []).append(
                    [float(found[s]) for s in SCORES]
                )
    return {
        key: dict(zip(SCORES, np.mean(v, axis=0).tolist(), strict=True)) for key, v in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="particles")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    scene = SceneConfig(height=768, width=768, mm_per_px=0.25, x50_mm=7.0)
    synthetic = [
        (made.image, made.labels)
        for made in (
            synthesize_scene(scene.model_copy(update={"seed": 7000 + i}))
            for i in range(args.scenes)
        )
    ]
    gravel = [
        (s.read_image(), s.read_labels())
        for s in load_gravel(args.data / "gravel")
        if s.stem in HELD_OUT_GRAVEL
    ]
    results = {
        "synthetic": decoded_scores(args.model, synthetic),
        "gravel": decoded_scores(args.model, gravel),
    }
    print("| data | core threshold | smallest seed (px) | AP50 | η | merger | splitter |")
    print("|---|---|---|---|---|---|---|")
    for data, table in results.items():
        for key, row in table.items():
            threshold, min_core = key.split()
            values = " | ".join(f"{row[s]:.3f}" for s in SCORES)
            print(f"| {data} | {threshold} | {min_core} | {values} |")
    output = ROOT / "bench" / "results" / "border_core_decoding.json"
    output.write_text(json.dumps(results, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    main()
