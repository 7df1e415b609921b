"""Touching-particle augmentation (paper 002, section 3.2.3).

Real training patches contain few touching particles, so a model learns to split them poorly.
This pastes a particle D from anywhere in the training set right next to a particle P of the
patch, with their edges touching, so every such patch shows a pair that must stay two instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential


@dataclass(frozen=True, eq=False)
class Donor:
    """One whole particle cropped to its bounding box: h×w×C float32 pixels and an h×w mask."""

    image: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.mask.shape != self.image.shape[:2]:
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
    """A random subset of the image's particles to paste into other patches.

    Particles cut by the image border are skipped (with ``skip_border``): pasted elsewhere they
    would show a straight cut edge that no real particle has.
    """
    compact = relabel_sequential(labels)[0]
    areas = np.bincount(compact.ravel())
    height, width = labels.shape
    candidates = []
    for index, box in enumerate(ndimage.find_objects(compact), start=1):
        if box is None or areas[index] < min_area_px:
            continue
        rows, cols = box
        on_border = rows.start == 0 or cols.start == 0 or rows.stop == height or cols.stop == width
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
    target: np.ndarray, box: tuple[int, int, int, int], mask: np.ndarray, at: tuple[int, int]
) -> bool:
    """Whether ``mask``, top-left corner at ``at``, hits ``target`` (all True pixels in ``box``)."""
    r0, c0, r1, c1 = box
    top, left = at
    lo_r, lo_c = max(r0, top), max(c0, left)
    hi_r, hi_c = min(r1, top + mask.shape[0]), min(c1, left + mask.shape[1])
    if lo_r >= hi_r or lo_c >= hi_c:
        return False
    window = mask[lo_r - top : hi_r - top, lo_c - left : hi_c - left]
    return bool(np.any(target[lo_r:hi_r, lo_c:hi_c] & window))


def _touching_position(
    target: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[int, int] | None:
    """Top-left corner where ``mask`` touches ``target`` 4-connectedly without overlapping it.

    Starts with the centroids on top of each other and slides the mask outward along a random
    direction, 1 px at a time, until it leaves the target. None if it never overlapped it.
    """
    rows, cols = np.nonzero(target)
    box = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    mask_rows, mask_cols = np.nonzero(mask)
    start = np.array([rows.mean() - mask_rows.mean(), cols.mean() - mask_cols.mean()])
    angle = rng.uniform(0.0, 2.0 * np.pi)
    step = np.array([np.sin(angle), np.cos(angle)])
    # Past this distance the mask's box lies outside the target's box whatever the direction.
    reach = int(np.hypot(box[2] - box[0], box[3] - box[1]) + np.hypot(*mask.shape)) + 2
    previous: tuple[int, int] | None = None
    for distance in range(reach):
        # floor(x + 0.5), not rint: half-to-even rounding could jump 2 px in one 1 px step.
        row, col = np.floor(start + distance * step + 0.5)
        position = (int(row), int(col))
        if _overlaps(target, box, mask, position):
            previous = position
        elif previous is not None:
            # A diagonal step may leave the target corner to corner only; the row-only step in
            # between either already leaves it or overlaps it, and in both cases the pixel that
            # overlapped last ends up 4-adjacent to the target.
            row_only = (position[0], previous[1])
            diagonal = position[0] != previous[0] and position[1] != previous[1]
            if diagonal and not _overlaps(target, box, mask, row_only):
                return row_only
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

    The donor (randomly rotated by a multiple of 90° and flipped) gets a new id, max id + 1, and
    is 4-adjacent to particle P without overlapping it; it lies fully inside the patch and
    occludes whatever else it covers. Unchanged copies when the patch has no particle, there are
    no donors, or no placement works within ``attempts`` tries.
    """
    image_out, labels_out = image.copy(), labels.copy()
    particles = np.unique(labels)
    particles = particles[particles > 0]  # not background, nor unlabelled (negative)
    if particles.size == 0 or not donors:
        return image_out, labels_out
    height, width = labels.shape
    for _ in range(attempts):
        target = labels == rng.choice(particles)
        donor = donors[int(rng.integers(len(donors)))]
        if donor.image.shape[2] != image.shape[2]:
            raise ValueError(f"donor has {donor.image.shape[2]} channels, image {image.shape[2]}")
        turns = int(rng.integers(4))
        pixels, mask = np.rot90(donor.image, turns), np.rot90(donor.mask, turns)
        if rng.random() < 0.5:
            pixels, mask = pixels[:, ::-1], mask[:, ::-1]
        position = _touching_position(target, mask, rng)
        if position is None:
            continue
        top, left = position
        if top < 0 or left < 0 or top + mask.shape[0] > height or left + mask.shape[1] > width:
            continue
        window = (slice(top, top + mask.shape[0]), slice(left, left + mask.shape[1]))
        labels_out[window][mask] = labels.max() + 1
        image_out[window][mask] = pixels[mask]
        return image_out, labels_out
    return image_out, labels_out
