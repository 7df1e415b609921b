"""Otsu baseline (paper 000): global Otsu threshold, then connected components."""

from __future__ import annotations

import numpy as np

from orescope.instances.components import connected_components
from orescope.instances.threshold import Polarity, foreground_mask


def otsu_instances(
    image: np.ndarray,
    threshold: float | None = None,
    polarity: Polarity = "bright",
    min_area_px: int = 16,
) -> np.ndarray:
    """Touching particles stay merged: this is the method deep learning has to beat."""
    mask, _ = foreground_mask(image, threshold, polarity, min_area_px=min_area_px)
    return connected_components(mask, min_area_px)
