"""Foreground masks by a global threshold (Otsu's unless given) on smoothed luminance, of an
image or a volume."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage
from skimage.filters import gaussian, threshold_otsu

from orescope.instances.components import footprint, remove_small
from orescope.io.images import to_gray_float

Polarity = Literal["bright", "dark"]


def foreground_mask(
    image: np.ndarray,
    threshold: float | None = None,
    polarity: Polarity = "bright",
    smoothing_px: float = 1.0,
    opening_px: int = 0,
    min_area_px: int = 16,
    volume: bool = False,
) -> tuple[np.ndarray, float]:
    """Particles vs belt; returns the mask and the threshold used (gray levels in [0, 1]).

    ``polarity`` says whether particles are brighter (the usual belt) or darker than the
    background. ``opening_px`` removes noise thinner than that radius without shrinking the
    particles; holes inside particles are filled. A ``volume`` (z, y, x) has one intensity a
    voxel and its noise opening is a ball.
    """
    gray = volume_intensity(image) if volume else to_gray_float(image)
    if smoothing_px > 0:
        gray = gaussian(gray, sigma=smoothing_px, preserve_range=True)
    if threshold is None:
        # the histogram of all pixels (voxels): an RGB-shaped volume is no colour image
        threshold = float(threshold_otsu(gray.ravel())) if gray.min() < gray.max() else 0.5
    mask = gray > threshold if polarity == "bright" else gray < threshold
    if opening_px > 0:
        mask = ndimage.binary_opening(mask, structure=footprint(opening_px, mask.ndim))
    mask = ndimage.binary_fill_holes(mask)
    return remove_small(ndimage.label(mask)[0], min_area_px) > 0, float(threshold)


def volume_intensity(volume: np.ndarray) -> np.ndarray:
    """A volume's voxels as float32, integers scaled to [0, 1] by their type's range as an
    image's grey levels are (so a given threshold means the same), floats as they are."""
    if np.issubdtype(volume.dtype, np.integer):
        return volume.astype(np.float32) / np.float32(np.iinfo(volume.dtype).max)
    return volume.astype(np.float32)


def keep_contrasting(
    labels: np.ndarray, intensity: np.ndarray, threshold: float, polarity: Polarity
) -> np.ndarray:
    """``labels`` without the particles whose mean ``intensity`` lies on the background's
    side of ``threshold`` (below it for bright particles, above it for dark ones): what a
    model takes for a particle in the resin — filler grains, ring and streak artefacts — is
    fainter than any particle there is. Dropped in place.

    Examples
    --------
    >>> labels = np.array([[1, 1, 0, 2, 2]], dtype=np.uint32)
    >>> intensity = np.array([[0.9, 0.8, 0.1, 0.3, 0.2]], dtype=np.float32)
    >>> keep_contrasting(labels, intensity, 0.5, "bright").tolist()
    [[1, 1, 0, 0, 0]]
    """
    if not labels.any():
        return labels
    count = int(labels.max()) + 1
    sums = np.bincount(labels.ravel(), weights=intensity.ravel(), minlength=count)
    sizes = np.bincount(labels.ravel(), minlength=count)
    means = sums / np.maximum(sizes, 1)
    faint = means < threshold if polarity == "bright" else means > threshold
    faint[0] = False
    labels[faint[labels]] = 0
    return labels
