"""How a 3D border-core model's output becomes particles: seed threshold and smallest seed,
chosen on the validation volumes of configs/ct_particles.yaml (seeds 5000-5002), never on the
test volumes of bench/volume_models.py. Each volume is predicted once as training validation
does (resampled to the trained particle size); its core map is decoded with every pair and
the mean F1_match, AP@0.5, merger and splitter ratios are written to
bench/results/volume_decoding.json. Then each volume goes the way ``predict volume`` takes it
(resampled by its true median size onto one grid, predicted tile by tile, decoded in
chunks, back to its own grid), with and without
the contrast filter (particles no denser than the resin dropped), to choose its default.

    python bench/volume_decoding.py [--model ct-particles]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import dask.array as da
import numpy as np
from skimage.filters import threshold_otsu

from orescope.infer.particles import predict_particle_map
from orescope.infer.settings import InferenceSettings
from orescope.infer.volume import Contrast, segment_volume
from orescope.instances.border_core import decode_core_map
from orescope.instances.decode import CORE_THRESHOLD_3D, CoreDecoding, min_core_px
from orescope.instances.threshold import volume_intensity
from orescope.jobs.particles import shared_model
from orescope.jobs.volume_run import ModelMap
from orescope.metrics import instance_metrics
from orescope.preprocess.intensity import sample_voxels, volume_stats
from orescope.preprocess.resample import grid_shape, median_diameter_px, size_scale
from orescope.train.config import TrainConfig, read_train_config
from orescope.train.data import load_source, synth_volumes
from orescope.zoo import load_model

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.5, 0.6, 0.7, 0.8)
MIN_CORES = (2, 4, 9, 16, 32)
SCORES = ("f1_match", "ap50", "merger_ratio", "splitter_ratio")


def contrast_filter(model: str, config: TrainConfig) -> dict[str, dict[str, float]]:
    """Mean scores of the validation volumes as predict volume segments them, without and
    with the contrast filter."""
    rows: dict[str, list[list[float]]] = {"off": [], "on": []}
    card = shared_model(model).card
    trained = card.particle_px or 16.0
    for source in config.val:
        for _, image, truth in synth_volumes(source):
            volume = da.from_array(image, chunks=128)
            predict = ModelMap(model, volume_stats(volume), tta=False)
            floor = float(threshold_otsu(volume_intensity(sample_voxels(volume))))
            floor *= float(np.iinfo(image.dtype).max)  # in the volume's own grey values
            scale = size_scale(median_diameter_px(truth), trained)
            grid = grid_shape(image.shape, (scale,) * 3)
            for key, contrast in (("off", None), ("on", Contrast(floor, "bright"))):
                labels = np.zeros(image.shape, np.uint32)
                with tempfile.TemporaryDirectory() as scratch:
                    decoding = CoreDecoding.for_volume(card.particle_px)
                    segment_volume(
                        image,
                        labels,
                        predict,
                        grid,
                        96,
                        16,
                        decoding,
                        27,
                        Path(scratch),
                        contrast=contrast,
                    )
                rows[key].append([float(instance_metrics(truth, labels)[s]) for s in SCORES])
    return {
        key: dict(zip(SCORES, np.mean(values, axis=0).tolist(), strict=True))
        for key, values in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_decoding.json")
    args = parser.parse_args()
    loaded = load_model(args.model)
    card = loaded.card
    config = read_train_config(ROOT / "configs/ct_particles.yaml")
    volumes = [item for source in config.val for item in load_source(source, card.particle_px)]
    settings = InferenceSettings.for_model(loaded)
    rows: dict[str, list[list[float]]] = {}
    for item in volumes:
        particle_map = predict_particle_map(
            item.image,
            loaded.network,
            card.target,
            card.in_channels,
            settings,
            stats=(item.mean, item.std),
        )
        for threshold in THRESHOLDS:
            for smallest in MIN_CORES:
                labels = decode_core_map(particle_map, threshold, smallest, min_area_px=4)
                found = instance_metrics(item.labels, labels)
                key = f"{threshold} {smallest}"
                rows.setdefault(key, []).append([float(found[s]) for s in SCORES])
    table = {
        key: dict(zip(SCORES, np.mean(values, axis=0).tolist(), strict=True))
        for key, values in rows.items()
    }
    best = max(table, key=lambda key: table[key]["f1_match"])
    current = f"{CORE_THRESHOLD_3D} {min_core_px(card.particle_px, 3)}"
    results = {"volumes": [item.name for item in volumes], "pairs": table, "best": best}
    results["current"] = current
    results["contrast filter"] = contrast_filter(args.model, config)
    for key, scores in table.items():
        print(key, {k: round(v, 4) for k, v in scores.items()})
    print("best (threshold, smallest seed):", best, "current:", current)
    print("contrast filter", results["contrast filter"])
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
