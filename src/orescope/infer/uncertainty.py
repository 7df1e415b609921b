"""Where a section model is unsure, so that labelling effort goes there (paper 003 §5).

Labelling the 5–10 % of an image on which a trained model is least certain teaches it more than
labelling the same area anywhere: the rest it already gets right. Two measures of doubt are
taken from the class probabilities, band by band as the sliding window streams them, so memory
holds two float maps of the image and never its K×H×W probabilities: the entropy (spread over
all classes, divided by log K so that 1 is "all classes equally likely" whatever K) and the
margin between the two most probable classes (0: a tie between two minerals).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import regionprops_table

Measure = Literal["entropy", "margin"]


@dataclass(frozen=True)
class UncertaintyMaps:
    """float32 H×W maps in [0, 1]: normalised ``entropy`` (high: unsure) and ``margin`` of
    the top class over the second (low: unsure)."""

    entropy: np.ndarray
    margin: np.ndarray

    def doubt(self, measure: Measure) -> np.ndarray:
        """The map :func:`propose_regions` ranks, higher where the model is less sure: the
        entropy, or 1 − margin."""
        return self.entropy if measure == "entropy" else 1 - self.margin


def entropy_and_margin(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised entropy ``−Σ p log p / log K`` and margin ``p₁ − p₂`` (float32 h×w) of a
    K×h×w band of probabilities; a one-channel (sigmoid) band is the two classes p, 1 − p.

    Examples
    --------
    >>> import numpy as np
    >>> entropy, margin = entropy_and_margin(np.array([[[0.5]], [[0.5]]]))
    >>> float(entropy[0, 0]), float(margin[0, 0])
    (1.0, 0.0)
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if len(p) == 1:
        p = np.concatenate([1 - p, p])
    logs = np.log(np.maximum(p, np.finfo(np.float32).tiny))
    entropy = -(p * logs).sum(axis=0) / np.float32(np.log(len(p)))
    top_two = np.partition(p, len(p) - 2, axis=0)[-2:]
    margin = top_two[1] - top_two[0]
    return np.clip(entropy, 0, 1), np.clip(margin, 0, 1)


def uncertainty_maps(
    shape: tuple[int, int], bands: Iterator[tuple[int, np.ndarray]]
) -> UncertaintyMaps:
    """Entropy and margin of an H×W image (``shape``) from its (first row, K×h×W
    probabilities) bands, as :func:`~orescope.infer.sliding_window.probability_bands` and
    :func:`~orescope.infer.settings.predict_bands` stream them: each band is reduced as it
    arrives."""
    entropy = np.empty(shape, np.float32)
    margin = np.empty(shape, np.float32)
    for top, band in bands:
        rows = slice(top, top + band.shape[1])
        entropy[rows], margin[rows] = entropy_and_margin(band)
    return UncertaintyMaps(entropy, margin)


def propose_regions(
    uncertainty: np.ndarray, fraction: float = 0.05, superpixels: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the most uncertain part of the image that covers ``fraction`` of it
    (0.05–0.10 in paper 003): whole superpixels by their mean ``uncertainty``, most uncertain
    first, until the fraction is reached (it is exceeded by less than the last superpixel),
    or, without ``superpixels``, the ``round(fraction · pixels)`` most uncertain pixels.
    Ties go to the earlier superpixel (pixel) in row order. Pass ``1 − margin`` to rank by
    margin.

    Examples
    --------
    >>> import numpy as np
    >>> doubt = np.array([[0.1, 0.9], [0.2, 0.8]])
    >>> propose_regions(doubt, 0.5).astype(int).tolist()
    [[0, 1], [0, 1]]
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    values = np.asarray(uncertainty, dtype=np.float64).ravel()
    target = round(fraction * values.size)
    if superpixels is None:
        chosen = np.zeros(values.size, bool)
        chosen[np.argsort(-values, kind="stable")[:target]] = True
        return chosen.reshape(uncertainty.shape)
    if superpixels.shape != uncertainty.shape:
        raise ValueError(f"superpixels {superpixels.shape} and map {uncertainty.shape} differ")
    ids = superpixels.ravel()
    areas = np.bincount(ids)
    means = np.bincount(ids, values, len(areas)) / np.maximum(areas, 1)
    ranked = np.argsort(-np.where(areas > 0, means, -np.inf), kind="stable")
    covered_before = np.cumsum(areas[ranked]) - areas[ranked]
    taken = np.zeros(len(areas), bool)
    taken[ranked[covered_before < target]] = True
    return taken[superpixels]


def proposal_table(
    proposal: np.ndarray, maps: UncertaintyMaps, measure: Measure = "entropy"
) -> pd.DataFrame:
    """One row per connected region of ``proposal``: its number, area, bounding box (stops
    exclusive) and mean entropy and margin, most uncertain by ``measure`` first (highest
    entropy, lowest margin), so the annotator starts at the top."""
    regions, _ = ndimage.label(proposal)
    columns = ["region", "area_px", "row_start", "col_start", "row_stop", "col_stop"]
    if not regions.any():
        return pd.DataFrame(columns=[*columns, "mean_entropy", "mean_margin"])
    table = pd.DataFrame(
        regionprops_table(
            regions,
            intensity_image=np.stack([maps.entropy, maps.margin], axis=-1),
            properties=("label", "area", "bbox", "intensity_mean"),
        )
    )
    table.columns = [*columns, "mean_entropy", "mean_margin"]
    table = table.astype({c: int for c in columns})
    by = f"mean_{measure}"
    return table.sort_values(by, ascending=measure == "margin", kind="stable").reset_index(
        drop=True
    )
