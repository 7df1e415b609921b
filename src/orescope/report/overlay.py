"""Overlays that let a person check a segmentation at a glance."""

from __future__ import annotations

import numpy as np
from skimage.segmentation import find_boundaries

from orescope.io.images import to_uint8_rgb


def label_colours(count: int, seed: int = 0) -> np.ndarray:
    """``count + 1`` bright random colours (uint8 RGB); index 0 (background) is black."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(60, 256, size=(count + 1, 3)).astype(np.uint8)
    colours[0] = 0
    return colours


def instance_overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Each particle tinted in its own colour with a white outline; border-cut particles are
    outlined in red because they are left out of the PSD by default."""
    rgb = to_uint8_rgb(image).astype(np.float32)
    colours = label_colours(int(labels.max())).astype(np.float32)
    inside = labels > 0
    rgb[inside] = (1 - alpha) * rgb[inside] + alpha * colours[labels[inside]]
    outline = find_boundaries(labels, mode="inner")
    cut = np.zeros(int(labels.max()) + 1, dtype=bool)
    edges = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    cut[edges] = True
    cut[0] = False
    rgb[outline] = (255, 255, 255)
    rgb[outline & cut[labels]] = (255, 40, 40)
    return np.round(rgb).astype(np.uint8)
