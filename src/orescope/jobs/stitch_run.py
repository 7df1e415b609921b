"""``orescope stitch``: overlapping microscope fields of a polished section into one panorama
(paper 003 §4), in memory bounded by a few fields.

Fields are read three times: once to find their keypoints (keeping an eighth-size copy for the
exposure), once (with seams) for a small copy of each in the panorama's frame to find the seams
on, and once when the panorama is written, tile by tile, each tile from only the fields that
cover it (a small cache of fields). The panorama is an OME-Zarr with a pyramid of halvings,
built beside its final name and renamed when complete; ``poses.csv`` says where each field went
and ``unmatched.csv`` which fields matched nothing, and why.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
import pandas as pd
import yaml
import zarr
from pydantic import BaseModel, Field, PositiveInt
from rich.progress import track

from orescope.errors import InputError
from orescope.io.atomic import atomic_path, write_table, write_text
from orescope.io.images import find_images, read_image
from orescope.preprocess.blend import (
    blend_halo,
    blend_tile,
    exposure_gains,
    feather_weights,
    find_seams,
    flat_field_gain,
    overlap_means,
    seam_weights,
)
from orescope.preprocess.lens import Lens
from orescope.preprocess.stitch import (
    DISTORTED_RANSAC,
    MIN_MATCHES,
    RANSAC_PX,
    Features,
    Model,
    Order,
    PairMatch,
    Poses,
    detect_features,
    grid_cells,
    grid_neighbours,
    main_group,
    match_pair,
    might_overlap,
    moved,
    overlap_mask,
    pair_residuals,
    solve_poses,
)

PANORAMA = "panorama.ome.zarr"
TILE_PX = 1024  # side of the panorama's zarr chunks, and of the tiles it is blended in
FIELD_CACHE = 8  # fields held while tiles are blended: a tile of a 20 % grid needs up to four
EXPOSURE_SCALE = 8  # the copies kept for comparing exposures are this many times smaller
SEARCH_FRACTION = 0.1  # with a grid: how far (of a field's longer side) a field may stray
SEAM_MEGAPIXELS = 0.1  # each field's size where seams are found, as OpenCV's stitcher: cheap
GAIN_COLUMNS = {1: ["gain"], 3: ["gain_r", "gain_g", "gain_b"]}
Coefficient = Annotated[float, Field(ge=-1, le=1)]  # beyond, a lens no microscope has


class StitchConfig(BaseModel, extra="forbid"):
    """How fields are stitched; a run writes it as ``config.yaml`` next to its outputs.

    Examples
    --------
    >>> StitchConfig(grid=(5, 5), order="snake").overlap
    0.2
    """

    model: Model = Field(
        "translation",
        description="how fields may move: translation (a sliding stage), rigid (also turning "
        "a little), affine (also shear and scale), homography (also perspective)",
    )
    distortion: tuple[Coefficient, Coefficient] | Literal["auto"] | None = Field(
        None,
        description="radial lens distortion (k1, k2) undone before anything else, in "
        "coordinates normalised by the half-diagonal about the field's centre; auto: k1 "
        "estimated with the poses",
    )
    grid: tuple[PositiveInt, PositiveInt] | None = Field(
        None, description="the stage's grid (columns, rows): only neighbours are matched"
    )
    overlap: float = Field(0.2, gt=0, lt=1, description="nominal overlap of grid neighbours")
    order: Order = Field("row", description="how the stage walks the grid: row or snake")
    seams: bool = Field(
        True,
        description="cut overlaps along the paths where fields differ least (else feather "
        "across the whole overlap, where anything that moved shows doubled)",
    )
    blend: Literal["feather", "multiband"] = Field(
        "multiband",
        description="feather: each pixel the fields' average by their weights; multiband: "
        "fine detail switches at the seam, shading blends over 2**bands px (Burt and Adelson)",
    )
    bands: int = Field(
        5, ge=1, le=8, description="multiband: halvings of its pyramids (fewer for small fields)"
    )


@dataclass
class StitchOutcome:
    """What a run made: the panorama, its (height, width) in px, the fields' poses, the
    fields that matched nothing (placed by the grid, or left out), and the lens distortion
    undone (given, or estimated)."""

    panorama: Path
    shape: tuple[int, int]
    poses: pd.DataFrame
    unmatched: pd.DataFrame
    lens: Lens | None


@dataclass(frozen=True)
class _Fields:
    """The fields of a run and how to read one as it goes into the panorama."""

    paths: list[Path]
    first: np.ndarray
    flat: np.ndarray | None  # flat-field divisor, (H, W, C)
    lens: Lens | None  # the distortion undone after the flat field

    @property
    def size(self) -> tuple[int, int]:
        return self.first.shape[1], self.first.shape[0]

    @property
    def channels(self) -> int:
        return 1 if self.first.ndim == 2 else self.first.shape[2]

    def corrected(self, index: int) -> np.ndarray:
        """Field ``index`` as (H, W, C) float32, flat-field corrected (the blank field was seen
        through the same lens) and undistorted; a field unlike the first is an
        :class:`InputError` naming it."""
        image = self.first if index == 0 else self._alike(self.paths[index])
        width, height = self.size
        values = image.astype(np.float32).reshape(height, width, self.channels)
        values = values if self.flat is None else values / self.flat
        return values if self.lens is None else self.lens.undistort(values)

    def gained(self, index: int, gain: np.ndarray) -> np.ndarray:
        """Field ``index`` as it goes into the panorama: flat-field corrected, gained, and
        rounded back to its own pixel type (the cache holds a quarter of float32's memory)."""
        values = self.corrected(index) * gain.astype(np.float32)
        dtype = self.first.dtype
        if np.issubdtype(dtype, np.integer):
            return np.clip(np.round(values), 0, _full_scale(dtype)).astype(dtype)
        return values.astype(dtype)

    def _alike(self, path: Path) -> np.ndarray:
        image = _drop_alpha(read_image(path))
        first, name = self.first, self.paths[0].name
        if image.shape[:2] != first.shape[:2]:
            reason = f"{image.shape[1]} × {image.shape[0]} px, but {name} is "
            raise InputError(path, reason + f"{first.shape[1]} × {first.shape[0]} px")
        if image.dtype != first.dtype:
            raise InputError(path, f"{image.dtype} pixels, but {name} has {first.dtype}")
        if image.shape != first.shape:
            channels = 1 if image.ndim == 2 else image.shape[2]
            raise InputError(path, f"{channels} channel(s), but {name} has {self.channels}")
        return image


def run_stitch(
    fields_dir: str | Path,
    out: str | Path,
    config: StitchConfig | None = None,
    blank: str | Path | None = None,
    progress: bool = True,
) -> StitchOutcome:
    """Stitch the fields in ``fields_dir`` (sorted by name: the stage's order) into
    ``out/panorama.ome.zarr``, with ``out/poses.csv``, ``out/unmatched.csv`` and
    ``out/config.yaml``.

    ``blank``: a photo of an empty field under the same light, for flat-field correction.
    ``config.distortion``: given coefficients undistort every field before its keypoints are
    found; ``auto`` finds keypoints in the distorted fields and k1 with the poses, and
    undistorts the fields by it for the seams and the panorama.
    With ``config.grid``, only grid neighbours are matched, their expected offset bounds the
    search, and fields that match nothing are placed by the grid; without it, every pair is
    tried, and fields outside the largest group of matched fields are left out.

    Raises
    ------
    InputError
        Naming the file, for a field of another size, bit depth or channels than the first, a
        blank field of another size, and (naming the folder) a grid that does not fit the
        number of fields, or fields of which no two overlap.
    """
    config = config or StitchConfig()
    out = Path(out)
    paths = find_images([fields_dir])
    if len(paths) < 2:
        raise InputError(fields_dir, "a panorama needs at least two fields")
    first = _drop_alpha(read_image(paths[0]))
    channels = 1 if first.ndim == 2 else first.shape[2]
    flat = None if blank is None else _blank_gain(Path(blank), first, channels)
    size = first.shape[1], first.shape[0]
    given = config.distortion if isinstance(config.distortion, tuple) else None
    fields = _Fields(paths, first, flat, None if given is None else Lens(size, *given))
    prior, candidates = _layout(fields_dir, len(paths), fields.size, config)
    auto = config.distortion == "auto"
    found = _match(fields, prior, candidates, config.model, progress, auto)
    poses = solve_poses(len(paths), found.matches, config.model, size, prior, estimate_k1=auto)
    small = found.small
    if poses.k1 is not None:  # k1 is in half-diagonals: the same lens for the small copies
        fields = replace(fields, lens=Lens(size, poses.k1))
        small = [Lens((s.shape[1], s.shape[0]), poses.k1).undistort(s) for s in small]
    if not poses.used:
        raise InputError(
            fields_dir,
            f"no two of its {len(paths)} fields overlap: no pair shares {MIN_MATCHES} "
            "consistent keypoint matches (check the focus, the overlap and --grid)",
        )
    gains = _gains(poses, small, fields.size)
    feather = feather_weights(fields.size[1], fields.size[0])
    if fields.lens is not None:  # no weight where an undistorted field saw nothing
        feather = feather * fields.lens.seen
    weights = (
        _seam_weights(poses, fields, gains, feather, progress)
        if config.seams
        else lambda _: feather
    )
    load = lru_cache(maxsize=FIELD_CACHE)(
        lambda index: (fields.gained(index, gains[index]), weights(index))
    )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / PANORAMA) as partial:
        fitting = int(math.log2(min(fields.size) / 8))  # the coarsest band 8 px across a field
        bands = min(config.bands, fitting) if config.blend == "multiband" else 0
        shape, origin = _write_panorama(partial, poses, load, fields, bands, progress)
    poses_table = _poses_table(poses, paths, gains, origin, fields.lens)
    unmatched = _unmatched_table(poses, paths, found, prior is not None)
    write_table(out / "poses.csv", poses_table)
    write_table(out / "unmatched.csv", unmatched)
    settings = {"fields": str(fields_dir), "blank": None if blank is None else str(blank)}
    write_text(out / "config.yaml", yaml.safe_dump({**settings, **config.model_dump()}))
    return StitchOutcome(out / PANORAMA, shape, poses_table, unmatched, fields.lens)


