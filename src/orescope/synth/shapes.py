"""Random particle outlines, from sharp-cornered fragments to rounded pebbles."""

from __future__ import annotations

import cv2
import numpy as np


def particle_mask(
    ecd_px: float, rng: np.random.Generator, angularity: float, max_elongation: float
) -> np.ndarray:
    """A binary mask of one particle whose (pre-smoothing) equivalent-circle diameter is ``ecd_px``.

    The outline is a star-shaped polygon of 5-11 vertices with random radii, stretched by up to
    ``max_elongation`` and rotated; ``angularity`` 1 keeps its corners, 0 rounds them off.
    """
    vertices = int(rng.integers(5, 12))
    step = 2 * np.pi / vertices
    angles = rng.uniform(0, step) + step * (
        np.arange(vertices) + rng.uniform(-0.35, 0.35, vertices)
    )
    radii = rng.uniform(0.7, 1.15, vertices)
    points = np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])
    stretch = np.sqrt(rng.uniform(1.0, max_elongation))
    points *= [stretch, 1.0 / stretch]
    turn = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    points = points @ rotation.T
    x, y = points[:, 0], points[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    points *= np.sqrt(np.pi * (ecd_px / 2) ** 2 / area)
    margin = 2
    size = int(np.ceil(2 * np.abs(points).max())) + 2 * margin + 1
    centre = size / 2.0
    scale = 4  # draw at 4x and average down for smooth, sub-pixel-accurate edges
    canvas = np.zeros((size * scale, size * scale), dtype=np.uint8)
    polygon = np.round((points + centre) * scale).astype(np.int32)
    cv2.fillPoly(canvas, [polygon], 255)
    coverage = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    sigma = (1.0 - angularity) * 0.15 * ecd_px
    if sigma > 0.5:
        coverage = cv2.GaussianBlur(coverage.astype(np.float32), (0, 0), sigma)
    mask = coverage >= 127.5
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return np.ones((1, 1), dtype=bool)
    return mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
