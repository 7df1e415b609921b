"""Where each microscope field of a polished section lies in its panorama (paper 003 §4).

Keypoints are matched between overlapping fields, and then every field's pose is found at once
from all matches (a bundle adjustment over the match graph), not chained pair by pair: a chain
adds each pair's error to the next, so a 5 × 5 grid would end pixels off at its far corner.
A field's pose is the 3 × 3 matrix taking its pixel coordinates (x, y, 1) to the panorama's,
homogeneous: its last row is (0, 0, 1) for every model but the homography.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix, hstack
from scipy.sparse.csgraph import connected_components

from orescope.preprocess.align import FLANN_KDTREE
from orescope.preprocess.lens import Lens

# translation: a stage that only slides; rigid: fields also turn a little (a rotating stage,
# a section that slipped); affine: also shear and scale; homography: also perspective (a
# camera not square to the stage, a stage that tilts as it moves)
Model = Literal["translation", "rigid", "affine", "homography"]
PARAMETERS = {"translation": 2, "rigid": 3, "affine": 6, "homography": 8}  # per field
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
# Fields whose distortion is still to be found disagree across an overlap by up to ~0.6 |k1|
# half-diagonals (a 20 % overlap): pairs are fitted with this tolerance, a fraction of the
# half-diagonal (2 % admits |k1| up to ~0.07 whole), and the estimated lens decides the rest
DISTORTED_RANSAC = 0.02
# a microscope's magnification is fixed: a pair fit that scales by more is a false match
MAX_SCALE_CHANGE = 0.05
MAX_POINTS_PER_PAIR = 300  # matches per pair the optimisation keeps: a big overlap does not rule
# a pair whose matches the global poses miss by more on average disagrees with the other pairs
# (a false match of repeated texture): it is dropped and the poses found again without it
MAX_PAIR_DISAGREEMENT_PX = 5.0
PRIOR_WEIGHT = 1e-3  # the grid prior's pull on a field corner, against 1 per matched point
# A homography's perspective terms are fixed by narrow overlaps only, and weakly (a 50 px strip
# sees a tilt of 1e-4 per px bend it by a quarter pixel): each is pulled towards 0, by the px it
# moves the field's far corner, as weakly as the grid prior pulls a corner. On 3 × 3 tilted
# fields (tests/test_stitch.py's), weights of 1e-6 to 1e-3 give the same poses, and 1 worse
PERSPECTIVE_WEIGHT = 1e-3
LOSS_SCALE_PX = 1.0  # residuals beyond this count less (soft L1): stray matches do not rule
Pull = tuple[int, np.ndarray, float]  # a field pulled towards a 3 × 3 pose, with a weight


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
    """Each field's 3 × 3 matrix to the panorama (NaN for fields left out), the pairs that
    fixed them, those dropped for disagreeing with the rest, and the lens distortion k1 when
    it was estimated with the poses (the pairs' points are then undistorted by it)."""

    matrices: np.ndarray
    used: list[PairMatch]
    dropped: list[PairMatch]
    k1: float | None = None

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
    tolerance_px: float = RANSAC_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``first`` and in ``second`` of the keypoint matches that pass the ratio
    test and agree on one transform (RANSAC, within ``tolerance_px``); none when fewer than
    ``minimum`` do.

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
    if model == "homography":
        matrix, inliers = cv2.findHomography(points_second, points_first, cv2.RANSAC, tolerance_px)
    else:
        estimate = cv2.estimateAffine2D if model == "affine" else cv2.estimateAffinePartial2D
        matrix, inliers = estimate(
            points_second, points_first, method=cv2.RANSAC, ransacReprojThreshold=tolerance_px
        )
    if matrix is None or int(inliers.sum()) < minimum:
        return empty, empty
    scales = np.linalg.svd(_local_linear(matrix, points_second.mean(axis=0)), compute_uv=False)
    if np.abs(scales - 1).max() > MAX_SCALE_CHANGE:
        return empty, empty
    keep = inliers.ravel().astype(bool)
    return points_first[keep], points_second[keep]


def _local_linear(matrix: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The 2 × 2 linear map a 2 × 3 affine or 3 × 3 projective ``matrix`` makes around
    ``point`` (its derivative there): a homography scales each place differently."""
    square = np.vstack([matrix, [0.0, 0.0, 1.0]])[:3]
    depth = square[2, :2] @ point + square[2, 2]
    moved = (square[:2, :2] @ point + square[:2, 2]) / depth
    return (square[:2, :2] - np.outer(moved, square[2, :2])) / depth


def might_overlap(
    first: Features, second: Features, model: Model, tolerance_px: float = RANSAC_PX
) -> bool:
    """Whether two fields are worth matching in full: their strongest keypoints already agree
    (:data:`SCREEN_KEYPOINTS`, :data:`SCREEN_MATCHES`)."""
    strongest = first.strongest(SCREEN_KEYPOINTS), second.strongest(SCREEN_KEYPOINTS)
    found = match_pair(*strongest, model, minimum=SCREEN_MATCHES, tolerance_px=tolerance_px)
    return len(found[0]) > 0


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
    estimate_k1: bool = False,
) -> Poses:
    """Every field's pose from all ``matches`` at once.

    Translation: weighted linear least squares over every pair's mean offset. Other models, or
    with ``estimate_k1``: that solution refined by robust non-linear least squares over all
    matched points (soft L1, so stray matches count less). The first field of the largest
    group of matched fields is the reference, its pose the identity. Without a prior
    (``prior_px``: each field's nominal origin in the panorama), fields outside that group
    are left out; with one, every other field is pulled weakly to its nominal place, which
    places the fields that match nothing and barely moves the rest. A pair that disagrees
    with the others by more than :data:`MAX_PAIR_DISAGREEMENT_PX` is dropped and the poses
    found again; pairs are judged under the rigid model even for the affine and homography
    ones, whose freedom to distort a field could hide a false match in the distortion.

    ``estimate_k1``: the points are distorted by one lens shared by every field of ``size``
    (:class:`~orescope.preprocess.lens.Lens`), whose k1 is found with the poses: a distorted
    overlap fits no pose, so the overlaps fix it. Its pairs were matched loosely
    (:data:`DISTORTED_RANSAC`): once the lens is found, only the points it and the poses
    bring within :data:`RANSAC_PX` are kept, and both are found again.
    """
    width, height = size
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)
    judge: Model = "translation" if model == "translation" else "rigid"
    kept, dropped = list(matches), list[PairMatch]()
    while True:
        lens = Lens(size, 0.0) if estimate_k1 else None
        main = main_group(count, kept)
        solved = main if prior_px is None else np.ones(count, bool)
        if not solved.any():  # no matches and no grid: nothing to place
            return Poses(np.full((count, 3, 3), np.nan), [], dropped)
        edges = [m for m in kept if solved[m.first] and solved[m.second]]
        reference = int(np.argmax(main))
        origin = np.zeros(2) if prior_px is None else prior_px[reference]
        pulls = _pulls(solved, reference, prior_px)
        matrices = _solve_translation(count, edges, (reference, origin), pulls)
        if edges and (judge != "translation" or lens is not None):
            matrices, lens = _refine(matrices, lens, edges, reference, pulls, judge, corners)
        undone = _undistorted(edges, lens)
        disagreement = [np.hypot(*pair_residuals(m, matrices).mean(axis=0)) for m in undone]
        if not edges or max(disagreement) <= MAX_PAIR_DISAGREEMENT_PX:
            break
        worst = edges[int(np.argmax(disagreement))]
        kept = [m for m in kept if m is not worst]
        dropped.append(worst)
    final = model if model in ("affine", "homography") else judge
    if final != judge and edges:
        matrices, lens = _refine(matrices, lens, edges, reference, pulls, model, corners)
    if lens is not None and edges:  # matched loosely: the lens found, now only close points
        edges = [_agreeing(m, matrices, lens) for m in edges]
        matrices, lens = _refine(matrices, lens, edges, reference, pulls, final, corners)
    matrices[~solved] = np.nan
    k1 = None if lens is None else lens.k1
    return Poses(matrices, _undistorted(edges, lens), dropped, k1)


def pair_residuals(match: PairMatch, matrices: np.ndarray) -> np.ndarray:
    """(M, 2) px by which the poses put a pair's matched points apart in the panorama."""
    first, second = matrices[match.first], matrices[match.second]
    return apply_pose(first, match.points_first) - apply_pose(second, match.points_second)


def apply_pose(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points moved by one 3 × 3 pose."""
    return _apply_each(np.broadcast_to(matrix, (len(points), 3, 3)), points)


def _apply_each(matrices: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Each of (N, 2) points moved by its own 3 × 3 pose, (N, 3, 3)."""
    moved = np.einsum("kab,kb->ka", matrices[:, :, :2], points) + matrices[:, :, 2]
    return moved[:, :2] / moved[:, 2:]


def _undistorted(matches: list[PairMatch], lens: Lens | None) -> list[PairMatch]:
    """The pairs with their points undistorted by ``lens`` (as they are without one)."""
    if lens is None:
        return matches
    return [
        replace(
            m,
            points_first=lens.undistort_points(m.points_first),
            points_second=lens.undistort_points(m.points_second),
        )
        for m in matches
    ]


def _agreeing(match: PairMatch, matrices: np.ndarray, lens: Lens) -> PairMatch:
    """A pair's points that the poses and ``lens`` bring within :data:`RANSAC_PX` of each
    other (all of them when fewer than :data:`MIN_MATCHES` would be left)."""
    missed = pair_residuals(_undistorted([match], lens)[0], matrices)
    keep = np.hypot(missed[:, 0], missed[:, 1]) <= RANSAC_PX
    if keep.sum() < MIN_MATCHES:
        return match
    return replace(
        match, points_first=match.points_first[keep], points_second=match.points_second[keep]
    )


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
        (int(index), moved(prior_px[index]), PRIOR_WEIGHT)
        for index in np.flatnonzero(solved)
        if index != reference
    ]


def moved(offset_px: np.ndarray | tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """The 3 × 3 pose that scales by ``scale``, then moves by ``offset_px`` (x, y).

    Examples
    --------
    >>> moved((2.0, 3.0)).tolist()
    [[1.0, 0.0, 2.0], [0.0, 1.0, 3.0], [0.0, 0.0, 1.0]]
    """
    return np.array([[scale, 0.0, offset_px[0]], [0.0, scale, offset_px[1]], [0.0, 0.0, 1.0]])


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
    for index, matrix, weight in [(*reference, 1.0)] + [(i, m[:2, 2], w) for i, m, w in pulls]:
        row = np.zeros(count)
        row[index] = np.sqrt(weight)
        rows.append(row)
        targets.append(np.sqrt(weight) * matrix)
    offsets = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
    return np.stack([moved(offset) for offset in offsets])


def _refine(
    start: np.ndarray,
    lens: Lens | None,
    edges: list[PairMatch],
    reference: int,
    pulls: list[Pull],
    model: Model,
    corners: np.ndarray,
) -> tuple[np.ndarray, Lens | None]:
    """Poses of ``model`` by robust least squares over all matched points (a bundle
    adjustment), from ``start`` (the translation solution: small rotations start within
    reach), and with a ``lens`` its k1 with them, the points undistorted by the current k1.
    The reference field is held fixed (its pose the frame the others are solved in): a pull
    towards its place would give way under the robust loss, and the affine frame would
    shear. A homography's perspective terms are pulled towards 0 (:data:`PERSPECTIVE_WEIGHT`)
    so that what the overlaps leave open does not drift."""
    size = PARAMETERS[model]
    rng = np.random.default_rng(0)
    chosen = []
    for m in edges:  # an even random subset of each big pair's points
        keep = np.sort(rng.permutation(len(m.points_first))[:MAX_POINTS_PER_PAIR])
        chosen.append((m.points_first[keep], m.points_second[keep], m.first, m.second))
    first = np.concatenate([c[0] for c in chosen])
    second = np.concatenate([c[1] for c in chosen])
    pairs = np.concatenate(
        [np.column_stack([np.full(len(c[0]), c[2]), np.full(len(c[0]), c[3])]) for c in chosen]
    )
    pulled = np.repeat([pull[0] for pull in pulls], len(corners)).astype(int)
    free = np.setdiff1d(np.concatenate([pairs.ravel(), pulled]), [reference])
    targets = np.concatenate([apply_pose(pull[1], corners) for pull in pulls] or [np.zeros((0, 2))])
    pull_weight = np.repeat([np.sqrt(pull[2]) for pull in pulls], len(corners))[:, None]
    corner_points = np.tile(corners, (len(pulls), 1))
    slot = np.full(len(start), -1)
    slot[free] = np.arange(len(free))
    frame = start[reference]  # poses are solved relative to the reference's
    own = len(free) * size
    tilted = free if model == "homography" else free[:0]
    reach = np.sqrt(PERSPECTIVE_WEIGHT) * corners[-1] ** 2  # px a perspective term moves

    def poses(values: np.ndarray) -> np.ndarray:
        matrices = start.copy()
        matrices[free] = frame @ _to_matrices(values[:own].reshape(len(free), size), model)
        return matrices

    @lru_cache(maxsize=1)  # most numerical derivatives move a pose, not k1
    def undone(k1: float) -> tuple[np.ndarray, np.ndarray]:
        assert lens is not None
        points = replace(lens, k1=k1).undistort_points(np.concatenate([first, second]))
        return points[: len(first)], points[len(first) :]

    def residuals(values: np.ndarray) -> np.ndarray:
        matrices = poses(values)
        on_first, on_second = (first, second) if lens is None else undone(float(values[-1]))
        a, b = matrices[pairs[:, 0]], matrices[pairs[:, 1]]
        between = _apply_each(a, on_first) - _apply_each(b, on_second)
        away = pull_weight * (_apply_each(matrices[pulled], corner_points) - targets)
        tilt = reach * matrices[tilted, 2, :2]
        return np.concatenate([between.ravel(), away.ravel(), tilt.ravel()])

    values = _to_values(np.linalg.inv(frame) @ start[free], model).ravel()
    shared = np.zeros(0) if lens is None else np.array([lens.k1])
    owners = [pairs, np.column_stack([pulled, pulled]), np.column_stack([tilted, tilted])]
    sparsity = _sparsity(slot[np.concatenate(owners)], size)
    if len(shared):  # k1 moves every point
        sparsity = hstack([sparsity, np.ones((sparsity.shape[0], 1))])
    found = least_squares(
        residuals,
        np.concatenate([values, shared]),
        jac_sparsity=sparsity,
        loss="soft_l1",
        f_scale=LOSS_SCALE_PX,
        x_scale="jac",
        method="trf",
    )
    estimated = None if lens is None else replace(lens, k1=float(found.x[-1]))
    return poses(found.x), estimated


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


def _to_values(matrices: np.ndarray, model: Model) -> np.ndarray:
    """A model's parameters of (N, 3, 3) poses."""
    if model == "translation":
        return matrices[:, :2, 2]
    if model == "rigid":
        angle = np.arctan2(matrices[:, 1, 0], matrices[:, 0, 0])
        return np.column_stack([angle, matrices[:, 0, 2], matrices[:, 1, 2]])
    return (matrices / matrices[:, 2:, 2:]).reshape(len(matrices), 9)[:, : PARAMETERS[model]]


def _to_matrices(values: np.ndarray, model: Model) -> np.ndarray:
    """(N, 3, 3) poses of a model's parameters."""
    matrices = np.repeat(np.eye(3)[None], len(values), axis=0)
    if model == "translation":
        matrices[:, :2, 2] = values
    elif model == "rigid":
        cos, sin = np.cos(values[:, 0]), np.sin(values[:, 0])
        matrices[:, :2] = np.stack(
            [np.stack([cos, -sin, values[:, 1]], 1), np.stack([sin, cos, values[:, 2]], 1)], 1
        )
    else:
        matrices.reshape(len(values), 9)[:, : values.shape[1]] = values
    return matrices