@dataclass(frozen=True)
class _Matched:
    """What the first pass over the fields found."""

    features: list[Features]
    small: list[np.ndarray]  # each field an eighth the size, to compare exposures on
    matches: list[PairMatch]
    best: np.ndarray  # the most consistent matches each field had with any other


def _match(
    fields: _Fields,
    prior: np.ndarray | None,
    candidates: list[tuple[int, int]],
    model: Model,
    progress: bool,
    distorted: bool,
) -> _Matched:
    """Keypoints of every field (with a grid, only where its neighbours should overlap it),
    and the matches of every candidate pair (without a grid, of those that pass a screen);
    in ``distorted`` fields, matches that agree within :data:`DISTORTED_RANSAC` of a
    half-diagonal."""
    search_px = SEARCH_FRACTION * max(fields.size)
    half_diagonal = math.hypot(*fields.size) / 2
    tolerance = max(RANSAC_PX, DISTORTED_RANSAC * half_diagonal) if distorted else RANSAC_PX
    features, small = [], []
    count = len(fields.paths)
    for index in track(range(count), description="keypoints", disable=not progress):
        mask = None
        if prior is not None:
            offsets = [prior[b] - prior[a] for a, b in _partners(index, candidates)]
            mask = overlap_mask(fields.size, offsets, search_px)
        image = fields.corrected(index)
        features.append(detect_features(_gray_uint8(image, fields.first.dtype), mask))
        small.append(_shrunk(image))
    if prior is None:
        screened = track(candidates, description="screening", disable=not progress)
        candidates = [
            (i, j) for i, j in screened if might_overlap(features[i], features[j], model, tolerance)
        ]
    matches, best = [], np.zeros(count, int)
    for i, j in track(candidates, description="matching", disable=not progress):
        expected = None if prior is None else prior[j] - prior[i]
        on_i, on_j = match_pair(
            features[i], features[j], model, expected, search_px, tolerance_px=tolerance
        )
        best[[i, j]] = np.maximum(best[[i, j]], len(on_i))
        if len(on_i):
            matches.append(PairMatch(i, j, on_i, on_j))
    return _Matched(features, small, matches, best)


