"""Blending in `orescope stitch` (issue 34): feather, feather with seams and multi-band with
seams, on field sets whose overlapping fields disagree as real ones do; and how much context a
multi-band tile needs.

Fields are cut as bench/stitch_fields.py cuts them from a section of LumenStone photos
(../shared/data), 1698 × 1273 px, moved off a 20 % overlap grid by up to ±15 px, turned by up
to ±0.3°, exposed by ±10 % and vignetted (corners 25 % darker), plus two things no stage of the
run removes: light that tilts across each field in a random direction (±TILT at its corners,
not in the blank field), and radial lens distortion K1 (about 1.6 px at a field's corner), so
overlapping fields differ in shading and by a pixel or two in place. Each set is stitched
(rigid model, the grid prior) with the blank field (the tilt is left: small steps of shading)
and without it (the vignetting is left too: large steps), in three ways each. Two sets:

- validation: 3 × 3 fields from a section of the 9 photos on the validation side of the split
  rule (orescope.io.splits). Every choice is made here: the default --blend (the one whose
  seams show least, both ways), the bands (tried without the blank field, where steps are
  largest: the fewest whose shading step is within 2 % of the least), and the halo.
- report: 25 fields (5 × 5, as bench/stitch_fields.py) from a section of 25 photos of the
  other sides (stitching learns nothing from them). Only reported.

Measured against the true section resampled to the panorama (its level matched):

- seam_step: bench/stitch_fields.py's seam measure, the mean absolute difference between
  neighbouring pixels across field edges (seam_step_truth: the same in the truth);
- shading_step: how large the steps of shading are where fields meet: the 99th percentile,
  over the overlaps, of the difference between neighbouring pixels of the panorama's error
  against the truth smoothed by a Gaussian of 8 px (the texture, and a pixel's misplacement,
  smoothed away; a step along a seam is what stays);
- sharpness: the mean absolute Laplacian of the panorama over the truth's in the overlaps (1:
  as sharp; fields averaged out of register show doubled and lower it);
- mae_overlaps: the mean absolute error in the overlaps;
- wall and CPU seconds and peak resident memory of the job.

Halo: four fields of a validation photo, blended by orescope.preprocess.blend.multiband in
tiles of 256 px with a halo of 1–4 times 2 ** bands px, against the same blended whole: the
largest and the mean difference in grey levels.

Prints the numbers and writes bench/results/stitch_blending.json (or --out).

    OMP_NUM_THREADS=1 python bench/stitch_blending.py [--data ../shared/data] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import zarr
from scipy.ndimage import binary_erosion
from skimage.transform import EuclideanTransform

from orescope.io import load_lumenstone, read_image, write_image
from orescope.io.splits import assign_splits
from orescope.preprocess.blend import HALO_SCALE, feather_weights, multiband

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stitch_fields import stitch_in_child  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, OVERLAP, MARGIN = 1698, 1273, 0.2, 40  # as bench/stitch_fields.py
OFFSET_PX, ROTATION_DEG, GAIN, VIGNETTE = 15.0, 0.3, 0.1, 0.25
TILT = 0.06  # light tilts across a field: ±6 % at its corners
K1 = 0.0015  # radial distortion, of the radius normalised by the half-diagonal
BANDS = (3, 4, 5, 6, 7)  # multi-band's halvings tried on the validation set
HALO_SCALES = (1, 2, 3, 4)  # halos tried, in px of the coarsest level
WAYS = {  # how each set is stitched
    "feather": {"seams": False, "blend": "feather"},
    "feather, seams": {"seams": True, "blend": "feather"},
    "multiband, seams": {"seams": True, "blend": "multiband"},
}


# The job in a child process; peak memory is the child's own high-water mark (VmHWM).
def photos(data: Path, validation: bool) -> list[Path]:
    """The LumenStone photos on the validation side of the split rule, or on the others."""
    samples = load_lumenstone(data / "lumenstone")[0]
    sides = assign_splits("lumenstone", [sample.stem for sample in samples])
    return [s.image_path for s in samples if (sides[s.stem] == "validation") == validation]


def section(paths: list[Path], columns: int, rows: int) -> np.ndarray:
    """A section for a grid of ``columns`` × ``rows`` fields: distinct photos side by side."""
    height = int(2 * MARGIN + HEIGHT * (1 + (rows - 1) * (1 - OVERLAP)))
    width = int(2 * MARGIN + WIDTH * (1 + (columns - 1) * (1 - OVERLAP)))
    across, down = -(-width // WIDTH), -(-height // HEIGHT)
    chosen = iter(paths[:: max(1, len(paths) // (across * down))])
    grid = [
        np.concatenate([read_image(next(chosen)) for _ in range(across)], axis=1)
        for _ in range(down)
    ]
    return np.concatenate(grid, axis=0)[:height, :width]


def cut_fields(
    source: np.ndarray, folder: Path, columns: int, rows: int, seed: int = 0
) -> pd.DataFrame:
    """The fields and the blank field as PNG; the truth (field → section) per field."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    centre, half_diagonal = np.array([WIDTH / 2, HEIGHT / 2]), np.hypot(WIDTH, HEIGHT) / 2
    x, y = x - centre[0], y - centre[1]
    light = 1 - VIGNETTE * ((x / centre[0]) ** 2 + (y / centre[1]) ** 2) / 2
    spread = 1 + K1 * (x**2 + y**2) / half_diagonal**2  # where a distorted pixel looks
    seen_x, seen_y = x * spread + centre[0], y * spread + centre[1]
    folder.mkdir(parents=True)
    truth = []
    for row in range(rows):
        for column in range(columns):
            angle = np.radians(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
            origin = MARGIN + np.array([column * WIDTH, row * HEIGHT]) * (1 - OVERLAP)
            origin += rng.uniform(-OFFSET_PX, OFFSET_PX, 2)
            turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            matrix = np.hstack([turn, (origin + centre - turn @ centre)[:, None]])
            map_x = matrix[0, 0] * seen_x + matrix[0, 1] * seen_y + matrix[0, 2]
            map_y = matrix[1, 0] * seen_x + matrix[1, 1] * seen_y + matrix[1, 2]
            maps = map_x.astype(np.float32), map_y.astype(np.float32)
            field = cv2.remap(source, *maps, cv2.INTER_CUBIC)
            direction = rng.uniform(0, 2 * np.pi)
            tilt = 1 + TILT * (x * np.cos(direction) + y * np.sin(direction)) / half_diagonal
            gain = rng.uniform(1 - GAIN, 1 + GAIN)
            exposed = field.astype(np.float32) * (gain * light * tilt)[..., None]
            name = f"field_{row}{column}.png"
            write_image(folder / name, np.clip(np.round(exposed), 0, 255).astype(np.uint8))
            truth.append({"field": name, "matrix": matrix, "gain": gain})
    write_image(folder.parent / "blank.png", np.round(220 * light).astype(np.uint8))
    table = pd.DataFrame(truth)
    table.attrs["grid"] = (columns, rows)
    return table


def section_to_panorama(poses: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """The best rigid map (3 × 3) from the section to the panorama: between where the found and
    the true poses put a 5 × 5 lattice of points of every field."""
    lattice = np.stack(
        np.meshgrid(np.linspace(0, WIDTH - 1, 5), np.linspace(0, HEIGHT - 1, 5)), -1
    ).reshape(-1, 2)
    found, true = [], []
    for row in poses.merge(truth, on="field").itertuples():
        matrix = np.array([[row.a00, row.a01, row.x_px], [row.a10, row.a11, row.y_px]])
        found.append(lattice @ matrix[:, :2].T + matrix[:, 2])
        true.append(lattice @ row.matrix[:, :2].T + row.matrix[:, 2])
    return EuclideanTransform.from_estimate(np.concatenate(true), np.concatenate(found)).params


def steps(gray: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Absolute differences of the horizontally and vertically neighbouring pixels of ``gray``
    both in ``where``."""
    across = np.abs(np.diff(gray, axis=1))[where[:, 1:] & where[:, :-1]]
    down = np.abs(np.diff(gray, axis=0))[where[1:] & where[:-1]]
    return np.concatenate([across, down])


def measures(out: Path, poses: pd.DataFrame, source: np.ndarray, truth: pd.DataFrame) -> dict:
    """The panorama against the true section: steps across field edges, steps of shading and
    sharpness in the overlaps, error in the overlaps."""
    group = zarr.open_group(str(out / "panorama.ome.zarr"), mode="r")
    panorama = np.moveaxis(np.asarray(group["0"]), 0, -1).astype(np.float32).mean(axis=2)
    height, width = panorama.shape
    back = np.linalg.inv(section_to_panorama(poses, truth))[:2]
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    true = cv2.warpAffine(source, back, (width, height), flags=flags).astype(np.float32)
    true = true.mean(axis=2)
    count = np.zeros((height, width), np.uint8)
    corners = np.array([[0, 0], [WIDTH - 1, 0], [WIDTH - 1, HEIGHT - 1], [0, HEIGHT - 1]])
    for row in poses.itertuples():
        matrix = np.array([[row.a00, row.a01, row.x_px], [row.a10, row.a11, row.y_px]])
        footprint = np.zeros_like(count)
        polygon = np.round(corners @ matrix[:, :2].T + matrix[:, 2]).astype(np.int32)
        cv2.fillConvexPoly(footprint, polygon, 1)
        count += footprint
    covered = binary_erosion(count > 0, iterations=8)  # the panorama's outer edge left out
    true *= panorama[covered].mean() / true[covered].mean()
    overlaps = covered & (count >= 2)
    edges_x = np.zeros_like(covered)
    edges_x[:, 1:] = count[:, 1:] != count[:, :-1]
    edges_y = np.zeros_like(covered)
    edges_y[1:] = count[1:] != count[:-1]
    edges = covered & (edges_x | edges_y)
    edges = edges | np.roll(edges, 1, axis=0) | np.roll(edges, 1, axis=1)  # both pixels of a pair
    shading = steps(cv2.GaussianBlur(panorama - true, (0, 0), 8.0), overlaps)
    detail = [
        np.abs(cv2.Laplacian(image, cv2.CV_32F))[overlaps].mean() for image in (panorama, true)
    ]
    return {
        "seam_step": float(steps(panorama, edges).mean()),
        "seam_step_truth": float(steps(true, edges).mean()),
        "shading_step": float(np.percentile(shading, 99)),
        "sharpness": float(detail[0] / detail[1]),
        "mae_overlaps": float(np.abs(panorama - true)[overlaps].mean()),
    }


def run(
    folder: Path, name: str, config: dict, blank: bool, source: np.ndarray, truth: pd.DataFrame
) -> dict:
    """The stitch job in a child process, and its panorama measured against the truth."""
    out = folder / name.replace(", ", "_").replace(" ", "_")
    measured = stitch_in_child(
        folder / "fields", out, folder / "blank.png" if blank else None, config
    )
    poses = pd.read_csv(out / "poses.csv")
    return {**measured, **measures(out, poses, source, truth)}


def halo_differences(photo: np.ndarray, bands: int) -> dict:
    """Largest and mean grey-level difference between a panorama of four fields of ``photo``
    blended in 256 px tiles and blended whole, per halo."""
    rng = np.random.default_rng(1)
    size, tile = (360, 480), 256
    weights = feather_weights(*size)
    pieces = []
    for top, left in ((0, 0), (280, 10), (6, 390), (290, 395)):
        field = photo[top : top + size[0], left : left + size[1]].astype(np.float32)
        shift = rng.uniform(0, 1, 2)
        matrix = np.array([[1, 0, left + shift[0]], [0, 1, top + shift[1]], [0, 0, 1]])
        pieces.append((field * rng.uniform(0.9, 1.1), weights, matrix))
    height, width = 640, 870
    whole = multiband((height, width, 3), pieces, bands, 8 * 2**bands)
    measured = {}
    for scale in HALO_SCALES:
        tiled = np.zeros_like(whole)
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                rows, columns = min(tile, height - top), min(tile, width - left)
                moved = [(f, w, m - [[0, 0, left], [0, 0, top], [0, 0, 0]]) for f, w, m in pieces]
                blended = multiband((rows, columns, 3), moved, bands, scale * 2**bands)
                tiled[top : top + rows, left : left + columns] = blended
        difference = np.abs(tiled - whole)
        measured[str(scale)] = {"max": float(difference.max()), "mean": float(difference.mean())}
    return measured


def stitch(folder: Path, source: np.ndarray, truth: pd.DataFrame, how: dict) -> dict:
    """One run on the fields in ``folder``: ``how`` holds the way, the light and the bands."""
    grid = list(truth.attrs["grid"])
    config = {"model": "rigid", "grid": grid, "overlap": OVERLAP, "bands": how["bands"]}
    config |= WAYS[how["way"]]
    name = f"{how['way']} {how['light']} {how['bands']}"
    measured = run(folder, name, config, how["light"] == "blank", source, truth)
    print(
        f"{grid[0]}x{grid[1]} {how['light']}, {how['way']} ({how['bands']} bands): seam step "
        f"{measured['seam_step']:.2f} (truth {measured['seam_step_truth']:.2f}), shading step "
        f"{measured['shading_step']:.3f}, sharpness {measured['sharpness']:.3f}, error in "
        f"overlaps {measured['mae_overlaps']:.2f}; {measured['wall_s']:.0f} s, peak "
        f"{measured['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return measured


def every_way(folder: Path, source: np.ndarray, truth: pd.DataFrame, bands: int) -> dict:
    """Each way, with the blank field and without."""
    return {
        light: {
            way: stitch(folder, source, truth, {"way": way, "light": light, "bands": bands})
            for way in WAYS
        }
        for light in ("blank", "no blank")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "stitch_blending.json"
    )
    args = parser.parse_args()
    result: dict = {
        "field_px": [WIDTH, HEIGHT],
        "overlap": OVERLAP,
        "truth": {"offset_px": OFFSET_PX, "rotation_deg": ROTATION_DEG, "gain": GAIN},
        "vignette": VIGNETTE,
        "tilt": TILT,
        "k1": K1,
        "model": "rigid",
        "cpus": os.cpu_count(),
        "chosen_on": "validation",
        "sets": {},
    }
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "validation"
        source = section(photos(args.data, True), 3, 3)
        truth = cut_fields(source, folder / "fields", 3, 3)
        tried = {
            str(bands): stitch(
                folder,
                source,
                truth,
                {"way": "multiband, seams", "light": "no blank", "bands": bands},
            )
            for bands in BANDS
        }
        least = min(run["shading_step"] for run in tried.values())
        bands = next(b for b in BANDS if tried[str(b)]["shading_step"] <= 1.02 * least)
        runs = every_way(folder, source, truth, bands)
        seen = {
            way: np.mean([runs[light][way]["shading_step"] for light in runs])
            for way in ("feather, seams", "multiband, seams")
        }
        result |= {"bands": bands, "blend": min(seen, key=seen.__getitem__).split(",")[0]}
        result["sets"]["validation"] = {"grid": [3, 3], "bands_tried": tried, "runs": runs}
        result["halo_scale"] = HALO_SCALE
        result["halo"] = halo_differences(read_image(photos(args.data, True)[0]), bands)
        folder = Path(temporary) / "report"
        source = section(photos(args.data, False), 5, 5)
        truth = cut_fields(source, folder / "fields", 5, 5)
        runs = every_way(folder, source, truth, bands)
        result["sets"]["report"] = {"grid": [5, 5], "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
