"""Stitched fields made to look as one (paper 003 §4's second stage): uneven light removed by a
blank field, exposure gains that equalise the overlaps, seams through the least visible paths
between overlapping fields, and feather weights that fade each field into its neighbours, so no
seam shows where one field ends and nothing that differs between two fields shows doubled; or
multi-band blending (Burt and Adelson), which switches fine detail sharply at a seam and
spreads coarse shading over a wide band."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import cv2
import numpy as np

from orescope.errors import InputError
from orescope.preprocess.stitch import moved

MIN_OVERLAP_PX = 64  # pixels two fields must share for their exposure to be compared
GAIN_PULL = 1e-6  # pull of every log gain towards 0: fixes the overall level, nothing else
SEAM_SOFTNESS_PX = 2.0  # σ of the ramp across a seam: hides a one-level step, too narrow to ghost
SEAM_FLOOR = 1e-3  # share kept off a field's seam: a pixel no coarse seam mask gives still blends
HALO_SCALE = 3  # multi-band context around a tile, in px of its coarsest level: tiles meet unseen


def flat_field_gain(blank: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, channels) float32 divisor that removes uneven illumination: the blank field (a
    photo of an empty, uniform field under the same light) over its mean. Unlike
    :func:`~orescope.preprocess.colour.flat_field` it keeps no uint8 rounding, so 16-bit fields
    stay 16-bit and the exposure gains apply before the one rounding."""
    gain = np.maximum(blank.astype(np.float32), 1.0)
    if gain.ndim == 2:
        gain = np.repeat(gain[..., None], channels, axis=2)
    elif gain.shape[2] < channels or (channels == 1 and gain.shape[2] > 1):
        raise InputError(
            None, f"a blank field of {gain.shape[2]} channels for fields of {channels}"
        )
    gain = gain[..., :channels]
    return gain / gain.mean(axis=(0, 1))


