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
    volume: bool = False,
) -> np.ndarray:
    """Otsu foreground, then one particle per connected component (8-connected in an image,
    26 in a (z, y, x) ``volume``).

    Touching particles stay merged: this is the baseline deep learning has to beat.

    Examples
    --------
    Two bright touching discs on a dark belt become one particle:

    >>> import numpy as np
    >>> from orescope.instances import otsu_instances
    >>> rows, cols = np.mgrid[:40, :60]
    >>> image = np.zeros((40, 60), dtype=np.uint8)
    >>> image[(rows - 20) ** 2 + (cols - 18) ** 2 < 144] = 200
    >>> image[(rows - 20) ** 2 + (cols - 40) ** 2 < 144] = 200
    >>> int(otsu_instances(image).max())
    1
    """
    mask, _ = foreground_mask(image, threshold, polarity, min_area_px=min_area_px, volume=volume)
    return connected_components(mask, min_area_px)
