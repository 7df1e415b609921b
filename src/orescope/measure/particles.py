"""Per-particle properties of an instance label image, in pixels and (given a scale) in mm."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

# Size measures a PSD can be built on; each has a ``<name>_px`` column (and ``<name>_mm``).
SIZE_MEASURES = (
    "ecd",
    "feret_max",
    "feret_min",
    "ellipse_major",
    "ellipse_minor",
    "inscribed_diameter",
)
_COLUMNS = (
    ["label", "area_px", "centroid_row_px", "centroid_col_px"]
    + [f"{m}_px" for m in SIZE_MEASURES]
    + ["solidity", "touches_border"]
)
_STACK_ELEMENTS = 2**22  # hull points squared per stacked Feret batch: ~100 MB of float64
_PIXEL_CORNERS = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])


def pixel_hull(mask: np.ndarray) -> np.ndarray:
    """Convex hull (k×2, x-y, float32) of a binary mask's pixel corners, so a single
    pixel is a unit square. That hull is the hull of the pixel centres grown by a pixel square,
    so only the centres' hull vertices are expanded to corners; and those vertices lie on the
    outer contours, whose simplified chain keeps the ends of every straight run."""
    mask = np.asarray(mask, dtype=np.uint8)  # no copy when it is uint8 already
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    centres = cv2.convexHull(np.concatenate(contours)).reshape(-1, 2)
    corners = (centres[:, None, :] + _PIXEL_CORNERS[None]).reshape(-1, 2)
    return cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2)


def feret_diameters(hulls: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Maximum and minimum Feret (caliper) diameters of convex hulls, in pixels.

    On `pixel_hull`, a single pixel is 1 wide and sqrt(2) long. The minimum is found by
    rotating calipers: the narrowest width is attained with one caliper on a hull edge.
    Written here because scikit-image offers only the maximum, one region at a time; hulls of
    similar size are stacked (padded by repeating their last point, which changes no distance
    and adds only empty edges) so thousands of particles cost a few array operations.
    """
    feret_max, feret_min = np.empty(len(hulls)), np.empty(len(hulls))
    order = np.argsort([len(hull) for hull in hulls], kind="stable")
    sizes = np.array([len(hulls[i]) for i in order])
    start = 0
    while start < len(order):
        # the longest run of (sorted) hulls whose padded stack stays within the budget
        cost = np.arange(1, len(order) - start + 1) * sizes[start:].astype(np.int64) ** 2
        stop = start + max(1, int(np.searchsorted(cost, _STACK_ELEMENTS, side="right")))
        chunk = order[start:stop]
        points = np.empty((len(chunk), sizes[stop - 1], 2))
        for row, index in enumerate(chunk):
            hull = hulls[index]
            points[row, : len(hull)], points[row, len(hull) :] = hull, hull[-1]
        feret_max[chunk], feret_min[chunk] = _stacked_feret(points)
        start = stop
    return feret_max, feret_min


