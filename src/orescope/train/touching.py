"""Touching-particle augmentation (paper 002, section 3.2.3), for 2D patches and 3D volumes.

Real training patches contain few touching particles, so a model learns to split them poorly.
This pastes a particle D from anywhere in the training set right next to a particle P of the
patch, with their faces touching, so every such patch shows a pair that must stay two instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential


@dataclass(frozen=True, eq=False)
class Donor:
    """One whole particle cropped to its bounding box: h×w×C or d×h×w×C float32 values and an
    h×w or d×h×w mask."""

    image: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        if self.mask.ndim not in (2, 3) or self.mask.shape != self.image.shape[:-1]:
            raise ValueError(
                f"donor image {self.image.shape} and mask {self.mask.shape} do not match"
            )


def collect_donors(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    max_donors: int = 64,
    min_area_px: int = 16,
    skip_border: bool = True,
) -> list[Donor]:
    """A random subset of the image's (or volume's) particles to paste into other patches.

    ``min_area_px`` counts voxels in 3D. Particles cut by any face of the image are skipped
    (with ``skip_border``): pasted elsewhere they would show a flat cut face that no real
    particle has.
    """
    compact = relabel_sequential(labels)[0]
    areas = np.bincount(compact.ravel())
    candidates = []
    for index, box in enumerate(ndimage.find_objects(compact), start=1):
        if box is None or areas[index] < min_area_px:
            continue
        on_border = any(
            side.start == 0 or side.stop == size
            for side, size in zip(box, labels.shape, strict=True)
        )
        if skip_border and on_border:
            continue
        candidates.append((index, box))
    donors = []
    for choice in rng.permutation(len(candidates))[:max_donors]:
        index, box = candidates[choice]
        crop = np.array(image[box], dtype=np.float32)
        donors.append(Donor(image=crop, mask=compact[box] == index))
    return donors


def _overlaps(
    target: np.ndarray, box: tuple[np.ndarray, np.ndarray], mask: np.ndarray, at: np.ndarray
) -> bool:
    """Whether ``mask``, lowest corner at ``at``, hits ``target``, whose True voxels all lie in
    ``box`` (lowest corner, highest corner + 1)."""
    low = np.maximum(box[0], at)
    high = np.minimum(box[1], at + mask.shape)
    if np.any(low >= high):
        return False
    window = tuple(map(slice, low - at, high - at))
    return bool(np.any(target[tuple(map(slice, low, high))] & mask[window]))


def _touching_position(
    target: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """Lowest corner where ``mask`` touches ``target`` face to face without overlapping it.

    Starts with the centroids on top of each other and slides the mask outward along a random
    direction, 1 px at a time, until it leaves the target. None if it never overlapped it.
    """
    where = np.nonzero(target)
    box = (np.array([i.min() for i in where]), np.array([i.max() + 1 for i in where]))
    start = np.array([i.mean() - j.mean() for i, j in zip(where, np.nonzero(mask), strict=True)])
    if target.ndim == 2:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        step = np.array([np.sin(angle), np.cos(angle)])
    else:
        step = rng.standard_normal(target.ndim)
        step /= np.linalg.norm(step)
    # Past this distance the mask's box lies outside the target's box whatever the direction.
    diagonals = np.hypot.reduce(box[1] - box[0], dtype=np.float64)
    reach = int(diagonals + np.hypot.reduce(mask.shape, dtype=np.float64)) + 2
    previous: np.ndarray | None = None
    for distance in range(reach):
        # floor(x + 0.5), not rint: half-to-even rounding could jump 2 px in one 1 px step.
        position = np.floor(start + distance * step + 0.5).astype(np.int64)
        if _overlaps(target, box, mask, position):
            previous = position
        elif previous is not None:
            # A step along several axes at once may leave the target edge to edge or corner to
            # corner only. Taken one axis at a time instead, the first position that leaves the
            # target is 1 px along one axis from one that overlapped it: the voxel that
            # overlapped last ends up face-adjacent to the target.
            between = previous.copy()
            for axis in np.flatnonzero(position != previous)[:-1]:
                between[axis] = position[axis]
                if not _overlaps(target, box, mask, between):
                    return between
            return position
    return None


def paste_touching(
    image: np.ndarray,
    labels: np.ndarray,
    donors: Sequence[Donor],
    rng: np.random.Generator,
    attempts: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of ``image`` and ``labels`` with one donor pasted so it touches one particle.

    Works on H×W×C images over H×W labels and on D×H×W×C volumes over D×H×W labels. The donor
    (randomly turned by a multiple of 90° in the last two axes and flipped along the last) gets
    a new id, max id + 1, and is face-adjacent (4-connected in 2D, 6-connected in 3D) to
    particle P without overlapping it; it lies fully inside the patch and occludes whatever
    else it covers. Unchanged copies when the patch has no particle, there are no donors, or no
    placement works within ``attempts`` tries.
    """
    image_out, labels_out = image.copy(), labels.copy()
    particles = np.unique(labels)
    particles = particles[particles > 0]  # not background, nor unlabelled (negative)
    if particles.size == 0 or not donors:
        return image_out, labels_out
    plane = (labels.ndim - 2, labels.ndim - 1)
    for _ in range(attempts):
        target = labels == rng.choice(particles)
        donor = donors[int(rng.integers(len(donors)))]
        if donor.image.shape[-1] != image.shape[-1] or donor.mask.ndim != labels.ndim:
            raise ValueError(f"donor {donor.image.shape} does not fit image {image.shape}")
        turns = int(rng.integers(4))
        pixels = np.rot90(donor.image, turns, axes=plane)
        mask = np.rot90(donor.mask, turns, axes=plane)
        if rng.random() < 0.5:
            pixels, mask = np.flip(pixels, plane[1]), np.flip(mask, plane[1])
        position = _touching_position(target, mask, rng)
        if position is None:
            continue
        end = position + mask.shape
        if np.any(position < 0) or np.any(end > labels.shape):
            continue
        window = tuple(map(slice, position, end))
        labels_out[window][mask] = labels.max() + 1
        image_out[window][mask] = pixels[mask]
        return image_out, labels_out
    return image_out, labels_out
