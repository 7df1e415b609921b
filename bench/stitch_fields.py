"""`orescope stitch` (paper 003 §4) on fields with known truth: pose error, seams, time, memory.

A large section is laid out from real polished-section photos (LumenStone, read from
../shared/data at run time), and 25 fields of 1698×1273 px are cut from it in a 5 × 5 grid with
20 % overlap, each moved off the nominal grid by a random sub-pixel offset (±15 px), turned by
a random angle (±0.3°), exposed by a random gain (±10 %) and vignetted (corners 25 % darker; a
blank field shows the vignetting). The stitch job runs on them in a child process (its peak
resident memory read from the kernel, and what importing orescope.jobs alone takes), with the
grid prior and without, rigid model, with seams; and with the grid prior, feathering only
(--no-seams). Measured:

- pose error: px between where the found and the true poses put a 5 × 5 lattice of points of
  every field, after the best rigid map between the two frames (RMS and max);
- seams: the mean absolute difference between neighbouring pixels across every field's edge
  in the panorama, against the same on the true section resampled to the panorama (a visible
  seam raises the first); and the same measure inside fields; and the mean absolute error of
  the panorama against the true section in overlaps and where one field alone covers.

Prints the numbers and writes bench/results/stitch_fields.json (or --out).

    OMP_NUM_THREADS=1 python bench/stitch_fields.py [--data ../shared/data] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import zarr
from scipy.ndimage import binary_erosion
from skimage.transform import EuclideanTransform

from orescope.io import load_lumenstone, write_image

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, COLUMNS, ROWS, OVERLAP = 1698, 1273, 5, 5, 0.2
OFFSET_PX, ROTATION_DEG, GAIN, VIGNETTE = 15.0, 0.3, 0.1, 0.25
MARGIN = 40  # px of section around the grid: a moved, turned field stays inside
# The job in a child process. Peak memory is the kernel's high-water mark of the child's own
# address space (VmHWM): resource.getrusage's ru_maxrss carries the parent's peak over into a
# child across fork and exec, and this parent holds the whole section.
JOB = """
import json, resource, sys, time

def peak_mb():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

from orescope.jobs.stitch_run import StitchConfig, run_stitch
imported = peak_mb()
grid = (5, 5) if sys.argv[4] == "grid" else None
config = StitchConfig(model="rigid", grid=grid, overlap=0.2, seams=sys.argv[5] == "seams")
start = time.perf_counter()
run_stitch(sys.argv[1], sys.argv[2], config, blank=sys.argv[3], progress=False)
seconds = time.perf_counter() - start
cpu = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": seconds, "cpu_s": cpu.ru_utime + cpu.ru_stime,
                  "peak_rss_mb": peak_mb(), "import_rss_mb": imported}))