def _drop_alpha(image: np.ndarray) -> np.ndarray:
    return image[..., :3] if image.ndim == 3 else image


def _blank_gain(path: Path, first: np.ndarray, channels: int) -> np.ndarray:
    blank = read_image(path)
    if blank.shape[:2] != first.shape[:2]:
        raise InputError(
            path,
            f"a blank field of {blank.shape[1]} × {blank.shape[0]} px, but the fields are "
            f"{first.shape[1]} × {first.shape[0]} px",
        )
    try:
        return flat_field_gain(blank, channels)
    except InputError as error:
        raise InputError(path, error.reason) from None


def _layout(
    fields_dir: str | Path, count: int, size: tuple[int, int], config: StitchConfig
) -> tuple[np.ndarray | None, list[tuple[int, int]]]:
    """Each field's nominal origin (None without a grid) and the pairs worth matching: grid
    neighbours, or without a grid every pair."""
    if config.grid is None:
        return None, list(itertools.combinations(range(count), 2))
    columns, rows = config.grid
    if columns * rows != count:
        raise InputError(
            fields_dir, f"a grid of {columns} × {rows} fields, but the folder has {count}"
        )
    cells = grid_cells(columns, rows, config.order)
    step = np.array(size, float) * (1 - config.overlap)
    return cells * step, grid_neighbours(cells)


