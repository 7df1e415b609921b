"""Particle-size normalisation (Gotkowski et al., paper 002 §3.2.1).

A network trained on particles of a typical size in pixels segments best at that size, so images
(and volumes) are resized until their particles match it, predicted, and the labels brought
back.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from scipy import ndimage
from skimage import transform

from orescope.io.volumes import read_block

# cv2's INTER_AREA handles at most 4 channels at a time.
_CV2_CHANNELS = 4
LOW_PASS_TRUNCATE = 4.0  # the Gaussian low-pass is cut at this many sigmas


def resize_image(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` (H×W or H×W×C, dtype kept) scaled to ``round(H·scale)``×``round(W·scale)``.

    Area averaging when shrinking, so fine texture does not alias; bilinear when enlarging.
    ``scale == 1`` returns ``image`` itself. Dtypes are those cv2 resizes (uint8, uint16,
    int16, float32, float64).
    """
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    if scale == 1:
        return image
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an H×W or H×W×C image, got shape {image.shape}")
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if image.ndim == 2:
        return cv2.resize(image, size, interpolation=interpolation)
    groups = [
        cv2.resize(image[..., c : c + _CV2_CHANNELS], size, interpolation=interpolation)
        for c in range(0, image.shape[2], _CV2_CHANNELS)
    ]
    # cv2 drops the channel axis of single-channel results.
    return np.concatenate([g.reshape(*g.shape[:2], -1) for g in groups], axis=2)


def resize_labels(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour resize of a label image or volume to ``shape``, dtype and ids kept
    exactly. Indexing with pixel-centre index maps rather than cv2, which cannot resize uint32
    ids (nor volumes).
    """
    if len(shape) != labels.ndim or min(shape) < 1:
        raise ValueError(f"shape must be {labels.ndim} positive sizes, got {shape}")
    return labels[
        np.ix_(*(nearest_indices(n, t) for n, t in zip(labels.shape, shape, strict=True)))
    ]


def resize_volume(volume: np.ndarray, scale: float) -> np.ndarray:
    """``volume`` (z, y, x) scaled by ``scale`` along every axis to ``round(n·scale)`` voxels,
    dtype kept: trilinear, with a Gaussian low-pass first when shrinking so fine texture does
    not alias (as area averaging does for images). ``scale == 1`` returns ``volume`` itself."""
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    if scale == 1:
        return volume
    if volume.ndim != 3:
        raise ValueError(f"expected a (z, y, x) volume, got shape {volume.shape}")
    shape = tuple(max(1, round(n * scale)) for n in volume.shape)
    resized = transform.resize(
        volume.astype(np.float32), shape, order=1, preserve_range=True, anti_aliasing=scale < 1
    )
    if np.issubdtype(volume.dtype, np.integer):
        limits = np.iinfo(volume.dtype)
        resized = np.clip(np.rint(resized), limits.min, limits.max)
    return resized.astype(volume.dtype)


def nearest_indices(source: int, target: int) -> np.ndarray:
    """Source index (of ``source`` along an axis) in which each of ``target`` pixels' centres
    falls: nearest-neighbour resampling, of a whole axis or of any block of it alike."""
    centres = (np.arange(target) + 0.5) * (source / target)
    return np.minimum(centres.astype(np.intp), source - 1)


def grid_shape(shape: tuple[int, ...], scales: tuple[float, ...]) -> tuple[int, ...]:
    """The shape of a volume (image) of ``shape`` resampled by ``scales`` (one per axis)."""
    return tuple(max(1, round(n * s)) for n, s in zip(shape, scales, strict=True))


def resampled_block(volume: Any, box: tuple[slice, ...], grid: tuple[int, ...]) -> np.ndarray:
    """The voxels ``box`` of ``volume`` (any array that slices lazily) resampled onto a grid
    of ``grid`` voxels, as float32: trilinear, after a Gaussian low-pass along each axis that
    shrinks (:func:`resize_volume`'s sampling, and skimage's coordinates: voxel centres stay
    put). Only the source voxels a block needs are read, and each value depends on its place
    on the grid alone: a volume resampled block by block is the same whatever the blocks.

    Examples
    --------
    >>> ramp = np.arange(8, dtype=np.uint8)[None, None, :].repeat(2, 0).repeat(2, 1)
    >>> whole = resampled_block(ramp, (slice(0, 2), slice(0, 2), slice(0, 16)), (2, 2, 16))
    >>> part = resampled_block(ramp, (slice(0, 2), slice(0, 2), slice(5, 9)), (2, 2, 16))
    >>> whole[0, 0, 5:9].tolist(), bool(np.array_equal(whole[..., 5:9], part))
    ([2.25, 2.75, 3.25, 3.75], True)
    """
    reads, sigmas, coordinates = [], [], []
    for cut, size, target in zip(box, volume.shape, grid, strict=True):
        ratio = target / size
        where = np.clip((np.arange(cut.start, cut.stop) + 0.5) / ratio - 0.5, 0, size - 1)
        sigma = max(0.0, (1 / ratio - 1) / 2)
        reach = int(LOW_PASS_TRUNCATE * sigma + 0.5) + 1  # the filter's radius, and one more
        start = max(int(where[0]) - reach, 0)
        reads.append(slice(start, min(int(where[-1]) + 2 + reach, size)))
        sigmas.append(sigma)
        coordinates.append(where - start)
    block = read_block(volume, tuple(reads)).astype(np.float32)
    if any(sigmas):
        block = ndimage.gaussian_filter(block, sigmas, mode="nearest", truncate=LOW_PASS_TRUNCATE)
    for axis, where in enumerate(coordinates):
        low = where.astype(np.intp)
        shape = [1] * block.ndim
        shape[axis] = low.size
        weight = (where - low).astype(np.float32).reshape(shape)
        below = np.take(block, low, axis=axis)
        above = np.take(block, np.minimum(low + 1, block.shape[axis] - 1), axis=axis)
        block = below + (above - below) * weight
    return block


def median_diameter_px(labels: np.ndarray) -> float:
    """Median equivalent circular diameter sqrt(4·area/π) of the instances; NaN if none.

    The typical particle size that :func:`size_scale` matches to a model's training size.
    """
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    ids = labels.ravel()
    if ids.size and ids.min() < 0:
        raise ValueError("labels must be non-negative")
    largest = int(ids.max()) if ids.size else 0
    if largest == 0:
        return float("nan")
    if largest > ids.size:  # sparse huge ids: a count per possible id would outgrow the image
        values, counts = np.unique(ids, return_counts=True)
        areas = counts[values > 0]
    else:
        counts = np.bincount(ids.astype(np.intp, copy=False))[1:]
        areas = counts[counts > 0]
    if labels.ndim == 3:
        return float(np.median(np.cbrt(6 * areas / np.pi)))
    return float(np.median(np.sqrt(4 * areas / np.pi)))


def size_scale(
    typical_px: float, target_px: float, limits: tuple[float, float] = (0.25, 4.0)
) -> float:
    """Resize factor ``target_px / typical_px`` that brings particles to the model's size.

    Clipped to ``limits`` so a wrong size estimate cannot blow an image up or shrink it away.
    """
    low, high = limits
    for name, value in (("typical_px", typical_px), ("target_px", target_px)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite, got {value}")
    if not (0 < low <= high):
        raise ValueError(f"limits must satisfy 0 < low <= high, got {limits}")
    return float(np.clip(target_px / typical_px, low, high))
