"""Smooth random fields: the texture, dust and illumination of synthetic scenes."""

from __future__ import annotations

import cv2
import numpy as np


def fractal_noise(
    shape: tuple[int, int],
    rng: np.random.Generator,
    base_cells: int = 4,
    octaves: int = 4,
    persistence: float = 0.5,
) -> np.ndarray:
    """Zero-mean, unit-std float32 noise: bicubically upsampled random grids summed over octaves."""
    height, width = shape
    field = np.zeros(shape, dtype=np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        field += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        amplitude *= persistence
    field -= field.mean()
    return field / max(float(field.std()), 1e-6)