"""


def section(data: Path, height: int, width: int) -> np.ndarray:
    """Distinct section photos laid side by side until the section is full (hard edges where
    they meet, as any texture; no photo is repeated, so no field matches a wrong place)."""
    samples = load_lumenstone(data / "lumenstone")[0]
    rows, columns = -(-height // HEIGHT), -(-width // WIDTH)
    photos = iter(samples[:: max(1, len(samples) // (rows * columns))])
    grid = [
        np.concatenate([next(photos).read_image() for _ in range(columns)], axis=1)
        for _ in range(rows)
    ]
    return np.concatenate(grid, axis=0)[:height, :width]


def vignette() -> np.ndarray:
    """Relative light over a field: 1 at the centre, 1 - VIGNETTE in the corners."""
    y, x = np.linspace(-1, 1, HEIGHT), np.linspace(-1, 1, WIDTH)
    return (1 - VIGNETTE * np.add.outer(y**2, x**2) / 2).astype(np.float32)


def cut_fields(source: np.ndarray, folder: Path, seed: int = 0) -> pd.DataFrame:
    """The 25 fields and the blank field, written as PNG; the truth (field → section) per field."""
    rng = np.random.default_rng(seed)
    light = vignette()
    folder.mkdir(parents=True)
    rows = []
    for row in range(ROWS):
        for column in range(COLUMNS):
            angle = np.radians(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
            origin = MARGIN + np.array([column * WIDTH, row * HEIGHT]) * (1 - OVERLAP)
            origin += rng.uniform(-OFFSET_PX, OFFSET_PX, 2)
            turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            centre = np.array([WIDTH / 2, HEIGHT / 2])
            matrix = np.hstack([turn, (origin + centre - turn @ centre)[:, None]])
            gain = rng.uniform(1 - GAIN, 1 + GAIN)
            flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
            field = cv2.warpAffine(source, matrix, (WIDTH, HEIGHT), flags=flags)
            exposed = field.astype(np.float32) * (gain * light[..., None])
            name = f"field_{row}{column}.png"
            write_image(folder / name, np.clip(np.round(exposed), 0, 255).astype(np.uint8))
            rows.append({"field": name, "matrix": matrix, "gain": gain})
    write_image(folder.parent / "blank.png", np.round(220 * light).astype(np.uint8))
    return pd.DataFrame(rows)


def pose_errors(poses: pd.DataFrame, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per point px errors after the best rigid map from the section to the panorama, and
    that map (3 × 3)."""
    lattice = np.stack(
        np.meshgrid(np.linspace(0, WIDTH - 1, 5), np.linspace(0, HEIGHT - 1, 5)), -1
    ).reshape(-1, 2)
    found, true = [], []
    for row in poses.merge(truth, on="field").itertuples():
        matrix = np.array([[row.a00, row.a01, row.x_px], [row.a10, row.a11, row.y_px]])
        found.append(lattice @ matrix[:, :2].T + matrix[:, 2])
        true.append(lattice @ row.matrix[:, :2].T + row.matrix[:, 2])
    found_points, true_points = np.concatenate(found), np.concatenate(true)
    frame = EuclideanTransform.from_estimate(true_points, found_points)
    return np.hypot(*(frame(true_points) - found_points).T), frame.params


def steps(gray: np.ndarray, where_x: np.ndarray, where_y: np.ndarray) -> float:
    """Mean absolute difference of horizontally and vertically neighbouring pixel pairs
    selected by ``where_x`` (H, W-1) and ``where_y`` (H-1, W)."""
    across = np.abs(np.diff(gray, axis=1))[where_x]
    down = np.abs(np.diff(gray, axis=0))[where_y]
    return float(np.concatenate([across, down]).mean())


def seam_measures(out: Path, poses: pd.DataFrame, source: np.ndarray, frame: np.ndarray) -> dict:
    """Steps across field edges and inside fields, in the panorama and in the truth at the
    same places; errors against the truth in overlaps and in single-field areas."""
    group = zarr.open_group(str(out / "panorama.ome.zarr"), mode="r")
    panorama = np.moveaxis(np.asarray(group["0"]), 0, -1).astype(np.float32).mean(axis=2)
    height, width = panorama.shape
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    back = np.linalg.inv(frame)[:2]  # panorama -> section
    truth = cv2.warpAffine(source, back, (width, height), flags=flags).astype(np.float32)
    truth = truth.mean(axis=2)
    count = np.zeros((height, width), np.uint8)
    corners = np.array([[0, 0], [WIDTH - 1, 0], [WIDTH - 1, HEIGHT - 1], [0, HEIGHT - 1]])
    for row in poses.itertuples():
        matrix = np.array([[row.a00, row.a01, row.x_px], [row.a10, row.a11, row.y_px]])
        polygon = np.round(corners @ matrix[:, :2].T + matrix[:, 2]).astype(np.int32)
        footprint = np.zeros_like(count)
        cv2.fillConvexPoly(footprint, polygon, 1)
        count += footprint
    covered = binary_erosion(count > 0, iterations=4)  # the panorama's outer edge left out
    level = panorama[covered].mean() / truth[covered].mean()  # the exposure's common factor
    truth *= level
    both_x, both_y = covered[:, 1:] & covered[:, :-1], covered[1:] & covered[:-1]
    seam_x = (count[:, 1:] != count[:, :-1]) & both_x
    seam_y = (count[1:] != count[:-1]) & both_y
    alone = binary_erosion(count == 1, iterations=4) & covered
    alone_x, alone_y = alone[:, 1:] & alone[:, :-1], alone[1:] & alone[:-1]
    error = np.abs(panorama - truth)
    return {
        "seam_step": steps(panorama, seam_x, seam_y),
        "seam_step_truth": steps(truth, seam_x, seam_y),
        "inside_step": steps(panorama, alone_x, alone_y),
        "inside_step_truth": steps(truth, alone_x, alone_y),
        "mae_overlaps": float(error[covered & (count >= 2)].mean()),
        "mae_single_field": float(error[alone].mean()),
        "seam_pixel_pairs": int(seam_x.sum() + seam_y.sum()),
    }


