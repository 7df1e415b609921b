"""Speed of ``predict volume --method model`` (``ct-particles``) on 2 CPU cores, extrapolated to
paper 002's average volume (1000×1250×1250 voxels); and an end-to-end run on a 512³ volume
(results in bench/results/volume_model_speed.json; the workers' throughput:
bench/volume_workers.py).

    python bench/volume_model_speed.py [--side 512] [--timed 6]

The model's tiles (:data:`~orescope.infer.volume.MAP_TILE` voxels of the resampled grid, with
their halo) are timed on real tiles of large synthetic volumes, resampling included; the rest
of a run (decoding, labels brought back, measuring) is timed per voxel of the volume by the
end-to-end 512³ run, less its tiles. Paper 002's volume then costs its tiles plus its voxels.
Two particle sizes: particles already at the model's trained size (16 voxels: nothing is
shrunk, the slowest case), and paper 002's average particle of 60 voxels, which the run
shrinks to the trained size (a grid of about a quarter the voxels a side).
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

from orescope.infer.chunks import context_slice
from orescope.infer.volume import MAP_TILE
from orescope.io.volumes import volume_blocks
from orescope.jobs.particles import shared_model
from orescope.jobs.volume_run import ModelMap, VolumeJobConfig, run_volumes
from orescope.preprocess.intensity import volume_stats
from orescope.preprocess.resample import grid_shape, median_diameter_px, resampled_block, size_scale
from orescope.synth import VolumeConfig, synthesize_volume

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


def seconds_per_tile(
    image: np.ndarray, model: str, scale: float, halo: int, timed: int
) -> tuple[list[float], tuple[int, ...]]:
    """Seconds to resample and predict ``timed`` interior tiles (with their halo) picked at
    random, and the grid they lie on."""
    predict = ModelMap(model, volume_stats(da.from_array(image, chunks=MAP_TILE)), tta=False)
    grid = grid_shape(image.shape, (scale,) * 3)
    # every tile, a thin one at the end too, is a block of the same size: any is typical
    tiles = volume_blocks(grid, MAP_TILE)
    picks = np.random.default_rng(0).choice(len(tiles), min(timed, len(tiles)), replace=False)
    seconds = []
    for index in [picks[0], *picks]:  # the first, once more: the model's first call warms up
        tile = tiles[int(index)]
        box = tuple(context_slice(t, n, MAP_TILE, halo) for t, n in zip(tile, grid, strict=True))
        started = time.perf_counter()
        predict(resampled_block(image, box, grid))
        seconds.append(time.perf_counter() - started)
    return seconds[1:], grid


def tiles_of(shape: tuple[int, ...], scale: float) -> int:
    """Tiles of the model's grid over a volume of ``shape`` resampled by ``scale``."""
    return int(np.prod([np.ceil(n / MAP_TILE) for n in grid_shape(shape, (scale,) * 3)]))


def extrapolated(seconds_per_tile: float, scale: float, seconds_per_voxel: float) -> dict:
    """Paper 002's volume: its tiles at ``scale`` plus the rest of the run for its voxels."""
    tiles = tiles_of(PAPER_SHAPE, scale)
    rest = float(np.prod(PAPER_SHAPE)) * seconds_per_voxel
    return {
        "paper_volume_tiles": tiles,
        "paper_volume_tile_hours": tiles * seconds_per_tile / 3600,
        "paper_volume_rest_hours": rest / 3600,
        "paper_volume_hours": (tiles * seconds_per_tile + rest) / 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--paper-side", type=int, default=448)
    parser.add_argument("--timed", type=int, default=6, help="tiles timed for each estimate")
    parser.add_argument("--chunk", type=int, default=96, help="decoding chunk, trained-size voxels")
    parser.add_argument("--halo", type=int, default=16, help="in trained-size voxels")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_model_speed.json")
    args = parser.parse_args()
    trained = shared_model(args.model).card.particle_px or 16.0
    results: dict = {"model": args.model, "trained_particle_px": trained, "tile": MAP_TILE}
    timings = {}
    for name, side, particle_px in (
        ("paper particle size", args.paper_side, PAPER_PARTICLE_PX),
        ("trained particle size", args.side, trained),
    ):
        image, typical_px = synthetic(side, particle_px)
        scale = size_scale(typical_px, trained)
        seconds, grid = seconds_per_tile(image, args.model, scale, args.halo, args.timed)
        timings[name] = {
            "median_esd_px": typical_px,
            "resampled_by": scale,
            "grid": list(grid),
            "tiles_timed": seconds,
            "seconds_per_tile": float(np.median(seconds)),
        }
        print(name, timings[name])
    with tempfile.TemporaryDirectory() as scratch:  # the last image: the trained size, 512³
        folder = Path(scratch)
        big = zarr.open_array(
            str(folder / "big.zarr"), mode="w", shape=image.shape, chunks=(128,) * 3, dtype="u2"
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
        seconds_end = time.perf_counter() - started
    trained_run = timings["trained particle size"]
    tiles_end = tiles_of((args.side,) * 3, trained_run["resampled_by"])
    rest = seconds_end - tiles_end * trained_run["seconds_per_tile"]
    per_voxel = max(rest, 0.0) / args.side**3
    results["end to end"] = {
        "volume": [args.side] * 3,
        "seconds": seconds_end,
        "seconds_per_megavoxel": seconds_end / (args.side**3 / 1e6),
        "tiles": tiles_end,
        "rest_seconds_per_megavoxel": per_voxel * 1e6,
    }
    print("end to end", results["end to end"])
    for name, timing in timings.items():
        timing |= extrapolated(timing["seconds_per_tile"], timing["resampled_by"], per_voxel)
        results[name] = timing
        print(name, "paper volume", round(timing["paper_volume_hours"], 3), "h")
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
