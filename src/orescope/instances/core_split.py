"""Cores of touching particles that the model joined by a neck, split back into one seed each.

A border-core model sometimes predicts the cores of two particles that touch along a face as
one core: two blobs joined by a neck. The neck is thinner than the blobs, so the core's
distance map (smoothed by :data:`SMOOTHING_PX`) has a maximum in each blob, and a saddle
between them. Maxima at least ``h_px`` above their saddle (scikit-image's ``h_maxima``) mark
the parts, and the watershed of the distance map cuts the core at its necks.

A core is split from the core alone, in a window of :data:`WINDOW_PAD_PX` voxels around its
bounding box (clipped to the array): the same parts whatever else the array holds, which
lets a chunked decoding split each core exactly as the decoding of the whole map does.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import gaussian
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from orescope.instances.components import label_regions

SMOOTHING_PX = 1.0  # Gaussian σ of the distance map: a voxel step of the edge is no maximum
WINDOW_PAD_PX = 5  # the Gaussian's reach (4 σ) and one voxel of background beyond


def core_window(box: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The window a core of bounding ``box`` is split in: the box grown by
    :data:`WINDOW_PAD_PX`, clipped to the array of ``shape``."""
    return tuple(
        slice(max(b.start - WINDOW_PAD_PX, 0), min(b.stop + WINDOW_PAD_PX, n))
        for b, n in zip(box, shape, strict=True)
    )


def core_parts(core: np.ndarray, h_px: float) -> tuple[np.ndarray, int]:
    """The parts (int32, 1..n, 0 off the core) of one core, a boolean mask of its
    :func:`core_window`, and their number n (1: the core is not split).

    Examples
    --------
    Two balls of radius 5 joined by a neck of radius 2 are two parts:

    >>> import numpy as np
    >>> z, y, x = np.ogrid[:15, :15, :32]
    >>> core = ((z - 7) ** 2 + (y - 7) ** 2 + (x - 8) ** 2 <= 25) | (
    ...     (z - 7) ** 2 + (y - 7) ** 2 + (x - 23) ** 2 <= 25
    ... ) | (((z - 7) ** 2 + (y - 7) ** 2 <= 4) & (x > 8) & (x < 23))
    >>> parts, count = core_parts(core, 1.0)
    >>> count, int(parts[7, 7, 8]), int(parts[7, 7, 23])
    (2, 1, 2)
    """
    distance = gaussian(
        ndimage.distance_transform_edt(core), sigma=SMOOTHING_PX, preserve_range=True
    )
    markers, count = label_regions(h_maxima(distance, h_px).astype(bool) & core)
    if count < 2:
        return core.astype(np.int32), 1
    parts = watershed(-distance, markers, mask=core, connectivity=core.ndim)
    return parts.astype(np.int32), count


def split_cores(seeds: np.ndarray, h_px: float) -> np.ndarray:
    """Labelled ``seeds`` (ids 1..n) with every seed split into its :func:`core_parts`,
    renumbered seed by seed (uint32)."""
    split = np.zeros(seeds.shape, np.uint32)
    count = 0
    for index, box in enumerate(ndimage.find_objects(seeds), start=1):
        if box is None:
            continue
        window = core_window(box, seeds.shape)
        core = seeds[window] == index
        parts, found = core_parts(core, h_px)
        split[window][core] = parts[core] + count
        count += found
    return split
