"""Blending a panorama's tile (``orescope.preprocess.blend.blend_tile``): the weighted average,
and multi-band blending on fields with a known exposure step, tiled two ways."""

import cv2
import numpy as np
import zarr

from orescope.io import write_image
from orescope.jobs import stitch_run
from orescope.jobs.stitch_run import StitchConfig, run_stitch
from orescope.preprocess.blend import (
    SEAM_FLOOR,
    SEAM_SOFTNESS_PX,
    blend_tile,
    feather_weights,
    multiband,
)

HEIGHT, WIDTH, SHIFT = 120, 160, 96  # two fields side by side overlap by 64 px
SEAM = WIDTH // 2 + SHIFT // 2  # the middle of their overlap, in the tile's columns
COLUMNS = np.arange(WIDTH)


def moved(x: float, y: float = 0.0) -> np.ndarray:
    """3 × 3 matrix from a field's pixels to the tile's: a shift by (x, y)."""
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def texture(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    """uint8 texture of blobs at two scales around grey 120."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((height, width, channels)).astype(np.float32)
    blobs = sum(cv2.GaussianBlur(noise, (0, 0), sigma) for sigma in (1.0, 4.0))
    blobs = blobs.reshape(height, width, channels)
    return np.clip(np.round(120 + 30 * blobs / blobs.std()), 0, 255).astype(np.uint8)


def seam_side(shown: np.ndarray) -> np.ndarray:
    """Weights of a field that shows where ``shown`` (per column) is true, as seam_weights
    makes them: feather times the seam mask softened, with its floor."""
    mask = np.repeat(shown.astype(np.float32)[None], HEIGHT, axis=0)
    soft = cv2.GaussianBlur(mask, (0, 0), SEAM_SOFTNESS_PX)
    return feather_weights(HEIGHT, WIDTH) * np.maximum(soft, SEAM_FLOOR)


def two_fields(left: np.ndarray, right: np.ndarray) -> list:
    """``left`` at the tile's origin and ``right`` SHIFT px to its right, split at SEAM."""
    return [
        (left, seam_side(COLUMNS < SEAM), moved(0)),
        (right, seam_side(COLUMNS + SHIFT >= SEAM), moved(SHIFT)),
    ]


def test_without_bands_the_tile_is_the_weighted_average():
    first, second = texture(HEIGHT, WIDTH, 3, 0), texture(HEIGHT, WIDTH, 3, 1)
    pieces = two_fields(first, second)
    tile = blend_tile((HEIGHT, WIDTH + SHIFT, 3), pieces, np.dtype(np.uint8))
    total = np.zeros((HEIGHT, WIDTH + SHIFT, 3), np.float32)
    weight = np.zeros((HEIGHT, WIDTH + SHIFT), np.float32)
    for field, weights, matrix in pieces:
        left = int(matrix[0, 2])
        total[:, left : left + WIDTH] += field * weights[..., None]
        weight[:, left : left + WIDTH] += weights
    expected = np.round(total / weight[..., None]).astype(np.uint8)
    assert tile.dtype == np.uint8
    assert np.array_equal(tile, expected)


def test_one_field_alone_is_reproduced_and_nothing_else_is_drawn():
    field = (texture(HEIGHT, WIDTH, 1, 2).astype(np.uint16) * 257)[..., 0]
    weights = feather_weights(HEIGHT, WIDTH)
    tile = blend_tile((256, 256, 1), [(field, weights, moved(30, 40))], np.dtype(np.uint16), 5)
    assert tile.dtype == np.uint16 and tile.shape == (256, 256, 1)
    assert np.array_equal(tile[40 : 40 + HEIGHT, 30 : 30 + WIDTH, 0], field)
    tile[40 : 40 + HEIGHT, 30 : 30 + WIDTH] = 0
    assert not tile.any()


def test_multiband_spreads_an_exposure_step_and_keeps_each_field_beyond_the_overlap():
    picture = texture(HEIGHT, WIDTH + SHIFT, 1, 3) // 2  # detail of ±15 levels
    dark, bright = picture[:, :WIDTH] + 40, picture[:, SHIFT:] + 60  # exposed 20 levels apart
    shape = (HEIGHT, WIDTH + SHIFT, 1)

    def step(tile: np.ndarray) -> float:
        """Mean absolute difference between neighbouring columns, 5 px either side of the
        seam, of the tile's exposure over the picture's (40 on the left, 60 on the right)."""
        exposure = (tile[..., 0].astype(float) - picture[..., 0]).mean(axis=0)
        return float(np.abs(np.diff(exposure[SEAM - 5 : SEAM + 5])).mean())

    feather = blend_tile(shape, two_fields(dark, bright), np.dtype(np.uint8))
    banded = blend_tile(shape, two_fields(dark, bright), np.dtype(np.uint8), bands=5)
    assert step(feather) > 1.5  # the 20 levels climbed within a few px
    assert step(banded) < 0.5  # spread over tens of px
    assert np.array_equal(banded[:, : SHIFT - 32], dark[:, : SHIFT - 32])
    assert np.array_equal(banded[:, WIDTH + 32 :], bright[:, WIDTH + 32 - SHIFT :])


def test_tiles_of_two_sizes_give_one_panorama():
    fields = [texture(HEIGHT, WIDTH, 3, seed) for seed in range(4)]
    origins = [(0.3, 0.6), (120.2, 4.1), (3.7, 95.4), (124.5, 99.8)]
    weights = feather_weights(HEIGHT, WIDTH)
    pieces = [
        (field * np.float32(0.9 + 0.05 * index), weights, moved(*origin))
        for index, (field, origin) in enumerate(zip(fields, origins, strict=True))
    ]
    height, width, bands = 224, 288, 4

    def tiled(side: int) -> np.ndarray:
        panorama = np.zeros((height, width, 3), np.float32)
        for top in range(0, height, side):
            for left in range(0, width, side):
                rows, columns = min(side, height - top), min(side, width - left)
                shifted = [(f, w, moved(-left, -top) @ m) for f, w, m in pieces]
                tile = blend_tile((rows, columns, 3), shifted, np.dtype(np.float32), bands)
                panorama[top : top + rows, left : left + columns] = tile
        return panorama

    small, large = tiled(32), tiled(96)
    whole = multiband((height, width, 3), pieces, bands, 8 * 2**bands)
    assert np.abs(small - large).max() < 0.01
    assert np.abs(small - whole).max() < 0.01
    assert not small[height - 3 :, :].any() and small[:100, :100].all()


def test_a_stitched_multiband_panorama_does_not_depend_on_its_tiles(tmp_path, monkeypatch):
    height, width, shift = 256, 320, 200  # 5 bands fit a field of 256 px
    scene = texture(height, width + shift, 3, 5)
    (tmp_path / "fields").mkdir()
    write_image(tmp_path / "fields" / "a.png", scene[:, :width])
    ramp = np.linspace(0.8, 1.2, height, dtype=np.float32)[:, None, None]
    lit = np.clip(scene[:, shift:] * ramp, 0, 255).astype(np.uint8)
    write_image(tmp_path / "fields" / "b.png", lit)  # light no gain undoes: steps at the seam
    panoramas = []
    for side in (1024, 32):  # one tile, and tiles of the coarsest level's 32 px
        monkeypatch.setattr(stitch_run, "TILE_PX", side)
        config = StitchConfig(blend="multiband", bands=5)
        outcome = run_stitch(tmp_path / "fields", tmp_path / str(side), config, progress=False)
        panoramas.append(np.asarray(zarr.open_group(str(outcome.panorama), mode="r")["0"]))
    assert panoramas[0].shape == panoramas[1].shape
    assert abs(panoramas[0].shape[2] - (width + shift)) <= 1  # both fields placed
    assert np.abs(panoramas[0].astype(int) - panoramas[1]).max() <= 1
