"""Instance metrics between a reference label image and a predicted one.

- ``ap`` at IoU t: TP / (TP + FP + FN) after one-to-one (Hungarian) matching of instances with
  IoU >= t, the StarDist/Cellpose definition.
- ``f1_match``, ``f1_instance``, ``merger_ratio``, ``splitter_ratio``: paper 002 section 4.1.
- ``eta``: paper 000's ore segmentation accuracy N1/N0, with "correctly segmented" meaning
  matched one-to-one at IoU >= 0.5.

Sparse references (only some particles outlined) are scored after :func:`drop_unlabelled`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

F1_MATCH_THRESHOLD = 0.1  # paper 002: a match needs an F1 (Dice) overlap of at least 0.1
COVER_FRACTION = 0.5  # a particle is "part of" another when more than half of it lies inside


@dataclass(frozen=True)
class Overlap:
    """Pixel counts of every (reference, predicted) instance pair that overlaps."""

    truth_areas: np.ndarray  # (n_truth,)
    pred_areas: np.ndarray  # (n_pred,)
    intersection: np.ndarray  # (n_truth, n_pred)

    @property
    def iou(self) -> np.ndarray:
        union = self.truth_areas[:, None] + self.pred_areas[None, :] - self.intersection
        return self.intersection / np.maximum(union, 1)

    @property
    def dice(self) -> np.ndarray:
        total = self.truth_areas[:, None] + self.pred_areas[None, :]
        return 2 * self.intersection / np.maximum(total, 1)


def overlap(truth: np.ndarray, pred: np.ndarray) -> Overlap:
    """Intersections of all instance pairs; label ids need not be consecutive.

    Computed once and shared by every instance metric of this module, so scoring an image
    counts its pixels once.

    Examples
    --------
    Two reference particles that the prediction merged into one:

    >>> import numpy as np
    >>> from orescope.metrics import average_precision, merger_ratio, overlap
    >>> truth = np.zeros((8, 8), dtype=np.uint32)
    >>> truth[1:4, 1:4], truth[5:8, 5:8] = 1, 2
    >>> table = overlap(truth, (truth > 0).astype(np.uint32))
    >>> table.iou.tolist()
    [[0.5], [0.5]]
    >>> merger_ratio(table), average_precision(table, iou_threshold=0.5)
    ((0.5, 1), 0.5)
    """
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    truth_ids, truth_index = np.unique(truth, return_inverse=True)
    pred_ids, pred_index = np.unique(pred, return_inverse=True)
    # index 0 is background only when id 0 occurs; shift so that rows/cols are instances
    t_offset = int(truth_ids[0] == 0)
    p_offset = int(pred_ids[0] == 0)
    n_t, n_p = truth_ids.size, pred_ids.size
    joint = np.bincount(
        truth_index.ravel() * n_p + pred_index.ravel(), minlength=n_t * n_p
    ).reshape(n_t, n_p)
    return Overlap(
        truth_areas=joint.sum(axis=1)[t_offset:].astype(np.float64),
        pred_areas=joint.sum(axis=0)[p_offset:].astype(np.float64),
        intersection=joint[t_offset:, p_offset:].astype(np.float64),
    )


def _matched_pairs(scores: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching maximising the summed score among pairs scoring >= threshold."""
    if scores.size == 0:
        return np.empty(0, int), np.empty(0, int)
    eligible = np.where(scores >= threshold, scores, 0.0)
    rows, cols = linear_sum_assignment(eligible, maximize=True)
    keep = (eligible[rows, cols] >= threshold) & (eligible[rows, cols] > 0)
    return rows[keep], cols[keep]


def average_precision(table: Overlap, iou_threshold: float) -> float:
    """TP / (TP + FP + FN) at ``iou_threshold`` (1.0 when both images are empty).

    See [overlap][orescope.metrics.instance.overlap] for an example.
    """
    rows, _ = _matched_pairs(table.iou, iou_threshold)
    tp = rows.size
    denominator = table.truth_areas.size + table.pred_areas.size - tp
    return tp / denominator if denominator else 1.0


def f1_match(table: Overlap) -> float:
    """2 TP / (2 TP + FP + FN) over particles matched with Dice >= 0.1 (paper 002 eq. 3)."""
    rows, _ = _matched_pairs(table.dice, F1_MATCH_THRESHOLD)
    tp = rows.size
    denominator = table.truth_areas.size + table.pred_areas.size
    return 2 * tp / denominator if denominator else 1.0


