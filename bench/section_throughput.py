"""`predict minerals` on a 12000×8000 panorama: wall time per megapixel and peak memory.

The panorama is a mosaic of real section photos (LumenStone, from ../shared/data), so grains and
their statistics are realistic in number. It runs in a child process whose peak resident memory
is read from the kernel. Writes bench/results/section_throughput.json (or --out).

    python bench/section_throughput.py [--model lumenstone] [--size 12000x8000] \
        [--scales 0.8,1,1.25 --out bench/results/section_throughput_scales.json] [--refine-px 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from orescope.io import load_lumenstone, write_image

ROOT = Path(__file__).resolve().parents[1]


def panorama(data: Path, height: int, width: int) -> np.ndarray:
    """Section photos laid side by side (reused in turn) until the panorama is full."""
    photos = [sample.read_image() for sample in load_lumenstone(data / "lumenstone")[0][:12]]
    tile_h, tile_w = photos[0].shape[:2]
    rows, cols = -(-height // tile_h), -(-width // tile_w)
    grid = [
        np.concatenate([photos[(r * cols + c) % len(photos)] for c in range(cols)], axis=1)
        for r in range(rows)
    ]
    return np.concatenate(grid, axis=0)[:height, :width]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lumenstone")
    parser.add_argument("--size", default="12000x8000", help="WIDTHxHEIGHT")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--scales", default="1", help="as predict minerals --scales")
    parser.add_argument("--refine-px", type=int, default=8, help="as predict minerals --refine-px")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "section_throughput.json"
    )
    args = parser.parse_args()
    scales = [float(v) for v in args.scales.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "panorama.png"
        write_image(path, panorama(args.data, height, width))
        code = (
            "import resource, sys, time\n"
            "from orescope.jobs import MineralConfig, run_minerals\n"
            "t = time.perf_counter()\n"
            f"config = MineralConfig(model={args.model!r}, um_per_px=2.0, scales={scales!r}, "
            f"refine_px={args.refine_px})\n"
            "run_minerals([sys.argv[1]], sys.argv[2], config, progress=False)\n"
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(path), str(Path(folder) / "out")],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds, peak_kib = (float(v) for v in done.stdout.split()[-2:])
        table = Path(folder) / "out" / "panorama" / "grains.csv"
        grains = len(table.read_text().splitlines()) - 1
    result = {
        "model": args.model,
        "scales": scales,
        "refine_px": args.refine_px,
        "height": height,
        "width": width,
        "seconds": seconds,
        "seconds_per_megapixel": seconds / (height * width / 1e6),
        "peak_gb": peak_kib / 2**20,
        "grains": grains,
    }
    print(
        f"{width}x{height}: {seconds:.0f} s ({result['seconds_per_megapixel']:.2f} s/MP), "
        f"peak memory {result['peak_gb']:.2f} GB, {grains} grains"
    )
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