def overlap_means(
    first: np.ndarray, second: np.ndarray, second_to_first: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per channel, the mean of ``first`` (H, W, C float) and of ``second`` (warped onto it by
    the 2 × 3 ``second_to_first``) where both are seen, and how many pixels that is."""
    height, width = first.shape[:2]
    inside = cv2.warpAffine(np.ones(second.shape[:2], np.float32), second_to_first, (width, height))
    warped = cv2.warpAffine(second, second_to_first, (width, height)).reshape(height, width, -1)
    both = inside > 0.999  # away from the warped edge, where black would leak in
    count = int(both.sum())
    if count == 0:
        return np.zeros(first.shape[2]), np.zeros(first.shape[2]), 0
    return first[both].mean(axis=0), warped[both].mean(axis=0), count


def exposure_gains(
    count: int, channels: int, overlaps: Iterable[tuple[int, int, np.ndarray, np.ndarray, int]]
) -> np.ndarray:
    """(count, channels) gains that make every pair of overlapping fields agree.

    ``overlaps``: (field i, field j, mean of i, mean of j over their overlap, pixels). As
    OpenCV's ``GainCompensator`` (Brown & Lowe's least squares over overlap means), but in
    logarithms with only a faint pull towards gain 1: a change of exposure multiplies, and
    OpenCV's stronger pull (its σ_g = 0.1) leaves a few percent of each step uncorrected.
    A field that overlaps nothing keeps gain 1. By hand: OpenCV's compensator needs every
    warped field in memory at once.
    """
    rows, targets, weights = [], [], []
    for first, second, mean_first, mean_second, pixels in overlaps:
        if pixels < MIN_OVERLAP_PX:
            continue
        row = np.zeros(count)
        row[first], row[second] = 1.0, -1.0
        rows.append(row)
        low = 1e-6  # a black overlap has no exposure to compare
        targets.append(np.log(np.maximum(mean_second, low)) - np.log(np.maximum(mean_first, low)))
        weights.append(float(pixels))
    scale = np.sqrt(np.array(weights) / max(weights, default=1.0))[:, None]
    system = np.vstack(
        [np.array(rows).reshape(-1, count) * scale, np.sqrt(GAIN_PULL) * np.eye(count)]
    )
    wanted = np.vstack(
        [np.array(targets).reshape(-1, channels) * scale, np.zeros((count, channels))]
    )
    return np.exp(np.linalg.lstsq(system, wanted, rcond=None)[0])


def feather_weights(height: int, width: int) -> np.ndarray:
    """(height, width) float32 blending weight of a field: its distance to the nearest left or
    right edge times that to the nearest top or bottom edge. A field fades out towards its
    edges, so where fields overlap each one's share slides from 1 to 0 across the overlap;
    the product (not the plain distance to the nearest edge) has no ridge along the
    diagonals, which would show as a crease where three fields meet."""
    across = np.minimum(np.arange(width) + 0.5, width - 0.5 - np.arange(width)) / (width / 2)
    down = np.minimum(np.arange(height) + 0.5, height - 0.5 - np.arange(height)) / (height / 2)
    return np.outer(down, across).astype(np.float32)


def find_seams(
    images: list[np.ndarray], masks: list[np.ndarray], corners: list[tuple[int, int]]
) -> list[np.ndarray]:
    """Where each field shows in the panorama: its (h, w) uint8 ``mask`` (255 where it covers)
    cut back, where fields overlap, along the paths on which they differ least.

    ``images``: the fields warped into the panorama's frame at a small scale, (h, w, C) float32
    in 0–255, each with its top-left ``corner`` there. OpenCV's graph cut over colour and
    gradient differences (as its own stitcher's default), so a seam avoids anything that
    differs between two fields and runs along edges, where a step shows least.
    """
    finder = cv2.detail.GraphCutSeamFinder("COST_COLOR_GRAD")
    colour = [image if image.shape[2] == 3 else np.repeat(image, 3, axis=2) for image in images]
    found = finder.find(
        [cv2.UMat(image) for image in colour], corners, [cv2.UMat(mask) for mask in masks]
    )
    return [mask.get() for mask in found]


def seam_weights(seam: np.ndarray, field_to_seam: np.ndarray, feather: np.ndarray) -> np.ndarray:
    """A field's (H, W) blending weights: its :func:`find_seams` mask ``seam``, brought back to
    the field's own pixels by the 3 × 3 ``field_to_seam`` and softened across the seam, times
    its ``feather`` weights."""
    height, width = feather.shape
    shown = cv2.warpPerspective(
        seam.astype(np.float32) / 255,
        field_to_seam,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    soft = cv2.GaussianBlur(shown, (0, 0), SEAM_SOFTNESS_PX, borderType=cv2.BORDER_REPLICATE)
    return feather * np.maximum(soft, SEAM_FLOOR)


def blend_tile(
    shape: tuple[int, int, int],
    pieces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    dtype: np.dtype,
    bands: int = 0,
) -> np.ndarray:
    """One tile of the panorama, of ``shape`` (height, width, channels), from ``pieces``:
    (field, its (H, W) weights, 3 × 3 matrix from the field's pixels to the tile's), each field
    already flat-field corrected and gained, blended by its weights (:func:`feather_weights`,
    or :func:`seam_weights`): averaged (``bands`` 0), or by :func:`multiband` over ``bands``
    halvings, from fields that reach :func:`blend_halo` px beyond the tile: tiles with corners
    on multiples of 2 ** ``bands`` px make one panorama whatever their size (to 0.01 grey
    level). Pixels no field covers are 0; integers are rounded and clipped to ``dtype``.
    """
    if bands == 0:
        blended = _weighted_average(shape, pieces)
    else:
        blended = multiband(shape, pieces, bands, blend_halo(bands))
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        return np.clip(np.round(blended), limits.min, limits.max).astype(dtype)
    return blended.astype(dtype)


def blend_halo(bands: int) -> int:
    """Px of context a tile blended over ``bands`` halvings needs on each side, so that tiles
    meet as if the panorama were blended whole; a multiple of 2 ** ``bands``, so every tile's
    pyramid samples the same grid."""
    return HALO_SCALE * 2**bands if bands else 0


def multiband(
    shape: tuple[int, int, int],
    pieces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    bands: int,
    halo_px: int,
) -> np.ndarray:
    """A tile as :func:`blend_tile`'s, (height, width, channels) float32, blended band by band
    (Burt and Adelson): each field's Laplacian pyramid of ``bands`` halvings, each level
    averaged by the Gaussian pyramid of the field's share (its weight over all fields'), and
    the blended pyramid collapsed, all over the tile widened by ``halo_px``. Fine detail
    switches where the shares do, at a seam; the coarsest level blends over 2 ** ``bands`` px
    and more, so a step of shading spreads out instead of showing as a line.

    By hand with ``cv2.pyrDown``/``cv2.pyrUp``: OpenCV's ``MultiBandBlender`` takes only
    binary 8-bit masks and 16-bit signed pixels, not soft shares or 16-bit unsigned fields.
    """
    height, width, channels = shape
    pieces = list(pieces)
    size = (height + 2 * halo_px, width + 2 * halo_px, channels)
    widen = moved((halo_px, halo_px))
    shares = [_share(weights, widen @ matrix, size) for _, weights, matrix in pieces]
    total = np.sum(shares, axis=0)
    levels: list[np.ndarray] = []
    level_weights: list[np.ndarray] = []
    for (field, _, matrix), share in zip(pieces, shares, strict=True):
        warped = _field(field, widen @ matrix, size)
        normalised = np.divide(share, total, out=np.zeros_like(share), where=total > 0)
        detail = _laplacian_pyramid(warped, bands)
        for index, weight in enumerate(_gaussian_pyramid(normalised, bands)):
            if index == len(levels):
                levels.append(np.zeros_like(detail[index]))
                level_weights.append(np.zeros_like(weight))
            levels[index] += detail[index] * weight[..., None]
            level_weights[index] += weight
    for level, weight in zip(levels, level_weights, strict=True):
        np.divide(level, weight[..., None], out=level, where=weight[..., None] > 0)
        level[weight <= 0] = 0
    tile = _collapse(levels)[halo_px : halo_px + height, halo_px : halo_px + width]
    tile[total[halo_px : halo_px + height, halo_px : halo_px + width] <= 0] = 0
    return tile


def _weighted_average(
    shape: tuple[int, int, int], pieces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> np.ndarray:
    """The fields averaged by their weights, (height, width, channels) float32."""
    height, width, _ = shape
    total = np.zeros(shape, np.float32)
    weight_sum = np.zeros((height, width), np.float32)
    for field, weights, matrix in pieces:
        share = _share(weights, matrix, shape)
        total += _field(field, matrix, shape) * share[..., None]
        weight_sum += share
    blended = total / np.maximum(weight_sum, 1e-12)[..., None]
    blended[weight_sum <= 0] = 0
    return blended


def _share(weights: np.ndarray, matrix: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A field's (H, W) weights warped into a tile of ``shape``: 0 where it does not reach."""
    height, width = shape[:2]
    return cv2.warpPerspective(weights, matrix, (width, height), flags=cv2.INTER_LINEAR)


