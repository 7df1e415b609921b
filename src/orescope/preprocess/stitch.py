"""Where each microscope field of a polished section lies in its panorama (paper 003 §4).

Keypoints are matched between overlapping fields, and then every field's pose is found at once
from all matches (a bundle adjustment over the match graph), not chained pair by pair: a chain
adds each pair's error to the next, so a 5 × 5 grid would end pixels off at its far corner.
A field's pose is the 2 × 3 matrix taking its pixel coordinates (x, y) to the panorama's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from orescope.preprocess.align import FLANN_KDTREE

# translation: a stage that only slides; rigid: fields also turn a little (a rotating stage,
# a section that slipped); affine: also shear and scale (a camera tilted against the stage)
Model = Literal["translation", "rigid", "affine"]
Order = Literal["row", "snake"]
MIN_MATCHES = 12  # consistent keypoint matches for two fields to count as overlapping
MAX_KEYPOINTS = 8000  # the strongest per field: bounds memory and the matching time
# Without a grid every pair is screened on its fields' strongest keypoints first (50 ms a pair
# against 1 s in full for two 1698 × 1273 fields); pairs whose few matches already agree this
# much are matched in full. Two fields that do not overlap agree on up to ~8 by chance.
SCREEN_KEYPOINTS = 1500
SCREEN_MATCHES = 6
# FLANN's k-d trees search 64 leaves: as many consistent matches as 256 between two photos of
# one section, in a quarter of the time (aligning XPL onto PPL needs more, preprocess.align)
FLANN_SEARCH: dict[str, bool | int | float | str] = {"checks": 64}
# SIFT's scale space takes ~150 bytes a pixel (~480 MB for a whole 1698 × 1273 field): it sees
# bands of rows at a time, with a margin of context that leaves keypoints in a band's core
# where they would be in the whole field (up to SIFT's coarsest scales)
DETECT_ROWS = 320
DETECT_MARGIN_PX = 64
RATIO = 0.75  # Lowe's ratio test
RANSAC_PX = 2.0
# a microscope's magnification is fixed: a pair fit that scales by more is a false match
MAX_SCALE_CHANGE = 0.05
MAX_POINTS_PER_PAIR = 300  # matches per pair the optimisation keeps: a big overlap does not rule
# a pair whose matches the global poses miss by more on average disagrees with the other pairs
# (a false match of repeated texture): it is dropped and the poses found again without it
MAX_PAIR_DISAGREEMENT_PX = 5.0
PRIOR_WEIGHT = 1e-3  # the grid prior's pull on a field corner, against 1 per matched point
LOSS_SCALE_PX = 1.0  # residuals beyond this count less (soft L1): stray matches do not rule
Pull = tuple[int, np.ndarray, float]  # a field pulled towards a 2 × 3 pose, with a weight


@dataclass(frozen=True)
class Features:
    """Keypoints of one field, strongest first: (N, 2) x, y positions in px and their (N, 128)
    SIFT descriptors, kept as uint8 (SIFT's own values: a quarter of the float32 memory)."""

    points: np.ndarray
    descriptors: np.ndarray

    def strongest(self, count: int) -> Features:
        """The ``count`` strongest keypoints."""
        return Features(self.points[:count], self.descriptors[:count])


@dataclass(frozen=True)
class PairMatch:
    """The same points seen in fields ``first`` and ``second``: (M, 2) x, y in each."""

    first: int
    second: int
    points_first: np.ndarray
    points_second: np.ndarray


@dataclass(frozen=True)
class Poses:
    """Each field's 2 × 3 matrix to the panorama (NaN for fields left out), the pairs that
    fixed them, and those dropped for disagreeing with the rest."""

    matrices: np.ndarray
    used: list[PairMatch]
    dropped: list[PairMatch]

    @property
    def placed(self) -> np.ndarray:
        """Which fields have a pose."""
        return ~np.isnan(self.matrices).any(axis=(1, 2))


def detect_features(gray: np.ndarray, mask: np.ndarray | None = None) -> Features:
    """SIFT keypoints of a uint8 gray field, only where ``mask`` is non-zero if given: SIFT's
    positions are sub-pixel, and its descriptors survive the exposure changing between fields.
    Found a band of rows at a time (:data:`DETECT_ROWS`), in the masked runs of columns only."""
    sift = cv2.SIFT_create()  # type: ignore[attr-defined]
    mask = np.full(gray.shape, 255, np.uint8) if mask is None else mask
    points, descriptors, strength = [], [], []
    for rows, columns, window in _windows(mask):
        keypoints, found = sift.detectAndCompute(np.ascontiguousarray(gray[rows, columns]), window)
        if found is None or len(keypoints) == 0:
            continue
        points.append(np.array([k.pt for k in keypoints]) + [columns.start, rows.start])
        descriptors.append(found.astype(np.uint8))
        strength.append([k.response for k in keypoints])
    if not points:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))
    order = np.argsort(-np.concatenate(strength), kind="stable")[:MAX_KEYPOINTS]
    return Features(
        np.concatenate(points)[order].astype(np.float32), np.concatenate(descriptors)[order]
    )


