"""Foreground masks by a global threshold (Otsu's unless given) on smoothed luminance."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage
from skimage.filters import gaussian, threshold_otsu
from skimage.morphology import disk

from orescope.instances.components import remove_small
from orescope.io.images import to_gray_float

Polarity = Literal["bright", "dark"]


def foreground_mask(
    image: np.ndarray,
    threshold: float | None = None,
    polarity: Polarity = "bright",
    smoothing_px: float = 1.0,
    opening_px: int = 0,
    min_area_px: int = 16,
) -> tuple[np.ndarray, float]:
    """Particles vs belt; returns the mask and the threshold used (gray levels in [0, 1]).

    ``polarity`` says whether particles are brighter (the usual belt) or darker than the
    background. ``opening_px`` removes noise thinner than that radius without shrinking the
    particles; holes inside particles are filled.
    """
    gray = to_gray_float(image)
    if smoothing_px > 0:
        gray = gaussian(gray, sigma=smoothing_px, preserve_range=True)
    if threshold is None:
        threshold = float(threshold_otsu(gray)) if gray.min() < gray.max() else 0.5
    mask = gray > threshold if polarity == "bright" else gray < threshold
    if opening_px > 0:
        mask = ndimage.binary_opening(mask, structure=disk(opening_px))
    mask = ndimage.binary_fill_holes(mask)
    return remove_small(ndimage.label(mask)[0], min_area_px) > 0, float(threshold)
