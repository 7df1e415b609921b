"""`predict minerals` on a large panorama block by block: time and peak memory, in one process
and on two local Dask workers.

The panorama is a mosaic of real section photos (LumenStone, ../shared/data; as
bench/section_throughput.py lays it), written as the OME-Zarr `orescope stitch` writes (axes
c, y, x; 1024-pixel chunks) and as a PNG. Each run is a child process whose peak resident
memory the kernel reports: the OME-Zarr in this process (read block by block), the OME-Zarr
on a local cluster of two one-core workers (its blocks the cluster's tasks; the larger of the
workers' peaks too), and the PNG in this process (decoded whole, as before panoramas could be
read). Prints and writes the seconds, the peaks, and how many pixels of each run's
classes.png differ from the first run's (a network's sums differ in their last bits between
one thread and two, which can flip a near tie). Writes bench/results/mineral_blocks.json.

    python bench/mineral_blocks.py [--size 8000x8000] [--model lumenstone]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr
from ome_zarr.writer import write_multiscales_metadata
from section_throughput import panorama

from orescope.io import read_image, write_image

ROOT = Path(__file__).resolve().parents[1]
CHUNK_PX = 1024  # as orescope stitch writes its panoramas


def write_ome_zarr(path: Path, image: np.ndarray) -> Path:
    """``image`` as an OME-Zarr image of one level, axes c, y, x."""
    group = zarr.open_group(str(path), mode="w")
    planes = np.moveaxis(image, -1, 0)
    level = group.create_array(
        "0", shape=planes.shape, chunks=(len(planes), CHUNK_PX, CHUNK_PX), dtype=image.dtype
    )
    level[:] = planes
    scale = [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]
    write_multiscales_metadata(
        group, [{"path": "0", "coordinateTransformations": scale}], axes=["c", "y", "x"]
    )
    return path


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux counts kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def child(source: Path, out: Path, model: str, workers: int) -> None:
    """One run, in this (child) process or on a local cluster of ``workers``; prints its
    numbers as JSON."""
    from distributed import Client

    from orescope.jobs import MineralConfig, run_minerals
    from orescope.jobs.parallel import local_cluster

    config = MineralConfig(model=model, um_per_px=2.0)
    started = time.perf_counter()
    result: dict = {}
    if workers == 1:
        run_minerals([source], out, config, progress=False)
    else:
        with local_cluster(workers) as cluster:
            run_minerals([source], out, config, progress=False, scheduler=cluster.scheduler_address)
            with Client(cluster) as client:
                result["worker_peak_gb"] = max(client.run(peak_rss_gb).values())
    result |= {"seconds": time.perf_counter() - started, "peak_gb": peak_rss_gb()}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="8000x8000", help="WIDTHxHEIGHT")
    parser.add_argument("--model", default="lumenstone")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--child", nargs=3, metavar=("SOURCE", "OUT", "WORKERS"))
    args = parser.parse_args()
    if args.child:
        source, out, workers = args.child
        child(Path(source), Path(out), args.model, int(workers))
        return
    width, height = (int(v) for v in args.size.split("x"))
    runs = [  # (name, source, workers)
        ("ome-zarr in this process", "ome-zarr", 1),
        ("ome-zarr on 2 workers", "ome-zarr", 2),
        ("png in this process", "png", 1),
    ]
    results: dict = {"model": args.model, "height": height, "width": width, "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        image = panorama(args.data, height, width)
        sources = {
            "png": Path(folder) / "panorama.png",
            "ome-zarr": Path(folder) / "panorama.ome.zarr",
        }
        write_image(sources["png"], image)
        write_ome_zarr(sources["ome-zarr"], image)
        del image
        first: np.ndarray | None = None
        for index, (name, source, workers) in enumerate(runs):
            out = Path(folder) / f"out{index}"
            command = [sys.executable, __file__, "--model", args.model]
            command += ["--child", str(sources[source]), str(out), str(workers)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            classes = read_image(out / "panorama" / "classes.png")
            first = classes if first is None else first
            run["pixels_unlike_first_run"] = int((classes != first).sum())
            run["seconds_per_megapixel"] = run["seconds"] / (height * width / 1e6)
            results["runs"][name] = run
            print(f"{name}: {json.dumps(run)}", flush=True)
            target = ROOT / "bench" / "results" / "mineral_blocks.json"
            target.write_text(json.dumps(results, indent=2) + "\n")  # after each run


if __name__ == "__main__":
    main()