def _windows(mask: np.ndarray) -> list[tuple[slice, slice, np.ndarray]]:
    """(rows, columns, mask) of the crops SIFT sees: each band of rows with its margin, cut
    to each run of masked columns (runs closer than two margins joined), and the mask of
    where it keeps keypoints (the band's core)."""
    height, width = mask.shape
    margin = DETECT_MARGIN_PX
    crops = []
    for top in range(0, height, DETECT_ROWS):
        bottom = min(top + DETECT_ROWS, height)
        used = np.concatenate([[0], mask[top:bottom].any(axis=0).astype(np.int8), [0]])
        runs: list[list[int]] = []
        for start, end in np.flatnonzero(np.diff(used)).reshape(-1, 2).tolist():
            if runs and start - runs[-1][1] < 2 * margin:
                runs[-1][1] = end
            else:
                runs.append([start, end])
        for start, end in runs:
            rows = slice(max(0, top - margin), min(height, bottom + margin))
            columns = slice(max(0, start - margin), min(width, end + margin))
            window = np.zeros((rows.stop - rows.start, columns.stop - columns.start), np.uint8)
            core = (
                slice(top - rows.start, bottom - rows.start),
                slice(start - columns.start, end - columns.start),
            )
            window[core] = mask[top:bottom, start:end]
            crops.append((rows, columns, window))
    return crops