def _partners(index: int, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(index, other) for every pair that holds ``index``."""
    return [(index, j if i == index else i) for i, j in pairs if index in (i, j)]


def _full_scale(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _gray_uint8(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The uint8 gray copy SIFT needs, of a (H, W, C) float field in ``dtype``'s range."""
    gray = image[..., 0] if image.shape[2] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.clip(gray * (255 / _full_scale(dtype)), 0, 255).astype(np.uint8)


def _shrunk(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(
        image, None, fx=1 / EXPOSURE_SCALE, fy=1 / EXPOSURE_SCALE, interpolation=cv2.INTER_AREA
    )
    return small.reshape(*small.shape[:2], image.shape[2])


def _meet(box: np.ndarray, other: np.ndarray) -> bool:
    """Whether two [left, top, right, bottom] boxes overlap."""
    return bool(np.all(box[:2] < other[2:]) and np.all(other[:2] < box[2:]))


def _footprints(poses: Poses, size: tuple[int, int]) -> dict[int, np.ndarray]:
    """Each placed field's bounding box in the panorama: [left, top, right, bottom]."""
    width, height = size
    corners = np.array([[[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]]], float)
    boxes = {}
    for index in np.flatnonzero(poses.placed):
        seen = cv2.perspectiveTransform(corners, poses.matrices[index])[0]
        boxes[int(index)] = np.concatenate([seen.min(axis=0), seen.max(axis=0)])
    return boxes


def _gains(poses: Poses, small: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Exposure gains of every field from the means of each overlapping pair's overlap (on
    the small copies); fields not placed keep gain 1. A homography between two fields is
    taken by its affine part: the means need the overlap, not its every pixel."""
    boxes = _footprints(poses, size)
    shrink = moved(np.zeros(2), 1 / EXPOSURE_SCALE)
    overlaps = []
    for i, j in itertools.combinations(sorted(boxes), 2):
        if _meet(boxes[i], boxes[j]):
            to_i = np.linalg.inv(poses.matrices[i]) @ poses.matrices[j]
            small_to_small = (shrink @ to_i @ np.linalg.inv(shrink))[:2] / to_i[2, 2]
            overlaps.append((i, j, *overlap_means(small[i], small[j], small_to_small)))
    return exposure_gains(len(small), small[0].shape[2], overlaps)


def _seam_weights(
    poses: Poses, fields: _Fields, gains: np.ndarray, feather: np.ndarray, progress: bool
) -> Callable[[int], np.ndarray]:
    """The blending weights of each placed field: its ``feather`` weights, cut at the seams found
    between all fields warped into the panorama's frame at about :data:`SEAM_MEGAPIXELS`
    each (each warped copy small and apart, so memory holds no panorama)."""
    width, height = fields.size
    scale = min(1.0, math.sqrt(SEAM_MEGAPIXELS * 1e6 / (width * height)))
    level = 255 / _full_scale(fields.first.dtype)
    to_small, images, masks, corners = {}, [], [], []
    boxes = _footprints(poses, fields.size)
    for index, box in track(boxes.items(), description="seams", disable=not progress):
        corner = np.floor(box[:2] * scale)
        size = tuple(int(side) for side in np.ceil(box[2:] * scale) - corner + 1)
        matrix = moved(-corner, scale) @ poses.matrices[index]
        field = fields.corrected(index) * (gains[index] * level).astype(np.float32)
        images.append(cv2.warpPerspective(field, matrix, size).reshape(size[1], size[0], -1))
        masks.append(cv2.warpPerspective(np.full((height, width), 255, np.uint8), matrix, size))
        corners.append((int(corner[0]), int(corner[1])))
        to_small[index] = matrix
    seams = dict(zip(boxes, find_seams(images, masks, corners), strict=True))
    return lambda index: seam_weights(seams[index], to_small[index], feather)


def _write_panorama(
    target: Path,
    poses: Poses,
    load: Callable[[int], tuple[np.ndarray, np.ndarray]],
    fields: _Fields,
    bands: int,
    progress: bool,
) -> tuple[tuple[int, int], np.ndarray]:
    """Blend the placed fields tile by tile (over ``bands`` halvings, 0 to average them) into
    an OME-Zarr at ``target`` (channels, y, x) with a pyramid; returns the panorama's
    (height, width) and where its origin lies in the poses' frame."""
    from ome_zarr.writer import write_multiscales_metadata

    boxes = _footprints(poses, fields.size)
    every = np.array(list(boxes.values()))
    origin = np.floor(every[:, :2].min(axis=0))
    width, height = (np.ceil(every[:, 2:].max(axis=0)) - origin + 1).astype(int)
    dtype, channels = fields.first.dtype, fields.channels
    group = zarr.open_group(str(target), mode="w")
    level = group.create_array(
        "0", shape=(channels, height, width), chunks=(channels, TILE_PX, TILE_PX), dtype=dtype
    )
    tiles = list(itertools.product(range(0, height, TILE_PX), range(0, width, TILE_PX)))
    for top, left in track(tiles, description="blending", disable=not progress):
        bottom, right = min(top + TILE_PX, height), min(left + TILE_PX, width)
        corner = origin + [left, top]
        margin = 2 + blend_halo(bands)  # bicubic, and the multi-band context
        reach = np.concatenate([corner - margin, origin + [right, bottom] + margin])
        pieces = []
        for index in (index for index, box in boxes.items() if _meet(box, reach)):
            pieces.append((*load(index), moved(-corner) @ poses.matrices[index]))
        if pieces:  # chunks no field reaches stay unwritten: zarr reads them as 0
            tile = blend_tile((bottom - top, right - left, channels), pieces, dtype, bands)
            level[:, top:bottom, left:right] = np.moveaxis(tile, -1, 0)
    levels = 1
    while max(level.shape[1:]) > TILE_PX:
        level = _halve(level, group, str(levels))
        levels += 1
    write_multiscales_metadata(
        group,
        [
            {
                "path": str(k),
                "coordinateTransformations": [{"type": "scale", "scale": [1.0, 2.0**k, 2.0**k]}],
            }
            for k in range(levels)
        ],
        axes=["c", "y", "x"],
        name="panorama",
    )
    return (int(height), int(width)), origin


def _halve(source: zarr.Array, group: zarr.Group, name: str) -> zarr.Array:
    """The next pyramid level: ``source`` halved by area averaging, a tile at a time."""
    channels, height, width = source.shape
    level = group.create_array(
        name,
        shape=(channels, math.ceil(height / 2), math.ceil(width / 2)),
        chunks=(channels, TILE_PX, TILE_PX),
        dtype=source.dtype,
    )
    for top, left in itertools.product(
        range(0, level.shape[1], TILE_PX), range(0, level.shape[2], TILE_PX)
    ):
        block = np.moveaxis(
            np.asarray(source[:, 2 * top : 2 * (top + TILE_PX), 2 * left : 2 * (left + TILE_PX)]),
            0,
            -1,
        )
        rows, columns = math.ceil(block.shape[0] / 2), math.ceil(block.shape[1] / 2)
        halved = cv2.resize(block, (columns, rows), interpolation=cv2.INTER_AREA)
        level[:, top : top + rows, left : left + columns] = np.moveaxis(
            halved.reshape(rows, columns, channels), -1, 0
        )
    return level


def _poses_table(
    poses: Poses, paths: list[Path], gains: np.ndarray, origin: np.ndarray, lens: Lens | None
) -> pd.DataFrame:
    """One row per placed field: its pose in the panorama (where its top-left pixel lies, its
    rotation, its linear and perspective parts), gains, the lens distortion undone before it,
    matched neighbours, and the RMS px by which its matches miss."""
    rows = []
    k1, k2 = (0.0, 0.0) if lens is None else (lens.k1, lens.k2)
    for index in np.flatnonzero(poses.placed):
        matrix = moved(-origin) @ poses.matrices[index]
        matrix /= matrix[2, 2]
        own = [m for m in poses.used if index in (m.first, m.second)]
        misses = [pair_residuals(m, poses.matrices) for m in own]
        points = sum(len(miss) for miss in misses)
        residual = float(np.sqrt(np.mean(np.concatenate(misses) ** 2) * 2)) if points else np.nan
        neighbours = sorted(paths[m.second if m.first == index else m.first].name for m in own)
        rows.append(
            {
                "field": paths[index].name,
                "x_px": matrix[0, 2],
                "y_px": matrix[1, 2],
                "rotation_deg": float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))),
                "a00": matrix[0, 0],
                "a01": matrix[0, 1],
                "a10": matrix[1, 0],
                "a11": matrix[1, 1],
                "a20": matrix[2, 0],
                "a21": matrix[2, 1],
                **dict(zip(_gain_columns(gains.shape[1]), gains[index], strict=True)),
                "k1": k1,
                "k2": k2,
                "neighbours": ";".join(neighbours),
                "matches": points,
                "residual_px": residual,
                "placed_by": "matches" if own else "grid prior",
            }
        )
    digits = {"x_px": 3, "y_px": 3, "rotation_deg": 5, "residual_px": 3, "k1": 6, "k2": 6}
    digits |= dict.fromkeys(["a00", "a01", "a10", "a11", *_gain_columns(gains.shape[1])], 6)
    digits |= dict.fromkeys(["a20", "a21"], 12)  # per px: 1e-6 tilts a corner by a pixel
    return pd.DataFrame(rows).round(digits)