def _stacked_feret(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feret max and min of n hulls stacked as n×k×2 points."""
    squared = (points**2).sum(-1)
    gaps = squared[:, :, None] + squared[:, None, :] - 2 * points @ points.transpose(0, 2, 1)
    edges = np.roll(points, -1, axis=1) - points
    lengths = np.linalg.norm(edges, axis=-1)
    normals = np.stack([-edges[..., 1], edges[..., 0]], axis=-1)
    normals /= np.maximum(lengths, 1e-12)[..., None]
    # width across each edge direction = spread of all hull points along the edge normal
    projections = points @ normals.transpose(0, 2, 1)
    widths = projections.max(axis=1) - projections.min(axis=1)
    feret_min = np.where(lengths > 0, widths, np.inf).min(axis=1)
    return np.sqrt(np.clip(gaps.max(axis=(1, 2)), 0, None)), feret_min


def inscribed_diameter(mask: np.ndarray) -> float:
    """Diameter of the largest disk inside the mask (pixels), from the exact Euclidean
    distance of each pixel centre to the nearest pixel outside (OpenCV's, in C). That distance
    is the root of a whole number of squared pixels: OpenCV's float32 result is rounded to it,
    as its last bits vary with the buffer's memory alignment from one call to the next."""
    mask = np.asarray(mask, dtype=np.uint8)
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float(2.0 * np.sqrt(np.round(float(distance.max()) ** 2)) - 1.0)


def ellipse_axes(moments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Major and minor axes of the ellipses with the pixels' second moments (4·sqrt of the
    covariance eigenvalues, as scikit-image's ``axis_major_length``), from n×4 rows of
    ``cv2.moments``' m00, mu20, mu02 and mu11."""
    area, mu20, mu02, mu11 = moments.T
    var_r, var_c, cov = mu02 / area, mu20 / area, mu11 / area
    half_sum, root = (var_r + var_c) / 2, np.hypot((var_r - var_c) / 2, cov)
    return 4 * np.sqrt(half_sum + root), 4 * np.sqrt(np.maximum(half_sum - root, 0.0))


def measure_particles(labels: np.ndarray, mm_per_px: float | None = None) -> pd.DataFrame:
    """One row per particle: area, centroid, equivalent-circle diameter (ecd), Feret max/min,
    ellipse axes (same second moments), inscribed-circle diameter, solidity (area over the area
    of the convex hull of the pixel corners), and whether the particle touches the image
    border (its true size is unknown then).

    Lengths come as ``*_px`` columns and, when ``mm_per_px`` is given, ``*_mm`` columns
    (areas as ``area_px`` / ``area_mm2``). One pass over each particle's bounding box with
    OpenCV's moments, contours and distance transform, the rest on arrays of all particles:
    scikit-image's regionprops and SciPy's per-call overhead dominated the whole job on
    thousands of particles.

    Examples
    --------
    A 6 × 10 px rectangle, and a 10 × 10 px square cut by the image's bottom edge:

    >>> import numpy as np
    >>> from orescope.measure import measure_particles
    >>> labels = np.zeros((20, 30), dtype=np.uint32)
    >>> labels[2:8, 2:12] = 1
    >>> labels[10:20, 15:25] = 2
    >>> table = measure_particles(labels, mm_per_px=0.5)
    >>> table[["label", "area_px", "area_mm2", "feret_min_px", "touches_border"]]
       label  area_px  area_mm2  feret_min_px  touches_border
    0      1     60.0      15.0           6.0           False
    1      2    100.0      25.0          10.0            True
    """
    height, width = labels.shape
    ids, boxes, moments, hulls, inscribed = [], [], [], [], []
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        mask = (labels[box] == index + 1).view(np.uint8)  # the same bytes: no copy
        m = cv2.moments(mask, binaryImage=True)
        moments.append((m["m00"], m["mu20"], m["mu02"], m["mu11"], m["m01"], m["m10"]))
        hulls.append(pixel_hull(mask))
        inscribed.append(inscribed_diameter(mask))
        ids.append(index + 1)
        boxes.append((box[0].start, box[1].start, box[0].stop, box[1].stop))
    table = pd.DataFrame(columns=list(_COLUMNS))
    if ids:
        stats = np.array(moments)  # m00, mu20, mu02, mu11, m01, m10 per particle
        area = stats[:, 0]
        top, left, bottom, right = np.array(boxes).T
        major, minor = ellipse_axes(stats[:, :4])
        feret_max, feret_min = feret_diameters(hulls)
        columns = (
            ids,
            area,
            top + stats[:, 4] / area,
            left + stats[:, 5] / area,
            np.sqrt(4.0 * area / np.pi),
            feret_max,
            feret_min,
            major,
            minor,
            inscribed,
            area / np.array([cv2.contourArea(hull) for hull in hulls]),
            (top == 0) | (left == 0) | (bottom == height) | (right == width),
        )
        table = pd.DataFrame(dict(zip(_COLUMNS, columns, strict=True)))
    table["touches_border"] = table["touches_border"].astype(bool)
    if mm_per_px is not None:
        table["area_mm2"] = table["area_px"] * mm_per_px**2
        for measure in SIZE_MEASURES:
            table[f"{measure}_mm"] = table[f"{measure}_px"] * mm_per_px
    return table


def spheroid_volume(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Volume of a prolate spheroid with the particle's ellipse axes (third axis = minor axis).

    The mass-weighted PSD uses this with a uniform density: a 2D image cannot see thickness,
    and the spheroid is the common assumption of image-based fragmentation analysis.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.measure import spheroid_volume
    >>> spheroid_volume(np.array([2.0]), np.array([1.0])).round(4).tolist()  # pi / 3
    [1.0472]
    """
    return np.pi / 6.0 * major * minor * minor
