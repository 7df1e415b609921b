"""Per-particle properties of an instance label image, in pixels and (given a scale) in mm."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import regionprops

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
_PIXEL_CORNERS = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])


def feret_diameters(mask: np.ndarray) -> tuple[float, float]:
    """Maximum and minimum Feret (caliper) diameters of a binary mask, in pixels.

    Measured on the convex hull of the pixels' corners, so a single pixel is 1 wide and sqrt(2)
    long. The minimum is found by rotating calipers: the narrowest width is attained with one
    caliper on a hull edge. Written here because scikit-image offers only the maximum.
    """
    # only boundary pixels can carry hull corners: interior ones are skipped for speed
    rows, cols = np.nonzero(mask & ~ndimage.binary_erosion(mask))
    centres = np.column_stack([cols, rows]).astype(np.float64)
    corners = (centres[:, None, :] + _PIXEL_CORNERS[None]).reshape(-1, 2)
    hull = cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    gaps = hull[:, None, :] - hull[None, :, :]
    feret_max = float(np.sqrt((gaps**2).sum(-1)).max())
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 0
    normals = np.column_stack([-edges[keep, 1], edges[keep, 0]]) / lengths[keep, None]
    # width across each edge direction = spread of all hull points along the edge normal
    projections = hull @ normals.T
    feret_min = float((projections.max(axis=0) - projections.min(axis=0)).min())
    return feret_max, feret_min


def inscribed_diameter(mask: np.ndarray) -> float:
    """Diameter of the largest disk inside the mask (pixels), from the Euclidean distance map."""
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))
    return float(2.0 * distance.max() - 1.0)


def measure_particles(labels: np.ndarray, mm_per_px: float | None = None) -> pd.DataFrame:
    """One row per particle: area, centroid, equivalent-circle diameter (ecd), Feret max/min,
    ellipse axes (same second moments), inscribed-circle diameter, solidity, and whether the
    particle touches the image border (its true size is unknown then).

    Lengths come as ``*_px`` columns and, when ``mm_per_px`` is given, ``*_mm`` columns
    (areas as ``area_px`` / ``area_mm2``).
    """
    height, width = labels.shape
    rows = []
    for region in regionprops(labels):
        mask = region.image
        feret_max, feret_min = feret_diameters(mask)
        top, left, bottom, right = region.bbox
        rows.append(
            {
                "label": region.label,
                "area_px": float(region.area),
                "centroid_row_px": region.centroid[0],
                "centroid_col_px": region.centroid[1],
                "ecd_px": float(np.sqrt(4.0 * region.area / np.pi)),
                "feret_max_px": feret_max,
                "feret_min_px": feret_min,
                "ellipse_major_px": float(region.axis_major_length),
                "ellipse_minor_px": float(region.axis_minor_length),
                "inscribed_diameter_px": inscribed_diameter(mask),
                "solidity": float(region.solidity),
                "touches_border": bool(top == 0 or left == 0 or bottom == height or right == width),
            }
        )
    table = pd.DataFrame(rows, columns=_COLUMNS)
    if mm_per_px is not None:
        table["area_mm2"] = table["area_px"] * mm_per_px**2
        for measure in SIZE_MEASURES:
            table[f"{measure}_mm"] = table[f"{measure}_px"] * mm_per_px
    return table


def spheroid_volume(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Volume of a prolate spheroid with the particle's ellipse axes (third axis = minor axis).

    The mass-weighted PSD uses this with a uniform density: a 2D image cannot see thickness,
    and the spheroid is the common assumption of image-based fragmentation analysis.
    """
    return np.pi / 6.0 * major * minor * minor
