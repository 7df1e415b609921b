"""Intensity normalisation of CT volumes (paper 002 §3.2.1, nnU-Net's scheme for CT).

A scanner's grey values depend on its energy, filter and reconstruction; a model sees them
z-scored. The statistics come from a random sample of the volume's chunks, so a scan of
billions of voxels is never read whole for them, and every chunk is normalised alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np

PERCENTILES = (0.5, 99.5)  # outliers (metal, air, ring artefacts) clipped before z-scoring
SAMPLE_VOXELS = 2_000_000  # enough voxels for percentiles steady to a grey level


@dataclass(frozen=True)
class IntensityStats:
    """Clipping limits, and mean and standard deviation of the clipped voxels; ``sign`` -1
    turns the z-scores over, so that dark particles in bright resin come out as a model
    trained on bright particles saw them."""

    low: float
    high: float
    mean: float
    std: float
    sign: float = 1.0

    def normalise(self, chunk: np.ndarray) -> np.ndarray:
        """``chunk`` clipped to the limits and z-scored, as float32."""
        clipped = np.clip(chunk.astype(np.float32), self.low, self.high)
        return (clipped - np.float32(self.mean)) / np.float32(self.sign * self.std)


def sample_voxels(volume: da.Array, count: int = SAMPLE_VOXELS, seed: int = 0) -> np.ndarray:
    """The voxels of whole chunks drawn at random (seeded) until ``count`` are in hand (all of
    a smaller volume), as one flat array: statistics of a scan without reading it whole."""
    rng = np.random.default_rng(seed)
    blocks = list(np.ndindex(*volume.numblocks))
    sample: list[np.ndarray] = []
    taken = 0
    for index in rng.permutation(len(blocks)):
        values = np.asarray(volume.blocks[blocks[index]]).ravel()
        sample.append(values)
        taken += values.size
        if taken >= count:
            break
    return np.concatenate(sample)


def volume_stats(volume: da.Array, count: int = SAMPLE_VOXELS, seed: int = 0) -> IntensityStats:
    """Robust intensity statistics of a volume from ``count`` voxels of
    :func:`sample_voxels`: clipped to the 0.5th and 99.5th percentiles, then their mean and
    standard deviation (at least 1e-6, so a flat volume divides safely).

    Examples
    --------
    >>> values = da.from_array(np.arange(1000, dtype=np.uint16).reshape(10, 10, 10), chunks=5)
    >>> stats = volume_stats(values)
    >>> round(stats.low, 1), round(stats.high, 1), round(stats.mean, 1)
    (5.0, 994.0, 499.5)
    >>> float(stats.normalise(np.array([499.5]))[0])
    0.0
    """
    voxels = sample_voxels(volume, count, seed).astype(np.float64)
    low, high = np.percentile(voxels, PERCENTILES)
    clipped = np.clip(voxels, low, high)
    return IntensityStats(
        float(low), float(high), float(clipped.mean()), max(float(clipped.std()), 1e-6)
    )