def _gain_columns(channels: int) -> list[str]:
    return GAIN_COLUMNS.get(channels, [f"gain_{c}" for c in range(channels)])


def _unmatched_table(poses: Poses, paths: list[Path], found: _Matched, prior: bool) -> pd.DataFrame:
    """The fields not joined to the panorama by matches, why, and whether the grid placed
    them or they were left out."""
    main = main_group(len(paths), poses.used)
    rows = []
    for index, path in enumerate(paths):
        if main[index]:
            continue
        mates = sorted(
            paths[m.second if m.first == index else m.first].name
            for m in poses.used
            if index in (m.first, m.second)
        )
        if mates:
            reason = f"matches only {', '.join(mates)}, apart from the rest of the panorama"
        elif len(found.features[index].points) == 0:
            reason = "no keypoints (blank, out of focus or without texture?)"
        elif found.best[index] == 0:
            whom = "grid neighbour" if prior else "other field"
            reason = f"no {whom} shares {MIN_MATCHES} consistent keypoint matches with it"
        else:
            reason = "its matches disagree with the other fields' (false matches?)"
        rows.append(
            {
                "field": path.name,
                "reason": reason,
                "placed": "by the grid prior" if poses.placed[index] else "left out",
            }
        )
    return pd.DataFrame(rows, columns=["field", "reason", "placed"])