def match_pair(
    first: Features,
    second: Features,
    model: Model,
    expected_px: np.ndarray | None = None,
    search_px: float = np.inf,
    minimum: int = MIN_MATCHES,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``first`` and in ``second`` of the keypoint matches that pass the ratio
    test and agree on one transform (RANSAC); none when fewer than ``minimum`` do.

    ``expected_px``: where ``second``'s origin should lie in ``first`` (the stage's grid);
    matches displaced more than ``search_px`` from it are refused before RANSAC.
    """
    empty = np.zeros((0, 2), np.float64)
    if min(len(first.points), len(second.points)) < 2:
        return empty, empty
    cv2.setRNGSeed(0)  # FLANN's trees and RANSAC draw from OpenCV's generator: same answer
    matcher = cv2.FlannBasedMatcher(FLANN_KDTREE, FLANN_SEARCH)
    found = matcher.knnMatch(
        second.descriptors.astype(np.float32), first.descriptors.astype(np.float32), k=2
    )
    good = [p[0] for p in found if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    points_first = first.points[[m.trainIdx for m in good]].astype(np.float64).reshape(-1, 2)
    points_second = second.points[[m.queryIdx for m in good]].astype(np.float64).reshape(-1, 2)
    if expected_px is not None:
        shift = points_first - points_second - expected_px
        near = np.hypot(shift[:, 0], shift[:, 1]) <= search_px
        points_first, points_second = points_first[near], points_second[near]
    if len(points_first) < minimum:
        return empty, empty
    estimate = cv2.estimateAffine2D if model == "affine" else cv2.estimateAffinePartial2D
    matrix, inliers = estimate(
        points_second, points_first, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX
    )
    if matrix is None or int(inliers.sum()) < minimum:
        return empty, empty
    scales = np.linalg.svd(matrix[:, :2], compute_uv=False)
    if np.abs(scales - 1).max() > MAX_SCALE_CHANGE:
        return empty, empty
    keep = inliers.ravel().astype(bool)
    return points_first[keep], points_second[keep]


def might_overlap(first: Features, second: Features, model: Model) -> bool:
    """Whether two fields are worth matching in full: their strongest keypoints already agree
    (:data:`SCREEN_KEYPOINTS`, :data:`SCREEN_MATCHES`)."""
    strongest = first.strongest(SCREEN_KEYPOINTS), second.strongest(SCREEN_KEYPOINTS)
    return len(match_pair(*strongest, model, minimum=SCREEN_MATCHES)[0]) > 0


def grid_cells(columns: int, rows: int, order: Order) -> np.ndarray:
    """(column, row) of each field, in the order the stage took them: row by row left to
    right (``row``), or every other row right to left (``snake``, a boustrophedon)."""
    cells: list[tuple[int, int]] = []
    for row in range(rows):
        across = range(columns) if order == "row" or row % 2 == 0 else reversed(range(columns))
        cells.extend((column, row) for column in across)
    return np.array(cells, dtype=np.int64)


def grid_neighbours(cells: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of fields side by side or one above the other in the grid (diagonal neighbours
    share only a corner, too small to match reliably)."""
    where = {tuple(cell): index for index, cell in enumerate(cells.tolist())}
    pairs = []
    for index, (column, row) in enumerate(cells.tolist()):
        for step in ((1, 0), (0, 1)):
            other = where.get((column + step[0], row + step[1]))
            if other is not None:
                pairs.append((min(index, other), max(index, other)))
    return sorted(pairs)


def overlap_mask(
    size: tuple[int, int], offsets_px: list[np.ndarray], search_px: float
) -> np.ndarray:
    """uint8 mask of a field of ``size`` (width, height) where neighbours whose origins lie at
    ``offsets_px`` (x, y in this field) may overlap it, widened by ``search_px``: keypoints
    are sought there only, which halves the work of a 20 % overlap."""
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    for dx, dy in offsets_px:
        left, top = max(0, int(dx - search_px)), max(0, int(dy - search_px))
        right = min(width, int(np.ceil(dx + width + search_px)))
        bottom = min(height, int(np.ceil(dy + height + search_px)))
        mask[top:bottom, left:right] = 255
    return mask


