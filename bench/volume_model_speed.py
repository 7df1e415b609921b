"""Speed of ``predict volume --method model`` (``ct-particles``) on 2 CPU cores, extrapolated to
paper 002's average volume (1000×1250×1250 voxels) from seconds per chunk timed on real chunks
of large synthetic volumes; and an end-to-end run on a 512³ volume (results in
bench/results/volume_model_speed.json; the workers' throughput: bench/volume_workers.py).

    python bench/volume_model_speed.py [--side 512] [--timed 6]

Two particle sizes: particles already at the model's trained size (16 voxels: nothing is
shrunk, the slowest case), and paper 002's average particle of 60 voxels, which the run
shrinks to the trained size chunk by chunk (chunks and halo of the original grid scaled as
``predict volume`` scales them: ``scaled_grid``).
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

from orescope.infer.chunks import scaled_grid
from orescope.infer.particles import segment_volume_chunk
from orescope.infer.settings import InferenceSettings
from orescope.io.volumes import volume_blocks
from orescope.jobs.particles import shared_model
from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.preprocess.intensity import volume_stats
from orescope.preprocess.resample import median_diameter_px, size_scale
from orescope.synth import VolumeConfig, synthesize_volume
from orescope.zoo import LoadedModel

ROOT = Path(__file__).resolve().parents[1]
PAPER_SHAPE = (1000, 1250, 1250)  # paper 002's average volume
PAPER_PARTICLE_PX = 60  # and its average particle size, in voxels
SPACING_MM = 0.01


def synthetic(side: int, particle_px: float) -> tuple[np.ndarray, float]:
    """A synthetic scan (uint16) with median particle ESD near ``particle_px``, and that
    median measured on its labels."""
    config = VolumeConfig(
        shape=(side,) * 3, spacing_mm=SPACING_MM, x50_mm=particle_px * SPACING_MM, seed=7
    )
    scan = synthesize_volume(config)
    return scan.image, median_diameter_px(scan.labels)


def seconds_per_chunk(
    image: np.ndarray, loaded: LoadedModel, scale: float, chunk: int, halo: int, timed: int
) -> list[float]:
    """Seconds to segment ``timed`` interior chunks (with their halo) picked at random."""
    stats = volume_stats(da.from_array(image, chunks=chunk))
    settings = InferenceSettings.for_model(loaded)
    cores = volume_blocks(image.shape, chunk)
    whole = [c for c in cores if all(s.stop - s.start == chunk for s in c)]
    picks = np.random.default_rng(0).choice(len(whole), min(timed, len(whole)), replace=False)
    seconds = []
    for index in picks:
        padded = tuple(
            slice(max(c.start - halo, 0), min(c.stop + halo, n))
            for c, n in zip(whole[int(index)], image.shape, strict=True)
        )
        started = time.perf_counter()
        segment_volume_chunk(image[padded], loaded, stats, scale, settings=settings)
        seconds.append(time.perf_counter() - started)
    return seconds


def extrapolated(seconds: list[float], chunk: int) -> dict:
    chunks = int(np.prod([np.ceil(n / chunk) for n in PAPER_SHAPE]))
    per_chunk = float(np.median(seconds))
    return {
        "chunk": chunk,
        "seconds_per_chunk": per_chunk,
        "chunks_timed": seconds,
        "paper_volume_chunks": chunks,
        "paper_volume_hours": chunks * per_chunk / 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--paper-side", type=int, default=448)
    parser.add_argument("--timed", type=int, default=6, help="chunks timed for each estimate")
    parser.add_argument("--chunk", type=int, default=96, help="in trained-size voxels")
    parser.add_argument("--halo", type=int, default=16, help="in trained-size voxels")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_model_speed.json")
    args = parser.parse_args()
    loaded = shared_model(args.model)
    trained = loaded.card.particle_px or 16.0
    results: dict = {"model": args.model, "trained_particle_px": trained}

    # paper 002's particles: shrunk to the trained size, so chunk and halo grow alike
    image, typical_px = synthetic(args.paper_side, PAPER_PARTICLE_PX)
    scale = size_scale(typical_px, trained)
    chunk, halo = scaled_grid(args.chunk, args.halo, scale)
    seconds = seconds_per_chunk(image, loaded, scale, chunk, halo, args.timed)
    results["paper particle size"] = {
        "median_esd_px": typical_px,
        "resampled_by": scale,
        "halo": halo,
        **extrapolated(seconds, chunk),
    }
    print("paper particle size", results["paper particle size"])
    del image

    image, typical_px = synthetic(args.side, trained)
    scale = size_scale(typical_px, trained)
    seconds = seconds_per_chunk(image, loaded, scale, args.chunk, args.halo, args.timed)
    results["trained particle size"] = {
        "median_esd_px": typical_px,
        "resampled_by": scale,
        "halo": args.halo,
        **extrapolated(seconds, args.chunk),
    }
    print("trained particle size", results["trained particle size"])
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        chunks = (args.chunk,) * 3
        big = zarr.open_array(
            str(folder / "big.zarr"), mode="w", shape=image.shape, chunks=chunks, dtype="u2"
        )
        big[:] = image
        del image
        job = VolumeJobConfig(
            method="model",
            model=args.model,
            spacing_mm=SPACING_MM,
            particle_size_mm=typical_px * SPACING_MM,
            chunk=args.chunk,
            halo=args.halo,
        )
        started = time.perf_counter()
        run_volumes([folder / "big.zarr"], folder / "out", job, progress=False)
        seconds_512 = time.perf_counter() - started
        results["end to end"] = {
            "volume": [args.side] * 3,
            "seconds": seconds_512,
            "seconds_per_megavoxel": seconds_512 / (args.side**3 / 1e6),
        }
        print("end to end", results["end to end"])
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
