"""Border-core representation (paper 002, section 3.2.2): instances as a 3-class semantic map.

Every particle is split into a core and a border of fixed thickness; cores of touching
particles never touch, so any semantic model can learn to separate them, and labelling the
cores and growing them back through the border recovers the instances.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import disk

from orescope.instances.components import remove_small

BACKGROUND, CORE, BORDER = 0, 1, 2
CLASS_NAMES = ("background", "core", "border")


def encode_border_core(labels: np.ndarray, border_px: int = 2) -> np.ndarray:
    """uint8 map: 0 background, 1 core, 2 border.

    A pixel is core when every pixel within ``border_px`` (a disk) carries its own id, so the
    border is ``border_px`` thick towards the background and towards each neighbour. The image
    edge is not a particle edge (edge pixels are repeated): a patch cut from a larger image
    keeps the cores of the particles it cuts.
    """
    if border_px < 1:
        raise ValueError(f"border thickness must be at least 1 px, got {border_px}")
    footprint = disk(border_px)
    low = ndimage.minimum_filter(labels, footprint=footprint, mode="nearest")
    high = ndimage.maximum_filter(labels, footprint=footprint, mode="nearest")
    classes = np.where(labels > 0, BORDER, BACKGROUND).astype(np.uint8)
    classes[(labels > 0) & (low == labels) & (high == labels)] = CORE
    return classes


def decode_border_core(
    classes: np.ndarray, border_px: int = 2, min_core_px: int = 4, min_area_px: int = 16
) -> np.ndarray:
    """Instance labels (uint32) from a border-core map.

    Cores are labelled (8-connected); cores of fewer than ``min_core_px`` pixels are noise
    rather than particles and are dropped. Cores grow back one pixel ring at a time through the
    particle pixels (core or border), for up to twice the border thickness, so growth never
    crosses background. Particle pixels that no core reaches — particles thinner than the
    border — become particles of their own. Particles under ``min_area_px`` are removed.
    """
    eight = np.ones((3, 3), dtype=bool)
    cores, _ = ndimage.label(classes == CORE, structure=eight)
    grown = remove_small(cores, min_core_px)
    del cores
    foreground = classes != BACKGROUND
    cross = ndimage.generate_binary_structure(2, 1)
    for _ in range(2 * border_px):
        ring = ndimage.grey_dilation(grown, footprint=cross)
        ring[~foreground | (grown > 0)] = 0
        if not ring.any():
            break
        np.maximum(grown, ring, out=grown)
        del ring
    orphan = foreground & (grown == 0)
    orphans, _ = ndimage.label(orphan, structure=eight)
    grown[orphan] = orphans[orphan] + grown.max()
    del orphans, orphan
    return remove_small(grown, min_area_px)
