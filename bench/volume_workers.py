"""``predict volume`` with ``ct-particles`` on 1 and 2 local Dask workers of one core each (as
``--workers 2`` starts them), on a synthetic volume of 512³ voxels: the throughput of the
chunks, and whether the labels are the same whatever the workers (results in
bench/results/volume_workers.json).

    python bench/volume_workers.py [--side 512] [--chunk 96] [--method model]

The throughput is the run's own ``segment_s`` (``summary.csv``: every chunk segmented and the
labels joined across the chunks' faces), which is what the workers share; ``measure_s``, the
particles measured afterwards in the calling process whatever the workers, is recorded beside.
The labels of the two runs are compared block by block (``labels``: identical or different);
``--workers 1`` (this process, PyTorch on every core) is timed by bench/volume_throughput.py.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from distributed import LocalCluster

from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.synth import VolumeConfig, synthesize_volume

ROOT = Path(__file__).resolve().parents[1]
X50_MM = 0.15  # the synthetic particles' median ESD at 0.01 mm voxels: ct-particles' 16 voxels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--chunk", type=int, default=96)
    parser.add_argument("--method", choices=("threshwater", "model"), default="model")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_workers.json")
    args = parser.parse_args()
    config = VolumeJobConfig(
        method=args.method,
        particle_size_mm=X50_MM if args.method == "model" else None,
        spacing_mm=0.01,
        chunk=args.chunk,
    )
    results: dict = {"method": args.method, "side": args.side, "chunk": args.chunk, "runs": {}}
    with tempfile.TemporaryDirectory() as scratch:
        volume = Path(scratch) / "volume.zarr"
        _write_volume(volume, args.side)
        for name, workers in (("1 Dask worker", 1), ("2 Dask workers", 2)):
            out = Path(scratch) / name.replace(" ", "_")
            # the cluster started beforehand: its start-up is not the chunks' time
            with LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None
            ) as cluster:
                remote = config.model_copy(update={"scheduler": cluster.scheduler_address})
                run_volumes([volume], out, remote, progress=False)
            row = pd.read_csv(out / "summary.csv").iloc[0]
            labels = zarr.open_array(str(out / "volume" / "labels.zarr"), mode="r")
            reference = Path(scratch) / "1_Dask_worker" / "volume" / "labels.zarr"
            results["runs"][name] = {
                "segment_s": float(row["segment_s"]),
                "measure_s": float(row["measure_s"]),
                "particles": int(row["particles"]),
                "labels": "identical"
                if _same(labels, zarr.open_array(str(reference), mode="r"))
                else "different",
            }
            print(name, results["runs"][name], flush=True)
    times = {name: run["segment_s"] for name, run in results["runs"].items()}
    results["speedup_2_workers_over_1"] = times["1 Dask worker"] / times["2 Dask workers"]
    print(json.dumps(results, indent=2))
    args.out.write_text(json.dumps(results, indent=2) + "\n")


def _write_volume(path: Path, side: int) -> None:
    scan = synthesize_volume(VolumeConfig(shape=(side,) * 3, x50_mm=X50_MM, seed=1))
    stored = zarr.open_array(
        str(path), mode="w", shape=scan.image.shape, chunks=(128,) * 3, dtype=scan.image.dtype
    )
    stored[:] = scan.image


def _same(a: zarr.Array, b: zarr.Array) -> bool:
    """Whether two label arrays are equal, compared one block at a time."""
    step = a.chunks[0]
    return all(np.array_equal(a[z : z + step], b[z : z + step]) for z in range(0, a.shape[0], step))


if __name__ == "__main__":
    main()
