"""Particle-size normalisation (Gotkowski et al., paper 002 §3.2.1).

A network trained on particles of a typical size in pixels segments best at that size, so images
(and volumes) are resized until their particles match it, predicted, and the labels brought
back.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import transform

# cv2's INTER_AREA handles at most 4 channels at a time.
_CV2_CHANNELS = 4


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
    return labels[np.ix_(*(_nearest(n, t) for n, t in zip(labels.shape, shape, strict=True)))]


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


def _nearest(source: int, target: int) -> np.ndarray:
    """Source index of each target pixel whose centre falls in it."""
    centres = (np.arange(target) + 0.5) * (source / target)
    return np.minimum(centres.astype(np.intp), source - 1)


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
