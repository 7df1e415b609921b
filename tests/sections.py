"""A small section scene with known classes and one stroke inside each region, shared by the
scribble-labelling tests (tests/test_annotate.py) and the viewer's (tests/test_viewer.py)."""

from __future__ import annotations

import numpy as np

from orescope.io.classes import UNLABELLED

COLOURS = np.array([[200, 60, 50], [60, 180, 70], [50, 70, 200], [230, 220, 90]])
CLASSES_YAML = """classes:
  0: background
  1: chalcopyrite
  2: galena
  3: magnetite
palette:
  0: [0, 0, 0]
  1: [255, 0, 0]
  2: [0, 0, 255]
  3: [255, 255, 0]
"""
# one horizontal stroke inside each region of the scene: (class, row, first and last column)
STROKES = [(0, 10, 5, 24), (1, 10, 37, 59), (2, 60, 70, 89), (3, 36, 44, 51)]
DISK = (48, 36)  # (x, y) of the disk's centre


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three vertical bands and a disk of flat colours with noise, and their classes."""
    truth = np.zeros((72, 96), np.uint8)
    truth[:, 32:64] = 1
    truth[:, 64:] = 2
    rows, columns = np.ogrid[:72, :96]
    truth[(rows - DISK[1]) ** 2 + (columns - DISK[0]) ** 2 < 12**2] = 3
    image = COLOURS[truth] + np.random.default_rng(seed).normal(0, 6, (*truth.shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def scribbles(*chosen: int) -> np.ndarray:
    """The ``chosen`` strokes of :data:`STROKES` (all of them when none is named), as a uint8
    scribble mask: the class under each stroke, :data:`UNLABELLED` elsewhere."""
    mask = np.full((72, 96), UNLABELLED, np.uint8)
    for class_index, row, first, last in (STROKES[i] for i in chosen or range(len(STROKES))):
        mask[row, first : last + 1] = class_index
    return mask
