"""Time and peak memory of ``predict volume`` (ThreshWater, or ``--method model`` with
``ct-particles`` and the particle size given) in chunks of 96 voxels on synthetic volumes of
256³ and 512³ voxels: memory should stay flat as the volume grows eightfold (results in
bench/results/volume_throughput.json, volume_throughput_model.json for the model).

    python bench/volume_throughput.py [--sides 256,512] [--workers 1] [--chunk 96] [--method model]

Each volume is generated and written to zarr in one process, and predicted by the command line
in another, which reports its own peak resident memory (the generation's is not counted). The
peak of importing the job alone is recorded beside them (``import_peak_gb``: PyTorch and the
model libraries, loaded whatever the method), and the largest volume's peak over the
smallest's (``peak_growth``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKE = """
import sys, zarr
from orescope.synth import VolumeConfig, synthesize_volume
side = int(sys.argv[2])
scan = synthesize_volume(VolumeConfig(shape=(side,) * 3, x50_mm=0.15, seed=1))
stored = zarr.open_array(sys.argv[1], mode="w", shape=scan.image.shape, chunks=(128,) * 3,
                         dtype="u2")
stored[:] = scan.image
"""
PREDICT = """
import resource, sys
from orescope.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as done:
    assert not done.code, done.code
print("peak_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
IMPORT = """
import resource
import orescope.jobs.volume_run
print("peak_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="256,512")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=96)
    parser.add_argument("--method", choices=("threshwater", "model"), default="threshwater")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    suffix = "" if args.method == "threshwater" else "_model"
    out_file = args.out or ROOT / f"bench/results/volume_throughput{suffix}.json"
    results: dict = {
        "method": args.method,
        "chunk": args.chunk,
        "halo": 16,
        "workers": args.workers,
    }
    results["import_peak_gb"] = _peak_kb([sys.executable, "-c", IMPORT]) / 1e6
    peaks: list[int] = []
    with tempfile.TemporaryDirectory() as scratch:
        for side in map(int, args.sides.split(",")):
            volume = Path(scratch) / f"volume_{side}.zarr"
            subprocess.run([sys.executable, "-c", MAKE, str(volume), str(side)], check=True)
            started = time.perf_counter()
            command = [sys.executable, "-c", PREDICT, "predict", "volume", str(volume)]
            options = ["--out", str(Path(scratch) / f"out_{side}"), "--spacing", "0.01"]
            options += ["--workers", str(args.workers), "--method", args.method]
            options += ["--chunk", str(args.chunk)]
            if args.method == "model":  # the synthetic particles' median ESD (x50 0.15 mm)
                options += ["--particle-size", "0.15"]
            peak_kb = _peak_kb([*command, *options])
            seconds = time.perf_counter() - started
            peaks.append(peak_kb)
            results[f"{side}^3"] = {
                "voxels": side**3,
                "seconds": seconds,
                "seconds_per_megavoxel": seconds / (side**3 / 1e6),
                "peak_gb": peak_kb / 1e6,
            }
            print(side, results[f"{side}^3"])
    results["peak_growth"] = peaks[-1] / peaks[0]
    out_file.write_text(json.dumps(results, indent=2) + "\n")


def _peak_kb(command: list[str]) -> int:
    """The peak resident memory (kB) that ``command`` (a Python process) prints last."""
    shown = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return int(shown.split("peak_kb")[-1].split()[0])


if __name__ == "__main__":
    main()