def solve_poses(
    count: int,
    matches: list[PairMatch],
    model: Model,
    size: tuple[int, int],
    prior_px: np.ndarray | None = None,
) -> Poses:
    """Every field's pose from all ``matches`` at once.

    Translation: weighted linear least squares over every pair's mean offset. Rigid or affine:
    that solution refined by robust non-linear least squares over all matched points (soft L1,
    so stray matches count less). The first field of the largest group of matched fields is
    the reference. Without a prior (``prior_px``: each field's nominal origin in the panorama),
    fields outside that group are left out; with one, every other field is pulled weakly to
    its nominal place, which places the fields that match nothing and barely moves the rest.
    A pair that disagrees with the others by more than :data:`MAX_PAIR_DISAGREEMENT_PX` is
    dropped and the poses found again; pairs are judged under the rigid model even for the
    affine one, whose freedom to shear a field could hide a false match in the distortion.
    """
    width, height = size
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)
    kept, dropped = list(matches), list[PairMatch]()
    while True:
        main = main_group(count, kept)
        solved = main if prior_px is None else np.ones(count, bool)
        if not solved.any():  # no matches and no grid: nothing to place
            return Poses(np.full((count, 2, 3), np.nan), [], dropped)
        edges = [m for m in kept if solved[m.first] and solved[m.second]]
        reference = int(np.argmax(main))
        origin = np.zeros(2) if prior_px is None else prior_px[reference]
        pulls = _pulls(solved, reference, prior_px)
        matrices = _solve_translation(count, edges, (reference, origin), pulls)
        if model != "translation" and edges:
            matrices = _refine(matrices, edges, reference, pulls, "rigid", corners)
        disagreement = [np.hypot(*pair_residuals(m, matrices).mean(axis=0)) for m in edges]
        if not edges or max(disagreement) <= MAX_PAIR_DISAGREEMENT_PX:
            break
        worst = edges[int(np.argmax(disagreement))]
        kept = [m for m in kept if m is not worst]
        dropped.append(worst)
    if model == "affine" and edges:
        matrices = _refine(matrices, edges, reference, pulls, model, corners)
    matrices[~solved] = np.nan
    return Poses(matrices, edges, dropped)


def pair_residuals(match: PairMatch, matrices: np.ndarray) -> np.ndarray:
    """(M, 2) px by which the poses put a pair's matched points apart in the panorama."""
    return _apply(matrices[match.first], match.points_first) - _apply(
        matrices[match.second], match.points_second
    )


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def main_group(count: int, matches: list[PairMatch]) -> np.ndarray:
    """Which fields form the largest group joined by chains of matched pairs (ties: the group
    of the lowest-numbered field); none without matches."""
    if not matches:
        return np.zeros(count, bool)
    graph = coo_matrix(
        (np.ones(len(matches)), ([m.first for m in matches], [m.second for m in matches])),
        shape=(count, count),
    )
    groups = connected_components(graph, directed=False)[1]  # numbered by lowest field
    return groups == np.argmax(np.bincount(groups))


def _pulls(solved: np.ndarray, reference: int, prior_px: np.ndarray | None) -> list[Pull]:
    """With a grid, every field but the reference pulled weakly to its place in it."""
    if prior_px is None:
        return []
    return [
        (int(index), np.hstack([np.eye(2), prior_px[index][:, None]]), PRIOR_WEIGHT)
        for index in np.flatnonzero(solved)
        if index != reference
    ]


def _solve_translation(
    count: int, edges: list[PairMatch], reference: tuple[int, np.ndarray], pulls: list[Pull]
) -> np.ndarray:
    """Offsets by weighted linear least squares: each pair asks that its fields' offsets differ
    by its matched points' mean displacement, weighted by how many points it has; the
    ``reference`` field (index, origin) fixes the frame."""
    rows, targets = [], []
    for m in edges:
        weight = np.sqrt(min(len(m.points_first), MAX_POINTS_PER_PAIR))
        row = np.zeros(count)
        row[m.first], row[m.second] = weight, -weight
        rows.append(row)
        targets.append(weight * (m.points_second - m.points_first).mean(axis=0))
    for index, matrix, weight in [(*reference, 1.0)] + [(i, m[:, 2], w) for i, m, w in pulls]:
        row = np.zeros(count)
        row[index] = np.sqrt(weight)
        rows.append(row)
        targets.append(np.sqrt(weight) * matrix)
    offsets = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
    matrices = np.repeat(np.eye(2, 3)[None], count, axis=0)
    matrices[:, :, 2] = offsets
    return matrices