def f1_instance(table: Overlap) -> float:
    """Mean per-instance Dice (paper 002 eq. 4) over all instances: each matched pair counts
    its Dice, each unmatched reference or predicted particle counts 0."""
    rows, cols = _matched_pairs(table.dice, F1_MATCH_THRESHOLD)
    count = table.truth_areas.size + table.pred_areas.size - rows.size
    return float(table.dice[rows, cols].sum() / count) if count else 1.0


def _group_ratio(part_of: np.ndarray, n_reference: int) -> tuple[float, int]:
    """(sum |set| - number of sets) / |P| over the sets of size >= 2 in ``part_of``."""
    if n_reference == 0:
        return 0.0, 0
    sizes = np.bincount(part_of[part_of >= 0]) if np.any(part_of >= 0) else np.zeros(0, int)
    groups = sizes[sizes >= 2]
    return float((groups.sum() - groups.size) / n_reference), int(groups.size)


def merger_ratio(table: Overlap) -> tuple[float, int]:
    """Paper 002 eq. 5 and the number of mergers: reference particles lying more than half
    inside the same predicted particle form one merger set."""
    fraction = table.intersection / np.maximum(table.truth_areas[:, None], 1)
    if fraction.shape[1] == 0:
        return 0.0, 0
    host = np.where(fraction.max(axis=1) > COVER_FRACTION, fraction.argmax(axis=1), -1)
    return _group_ratio(host, table.truth_areas.size)


def splitter_ratio(table: Overlap) -> tuple[float, int]:
    """Paper 002 eq. 6 and the number of splitters: predicted particles lying more than half
    inside the same reference particle form one splitter set."""
    fraction = table.intersection / np.maximum(table.pred_areas[None, :], 1)
    if fraction.shape[0] == 0:
        return 0.0, 0
    host = np.where(fraction.max(axis=0) > COVER_FRACTION, fraction.argmax(axis=0), -1)
    return _group_ratio(host, table.truth_areas.size)


def eta(table: Overlap, iou_threshold: float = 0.5) -> float:
    """Paper 000's ore segmentation accuracy N1 / N0: the share of reference particles that
    are matched one-to-one by a prediction with IoU >= ``iou_threshold``."""
    if table.truth_areas.size == 0:
        return 1.0
    rows, _ = _matched_pairs(table.iou, iou_threshold)
    return rows.size / table.truth_areas.size


def drop_unlabelled(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``pred`` without the instances that lie mostly (more than half their pixels) where a
    sparse reference outlines nothing: a particle found there is neither right nor wrong."""
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    ids = pred.astype(np.int64).ravel()
    on_outlines = np.bincount(ids, weights=(truth > 0).ravel(), minlength=ids.max() + 1)
    keep = on_outlines > COVER_FRACTION * np.bincount(ids, minlength=ids.max() + 1)
    keep[0] = False
    return np.where(keep[pred], pred, 0).astype(pred.dtype)


def instance_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    """All instance metrics of this module for one image pair.

    Examples
    --------
    A prediction that misses one of two particles:

    >>> import numpy as np
    >>> from orescope.metrics import instance_metrics
    >>> truth = np.zeros((8, 8), dtype=np.uint32)
    >>> truth[1:4, 1:4], truth[5:8, 5:8] = 1, 2
    >>> pred = np.where(truth == 1, truth, 0)
    >>> scores = instance_metrics(truth, pred)
    >>> scores["ap50"], round(scores["f1_match"], 3), scores["eta"], scores["merger_ratio"]
    (0.5, 0.667, 0.5, 0.0)
    """
    table = overlap(truth, pred)
    mergers, n_mergers = merger_ratio(table)
    splitters, n_splitters = splitter_ratio(table)
    return {
        "n_truth": int(table.truth_areas.size),
        "n_pred": int(table.pred_areas.size),
        "ap50": average_precision(table, 0.5),
        "ap75": average_precision(table, 0.75),
        "ap90": average_precision(table, 0.9),
        "f1_match": f1_match(table),
        "f1_instance": f1_instance(table),
        "merger_ratio": mergers,
        "n_mergers": n_mergers,
        "splitter_ratio": splitters,
        "n_splitters": n_splitters,
        "eta": eta(table),
    }
