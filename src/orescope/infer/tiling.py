"""Tile geometry for sliding-window inference: where tiles start and how much each pixel counts."""

from __future__ import annotations

from functools import reduce

import numpy as np

# Floor of the importance map: tile corners still count a little, so every covered pixel has a
# positive total weight, and float32 sums and divisions stay far from denormals.
MIN_WEIGHT = 1e-6
# Pixels per forward pass when the batch is not given: four 256² tiles. Larger tiles go one at a
# time, since on a CPU a batch of several large tiles is slower per pixel than one alone (its
# activations leave the caches) and its memory grows with the batch.
BATCH_PIXELS = 4 * 256**2


def tile_starts(length: int, tile: int, step: int) -> list[int]:
    """Starts of tiles covering ``[0, length)``, ``step`` apart, the last ending at the edge.

    The last tile is moved back to end exactly at ``length`` rather than running past it, so
    only sides shorter than one tile need padding. One start, 0, when ``length <= tile``.
    """
    if length < 1 or tile < 1 or step < 1:
        raise ValueError(f"length, tile and step must be positive: {length}, {tile}, {step}")
    if length <= tile:
        return [0]
    return [*range(0, length - tile, step), length - tile]


def tiles_per_batch(tile: int, ndim: int = 2) -> int:
    """Tiles (squares, or cubes for ``ndim=3``) per forward pass by default: as many as hold
    :data:`BATCH_PIXELS`, at least one."""
    if tile < 1:
        raise ValueError(f"tile must be positive, got {tile}")
    return max(1, BATCH_PIXELS // tile**ndim)


def gaussian_weights(tile: int, sigma_fraction: float = 0.125, ndim: int = 2) -> np.ndarray:
    """Importance map (float32 ``tile``×``tile``, or a cube of ``ndim`` sides, max 1) that
    trusts tile centres over edges.

    As in nnU-Net: a Gaussian with sigma ``sigma_fraction·tile`` centred on the tile, so that
    blended overlapping tiles hide the border artefacts of convolutional models. Centred at
    ``(tile - 1) / 2``, hence exactly symmetric; clipped below at ``MIN_WEIGHT``.
    """
    if tile < 1 or not sigma_fraction > 0:
        raise ValueError(f"tile and sigma_fraction must be positive: {tile}, {sigma_fraction}")
    offsets = np.arange(tile, dtype=np.float64) - (tile - 1) / 2
    profile = np.exp(-0.5 * (offsets / (sigma_fraction * tile)) ** 2)
    weights = reduce(np.multiply.outer, [profile] * ndim)
    return np.maximum(weights / weights.max(), MIN_WEIGHT).astype(np.float32)
