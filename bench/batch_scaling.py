"""How `predict particles` scales with local Dask workers on a batch of many images.

A batch of synthetic scenes runs (default model, sizes estimated), each into a fresh folder:
in this process (``--workers 1``, the default: PyTorch on every core), and on local Dask
clusters of 1 and of 2 one-core worker processes (``--workers 2`` starts the latter; the
cluster's start is timed with its run). Prints the images per second, the rates against the
one-worker cluster (the scaling efficiency; issue 33's target is ≥ 1.7 with 2 workers on 2
cores) and against this process, whether every output file matches the first run's bytes, and
each worker's peak resident memory.
Writes bench/results/batch_scaling.json.

    python bench/batch_scaling.py [--images 200] [--side 384]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from distributed import Client
from resume import checksums  # the same comparison of a run's files

from orescope.jobs import ParticleConfig, run_particles
from orescope.jobs.parallel import local_cluster
from orescope.synth import SceneConfig, write_scenes

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux counts kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def timed_run(paths: list[Path], out: Path, workers: int | None) -> dict:
    """Seconds to run the batch in this process (``workers`` None) or on a local cluster of
    ``workers`` one-core processes, started as ``--workers`` starts it and timed with it; and
    each worker's peak resident memory (GB)."""
    config = ParticleConfig(mm_per_px=0.25)
    started = time.perf_counter()
    if workers is None:
        run_particles(paths, out, config, progress=False)
        return {"seconds": time.perf_counter() - started}
    with local_cluster(workers) as cluster:
        run_particles(paths, out, config, progress=False, scheduler=cluster.scheduler_address)
        seconds = time.perf_counter() - started
        with Client(cluster) as client:
            peaks = sorted(client.run(peak_rss_gb).values())
        return {"seconds": seconds, "worker_peak_gb": peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--side", type=int, default=384)
    args = parser.parse_args()
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scenes = SceneConfig(height=args.side, width=args.side, mm_per_px=0.25, seed=10000)
        paths = write_scenes(root / "scenes", scenes, args.images, progress=False)
        first = None
        for name, workers in (
            ("this process", None),
            ("1 local worker", 1),
            ("2 local workers", 2),
        ):
            out = root / name.replace(" ", "_")
            run = timed_run(paths, out, workers)
            sums = checksums(out)
            first = first or sums
            runs[name] = run | {"identical_to_first": sums == first}
    one, here = runs["1 local worker"]["seconds"], runs["this process"]["seconds"]
    for name, run in runs.items():
        run["images_per_s"] = args.images / run["seconds"]
        run["speedup_over_1_worker"] = one / run["seconds"]
        run["speedup_over_this_process"] = here / run["seconds"]
        print(
            f"{name}: {run['seconds']:.1f} s, {run['images_per_s']:.2f} images/s, "
            f"{run['speedup_over_1_worker']:.2f}x one worker, "
            f"{run['speedup_over_this_process']:.2f}x this process, "
            f"outputs identical: {run['identical_to_first']}"
        )
    result = {"images": args.images, "side": args.side, "runs": runs}
    output = ROOT / "bench" / "results" / "batch_scaling.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {output}")


if __name__ == "__main__":
    main()
