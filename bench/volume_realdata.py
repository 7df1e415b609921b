"""``predict volume`` on the real volumes of ../shared/data/volumes (their voxel sizes are not
given, so sizes come out in voxels: spacing 1), and the StarDist nuclei volume scored against
its 51 labelled nuclei (results in bench/results/volume_realdata.json for ThreshWater,
volume_realdata_model.json for the model, whose particle size is its own estimate).

    python bench/volume_realdata.py [--data ../shared/data] [--chunk 64] [--method model]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import zarr

from orescope.io import read_volume
from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.metrics import instance_metrics

ROOT = Path(__file__).resolve().parents[1]
VOLUMES = ("nuclei3d_image", "concrete_xray", "snow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--method", choices=("threshwater", "model"), default="threshwater")
    parser.add_argument("--model", default="ct-particles")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    suffix = "" if args.method == "threshwater" else "_model"
    out_file = args.out or ROOT / f"bench/results/volume_realdata{suffix}.json"
    folder = args.data / "volumes"
    config = VolumeJobConfig(
        method=args.method,
        model=args.model,
        spacing_mm=1.0,
        chunk=args.chunk,
        halo=8 if args.method == "threshwater" else 16,
        min_volume_px=8,
    )
    results: dict = {"settings": config.model_dump(mode="json"), "volumes": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for name in VOLUMES:
            started = time.perf_counter()
            out = Path(scratch) / name
            run_volumes([folder / f"{name}.tif"], out, config, progress=False)
            labels = zarr.open_array(str(out / name / "labels.zarr"), mode="r")[:]
            row = {"shape": list(labels.shape), "particles": int(labels.max())}
            row["seconds"] = time.perf_counter() - started
            row["resampled_by"] = float(pd.read_csv(out / "summary.csv")["resampled_by"].iloc[0])
            if name == "nuclei3d_image":
                truth = read_volume(folder / "nuclei3d_labels.tif").data.compute()
                scores = instance_metrics(truth, labels)
                row["against the labels"] = {k: float(v) for k, v in scores.items()}
            results["volumes"][name] = row
            print(name, row)
    out_file.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