def run(folder: Path, prior: bool, seams: bool, source: np.ndarray, truth: pd.DataFrame) -> dict:
    """The stitch job in a child process, and its outputs measured against the truth."""
    out = folder / f"out_{'grid' if prior else 'free'}_{'seams' if seams else 'feather'}"
    load_before = os.getloadavg()[0]  # other work on the machine slows the run down
    done = subprocess.run(
        [sys.executable, "-c", JOB, str(folder / "fields"), str(out), str(folder / "blank.png")]
        + ["grid" if prior else "free", "seams" if seams else "feather"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    poses = pd.read_csv(out / "poses.csv")
    unmatched = pd.read_csv(out / "unmatched.csv")
    errors, frame = pose_errors(poses, truth)
    found = poses.merge(truth, on="field")
    undone = found.gain_g * found.gain
    return {
        **measured,
        "load_average_before": load_before,
        "fields_placed": len(poses),
        "unmatched": unmatched.to_dict("records"),
        "rms_pose_error_px": float(np.sqrt(np.mean(errors**2))),
        "max_pose_error_px": float(errors.max()),
        "gain_spread_after": float(np.ptp(undone / undone.mean())),
        "median_matches_per_field": float(poses.matches.median()),
        **seam_measures(out, poses, source, frame),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "stitch_fields.json"
    )
    args = parser.parse_args()
    height = int(2 * MARGIN + HEIGHT * (1 + (ROWS - 1) * (1 - OVERLAP)))
    width = int(2 * MARGIN + WIDTH * (1 + (COLUMNS - 1) * (1 - OVERLAP)))
    source = section(args.data, height, width)
    result: dict = {
        "fields": COLUMNS * ROWS,
        "field_px": [WIDTH, HEIGHT],
        "grid": [COLUMNS, ROWS],
        "overlap": OVERLAP,
        "truth": {"offset_px": OFFSET_PX, "rotation_deg": ROTATION_DEG, "gain": GAIN},
        "vignette": VIGNETTE,
        "model": "rigid",
        "cpus": os.cpu_count(),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        truth = cut_fields(source, Path(folder) / "fields")
        for name, prior, seams in (
            ("grid prior", True, True),
            ("no prior", False, True),
            ("grid prior, no seams", True, False),
        ):
            measured = run(Path(folder), prior, seams, source, truth)
            result["runs"][name] = measured
            print(
                f"{name}: RMS pose error {measured['rms_pose_error_px']:.3f} px (max "
                f"{measured['max_pose_error_px']:.3f}), {measured['fields_placed']} fields, "
                f"{len(measured['unmatched'])} unmatched; step across seams "
                f"{measured['seam_step']:.2f} (truth {measured['seam_step_truth']:.2f}), "
                f"inside fields {measured['inside_step']:.2f} "
                f"(truth {measured['inside_step_truth']:.2f}); "
                f"error in overlaps {measured['mae_overlaps']:.2f}, single fields "
                f"{measured['mae_single_field']:.2f}; {measured['wall_s']:.0f} s "
                f"({measured['cpu_s']:.0f} s CPU), peak {measured['peak_rss_mb']:.0f} MB "
                f"(imports {measured['import_rss_mb']:.0f} MB)"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
