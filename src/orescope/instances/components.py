"""Connected components and small-object removal on label images."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential


def remove_small(labels: np.ndarray, min_area_px: int) -> np.ndarray:
    """Labels with fewer than ``min_area_px`` pixels set to 0, the rest renumbered 1..N (uint32)."""
    areas = np.bincount(labels.ravel())
    small = areas < min_area_px
    small[0] = True
    cleaned = np.where(small[labels], 0, labels)
    return relabel_sequential(cleaned)[0].astype(np.uint32)


def connected_components(mask: np.ndarray, min_area_px: int = 16) -> np.ndarray:
    """Instances as the 8-connected components of a binary mask (paper 000's baseline)."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    return remove_small(labels, min_area_px)
