"""Seconds per 512 × 512 photo of each restoration method on this machine's CPU (issue 32's
target: at most 0.5 s on 2 cores), timed alone, after a warm-up, as the median of repeats:
the restoration bench's own seconds are taken between particle scorings and can share the cores.

    python bench/restore_speed.py [--repeats 7] [--side 512]

Methods: ``inpaint``; the zoo's ``restore``; and the architecture of each restoration config in
``CONFIGS`` built with random weights (its speed does not depend on them: no run needs to exist).
Writes bench/results/restore_speed.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from orescope.infer.restoration import INPAINT, RESTORE_STATS, restore_image, restore_photo
from orescope.synth import SceneConfig, synthesize_scene, wet_image
from orescope.train.config import read_train_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"pix2pix": ROOT / "configs/restore_pix2pix.yaml"}


def seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run`` over ``repeats`` calls after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/restore_speed.json")
    args = parser.parse_args()
    scene = synthesize_scene(SceneConfig(height=args.side, width=args.side, seed=10000))
    wet = wet_image(scene.image, scene.labels, 0.6, np.random.default_rng(10000))
    methods: dict[str, Callable[[], object]] = {
        INPAINT: lambda: restore_photo(wet, INPAINT),
        "restore": lambda: restore_photo(wet, "restore"),
    }
    for name, path in CONFIGS.items():
        config = read_train_config(path)
        network = config.architecture.build(3, 3).eval()
        network = network.to(memory_format=torch.channels_last)
        methods[name] = lambda network=network, tile=config.inference_tile: restore_image(
            wet, network, tile=tile, stats=RESTORE_STATS
        )
    results = {
        "side": args.side,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "seconds": {name: seconds(run, args.repeats) for name, run in methods.items()},
    }
    print(json.dumps(results, indent=1))
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
