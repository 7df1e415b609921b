"""Panorama stitching (paper 003 §4) on fields cut from a synthetic texture with known offsets,
rotations, perspective, lens distortion, exposures and vignetting: poses, lens, gains and the
blended panorama against the truth, fields that match nothing, and bad input."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import zarr
from scipy.ndimage import binary_erosion
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.io import write_image
from orescope.jobs.stitch_run import StitchConfig, run_stitch
from orescope.preprocess.blend import exposure_gains, feather_weights
from orescope.preprocess.lens import Lens
from orescope.preprocess.stitch import (
    DETECT_ROWS,
    PairMatch,
    detect_features,
    grid_cells,
    grid_neighbours,
    solve_poses,
)

WIDTH, HEIGHT, OVERLAP = 200, 150, 0.25
STEP = np.array([WIDTH, HEIGHT]) * (1 - OVERLAP)
MARGIN = 20  # px of texture around the grid, so that a field moved off its place stays inside


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Float RGB texture of blobs at three scales, 0–255: enough SIFT keypoints in a strip."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for sigma in (1.5, 4.0, 10.0):
        out += sigma * cv2.GaussianBlur(
            rng.standard_normal((height, width, 3), np.float32), (0, 0), sigma
        )
    return np.clip(128 + 40 * (out - out.mean()) / out.std(), 0, 255)


SOURCE = texture(int(HEIGHT + 2 * STEP[1]) + 2 * MARGIN, int(WIDTH + 2 * STEP[0]) + 2 * MARGIN, 0)
# vignetting: the corners of every field get 20 % less light; the blank field shows it
VIGNETTE = (
    1 - 0.2 * np.add.outer(np.linspace(-1, 1, HEIGHT) ** 2, np.linspace(-1, 1, WIDTH) ** 2) / 2
).astype(np.float32)


def pose(
    x: float, y: float, degrees: float = 0.0, tilt: tuple[float, float] = (0, 0)
) -> np.ndarray:
    """3 × 3 matrix from a field's pixels to the source's: tilted by the perspective ``tilt``
    (per px, about the field's centre), turned by ``degrees`` about its centre, its origin
    (before turning) at (x, y)."""
    angle = np.radians(degrees)
    centre = np.array([[1, 0, WIDTH / 2], [0, 1, HEIGHT / 2], [0, 0, 1]])
    turn = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0]])
    perspective = np.array([[1, 0, 0], [0, 1, 0], [*tilt, 1]])
    move = np.array([[1, 0, x], [0, 1, y], [0, 0, 1]])
    return move @ centre @ np.vstack([turn, [0, 0, 1]]) @ perspective @ np.linalg.inv(centre)


def cut(
    matrix: np.ndarray, gain: float, source: np.ndarray = SOURCE, k1: float = 0.0
) -> np.ndarray:
    """A uint8 field seen through ``matrix`` and a lens of radial distortion ``k1``, exposed by
    ``gain`` and vignetted: each photo pixel shows the source where its undistorted position
    lies."""
    rows, columns = np.mgrid[:HEIGHT, :WIDTH]
    seen = np.column_stack([columns.ravel(), rows.ravel()]).astype(np.float64)
    undistorted = Lens((WIDTH, HEIGHT), k1).undistort_points(seen)
    where = cv2.perspectiveTransform(undistorted[None], matrix)[0].astype(np.float32)
    maps = where.reshape(HEIGHT, WIDTH, 2)
    field = cv2.remap(source, maps[..., 0], maps[..., 1], cv2.INTER_CUBIC)
    return np.clip(np.round(field * gain * VIGNETTE[..., None]), 0, 255).astype(np.uint8)


def grid_fields(
    folder: Path,
    degrees: float,
    order: str = "row",
    seed: int = 1,
    tilt: float = 0.0,
    k1: float = 0.0,
) -> pd.DataFrame:
    """A 3 × 3 grid of fields, named in the stage's ``order``, each moved off its nominal
    place by up to ±4 px (the first four by whole pixels), turned by up to ±``degrees``,
    tilted by perspective terms of up to ±``tilt`` per px (a stage that tilts as it moves),
    seen through a lens of distortion ``k1``, and exposed by 0.9–1.1; the blank field beside
    them. Returns the truth per field."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, (column, row) in enumerate(grid_cells(3, 3, order)):
        shift = rng.uniform(-4, 4, 2)
        shift = np.round(shift) if index < 4 else shift
        x, y = MARGIN + np.array([column, row]) * STEP + shift
        turn, gain = rng.uniform(-degrees, degrees), rng.uniform(0.9, 1.1)
        tilted = tuple(rng.uniform(-tilt, tilt, 2)) if tilt else (0.0, 0.0)
        matrix = pose(x, y, turn, tilted)
        write_image(folder / f"field_{index:02d}.png", cut(matrix, gain, k1=k1))
        rows.append({"field": f"field_{index:02d}.png", "matrix": matrix, "gain": gain})
    write_image(folder.parent / "blank.png", np.round(200 * VIGNETTE).astype(np.uint8))
    return pd.DataFrame(rows)


def found_pose(row) -> np.ndarray:
    """The 3 × 3 pose of a row of ``poses.csv``."""
    return np.array(
        [[row.a00, row.a01, row.x_px], [row.a10, row.a11, row.y_px], [row.a20, row.a21, 1.0]]
    )


def corner_errors(
    poses: pd.DataFrame, truth: pd.DataFrame, k1: float = 0.0, frame_model: str = "similarity"
) -> tuple[np.ndarray, np.ndarray]:
    """Px between where the panorama and the truth put what each field's corners and centre
    show (fields seen through a lens of distortion ``k1``; the run's own lens undone as it
    says), after the best map between the two frames (the panorama's frame is arbitrary): a
    ``similarity``, or a ``homography`` for tilted fields; and that 3 × 3 map."""
    points = np.array([[0, 0], [WIDTH - 1, 0], [0, HEIGHT - 1], [WIDTH - 1, HEIGHT - 1], [99, 74]])
    found, true = [], []
    for row in poses.merge(truth, on="field").itertuples():
        undone = Lens((WIDTH, HEIGHT), row.k1, row.k2).undistort_points(points.astype(float))
        seen = Lens((WIDTH, HEIGHT), k1).undistort_points(points.astype(float))
        found.append(cv2.perspectiveTransform(undone[None], found_pose(row))[0])
        true.append(cv2.perspectiveTransform(seen[None], row.matrix)[0])
    found_points, true_points = np.concatenate(found), np.concatenate(true)
    if frame_model == "similarity":
        frame = cv2.estimateAffinePartial2D(true_points, found_points, method=cv2.LMEDS)[0]
        frame = np.vstack([frame, [0, 0, 1]])
    else:
        frame = cv2.findHomography(true_points, found_points, 0)[0]
    mapped = cv2.perspectiveTransform(true_points[None], frame)[0]
    return np.hypot(*(mapped - found_points).T), frame


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    """Fields moved by whole and sub-pixel offsets, stitched without a grid."""
    folder = tmp_path_factory.mktemp("translated")
    truth = grid_fields(folder / "fields", degrees=0.0)
    outcome = run_stitch(
        folder / "fields", folder / "out", blank=folder / "blank.png", progress=False
    )
    return folder, truth, outcome


def test_offsets_are_recovered_within_a_third_of_a_pixel(translated):
    _, truth, outcome = translated
    errors, _ = corner_errors(outcome.poses, truth)
    assert len(outcome.poses) == 9 and outcome.unmatched.empty
    assert errors.max() < 0.3
    assert set(outcome.poses.placed_by) == {"matches"}
    assert (outcome.poses.matches >= 20).all() and (outcome.poses.residual_px < 0.5).all()


def test_exposure_gains_undo_the_exposures(translated):
    _, truth, outcome = translated
    table = outcome.poses.merge(truth, on="field")
    for channel in ("gain_r", "gain_g", "gain_b"):
        undone = table[channel] * table.gain
        assert np.ptp(undone / undone.mean()) < 0.01


def test_the_panorama_is_the_source_where_fields_cover_it(translated):
    _, truth, outcome = translated
    _, frame = corner_errors(outcome.poses, truth)
    group = zarr.open_group(str(outcome.panorama), mode="r")
    multiscales = group.attrs["ome"]["multiscales"][0]
    assert [axis["name"] for axis in multiscales["axes"]] == ["c", "y", "x"]
    panorama = np.moveaxis(np.asarray(group[multiscales["datasets"][0]["path"]]), 0, -1)
    assert panorama.shape == (*outcome.shape, 3) and panorama.dtype == np.uint8
    height, width = outcome.shape
    back = np.linalg.inv(frame)  # panorama -> source
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    expected = cv2.warpPerspective(SOURCE, back, (width, height), flags=flags)
    covered = binary_erosion(panorama.max(axis=2) > 0, iterations=3)
    values, wanted = panorama[covered].astype(float), expected[covered]
    level = values.mean() / wanted.mean()  # exposure and flat field leave one common factor
    difference = np.abs(values - level * wanted)
    assert covered.mean() > 0.95
    assert difference.mean() < 1.0 and np.percentile(difference, 99) < 4


def test_small_rotations_are_recovered_with_a_snake_grid_prior(tmp_path):
    truth = grid_fields(tmp_path / "fields", degrees=0.5, order="snake", seed=2)
    config = StitchConfig(model="rigid", grid=(3, 3), overlap=OVERLAP, order="snake")
    outcome = run_stitch(tmp_path / "fields", tmp_path / "out", config, progress=False)
    errors, frame = corner_errors(outcome.poses, truth)
    assert errors.max() < 0.3
    found = outcome.poses.merge(truth, on="field")
    true_degrees = [np.degrees(np.arctan2(m[1, 0], m[0, 0])) for m in found.matrix]
    turned = np.degrees(np.arctan2(frame[1, 0], frame[0, 0]))
    assert np.abs(found.rotation_deg - true_degrees - turned).max() < 0.05
    assert (tmp_path / "out" / "config.yaml").read_text().count("snake") == 1


def test_a_field_without_keypoints_is_placed_by_the_grid_and_reported(tmp_path):
    grid_fields(tmp_path / "fields", degrees=0.0)
    write_image(tmp_path / "fields" / "field_04.png", np.full((HEIGHT, WIDTH, 3), 90, np.uint8))
    config = StitchConfig(grid=(3, 3), overlap=OVERLAP)
    outcome = run_stitch(tmp_path / "fields", tmp_path / "out", config, progress=False)
    assert outcome.unmatched.to_dict("records") == [
        {
            "field": "field_04.png",
            "reason": "no keypoints (blank, out of focus or without texture?)",
            "placed": "by the grid prior",
        }
    ]
    centre = outcome.poses.set_index("field").loc["field_04.png"]
    assert centre.placed_by == "grid prior" and centre.neighbours == ""
    # it lies on the grid between its neighbours, whose own errors are up to ±4 px
    left = outcome.poses.set_index("field").loc["field_03.png"]
    assert abs(centre.x_px - left.x_px - STEP[0]) < 8 and abs(centre.y_px - left.y_px) < 8
    written = pd.read_csv(tmp_path / "out" / "unmatched.csv")
    assert list(written.field) == ["field_04.png"]


def stitch_command(arguments: list[str]):
    """``orescope stitch ARGUMENTS``."""
    return CliRunner().invoke(app, ["stitch", *arguments])


def test_a_field_from_elsewhere_is_left_out_and_printed(tmp_path):
    grid_fields(tmp_path / "fields", degrees=0.0)
    elsewhere = texture(HEIGHT, WIDTH, seed=7)
    write_image(tmp_path / "fields" / "field_08.png", cut(np.eye(3), 1.0, elsewhere))
    done = stitch_command([str(tmp_path / "fields"), "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "8 fields stitched" in done.output
    assert (
        "unmatched: field_08.png: no other field shares 12 consistent keypoint matches with it "
        "(left out)" in done.output
    )
    assert "field_08.png" not in set(pd.read_csv(tmp_path / "out" / "poses.csv").field)


def test_solve_poses_drops_a_pair_that_disagrees_with_the_rest():
    origins = np.array([[0, 0], [150, 0], [0, 112], [150, 112]], float)  # a 2 × 2 grid
    rng = np.random.default_rng(0)
    matches = []
    for i, j in grid_neighbours(grid_cells(2, 2, "row")) + [(0, 3)]:
        seen = rng.uniform(origins[j], origins[i] + [WIDTH, HEIGHT], (30, 2))  # their overlap
        false = 37.0 if (i, j) == (0, 3) else 0.0  # the diagonal pair matched repeated texture
        matches.append(PairMatch(i, j, seen - origins[i] + false, seen - origins[j]))
    for model in ("translation", "rigid", "affine", "homography"):
        poses = solve_poses(4, matches, model, (WIDTH, HEIGHT))
        assert np.abs(poses.matrices[:, :2, 2] - origins).max() < 1e-6
        assert np.abs(poses.matrices[:, :, :2] - np.eye(3, 2)).max() < 1e-9
        assert np.all(poses.matrices[:, 2, 2] == 1)
        assert [(m.first, m.second) for m in poses.dropped] == [(0, 3)]


def test_keypoints_found_band_by_band_lie_where_the_whole_field_has_them():
    gray = cv2.cvtColor(np.round(SOURCE).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    assert gray.shape[0] > DETECT_ROWS  # more than one band
    banded = detect_features(gray).points
    whole = np.array([k.pt for k in cv2.SIFT_create().detect(gray, None)])
    nearest = np.hypot(*(banded[:, None] - whole[None]).transpose(2, 0, 1)).min(axis=1)
    assert len(banded) > 200 and (nearest < 0.01).mean() > 0.97


def test_exposure_gains_make_overlaps_agree():
    # field 1 twice as bright as field 0, field 2 half as bright as field 1; field 3 alone
    overlaps = [(0, 1, np.array([50.0]), np.array([100.0]), 1000)]
    overlaps.append((1, 2, np.array([100.0]), np.array([50.0]), 1000))
    gains = exposure_gains(4, 1, overlaps)[:, 0]
    assert gains[0] == pytest.approx(2 * gains[1], rel=1e-5)
    assert gains[2] == pytest.approx(2 * gains[1], rel=1e-5)
    assert gains[3] == pytest.approx(1.0) and np.prod(gains[:3]) == pytest.approx(1, rel=1e-3)


def test_feather_weights_fade_to_every_edge():
    weights = feather_weights(4, 6)
    assert weights.shape == (4, 6) and np.array_equal(weights, weights[::-1, ::-1])
    assert weights[0, 0] == weights.min() > 0 and weights.max() == weights[1:3, 2:4].max()


def test_sixteen_bit_fields_make_a_sixteen_bit_panorama(tmp_path):
    for index, x in enumerate((MARGIN, MARGIN + STEP[0])):
        field = cut(pose(x, MARGIN), 1.0).astype(np.uint16) * 257
        write_image(tmp_path / "fields" / f"{index}.tif", field)
    outcome = run_stitch(tmp_path / "fields", tmp_path / "out", progress=False)
    level = zarr.open_group(str(outcome.panorama), mode="r")["0"]
    # the panorama's edge is rounded outwards: a pose a hair off the pixel grid adds a pixel
    assert level.dtype == np.uint16 and level.shape[0] == 3
    assert level.shape[1] - HEIGHT in (0, 1) and level.shape[2] - WIDTH - STEP[0] in (0, 1)
    assert outcome.poses.x_px.tolist() == pytest.approx([0, STEP[0]], abs=0.1)


def odd_fields(folder: Path, odd: str) -> list[str]:
    """A 2 × 2 grid of fields, one of them made ``odd``; the arguments to stitch them."""
    for index, (column, row) in enumerate(grid_cells(2, 2, "row")):
        x, y = MARGIN + np.array([column, row]) * STEP
        source = texture(400, 400, seed=10 + index) if odd == "apart" else SOURCE
        write_image(folder / "fields" / f"{index}.png", cut(pose(x, y), 1.0, source))
    arguments = [str(folder / "fields"), "--out", str(folder / "out")]
    if odd == "size":
        write_image(folder / "fields" / "2.png", np.zeros((HEIGHT, WIDTH + 1, 3), np.uint8))
    elif odd == "depth":
        write_image(folder / "fields" / "2.png", np.zeros((HEIGHT, WIDTH, 3), np.uint16))
    elif odd == "blank":
        write_image(folder / "blank.png", np.full((HEIGHT // 2, WIDTH // 2, 3), 200, np.uint8))
        arguments += ["--blank", str(folder / "blank.png")]
    return arguments


@pytest.mark.parametrize(
    ("odd", "named", "reason"),
    [
        ("size", "fields/2.png", "201 × 150 px, but 0.png is 200 × 150 px"),
        ("depth", "fields/2.png", "uint16 pixels, but 0.png has uint8"),
        ("blank", "blank.png", "a blank field of 100 × 75 px, but the fields are 200 × 150 px"),
        ("apart", "fields", "no two of its 4 fields overlap"),
    ],
)
def test_bad_input_is_one_line_naming_the_file(tmp_path, odd, named, reason):
    done = stitch_command(odd_fields(tmp_path, odd))
    assert done.exit_code == 2
    errors = [line for line in done.output.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {tmp_path / named}: {reason}")
    assert not (tmp_path / "out" / "panorama.ome.zarr").exists()


def in_panorama(field: np.ndarray, row, shape: tuple[int, int]) -> np.ndarray:
    """A field as the panorama would show it alone: gained and moved by its pose in ``row``."""
    gained = field * np.array([row.gain_r, row.gain_g, row.gain_b], np.float32)
    return cv2.warpPerspective(gained, found_pose(row), shape[::-1], flags=cv2.INTER_CUBIC)


def distance_to(shape: tuple[int, int], y: float, x: float) -> np.ndarray:
    """Each pixel's distance to (x, y)."""
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(rows - y, columns - x)


@pytest.mark.parametrize("seams", [True, False])
def test_a_blob_one_field_alone_shows_is_cut_around_not_ghosted(tmp_path, seams):
    # two fields side by side; the left one shows a bright blob (dust) in their overlap
    fields = [cut(pose(x, MARGIN), 1.0).astype(np.float32) for x in (MARGIN, MARGIN + STEP[0])]
    blob_x, blob_y, radius = WIDTH - 25, HEIGHT // 2, 12  # in the left field
    dust = 100 * np.exp(-((distance_to((HEIGHT, WIDTH), blob_y, blob_x) / 6) ** 2) / 2)
    fields[0] = np.clip(fields[0] + dust[..., None], 0, 255)
    for index, field in enumerate(fields):
        write_image(tmp_path / "fields" / f"{index}.png", np.round(field).astype(np.uint8))
    config = StitchConfig(seams=seams, blend="feather")  # multiband mixes in its coarse bands
    outcome = run_stitch(tmp_path / "fields", tmp_path / "out", config, progress=False)
    level = zarr.open_group(str(outcome.panorama), mode="r")["0"]
    panorama = np.moveaxis(np.asarray(level), 0, -1).astype(np.float32)
    left, right = (
        in_panorama(np.round(field), row, outcome.shape)
        for field, row in zip(fields, outcome.poses.itertuples(), strict=True)
    )
    row = outcome.poses.iloc[0]
    blob = distance_to(outcome.shape, blob_y + row.y_px, blob_x + row.x_px) < radius
    off_left = np.abs(panorama - left).max(axis=2)[blob]
    off_right = np.abs(panorama - right).max(axis=2)[blob]
    if seams:  # the whole blob from one field: the seam runs around it
        assert min(off_left.max(), off_right.max()) <= 3
    else:  # feathering: both fields show through, the blob half-transparent
        assert np.minimum(off_left, off_right).max() > 20


def test_homography_follows_fields_that_tilt_where_affine_cannot(tmp_path):
    truth = grid_fields(tmp_path / "fields", degrees=0.3, tilt=2e-4)  # ±2 % across a field
    errors = {}
    for model in ("homography", "affine"):
        config = StitchConfig(model=model, grid=(3, 3), overlap=OVERLAP)
        outcome = run_stitch(tmp_path / "fields", tmp_path / model, config, progress=False)
        missed, _ = corner_errors(outcome.poses, truth, frame_model="homography")
        errors[model] = np.sqrt(np.mean(missed**2))
        perspective = outcome.poses[["a20", "a21"]].abs().to_numpy()
        assert len(outcome.poses) == 9 and outcome.unmatched.empty
        assert (perspective.max() > 5e-5) == (model == "homography")
    assert errors["homography"] < 0.5 and errors["affine"] > 1.0


@pytest.fixture(scope="module")
def distorted(tmp_path_factory):
    """Fields seen through a barrel-distorting lens, k1 = -0.08 (corners 10 px inwards)."""
    folder = tmp_path_factory.mktemp("distorted")
    return folder, grid_fields(folder / "fields", degrees=0.3, k1=-0.08, seed=3)


@pytest.mark.parametrize(
    ("distortion", "largest_px"), [(None, np.inf), ((-0.08, 0.0), 0.15), ("auto", 0.15)]
)
def test_lens_distortion_given_or_estimated_is_undone(distorted, distortion, largest_px):
    folder, truth = distorted
    config = StitchConfig(model="rigid", grid=(3, 3), overlap=OVERLAP, distortion=distortion)
    blank = folder / "blank.png"  # seen through the lens too: undone before it
    outcome = run_stitch(folder / "fields", folder / str(distortion), config, blank, False)
    errors, _ = corner_errors(outcome.poses, truth, k1=-0.08)
    assert len(outcome.poses) == 9 and outcome.unmatched.empty
    if distortion is None:  # the poses cannot bend a field: its corners land px off
        assert outcome.lens is None and np.sqrt(np.mean(errors**2)) > 3
    else:
        assert errors.max() < largest_px
        assert outcome.lens.k1 == pytest.approx(-0.08, abs=0.002)
        assert outcome.poses.k1.tolist() == [round(outcome.lens.k1, 6)] * 9
        table = outcome.poses.merge(truth, on="field")  # gains of the undistorted overlaps
        undone = table.gain_g * table.gain
        assert np.ptp(undone / undone.mean()) < 0.015


def test_stitch_prints_the_estimated_lens_distortion(distorted):
    folder, _ = distorted
    arguments = [str(folder / "fields"), "--out", str(folder / "cli"), "--grid", "3x3"]
    done = stitch_command([*arguments, "--overlap", "0.25", "--distortion", "auto"])
    assert done.exit_code == 0, done.output
    assert "lens distortion undone (estimated): k1 = -0.08" in done.output
    assert pd.read_csv(folder / "cli" / "poses.csv").k1.between(-0.082, -0.078).all()


def test_lens_moves_points_radially_in_half_diagonals_about_the_centre():
    lens = Lens((201, 101), k1=-0.1, k2=0.02)  # centre (100, 50), half-diagonal √12500
    undistorted = np.array([[100.0, 50.0], [200.0, 100.0], [0.0, 60.0], [150.0, 10.0]])
    offsets = (undistorted - [100, 50]) / np.sqrt(12500)
    squared = (offsets**2).sum(axis=1, keepdims=True)
    seen = [100, 50] + offsets * (1 - 0.1 * squared + 0.02 * squared**2) * np.sqrt(12500)
    assert lens.undistort_points(seen) == pytest.approx(undistorted, abs=1e-6)
    barrel, pincushion = lens.seen, Lens((201, 101), k1=0.1).seen
    assert barrel.min() == 1  # a barrel lens saw past every edge: all the frame is seen
    assert pincushion[0, 0] == 0 and pincushion[50, 100] == 1


@pytest.mark.parametrize("text", ["strong", "1.5", "-0.1,0.2,0.3", "-0.1,x", ""])
def test_absurd_distortion_is_one_line(tmp_path, text):
    done = stitch_command([str(tmp_path), "--out", str(tmp_path / "out"), "--distortion", text])
    assert done.exit_code == 2
    errors = [line for line in done.output.splitlines() if line.startswith("error")]
    assert errors == [
        f"error: --distortion {text!r}: give K1 or K1,K2 (radial coefficients "
        "between -1 and 1, e.g. -0.05) or auto"
    ]
