"""How `predict particles` scales with local Dask workers on a batch of many images.

A batch of synthetic scenes runs with each ``--workers`` count (default model, sizes
estimated), each into a fresh folder; prints the images per second, the rate against one
worker (the scaling; issue 33's target is ≥ 1.7 with 2 workers on 2 cores) and whether every
output file matches the one-worker run's bytes. Writes bench/results/batch_scaling.json.

    python bench/batch_scaling.py [--images 200] [--side 384] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from resume import checksums  # the same comparison of a run's files

from orescope.jobs import ParticleConfig, run_particles
from orescope.synth import SceneConfig, write_scenes

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    config = ParticleConfig(mm_per_px=0.25)
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scenes = SceneConfig(height=args.side, width=args.side, mm_per_px=0.25, seed=10000)
        paths = write_scenes(root / "scenes", scenes, args.images, progress=False)
        first = None
        for workers in args.workers:
            out = root / f"workers_{workers}"
            started = time.perf_counter()
            run_particles(paths, out, config, progress=False, workers=workers)
            seconds = time.perf_counter() - started
            sums = checksums(out)
            first = first or sums
            runs[workers] = {"seconds": seconds, "identical_to_first": sums == first}
    one = runs[args.workers[0]]["seconds"]
    for workers, run in runs.items():
        run["images_per_s"] = args.images / run["seconds"]
        run["speedup"] = one / run["seconds"]
        print(
            f"{workers} worker(s): {run['seconds']:.1f} s, {run['images_per_s']:.2f} images/s, "
            f"{run['speedup']:.2f}x, outputs identical: {run['identical_to_first']}"
        )
    result = {"images": args.images, "side": args.side, "workers": runs}
    output = ROOT / "bench" / "results" / "batch_scaling.json"
    output.write_text(json.dumps(result, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    main()
