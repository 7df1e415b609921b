"""Speed of ``predict volume --method model`` (``ct-particles``) on 2 CPU cores: seconds per
chunk timed on real chunks of a large synthetic volume and extrapolated to paper 002's average
volume (1000×1250×1250 voxels), an end-to-end run on a 512³ volume, and the throughput of 1
and 2 workers (results in bench/results/volume_model_speed.json).

    python bench/volume_model_speed.py [--side 512] [--chunk 128] [--halo 16] [--timed 6]

The synthetic particles have a median ESD near the model's trained size (resampling factor
about 1), so the extrapolation is for a scan whose particles already span the trained size; a
scan of larger particles is shrunk first and runs faster by the cube of the factor.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
import zarr

from orescope.infer.particles import segment_volume_chunk
from orescope.infer.settings import InferenceSettings
from orescope.io.volumes import volume_blocks
from orescope.jobs.particles import shared_model
from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.preprocess.intensity import volume_stats
from orescope.preprocess.resample import median_diameter_px, size_scale
from orescope.synth import VolumeConfig, synthesize_volume

ROOT = Path(__file__).resolve().parents[1]
PAPER_SHAPE = (1000, 1250, 1250)  # paper 002's average volume
SPACING_MM = 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--halo", type=int, default=16)
    parser.add_argument("--timed", type=int, default=6, help="chunks timed for the estimate")
    parser.add_argument("--workers-side", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_model_speed.json")
    args = parser.parse_args()
    loaded = shared_model(args.model)
    trained = loaded.card.particle_px or 16.0
    config = VolumeConfig(
        shape=(args.side,) * 3, spacing_mm=SPACING_MM, x50_mm=trained * SPACING_MM, seed=7
    )
    scan = synthesize_volume(config)
    typical_px = median_diameter_px(scan.labels)
    scale = size_scale(typical_px, trained)
    image = scan.image
    del scan  # the labels are not needed: a volume's worth of memory
    results: dict = {
        "model": args.model,
        "chunk": args.chunk,
        "halo": args.halo,
        "volume": [args.side] * 3,
        "median_esd_px": typical_px,
        "resampled_by": scale,
    }
    stats = volume_stats(da.from_array(image, chunks=args.chunk))
    settings = InferenceSettings.for_model(loaded)
    cores = volume_blocks(image.shape, args.chunk)
    interior = [c for c in cores if all(s.stop - s.start == args.chunk for s in c)]
    picks = np.random.default_rng(0).choice(len(interior), args.timed, replace=False)
    seconds = []
    for index in picks:
        core = interior[int(index)]
        padded = tuple(
            slice(max(c.start - args.halo, 0), min(c.stop + args.halo, args.side)) for c in core
        )
        started = time.perf_counter()
        segment_volume_chunk(image[padded], loaded, stats, scale, settings=settings)
        seconds.append(time.perf_counter() - started)
    per_chunk = float(np.median(seconds))
    paper_chunks = int(np.prod([np.ceil(n / args.chunk) for n in PAPER_SHAPE]))
    results["seconds_per_chunk"] = per_chunk
    results["chunks_timed"] = seconds
    results["paper_volume_chunks"] = paper_chunks
    results["paper_volume_segmentation_hours"] = paper_chunks * per_chunk / 3600
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = zarr.open_array(
            str(folder / "big.zarr"),
            mode="w",
            shape=image.shape,
            chunks=(args.chunk,) * 3,
            dtype=image.dtype,
        )
        store[:] = image
        del image
        job = VolumeJobConfig(
            method="model",
            model=args.model,
            spacing_mm=SPACING_MM,
            chunk=args.chunk,
            halo=args.halo,
            particle_size_mm=typical_px * SPACING_MM,
        )
        started = time.perf_counter()
        run_volumes([folder / "big.zarr"], folder / "out", job, progress=False)
        end_to_end = time.perf_counter() - started
        voxels = args.side**3
        results["end_to_end_seconds"] = end_to_end
        results["end_to_end_seconds_per_megavoxel"] = end_to_end / (voxels / 1e6)
        own_chunks = len(cores)
        overhead = end_to_end / (own_chunks * per_chunk)  # merge, measuring, pictures, reading
        results["end_to_end_over_chunk_time"] = overhead
        results["paper_volume_end_to_end_hours"] = paper_chunks * per_chunk * overhead / 3600
        small = zarr.open_array(str(folder / "big.zarr"), mode="r")
        side = args.workers_side
        part = zarr.open_array(
            str(folder / "part.zarr"),
            mode="w",
            shape=(side,) * 3,
            chunks=(args.chunk,) * 3,
            dtype=small.dtype,
        )
        part[:] = small[:side, :side, :side]
        timings: dict[int, float] = {}
        labels: list[np.ndarray] = []
        for workers in (1, 2, 1, 2):  # twice each, the faster kept: the first run warms up
            run = job.model_copy(update={"workers": workers})
            started = time.perf_counter()
            run_volumes([folder / "part.zarr"], folder / f"w{workers}", run, progress=False)
            took = time.perf_counter() - started
            timings[workers] = min(timings.get(workers, took), took)
            result = zarr.open_array(str(folder / f"w{workers}/part/labels.zarr"), mode="r")
            labels.append(np.asarray(result[:]))
        results["workers_side"] = side
        results["workers_seconds"] = timings
        results["two_workers_speedup"] = timings[1] / timings[2]
        results["labels_identical_across_workers"] = all(
            np.array_equal(labels[0], other) for other in labels[1:]
        )
    print(json.dumps(results, indent=2))
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
