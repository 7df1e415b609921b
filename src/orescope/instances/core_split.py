"""Cores of touching particles that the model joined by a neck, split back into one seed each.

A border-core model sometimes predicts the cores of two particles that touch along a face as
one core: two blobs joined by a neck. The neck is thinner than the blobs, so the core's
distance map (smoothed by :data:`SMOOTHING_PX`) has a maximum in each blob, and a saddle
between them. Maxima at least ``h_px`` above their saddle (scikit-image's ``h_maxima``) mark
the parts, and the watershed of the distance map cuts the core at its necks.

A core can be thin somewhere inside one particle too: at a broad waist, or where a crack or
an inclusion made the model doubt. So a cut is kept only where the particle's outline has a
neck there as well: the thickness at the cut of the particle voxels around the core (holes
filled; the distance to the outline at the cut's thickest voxel) is at most
:data:`OUTLINE_RATIO` of the thinner part's. Two touching particles meet at a contact
narrower than either; a particle thinned inside keeps its outline whole. On the validation
volumes of bench/volume_core_split.py every cut through one particle had an outline ratio
of 0.71 or more, and 87 of the 92 contacts 0.7 or less. (The same ratio of the core itself,
``neck_ratio``, the rule before, let six cuts through cracked particles pass for necks; it
adds nothing to the outline's.)

A core is split from the core and the particle voxels alone, in a window of
:data:`WINDOW_PAD_PX` voxels around its bounding box (clipped to the array): the same parts
whatever else the array holds, which lets a chunked decoding split each core exactly as the
decoding of the whole map does.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.cluster.hierarchy import DisjointSet
from skimage.filters import gaussian
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from orescope.instances.components import label_regions

SMOOTHING_PX = 1.0  # Gaussian σ of the distance map: a voxel step of the edge is no maximum
WINDOW_PAD_PX = 5  # the Gaussian's reach (4 σ) and one voxel of background beyond
OUTLINE_RATIO = 0.7  # the outline's thickness at a cut over the thinner part's, at most


def core_window(box: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The window a core of bounding ``box`` is split in: the box grown by
    :data:`WINDOW_PAD_PX`, clipped to the array of ``shape``."""
    return tuple(
        slice(max(b.start - WINDOW_PAD_PX, 0), min(b.stop + WINDOW_PAD_PX, n))
        for b, n in zip(box, shape, strict=True)
    )


def core_parts(
    core: np.ndarray,
    particle: np.ndarray,
    h_px: float,
    outline_ratio: float | None = OUTLINE_RATIO,
    neck_ratio: float | None = None,
) -> tuple[np.ndarray, int]:
    """The parts (int32, 1..n, 0 off the core) of one core, a boolean mask of its
    :func:`core_window`, and their number n (1: the core is not split). Parts are joined back
    where the ``particle`` voxels of the window (a boolean mask) are thicker at their cut than
    ``outline_ratio`` of the thinner part's, or the core is thicker there than ``neck_ratio``
    of it (``None``: never).

    Examples
    --------
    Two balls of radius 5 joined by a neck of radius 2 are two parts:

    >>> import numpy as np
    >>> z, y, x = np.ogrid[:15, :15, :32]
    >>> core = ((z - 7) ** 2 + (y - 7) ** 2 + (x - 8) ** 2 <= 25) | (
    ...     (z - 7) ** 2 + (y - 7) ** 2 + (x - 23) ** 2 <= 25
    ... ) | (((z - 7) ** 2 + (y - 7) ** 2 <= 4) & (x > 8) & (x < 23))
    >>> touching = ndimage.binary_dilation(core, iterations=2)
    >>> parts, count = core_parts(core, touching, 1.0)
    >>> count, int(parts[7, 7, 8]), int(parts[7, 7, 23])
    (2, 1, 2)

    With a neck as thick as the balls it is one core, however the maxima fall:

    >>> thick = core | (((z - 7) ** 2 + (y - 7) ** 2 <= 16) & (x > 8) & (x < 23))
    >>> core_parts(thick, ndimage.binary_dilation(thick, iterations=2), 0.1)[1]
    1

    Nor is it two where the particle around the neck is as thick as the balls (one particle
    thinned inside):

    >>> cracked = np.zeros_like(core)
    >>> cracked[1:-1, 1:-1, 1:-1] = True
    >>> core_parts(core, cracked, 1.0)[1]
    1
    """
    distance = smoothed_distance(core)
    markers, count = label_regions(h_maxima(distance, h_px).astype(bool) & core)
    if count < 2:
        return core.astype(np.int32), 1
    parts = watershed(-distance, markers, mask=core, connectivity=core.ndim)
    waists = []
    if outline_ratio is not None:
        waists += _above(cut_ratios(parts, count, outline_distance(particle)), outline_ratio)
    if neck_ratio is not None:
        waists += _above(cut_ratios(parts, count, distance), neck_ratio)
    parts, count = _joined(parts, count, waists)
    return parts.astype(np.int32), count


