"""Class-balanced patch sampling (paper 003 §3.1): rare minerals reach the network as often as
common ones.

For every image and class a *content map* holds the fraction of a patch that the class would
cover if the patch were placed at each position. At each step the sampler takes the class fed
least so far, an image in proportion to its content of that class, and a patch position in
proportion to that image's map, then counts the classes of the patch it chose.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from orescope.io.atomic import atomic_path


@dataclass(frozen=True)
class Window:
    """A patch: image index and the top-left corner of a ``patch``×``patch`` square."""

    image: int
    top: int
    left: int


def window_starts(length: int, patch: int, stride: int) -> np.ndarray:
    """Start positions every ``stride`` pixels, always including the last one that fits, so
    every pixel lies in some window. An image shorter than the patch has the single start 0."""
    last = max(0, length - patch)
    return np.unique(np.append(np.arange(0, last + 1, stride), last))


def content_maps(mask: np.ndarray, classes: list[int], patch: int, stride: int) -> np.ndarray:
    """K×h×w float32: fraction of each class in the patch starting at each grid position.

    Window sums come from a summed-area table (``cv2.integral``), one class at a time, so
    memory is one image of int32 plus the small maps.
    """
    tops = window_starts(mask.shape[0], patch, stride)
    lefts = window_starts(mask.shape[1], patch, stride)
    bottoms = np.minimum(tops + patch, mask.shape[0])
    rights = np.minimum(lefts + patch, mask.shape[1])
    maps = np.empty((len(classes), len(tops), len(lefts)), dtype=np.float32)
    for k, index in enumerate(classes):
        table = cv2.integral((mask == index).astype(np.uint8))
        sums = (
            table[np.ix_(bottoms, rights)]
            - table[np.ix_(tops, rights)]
            - table[np.ix_(bottoms, lefts)]
            + table[np.ix_(tops, lefts)]
        )
        maps[k] = sums / float(patch * patch)
    return maps


def _map_key(mask: np.ndarray, classes: list[int], patch: int, stride: int) -> str:
    digest = hashlib.blake2b(np.ascontiguousarray(mask).tobytes(), digest_size=16)
    digest.update(repr((mask.shape, str(mask.dtype), classes, patch, stride)).encode())
    return digest.hexdigest()


def cached_content_maps(
    mask: np.ndarray, classes: list[int], patch: int, stride: int, cache: Path | None
) -> np.ndarray:
    """``content_maps``, kept in ``cache`` under a hash of the mask's pixels and the settings:
    a changed mask has another key, so a stale map is never read."""
    if cache is None:
        return content_maps(mask, classes, patch, stride)
    path = cache / f"{_map_key(mask, classes, patch, stride)}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    maps = content_maps(mask, classes, patch, stride)
    with atomic_path(path) as partial:
        np.save(partial, maps, allow_pickle=False)
    return maps


class ClassBalancedSampler:
    """Draws patch windows so that the classes of ``classes`` are fed in about equal amounts.

    The counts start at zero for every sampler: give each DataLoader worker and each epoch its
    own sampler and random stream (``PatchStream`` does), and runs stay reproducible.
    """

    def __init__(
        self,
        masks: list[np.ndarray],
        classes: list[int],
        patch: int,
        stride: int = 8,
        cache: Path | None = None,
    ) -> None:
        self.masks, self.classes, self.patch, self.stride = masks, list(classes), patch, stride
        self.maps = [cached_content_maps(m, self.classes, patch, stride, cache) for m in masks]
        self.content = np.array(
            [[np.count_nonzero(m == index) for index in self.classes] for m in masks],
            dtype=np.float64,
        )
        self.present = self.content.sum(axis=0) > 0
        if not self.present.any():
            raise ValueError("no mask holds any of the classes to balance")
        self.fed = np.zeros(len(self.classes), dtype=np.float64)

    def rarest_class(self, rng: np.random.Generator) -> int:
        """Position in ``classes`` of the present class fed least so far (ties drawn at random)."""
        fed = np.where(self.present, self.fed, np.inf)
        candidates = np.flatnonzero(fed == fed.min())
        return int(rng.choice(candidates))

    def draw(self, rng: np.random.Generator) -> Window:
        """The next window; its class pixels are added to the counts."""
        k = self.rarest_class(rng)
        image = int(rng.choice(len(self.masks), p=self.content[:, k] / self.content[:, k].sum()))
        weights = self.maps[image][k]
        cell = int(rng.choice(weights.size, p=(weights / weights.sum()).ravel()))
        row, col = (int(i) for i in np.unravel_index(cell, weights.shape))
        mask = self.masks[image]
        tops = window_starts(mask.shape[0], self.patch, self.stride)
        lefts = window_starts(mask.shape[1], self.patch, self.stride)
        top, left = self._jitter(tops, row, rng), self._jitter(lefts, col, rng)
        window = mask[top : top + self.patch, left : left + self.patch]
        if not (window == self.classes[k]).any():  # jittered off the class: take the grid cell
            top, left = int(tops[row]), int(lefts[col])
            window = mask[top : top + self.patch, left : left + self.patch]
        self.fed += [np.count_nonzero(window == index) for index in self.classes]
        return Window(image, top, left)

    def _jitter(self, starts: np.ndarray, cell: int, rng: np.random.Generator) -> int:
        """A start within the grid cell, so that windows are not limited to the grid."""
        end = starts[cell + 1] if cell + 1 < len(starts) else starts[cell] + 1
        return int(rng.integers(starts[cell], end))