def _field(field: np.ndarray, matrix: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A field warped into a tile of ``shape``, float32: resampled bicubically (sharper than
    bilinear, which blurs a half-pixel shift), its edge pixels repeated beyond it so that no
    black seeps in at the panorama's border."""
    height, width = shape[:2]
    warped = cv2.warpPerspective(
        field, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return warped.reshape(shape).astype(np.float32)


def _down(image: np.ndarray) -> np.ndarray:
    smaller = cv2.pyrDown(image)
    return smaller.reshape(*smaller.shape[:2], *image.shape[2:])


def _up(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``image`` doubled to ``like``'s size."""
    return cv2.pyrUp(image, dstsize=(like.shape[1], like.shape[0])).reshape(like.shape)


def _gaussian_pyramid(image: np.ndarray, bands: int) -> list[np.ndarray]:
    levels = [image]
    for _ in range(bands):
        levels.append(_down(levels[-1]))
    return levels


def _laplacian_pyramid(image: np.ndarray, bands: int) -> list[np.ndarray]:
    """Each level of the Gaussian pyramid less the next one up, the coarsest level as it is:
    :func:`_collapse` adds them back to ``image``."""
    gaussian = _gaussian_pyramid(image, bands)
    return [fine - _up(coarse, fine) for fine, coarse in pairwise(gaussian)] + [gaussian[-1]]


def _collapse(levels: list[np.ndarray]) -> np.ndarray:
    image = levels[-1]
    for fine in reversed(levels[:-1]):
        image = fine + _up(image, fine)
    return image
