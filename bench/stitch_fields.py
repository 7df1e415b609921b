"""`orescope stitch` (paper 003 §4) on fields with known truth: pose error, seams, time, memory.

A large section is laid out from real polished-section photos (LumenStone, read from
../shared/data at run time), and 25 fields of 1698×1273 px are cut from it in a 5 × 5 grid with
20 % overlap, each moved off the nominal grid by a random sub-pixel offset (±15 px), turned by
a random angle (±0.3°), exposed by a random gain (±10 %) and vignetted (corners 25 % darker; a
blank field shows the vignetting). The stitch job runs on them in a child process (its peak
resident memory read from the kernel, and what importing orescope.jobs alone takes), with the
grid prior and without, rigid model, with seams; and with the grid prior, feathering only
(--no-seams). Two more sets of 3 × 3 fields of the same size, with the grid prior:

- tilted: each field also tilted by its own perspective (terms up to ±TILT per px about its
  centre: a stage that tilts as it moves, ±1 % of scale across a field), stitched with
  --model homography and with --model affine (the wrong model);
- distorted: every field seen through a barrel lens (k1 = K1, corners 5 % of the
  half-diagonal inwards), stitched (rigid) without correction, with --distortion K1 and with
  --distortion auto.

Measured:

- pose error: px between where the panorama and the truth put what a 5 × 5 lattice of points
  of every field shows (each run's own lens undone as its poses.csv says), after the best
  rigid map between the two frames (a homography for the tilted set: its panorama's frame is
  the reference field's tilted view) (RMS and max);
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
from skimage.transform import EuclideanTransform, ProjectiveTransform

from orescope.io import load_lumenstone, write_image
from orescope.preprocess.lens import Lens

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, COLUMNS, ROWS, OVERLAP = 1698, 1273, 5, 5, 0.2
OFFSET_PX, ROTATION_DEG, GAIN, VIGNETTE = 15.0, 0.3, 0.1, 0.25
MARGIN = 40  # px of section around the grid: a moved, turned field stays inside
TILT = 1.2e-5  # per px: a field's scale changes by ±1 % from its centre to its edge
K1 = -0.05
# The job in a child process. Peak memory is the kernel's high-water mark of the child's own
# address space (VmHWM): resource.getrusage's ru_maxrss carries the parent's peak over into a
# child across fork and exec, and this parent holds the whole section.
JOB = """
import json, resource, sys, time

def peak_mb():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

import orescope
from orescope.jobs.stitch_run import StitchConfig, run_stitch
imported = peak_mb()
config = StitchConfig.model_validate(json.loads(sys.argv[4]))
blank = None if sys.argv[3] == "none" else sys.argv[3]
start = time.perf_counter()
run_stitch(sys.argv[1], sys.argv[2], config, blank=blank, progress=False)
seconds = time.perf_counter() - start
cpu = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": seconds, "cpu_s": cpu.ru_utime + cpu.ru_stime,
                  "peak_rss_mb": peak_mb(), "import_rss_mb": imported, "code": orescope.__file__}))
