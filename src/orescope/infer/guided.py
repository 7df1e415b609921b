"""Class borders moved onto the image's edges: He, Sun and Tang's guided filter on the
probabilities.

A PSPNet predicts at an eighth of the resolution, so its class borders are smooth ramps that
miss the grain edges by a few pixels. The guided filter makes each probability map, within
every small window, a linear function of the image's brightness: where the window holds an
edge the map follows it, elsewhere it is only smoothed. Written here (a few box filters)
because OpenCV has it only in its contrib build, which cannot be installed next to
opencv-python-headless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

# Squared brightness (0..1) below which a window's variation is smoothed away rather than
# followed: steps of about 1 % of the range count as edges.
EDGE_EPS = 1e-4


def guided_filter(
    guide: np.ndarray, maps: np.ndarray, radius: int, eps: float = EDGE_EPS
) -> np.ndarray:
    """``maps`` (K×h×w float32) filtered in place with the gray ``guide`` (h×w, 0..1) in
    (2·radius+1)² windows, and returned. Linear in the maps: probabilities that sum to 1 still
    do. Rows and columns beyond the edges are mirrored."""
    filter_map = _guided_by(guide, radius, eps)
    for values in maps:
        filter_map(values)
    return maps


def _guided_by(guide: np.ndarray, radius: int, eps: float) -> Callable[[np.ndarray], None]:
    """A function that filters one h×w map in place with ``guide``: the guide's own window
    statistics are computed once for all the maps."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(values: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(values, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    guide = np.asarray(guide, dtype=np.float32)
    mean_guide = box(guide)
    spread = box(guide * guide) - mean_guide * mean_guide + np.float32(eps)

    def filter_map(values: np.ndarray) -> None:
        mean_values = box(values)
        slope = (box(guide * values) - mean_guide * mean_values) / spread
        offset = mean_values - slope * mean_guide
        values[...] = box(slope) * guide + box(offset)

    return filter_map


def refine_bands(
    bands: Iterator[tuple[int, np.ndarray]],
    guide_rows: Callable[[int, int], np.ndarray],
    height: int,
    radius: int,
    eps: float = EDGE_EPS,
) -> Iterator[tuple[int, np.ndarray]]:
    """The :func:`guided_filter` of a stream of (first row, K×h×W probability) bands, equal to
    filtering the whole map: rows are held until the ``2·radius`` rows below them, on which
    their result depends, have arrived. ``guide_rows(start, stop)`` gives the guide's rows.

    Each band is filtered within its own memory, one class at a time, so a panorama's
    refinement holds only the few rows each band shares with the next. Bands are overwritten,
    and the bands yielded are views, valid until the next one.
    """
    halo = 2 * radius
    tail: np.ndarray | None = None  # unfiltered rows [first, top) the previous bands left
    first = done = 0  # first held row; rows yielded so far
    for top, band in bands:
        tail = band[:, :0].copy() if tail is None else tail
        end = top + band.shape[1]
        ready = end if end >= height else end - halo  # rows [done, ready) are final now
        if ready <= done:
            tail = np.concatenate([tail, band], axis=1)
            continue
        keep = max(first, ready - halo)  # the next window's first rows, kept unfiltered
        kept = np.concatenate([tail[:, keep - first :], band[:, max(0, keep - top) :]], axis=1)
        filter_map = _guided_by(guide_rows(first, end), radius, eps)
        above_stop = min(top, ready)  # final rows of the tail, yielded as a band of their own
        above = np.empty((len(band), above_stop - done, band.shape[2]), dtype=np.float32)
        for index, rows in enumerate(band):
            window = np.concatenate([tail[index], rows])
            filter_map(window)
            above[index] = window[done - first : above_stop - first]
            rows[: max(0, ready - top)] = window[top - first : ready - first]
        if above.shape[1]:
            yield done, above
        if ready > top:
            yield top, band[:, : ready - top]
        tail, first, done = kept, keep, ready
