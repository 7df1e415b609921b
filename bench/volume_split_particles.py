"""What the particles ``predict volume`` splits are: each reference particle of a test volume that
two or more predicted particles lie more than half inside (paper 002's splitter sets), with
its size against the volume's median, its elongation and its solidity (convex: 1), and the
generator fields the volume was drawn with. A diagnosis only: no choice is made on it
(results in bench/results/volume_split_particles.json).

    python bench/volume_split_particles.py [--seed 10003]

The volume is the one ``bench/volume_models.py --seed 10000 --count 4`` scores under that name
(the first test volumes' generator stream, from seed 10000), run with the defaults (size
measured by the model). Looking into them made those volumes no test any more: the test
volumes are now seeds 10100-10111. The committed results were made with the defaults of
0e91837 (cuts kept by the core's neck ratio, 0.6); the outline ratio since splits fewer.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import tifffile
import zarr
from skimage.measure import regionprops

from orescope.io.splits import FIRST_SEED
from orescope.jobs.volume_run import VolumeJobConfig, run_volumes
from orescope.metrics import overlap
from orescope.metrics.instance import COVER_FRACTION
from orescope.preprocess.resample import median_diameter_px
from orescope.train.config import read_train_config
from orescope.train.data import synth_volumes

ROOT = Path(__file__).resolve().parents[1]
SPACING_MM = 0.01
TEST_SEED = FIRST_SEED["test"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=10003)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/volume_split_particles.json"
    )
    args = parser.parse_args()
    config = read_train_config(ROOT / "configs/ct_particles.yaml")
    spec = config.val[0].model_copy(
        update={
            "seed": TEST_SEED,
            "count": args.seed - TEST_SEED + 1,
            "volume": {"shape": [args.side] * 3, "spacing_mm": SPACING_MM},
        }
    )
    rng = np.random.default_rng(TEST_SEED)  # the draws synth_volumes makes, volume by volume
    fields = [{k: float(rng.uniform(*b)) for k, b in spec.vary.items()} for _ in range(spec.count)]
    name, image, truth = synth_volumes(spec)[-1]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        tifffile.imwrite(folder / f"{name}.tif", image)
        job = VolumeJobConfig(method="model", spacing_mm=SPACING_MM, chunk=96, halo=16)
        run_volumes([folder / f"{name}.tif"], folder / "out", job, progress=False)
        pred = np.asarray(zarr.open_array(str(folder / "out" / name / "labels.zarr"), mode="r")[:])
    median = median_diameter_px(truth)
    split_ids = split_particles(truth, pred)
    split = []
    for region in regionprops(truth.astype(np.int32)):
        if region.label in split_ids:
            split.append(
                {
                    "voxels": int(region.area),
                    "esd_over_median": float((6 * region.area / np.pi) ** (1 / 3) / median),
                    "elongation": float(region.axis_major_length / region.axis_minor_length),
                    "solidity": float(region.solidity),
                }
            )
    results = {"volume": name, "fields": fields[-1], "split_particles": split}
    print(json.dumps(results, indent=2))
    args.out.write_text(json.dumps(results, indent=2) + "\n")


def split_particles(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The ids of the reference particles that two or more predicted particles lie more than
    half inside: paper 002's splitter sets, as :func:`orescope.metrics.splitter_ratio` counts
    them."""
    table = overlap(truth, pred)
    inside = table.intersection > COVER_FRACTION * table.pred_areas[table.cols]
    hosts, parts = np.unique(table.rows[inside], return_counts=True)
    return np.unique(truth[truth > 0])[hosts[parts > 1]]


if __name__ == "__main__":
    main()