def smoothed_distance(core: np.ndarray) -> np.ndarray:
    """The core's distance map, smoothed by :data:`SMOOTHING_PX`: what its parts are cut by."""
    return gaussian(ndimage.distance_transform_edt(core), sigma=SMOOTHING_PX, preserve_range=True)


def outline_distance(particle: np.ndarray) -> np.ndarray:
    """Each voxel's distance to the outside of the ``particle`` voxels, holes filled (a crack
    or a void inside a particle is no outline)."""
    return ndimage.distance_transform_edt(ndimage.binary_fill_holes(particle))


def cut_ratios(parts: np.ndarray, count: int, distance: np.ndarray) -> dict[tuple[int, int], float]:
    """For every two touching parts (ids 1..``count``): the thickness of their cut (the
    largest, over face neighbours across it, of the smaller ``distance``) over the thinner
    part's (its largest ``distance``)."""
    peaks = ndimage.maximum(distance, parts, np.arange(count + 1))
    width = count + 1
    thickest = np.zeros(width**2)  # by pair of touching parts (first * width + second)
    for axis in range(parts.ndim):
        ahead = tuple(slice(1, None) if k == axis else slice(None) for k in range(parts.ndim))
        behind = tuple(slice(None, -1) if k == axis else slice(None) for k in range(parts.ndim))
        a, b = parts[behind], parts[ahead]
        across = (a != b) & (a > 0) & (b > 0)
        pair = np.minimum(a, b)[across] * width + np.maximum(a, b)[across]
        np.maximum.at(thickest, pair, np.minimum(distance[behind], distance[ahead])[across])
    return {
        divmod(int(pair), width): float(
            thickest[pair] / min(peaks[pair // width], peaks[pair % width])
        )
        for pair in np.flatnonzero(thickest)
    }


def _above(ratios: dict[tuple[int, int], float], limit: float) -> list[tuple[int, int]]:
    """The pairs of parts whose ratio is above ``limit``: waists, to be joined."""
    return [pair for pair, ratio in ratios.items() if ratio > limit]


def _joined(parts: np.ndarray, count: int, waists: list[tuple[int, int]]) -> tuple[np.ndarray, int]:
    """``parts`` with the two parts of every one of ``waists`` joined, renumbered."""
    joined = DisjointSet(range(1, count + 1))
    for first, second in waists:
        joined.merge(first, second)
    _, renumbered = np.unique([joined[index] for index in range(1, count + 1)], return_inverse=True)
    return np.concatenate([[0], renumbered + 1]).astype(np.int32)[parts], int(renumbered.max()) + 1


def split_cores(
    seeds: np.ndarray,
    particle: np.ndarray,
    h_px: float,
    outline_ratio: float | None = OUTLINE_RATIO,
    neck_ratio: float | None = None,
) -> np.ndarray:
    """Labelled ``seeds`` (ids 1..n) with every seed split into its :func:`core_parts`
    (``particle``: the particle voxels, a boolean mask), renumbered seed by seed (uint32)."""
    split = np.zeros(seeds.shape, np.uint32)
    count = 0
    for index, box in enumerate(ndimage.find_objects(seeds), start=1):
        if box is None:
            continue
        window = core_window(box, seeds.shape)
        core = seeds[window] == index
        parts, found = core_parts(core, particle[window], h_px, outline_ratio, neck_ratio)
        split[window][core] = parts[core] + count
        count += found
    return split
