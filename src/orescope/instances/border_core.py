"""Border-core representation (paper 002, section 3.2.2): instances as a 3-class semantic map.

Every particle is split into a core and a border of fixed thickness; cores of touching
particles never touch, so any semantic model can learn to separate them, and labelling the
cores and growing them back through the border recovers the instances. The same functions
serve images (2D) and volumes (3D): a disk becomes a ball, 8-connected regions 26-connected.

Decoding reproduces the instances exactly where particles lie apart and are thicker than twice
the border. Where two touch, a voxel near a corner of one can lie nearer to the core of the
other than to its own (a ball's reach along a diagonal is longer than across a face), and
goes to it: in 3D a few voxels a particle, a one-to-one match of IoU well above 0.9 for
particles several borders thick (tests/test_border_core.py states the limits it proves).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from orescope.instances.components import footprint, label_regions, remove_small
from orescope.instances.core_split import OUTLINE_RATIO, split_cores

BACKGROUND, CORE, BORDER = 0, 1, 2
CLASS_NAMES = ("background", "core", "border")


def encode_border_core(labels: np.ndarray, border_px: int = 2) -> np.ndarray:
    """uint8 map: 0 background, 1 core, 2 border, of an image's or a volume's instances.

    A pixel is core when every pixel within ``border_px`` (a disk, in a volume a ball)
    carries its own id, so the border is ``border_px`` thick towards the background and
    towards each neighbour. The image edge is not a particle edge (edge pixels are repeated):
    a patch cut from a larger image keeps the cores of the particles it cuts.

    Examples
    --------
    Two touching 8 × 8 squares: their 4 × 4 cores are apart.

    >>> import numpy as np
    >>> from orescope.instances import encode_border_core
    >>> labels = np.zeros((12, 20), dtype=np.uint32)
    >>> labels[2:10, 2:10], labels[2:10, 10:18] = 1, 2
    >>> classes = encode_border_core(labels, border_px=2)
    >>> classes[6].tolist()  # a row through both: background 0, core 1, border 2
    [0, 0, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 0, 0]
    """
    if border_px < 1:
        raise ValueError(f"border thickness must be at least 1 px, got {border_px}")
    around = footprint(border_px, labels.ndim)
    low = ndimage.minimum_filter(labels, footprint=around, mode="nearest")
    high = ndimage.maximum_filter(labels, footprint=around, mode="nearest")
    classes = np.where(labels > 0, BORDER, BACKGROUND).astype(np.uint8)
    classes[(labels > 0) & (low == labels) & (high == labels)] = CORE
    return classes


def core_map(probabilities: np.ndarray) -> np.ndarray:
    """uint8 map of a border-core model's K×h×w probabilities (background, core, border):
    0 off the particles (P(background) ≥ 0.5), else 1 + round(254·P(core)). One byte a pixel
    keeps what the decoding needs, so panoramas need no float map."""
    on_particle = probabilities[BACKGROUND] < 0.5
    values = 1 + np.rint(254 * probabilities[CORE])
    return np.where(on_particle, values, 0).astype(np.uint8)


def classes_core_map(classes: np.ndarray) -> np.ndarray:
    """The :func:`core_map` of a hard class map: core certain (255), border not core (1)."""
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[CORE], lookup[BORDER] = 255, 1
    return lookup[classes]


def decode_core_map(
    particle_map: np.ndarray,
    core_threshold: float = 0.7,
    min_core_px: int = 12,
    min_area_px: int = 16,
    split_h_px: float | None = None,
    outline_ratio: float | None = OUTLINE_RATIO,
    neck_ratio: float | None = None,
) -> np.ndarray:
    """Instance labels (uint32) from a :func:`core_map` of an image or a volume.

    Seeds are the fully connected regions (8 in 2D, 26 in 3D) where P(core) exceeds
    ``core_threshold``; seeds under ``min_core_px`` pixels (voxels) are texture, not
    particles, and are dropped: paper 002's small-core removal. Every particle pixel joins its
    nearest seed (Euclidean). Particle regions without a seed — particles thinner
    than the border — become particles of their own. Particles under ``min_area_px`` are
    removed: paper 002's small-particle filter. A seed threshold above the argmax's (0.7)
    keeps doubtful necks between touching particles out of the seeds:
    bench/border_core_decoding.py makes the choice on training gravel and conveyor crops,
    keeping the targets on synthetic scenes. With ``split_h_px``, seeds that are two cores
    joined by a neck are cut at it first (:mod:`~orescope.instances.core_split`; cuts where
    the particle is thicker than ``outline_ratio`` of their parts, or the core thicker than
    ``neck_ratio`` of theirs, are no contact of two particles, and stay joined).
    """
    seeds = remove_small(
        label_regions(particle_map > 1 + 254 * core_threshold)[0], min_core_px, in_place=True
    )
    on_particle = particle_map > 0
    if split_h_px is not None:
        seeds = split_cores(seeds, on_particle, split_h_px, outline_ratio, neck_ratio)
    seed_pixels = seeds > 0
    grown = _nearest_seed(seeds)
    del seeds
    grown[~on_particle] = 0
    regions, count = label_regions(on_particle)
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[regions[seed_pixels]] = True
    del seed_pixels
    orphan = on_particle & ~seeded[regions]
    grown[orphan] = regions[orphan].astype(np.uint32) + grown.max()
    del regions, orphan
    return remove_small(grown, min_area_px, in_place=True)


def _nearest_seed(seeds: np.ndarray) -> np.ndarray:
    """Each pixel's nearest seed id (Euclidean). An image: OpenCV's labelled distance
    transform, linear in the pixels; a volume: SciPy's exact transform with the indices of the
    nearest seed voxel (OpenCV has no 3D)."""
    if seeds.ndim != 2:
        if not seeds.any():
            return np.zeros(seeds.shape, np.uint32)
        where = ndimage.distance_transform_edt(
            seeds == 0, return_distances=False, return_indices=True
        )
        return seeds.view(np.uint32)[tuple(where)]
    # OpenCV numbers the seed regions its own way (the distances themselves are not needed)
    nearest = cv2.distanceTransformWithLabels(
        (seeds == 0).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_CCOMP
    )[1]
    seed_pixels = seeds > 0
    lookup = np.zeros(int(nearest.max()) + 1, dtype=np.uint32)
    lookup[nearest[seed_pixels]] = seeds[seed_pixels]
    return lookup[nearest]


def decode_border_core(
    classes: np.ndarray, min_core_px: int = 4, min_area_px: int = 16
) -> np.ndarray:
    """Instance labels (uint32) from a hard border-core class map: its cores are the seeds of
    ``decode_core_map``, which decodes a model's probabilities the same way.

    Examples
    --------
    The map of [encode_border_core][orescope.instances.border_core.encode_border_core] decodes
    back to the particles it was made from:

    >>> import numpy as np
    >>> from orescope.instances import decode_border_core, encode_border_core
    >>> labels = np.zeros((12, 20), dtype=np.uint32)
    >>> labels[2:10, 2:10], labels[2:10, 10:18] = 1, 2
    >>> np.array_equal(decode_border_core(encode_border_core(labels)), labels)
    True
    """
    return decode_core_map(classes_core_map(classes), 0.5, min_core_px, min_area_px)