def _refine(
    start: np.ndarray,
    edges: list[PairMatch],
    reference: int,
    pulls: list[Pull],
    model: Model,
    corners: np.ndarray,
) -> np.ndarray:
    """Rigid or affine poses by robust least squares over all matched points (a bundle
    adjustment), from the translation solution (small rotations start within reach). The
    reference field is held fixed: a pull towards its place would give way under the robust
    loss, and the affine frame would shear."""
    size = 3 if model == "rigid" else 6
    rng = np.random.default_rng(0)
    chosen = []
    for m in edges:  # an even random subset of each big pair's points
        keep = np.sort(rng.permutation(len(m.points_first))[:MAX_POINTS_PER_PAIR])
        chosen.append((m.points_first[keep], m.points_second[keep], m.first, m.second))
    first = np.concatenate([c[0] for c in chosen])
    second = np.concatenate([c[1] for c in chosen])
    owners = np.concatenate(
        [np.column_stack([np.full(len(c[0]), c[2]), np.full(len(c[0]), c[3])]) for c in chosen]
        + [np.full((len(corners), 2), pull[0]) for pull in pulls]
    )
    targets = np.concatenate([_apply(pull[1], corners) for pull in pulls] or [np.zeros((0, 2))])
    pull_weight = np.repeat([np.sqrt(pull[2]) for pull in pulls], len(corners))[:, None]
    pulled = owners[len(first) :, 0]
    corner_points = np.tile(corners, (len(pulls), 1))
    free = np.setdiff1d(np.unique(owners), [reference])
    slot = np.full(len(start), -1)
    slot[free] = np.arange(len(free))

    def residuals(values: np.ndarray) -> np.ndarray:
        matrices = start.copy()
        matrices[free] = _to_matrices(values.reshape(len(free), size), model)
        a, b = owners[: len(first), 0], owners[: len(first), 1]
        between = _apply_each(matrices[a], first) - _apply_each(matrices[b], second)
        away = pull_weight * (_apply_each(matrices[pulled], corner_points) - targets)
        return np.concatenate([between.ravel(), away.ravel()])

    found = least_squares(
        residuals,
        _to_values(start[free], model).ravel(),
        jac_sparsity=_sparsity(slot[owners], size),
        loss="soft_l1",
        f_scale=LOSS_SCALE_PX,
        x_scale="jac",
        method="trf",
    )
    matrices = start.copy()
    matrices[free] = _to_matrices(found.x.reshape(len(free), size), model)
    return matrices


def _sparsity(slots: np.ndarray, size: int) -> coo_matrix:
    """Which parameters each residual (x and y of every point) depends on: those of the
    (up to two) free fields in ``slots`` (points, 2), -1 for a field held fixed."""
    columns_of = slots[:, :, None] * size + np.arange(size)  # (points, 2, size)
    known = np.repeat(slots[:, :, None] >= 0, size, axis=2)
    rows = np.broadcast_to(np.arange(2 * len(slots)).reshape(-1, 2, 1, 1), (len(slots), 2, 2, size))
    columns = np.broadcast_to(columns_of[:, None], rows.shape)
    mask = np.broadcast_to(known[:, None], rows.shape)
    shape = (2 * len(slots), (slots.max() + 1) * size)
    return coo_matrix((np.ones(mask.sum()), (rows[mask], columns[mask])), shape=shape)


def _apply_each(matrices: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.einsum("kab,kb->ka", matrices[:, :, :2], points) + matrices[:, :, 2]


def _to_values(matrices: np.ndarray, model: Model) -> np.ndarray:
    if model == "rigid":
        angle = np.arctan2(matrices[:, 1, 0], matrices[:, 0, 0])
        return np.column_stack([angle, matrices[:, 0, 2], matrices[:, 1, 2]])
    return matrices.reshape(len(matrices), 6)


def _to_matrices(values: np.ndarray, model: Model) -> np.ndarray:
    if model == "rigid":
        cos, sin = np.cos(values[:, 0]), np.sin(values[:, 0])
        return np.stack(
            [np.stack([cos, -sin, values[:, 1]], 1), np.stack([sin, cos, values[:, 2]], 1)], 1
        )
    return values.reshape(len(values), 2, 3)