"""


def stitch_in_child(
    fields: Path, out: Path, blank: Path | None, config: dict, source_tree: Path | None = None
) -> dict:
    """``orescope stitch`` of ``fields`` into ``out`` with ``config`` (StitchConfig's fields)
    in a child process, so that its peak memory is its own; with the package of
    ``source_tree`` first on the path if given (another commit's code). Returns what the child
    measured: wall_s, cpu_s, peak_rss_mb, import_rss_mb and the package's ``code`` file."""
    environment = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if source_tree is not None:
        environment["PYTHONPATH"] = str(source_tree)
    done = subprocess.run(
        [sys.executable, "-c", JOB, str(fields), str(out), str(blank or "none")]
        + [json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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


def cut_fields(
    source: np.ndarray,
    folder: Path,
    grid: tuple[int, int] = (COLUMNS, ROWS),
    tilt: float = 0.0,
    k1: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """The fields of a grid (columns, rows), each tilted by perspective terms up to ±``tilt``
    and seen through a lens of distortion ``k1``, and the blank field, written as PNG; the
    truth (field → section, 3 × 3) per field."""
    rng = np.random.default_rng(seed)
    light = vignette()
    folder.mkdir(parents=True)
    seen = np.stack(np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT)), -1).reshape(-1, 2)
    undistorted = Lens((WIDTH, HEIGHT), k1).undistort_points(seen.astype(np.float64))
    rows = []
    for row in range(grid[1]):
        for column in range(grid[0]):
            angle = np.radians(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
            origin = MARGIN + np.array([column * WIDTH, row * HEIGHT]) * (1 - OVERLAP)
            origin += rng.uniform(-OFFSET_PX, OFFSET_PX, 2)
            cos, sin = np.cos(angle), np.sin(angle)
            turn = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
            centre = np.array([[1, 0, WIDTH / 2], [0, 1, HEIGHT / 2], [0, 0, 1]])
            perspective = np.eye(3)
            perspective[2, :2] = rng.uniform(-tilt, tilt, 2) if tilt else 0.0
            move = np.array([[1, 0, origin[0]], [0, 1, origin[1]], [0, 0, 1]])
            matrix = move @ centre @ turn @ perspective @ np.linalg.inv(centre)
            gain = rng.uniform(1 - GAIN, 1 + GAIN)
            where = cv2.perspectiveTransform(undistorted[None], matrix)[0].astype(np.float32)
            maps = where.reshape(HEIGHT, WIDTH, 2)
            field = cv2.remap(source, maps[..., 0], maps[..., 1], cv2.INTER_CUBIC)
            exposed = field.astype(np.float32) * (gain * light[..., None])
            name = f"field_{row}{column}.png"
            write_image(folder / name, np.clip(np.round(exposed), 0, 255).astype(np.uint8))
            rows.append({"field": name, "matrix": matrix, "gain": gain})
    write_image(folder.parent / "blank.png", np.round(220 * light).astype(np.uint8))
    return pd.DataFrame(rows)


def found_pose(row) -> np.ndarray:
    """The 3 × 3 pose of a row of ``poses.csv``."""
    return np.array(
        [[row.a00, row.a01, row.x_px], [row.a10, row.a11, row.y_px], [row.a20, row.a21, 1.0]]
    )


def pose_errors(
    poses: pd.DataFrame, truth: pd.DataFrame, k1: float, frame_model: type
) -> tuple[np.ndarray, np.ndarray]:
    """Per point px errors after the best map of ``frame_model`` (a skimage transform) from
    the section to the panorama, and that map (3 × 3); the fields were seen through a lens of
    distortion ``k1``, and each row says which lens the run undid."""
    lattice = np.stack(
        np.meshgrid(np.linspace(0, WIDTH - 1, 5), np.linspace(0, HEIGHT - 1, 5)), -1
    ).reshape(-1, 2)
    seen = Lens((WIDTH, HEIGHT), k1).undistort_points(lattice)
    found, true = [], []
    for row in poses.merge(truth, on="field").itertuples():
        undone = Lens((WIDTH, HEIGHT), row.k1, row.k2).undistort_points(lattice)
        found.append(cv2.perspectiveTransform(undone[None], found_pose(row))[0])
        true.append(cv2.perspectiveTransform(seen[None], row.matrix)[0])
    found_points, true_points = np.concatenate(found), np.concatenate(true)
    frame = frame_model.from_estimate(true_points, found_points)
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
    back = np.linalg.inv(frame)  # panorama -> section
    truth = cv2.warpPerspective(source, back, (width, height), flags=flags).astype(np.float32)
    truth = truth.mean(axis=2)
    count = np.zeros((height, width), np.uint8)
    corners = np.array([[[0, 0], [WIDTH - 1, 0], [WIDTH - 1, HEIGHT - 1], [0, HEIGHT - 1]]], float)
    for row in poses.itertuples():
        polygon = np.round(cv2.perspectiveTransform(corners, found_pose(row))[0]).astype(np.int32)
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


def run(
    folder: Path,
    name: str,
    config: dict,
    source: np.ndarray,
    truth: pd.DataFrame,
    k1: float = 0.0,
    frame_model: type = EuclideanTransform,
) -> dict:
    """The stitch job with ``config`` (StitchConfig's fields) in a child process, and its
    outputs measured against the truth (fields seen through a lens of distortion ``k1``)."""
    out = folder / f"out_{name.replace(' ', '_').replace(',', '')}"
    load_before = os.getloadavg()[0]  # other work on the machine slows the run down
    measured = stitch_in_child(folder / "fields", out, folder / "blank.png", config)
    poses = pd.read_csv(out / "poses.csv")
    unmatched = pd.read_csv(out / "unmatched.csv")
    errors, frame = pose_errors(poses, truth, k1, frame_model)
    found = poses.merge(truth, on="field")
    undone = found.gain_g * found.gain
    return {
        **measured,
        "config": config,
        "k1": float(poses.k1.iloc[0]),
        "load_average_before": load_before,
        "fields_placed": len(poses),
        "unmatched": unmatched.to_dict("records"),
        "rms_pose_error_px": float(np.sqrt(np.mean(errors**2))),
        "max_pose_error_px": float(errors.max()),
        "gain_spread_after": float(np.ptp(undone / undone.mean())),
        "median_matches_per_field": float(poses.matches.median()),
        "mean_residual_px": float(poses.residual_px.mean()),
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
    grid = {"grid": [COLUMNS, ROWS], "overlap": OVERLAP}
    with tempfile.TemporaryDirectory() as folder:
        truth = cut_fields(source, Path(folder) / "fields")
        for name, config in (
            ("grid prior", {"model": "rigid", **grid}),
            ("no prior", {"model": "rigid"}),
            ("grid prior, no seams", {"model": "rigid", **grid, "seams": False}),
        ):
            result["runs"][name] = report(name, run(Path(folder), name, config, source, truth))
    small = {"grid": [3, 3], "overlap": OVERLAP}
    result["tilted"] = {"grid": [3, 3], "tilt_per_px": TILT, "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        truth = cut_fields(source, Path(folder) / "fields", (3, 3), tilt=TILT, seed=1)
        for model in ("homography", "affine"):
            config = {"model": model, **small}
            measured = run(Path(folder), model, config, source, truth, 0.0, ProjectiveTransform)
            result["tilted"]["runs"][model] = report(f"tilted, {model}", measured)
    result["distorted"] = {"grid": [3, 3], "k1": K1, "model": "rigid", "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        truth = cut_fields(source, Path(folder) / "fields", (3, 3), k1=K1, seed=2)
        for name, distortion in (
            ("no correction", None),
            ("given k1", [K1, 0.0]),
            ("auto", "auto"),
        ):
            config = {"model": "rigid", **small, "distortion": distortion}
            measured = run(Path(folder), name, config, source, truth, K1)
            result["distorted"]["runs"][name] = report(f"distorted, {name}", measured)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


def report(name: str, measured: dict) -> dict:
    """Print one run's numbers; returns them."""
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
        f"(imports {measured['import_rss_mb']:.0f} MB); lens k1 {measured['k1']:.5f}"
    )
    return measured


if __name__ == "__main__":
    main()
