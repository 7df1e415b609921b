"""Scribbles to region labels through a hierarchy of superpixels (paper 003 §5).

A geologist strokes a few lines across each mineral; every superpixel a stroke touches takes the
stroke's class, so one stroke labels a whole grain. Superpixels come at several scales, coarse
to fine (scikit-image's SLIC and Felzenszwalb): a coarse superpixel touched by strokes of one
class is labelled whole; one touched by strokes of several classes straddles a border, so it is
split by the next finer scale (its intersections with the finer superpixels) and each piece is
decided in the same way; pieces that still hold several classes at the finest scale go pixel by
pixel to the class of the nearest stroke inside them. Superpixels no stroke touches stay
unlabelled (:data:`UNLABELLED`), or with ``fill`` take the class of the labelled region nearest
to them along the superpixel graph, in colour differences.

Scribbles and labels are uint8 class masks in which :data:`UNLABELLED` (255) marks pixels
without a stroke or a label: class 0 (the background of a section) can be scribbled too, and
255 is the value a training loss skips (``loss.ignore_index: 255``) and the mineral job's
calibration masks already use for unlabelled pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, cast

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from skimage.color import rgb2lab
from skimage.segmentation import felzenszwalb, slic

from orescope.io.classes import UNLABELLED
from orescope.io.images import to_rgb_float

Method = Literal["slic", "felzenszwalb"]
SLIC_COMPACTNESS = 10.0  # scikit-image's default: superpixels follow colour edges, stay compact
FELZENSZWALB_SIGMA = 0.8  # the method's own default pre-smoothing, against JPEG noise
# ΔE charged for each step between regions in ``fill``: not 0, which the graph reads as no
# edge, and no more, since 1, 3 or 10 filled the LumenStone validation photos no better
HOP_COST = 1e-3


@dataclass(frozen=True)
class SuperpixelLevel:
    """One scale of the hierarchy: ``slic`` with superpixels of about ``size`` pixels, or
    ``felzenszwalb`` with ``size`` as its scale (segments grow with it and adapt to the image:
    large over flat resin, small over fine intergrowths; on LumenStone photos they average about
    ten times the scale in pixels) and segments of at least ``size // 4`` pixels."""

    method: Method
    size: int

    def __post_init__(self) -> None:
        if self.method not in ("slic", "felzenszwalb"):
            raise ValueError(f"superpixel method must be slic or felzenszwalb, not {self.method}")
        if self.size < 4:
            raise ValueError(f"superpixel size must be at least 4, got {self.size}")

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        """int32 superpixel ids (from 0) of a float RGB image in [0, 1]."""
        if self.method == "slic":
            count = max(1, rgb.shape[0] * rgb.shape[1] // self.size)
            ids = slic(
                rgb, n_segments=count, compactness=SLIC_COMPACTNESS, start_label=0, channel_axis=-1
            )
        else:
            ids = felzenszwalb(
                rgb, scale=self.size, sigma=FELZENSZWALB_SIGMA, min_size=self.size // 4
            )
        return ids.astype(np.int32, copy=False)

    def __str__(self) -> str:
        return f"{self.method}:{self.size}"


DEFAULT_LEVELS = (
    SuperpixelLevel("felzenszwalb", 400),
    SuperpixelLevel("slic", 1000),
    SuperpixelLevel("slic", 250),
)


def parse_levels(text: str) -> tuple[SuperpixelLevel, ...]:
    """Levels written as ``method:size`` coarse to fine, comma-separated, as the command line
    takes them: ``felzenszwalb:400,slic:1000,slic:250``."""
    levels = []
    for item in text.split(","):
        method, _, size = item.strip().partition(":")
        if not size.strip().isdigit():
            raise ValueError(f"superpixel level {item.strip()!r} is not method:size")
        levels.append(SuperpixelLevel(cast(Method, method.strip()), int(size)))
    return tuple(levels)


def superpixel_hierarchy(
    image: np.ndarray, levels: Sequence[SuperpixelLevel] = DEFAULT_LEVELS
) -> list[np.ndarray]:
    """int32 superpixel ids of ``image`` (gray or RGB, 8 or 16 bit) at each level, coarse to
    fine: computed once per image, while strokes come and go."""
    if not levels:
        raise ValueError("a superpixel hierarchy needs at least one level")
    rgb = to_rgb_float(image)
    return [level.segment(rgb) for level in levels]


class ScribbleLabeller:
    """The labels of an image's scribbles, kept up to date stroke after stroke.

    The decision for a coarse superpixel depends only on the strokes inside it, so adding
    strokes recomputes only the coarse superpixels they touch: a viewer can call :meth:`add`
    after every stroke. ``hierarchy`` is :func:`superpixel_hierarchy` of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((40, 60, 3), np.uint8)
    >>> image[:, 30:] = 200
    >>> labeller = ScribbleLabeller(image, superpixel_hierarchy(image))
    >>> strokes = np.full((40, 60), UNLABELLED, np.uint8)
    >>> strokes[20, 5:25], strokes[20, 35:55] = 1, 2
    >>> labels = labeller.add(strokes)
    >>> int(labels[0, 0]), int(labels[39, 59])
    (1, 2)
    """

    def __init__(self, image: np.ndarray, hierarchy: Sequence[np.ndarray]) -> None:
        if not hierarchy or any(ids.shape != image.shape[:2] for ids in hierarchy):
            raise ValueError("the superpixel hierarchy must hold maps of the image's size")
        self.image = image
        self.hierarchy = list(hierarchy)
        coarse = self.hierarchy[0]
        self._boxes = ndimage.find_objects(coarse + 1)
        self.strokes = np.full(coarse.shape, UNLABELLED, np.uint8)
        self._labels = np.full(coarse.shape, UNLABELLED, np.uint8)
        # one id per region that was decided as a whole (the graph's nodes for ``fill``)
        self._regions = coarse.astype(np.int64)
        self._next_region = int(coarse.max()) + 1

    def add(self, strokes: np.ndarray) -> np.ndarray:
        """Add ``strokes`` (uint8 class per pixel, :data:`UNLABELLED` elsewhere; a new stroke
        replaces an older one under it) and return the labels (a view: copy to keep)."""
        if strokes.shape != self.strokes.shape or strokes.dtype != np.uint8:
            raise ValueError(
                f"strokes must be uint8 of shape {self.strokes.shape}, got {strokes.dtype} "
                f"{strokes.shape}"
            )
        stroked = strokes != UNLABELLED
        self.strokes[stroked] = strokes[stroked]
        for segment in np.unique(self.hierarchy[0][stroked]):
            self._decide_segment(int(segment))
        return self._labels

    def labels(self, fill: bool = False) -> np.ndarray:
        """uint8 labels, :data:`UNLABELLED` where no stroke reached; with ``fill`` every
        region connected to a labelled one takes the class of the labelled region nearest to
        it along the graph of adjacent regions, each step costing the CIELAB difference of the
        two regions' mean colours. A new array."""
        if not fill:
            return self._labels.copy()
        ids, inverse = np.unique(self._regions, return_inverse=True)
        inverse = inverse.reshape(self._regions.shape)
        classes = np.full(len(ids), UNLABELLED, np.uint8)
        classes[inverse.ravel()] = self._labels.ravel()
        sources = np.flatnonzero(classes != UNLABELLED)
        if sources.size in (0, len(ids)):
            return self._labels.copy()
        counts = np.bincount(inverse.ravel(), minlength=len(ids))
        colours = np.stack(
            [
                np.bincount(inverse.ravel(), self._lab[..., c].ravel(), len(ids)) / counts
                for c in range(3)
            ],
            axis=1,
        )
        first, second = _adjacent_pairs(inverse, len(ids))
        steps = np.linalg.norm(colours[first] - colours[second], axis=1) + HOP_COST
        graph = coo_matrix((steps, (first, second)), shape=(len(ids), len(ids))).tocsr()
        _, _, nearest = dijkstra(
            graph, directed=False, indices=sources, min_only=True, return_predecessors=True
        )
        filled = np.where(nearest >= 0, classes[np.maximum(nearest, 0)], UNLABELLED)
        return filled.astype(np.uint8)[inverse]

    @cached_property
    def _lab(self) -> np.ndarray:
        return rgb2lab(to_rgb_float(self.image)).astype(np.float32)

    def _decide_segment(self, segment: int) -> None:
        """Labels and regions of one coarse superpixel from the strokes inside it."""
        box = self._boxes[segment]
        assert box is not None  # a stroked pixel lies in it
        inside = self.hierarchy[0][box] == segment
        finer = [ids[box][inside] for ids in self.hierarchy[1:]]
        labels, regions = decide_pixels(self.strokes[box][inside], finer, np.argwhere(inside))
        self._labels[box][inside] = labels
        self._regions[box][inside] = regions + self._next_region
        self._next_region += int(regions.max()) + 1


def decide_pixels(
    strokes: np.ndarray, finer: Sequence[np.ndarray], coordinates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 labels, int64 region ids from 0) of the pixels of one coarse superpixel, given
    their ``strokes``, their superpixel ids at each ``finer`` level and their (row, column)
    ``coordinates`` (1D arrays over the same pixels).

    A region (the superpixel, then its intersections with each finer level) touched by one
    class takes it, one touched by none stays unlabelled, one touched by several is split by
    the next level; after the finest, its pixels take the class of the nearest stroke in it.
    """
    labels = np.full(len(strokes), UNLABELLED, np.uint8)
    regions = np.zeros(len(strokes), np.int64)
    pending = np.arange(len(strokes))  # pixels of regions touched by several classes
    keys = np.zeros(len(strokes), np.int64)  # their region at the current level
    next_region = 0
    for level in [None, *finer]:
        if level is not None:  # the regions' intersections with this level's superpixels
            combined = keys * (int(level.max()) + 1) + level[pending]
            keys = np.unique(combined, return_inverse=True)[1].reshape(-1)
        count = int(keys.max()) + 1
        stroke = strokes[pending]
        stroked = stroke != UNLABELLED
        pairs = np.unique(keys[stroked] * 256 + stroke[stroked])
        classes_in = np.bincount(pairs // 256, minlength=count)
        only_class = np.full(count, UNLABELLED, np.uint8)
        single = classes_in[pairs // 256] == 1
        only_class[pairs[single] // 256] = pairs[single] % 256
        decided = classes_in[keys] < 2
        labels[pending[decided]] = only_class[keys[decided]]
        regions[pending[decided]] = next_region + keys[decided]
        next_region += count
        pending, keys = pending[~decided], keys[~decided]
        if pending.size == 0:
            return labels, regions
    for key in np.unique(keys):
        pixels = pending[keys == key]
        seeds = pixels[strokes[pixels] != UNLABELLED]
        _, nearest = cKDTree(coordinates[seeds]).query(coordinates[pixels])
        labels[pixels] = strokes[seeds[nearest]]
        regions[pixels] = next_region + labels[pixels].astype(np.int64)
        next_region += 256
    return labels, regions


def _adjacent_pairs(regions: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pair of different regions (ids below ``count``) that touch (4-connected), once,
    smaller id first."""
    first = np.concatenate([regions[:, :-1].ravel(), regions[:-1].ravel()]).astype(np.int64)
    second = np.concatenate([regions[:, 1:].ravel(), regions[1:].ravel()]).astype(np.int64)
    touching = first != second
    low, high = np.minimum(first, second)[touching], np.maximum(first, second)[touching]
    pairs = np.unique(low * count + high)
    return pairs // count, pairs % count


def labels_from_scribbles(
    image: np.ndarray,
    scribbles: np.ndarray,
    levels: Sequence[SuperpixelLevel] = DEFAULT_LEVELS,
    fill: bool = False,
) -> np.ndarray:
    """uint8 class labels of ``image`` from its ``scribbles`` (uint8 class per stroked pixel,
    :data:`UNLABELLED` elsewhere), through superpixels at ``levels`` (coarse to fine);
    :class:`ScribbleLabeller` for the rules and ``fill``."""
    labeller = ScribbleLabeller(image, superpixel_hierarchy(image, levels))
    labeller.add(scribbles)
    return labeller.labels(fill)
