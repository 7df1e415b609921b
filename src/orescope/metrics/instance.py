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
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from orescope.io.volumes import volume_blocks

F1_MATCH_THRESHOLD = 0.1  # paper 002: a match needs an F1 (Dice) overlap of at least 0.1
COVER_FRACTION = 0.5  # a particle is "part of" another when more than half of it lies inside


@dataclass(frozen=True)
class Overlap:
    """Pixel (voxel) counts of every instance, and of every (reference, predicted) pair that
    overlaps — only those: in a volume tens of thousands of particles each meet a few others,
    and a table of all pairs would not fit in memory."""

    truth_areas: np.ndarray  # (n_truth,)
    pred_areas: np.ndarray  # (n_pred,)
    rows: np.ndarray  # (n_pairs,) reference index of each overlapping pair
    cols: np.ndarray  # (n_pairs,) predicted index
    intersection: np.ndarray  # (n_pairs,) pixels in common

    @property
    def iou(self) -> np.ndarray:
        """Intersection over union of each overlapping pair."""
        union = self.truth_areas[self.rows] + self.pred_areas[self.cols] - self.intersection
        return self.intersection / np.maximum(union, 1)

    @property
    def dice(self) -> np.ndarray:
        """Dice (F1) overlap of each overlapping pair."""
        total = self.truth_areas[self.rows] + self.pred_areas[self.cols]
        return 2 * self.intersection / np.maximum(total, 1)


def overlap(truth: Any, pred: Any, chunk: int = 128) -> Overlap:
    """Sizes of all instances and intersections of the pairs that overlap; label ids need not
    be consecutive, and images and volumes alike. Arrays in memory are counted at once; any
    others (zarr, dask) block by block, ``chunk`` voxels a side, so that a volume larger than
    memory is scored all the same.

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
    >>> table.iou.tolist()  # of the pairs (1, 1) and (2, 1)
    [0.5, 0.5]
    >>> merger_ratio(table), average_precision(table, iou_threshold=0.5)
    ((0.5, 1), 0.5)
    """
    if tuple(truth.shape) != tuple(pred.shape):
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    whole = isinstance(truth, np.ndarray) and isinstance(pred, np.ndarray)
    blocks = [(...,)] if whole else volume_blocks(tuple(truth.shape), chunk)
    truth_parts, pred_parts, pair_parts = [], [], []
    for block in blocks:
        t, p = _ids(truth[block]), _ids(pred[block])
        truth_parts.append(np.unique(t, return_counts=True))
        pred_parts.append(np.unique(p, return_counts=True))
        both = (t > 0) & (p > 0)
        pair_parts.append(np.unique((t[both] << np.uint64(32)) | p[both], return_counts=True))
    truth_ids, truth_areas = _summed(truth_parts, drop_zero=True)
    pred_ids, pred_areas = _summed(pred_parts, drop_zero=True)
    keys, counts = _summed(pair_parts)
    return Overlap(
        truth_areas=truth_areas,
        pred_areas=pred_areas,
        rows=np.searchsorted(truth_ids, keys >> np.uint64(32)).astype(np.int64),
        cols=np.searchsorted(pred_ids, keys & np.uint64(2**32 - 1)).astype(np.int64),
        intersection=counts,
    )


def _ids(labels: Any) -> np.ndarray:
    """A block's label ids, flat, as uint64 (so that a pair packs into one number)."""
    ids = np.asarray(labels).ravel()
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= 2**32):
        raise ValueError("label ids must lie in 0 .. 2^32 - 1")
    return ids.astype(np.uint64)


def _summed(
    parts: list[tuple[np.ndarray, np.ndarray]], drop_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Blocks' (values, counts) merged: each value once, sorted, with its counts added."""
    values = np.concatenate([v for v, _ in parts])
    counts = np.concatenate([c for _, c in parts])
    unique, where = np.unique(values, return_inverse=True)
    totals = np.bincount(where.ravel(), weights=counts, minlength=unique.size)
    if drop_zero and unique.size and unique[0] == 0:
        unique, totals = unique[1:], totals[1:]
    return unique, totals.astype(np.float64)


def _matched_pairs(
    table: Overlap, scores: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching maximising the summed score among pairs scoring >= ``threshold``
    (as indices into the table's pairs' rows and columns). The pairs fall apart into small
    groups that share no particle: each group is matched on its own (Hungarian), most are a
    single pair, so a volume's thousands of particles cost no more than their pairs."""
    eligible = np.flatnonzero((scores >= threshold) & (scores > 0))
    if eligible.size == 0:
        return np.empty(0, int), np.empty(0, int)
    rows, cols = table.rows[eligible], table.cols[eligible]
    n_truth = table.truth_areas.size
    graph = coo_array(
        (np.ones(eligible.size), (rows, cols + n_truth)),
        shape=(n_truth + table.pred_areas.size,) * 2,
    )
    group = connected_components(graph, directed=False)[1][rows]
    sizes = np.bincount(group)
    single = sizes[group] == 1
    matched_rows, matched_cols = [rows[single]], [cols[single]]
    for members in np.split(np.argsort(group, kind="stable"), np.cumsum(sizes)[:-1]):
        if members.size <= 1:
            continue
        these_rows, row_at = np.unique(rows[members], return_inverse=True)
        these_cols, col_at = np.unique(cols[members], return_inverse=True)
        block = np.zeros((these_rows.size, these_cols.size))
        block[row_at, col_at] = scores[eligible[members]]
        picked_rows, picked_cols = linear_sum_assignment(block, maximize=True)
        keep = block[picked_rows, picked_cols] > 0
        matched_rows.append(these_rows[picked_rows[keep]])
        matched_cols.append(these_cols[picked_cols[keep]])
    return np.concatenate(matched_rows), np.concatenate(matched_cols)


def _pair_scores(
    table: Overlap, scores: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """The scores of the matched (row, col) pairs, looked up among the table's pairs."""
    width = max(table.pred_areas.size, 1)
    keys = table.rows * width + table.cols  # sorted: overlap() builds them with np.unique
    return scores[np.searchsorted(keys, rows * width + cols)]


def average_precision(table: Overlap, iou_threshold: float) -> float:
    """TP / (TP + FP + FN) at ``iou_threshold`` (1.0 when both images are empty).

    See [overlap][orescope.metrics.instance.overlap] for an example.
    """
    rows, _ = _matched_pairs(table, table.iou, iou_threshold)
    tp = rows.size
    denominator = table.truth_areas.size + table.pred_areas.size - tp
    return tp / denominator if denominator else 1.0


def f1_match(table: Overlap) -> float:
    """2 TP / (2 TP + FP + FN) over particles matched with Dice >= 0.1 (paper 002 eq. 3)."""
    rows, _ = _matched_pairs(table, table.dice, F1_MATCH_THRESHOLD)
    tp = rows.size
    denominator = table.truth_areas.size + table.pred_areas.size
    return 2 * tp / denominator if denominator else 1.0


def f1_instance(table: Overlap) -> float:
    """Mean per-instance Dice (paper 002 eq. 4) over all instances: each matched pair counts
    its Dice, each unmatched reference or predicted particle counts 0."""
    dice = table.dice
    rows, cols = _matched_pairs(table, dice, F1_MATCH_THRESHOLD)
    count = table.truth_areas.size + table.pred_areas.size - rows.size
    return float(_pair_scores(table, dice, rows, cols).sum() / count) if count else 1.0


def _group_ratio(part_of: np.ndarray, n_reference: int) -> tuple[float, int]:
    """(sum |set| - number of sets) / |P| over the sets of size >= 2 in ``part_of``."""
    if n_reference == 0:
        return 0.0, 0
    sizes = np.bincount(part_of[part_of >= 0]) if np.any(part_of >= 0) else np.zeros(0, int)
    groups = sizes[sizes >= 2]
    return float((groups.sum() - groups.size) / n_reference), int(groups.size)


def _merger_hosts(table: Overlap) -> np.ndarray:
    """The predicted particle (index) each reference particle lies more than half inside, or
    -1: more than half, so one host at most."""
    host = np.full(table.truth_areas.size, -1)
    inside = table.intersection > COVER_FRACTION * table.truth_areas[table.rows]
    host[table.rows[inside]] = table.cols[inside]
    return host


def merger_ratio(table: Overlap) -> tuple[float, int]:
    """Paper 002 eq. 5 and the number of mergers: reference particles lying more than half
    inside the same predicted particle form one merger set."""
    return _group_ratio(_merger_hosts(table), table.truth_areas.size)


def merger_sets(table: Overlap) -> list[np.ndarray]:
    """The merger sets of :func:`merger_ratio`, each as its reference particles' indices
    (into the sorted reference ids), in the order of their predicted particles: which
    particles were merged, for looking into why."""
    host = _merger_hosts(table)
    members = np.flatnonzero(host >= 0)
    order = members[np.argsort(host[members], kind="stable")]
    groups = np.split(order, np.flatnonzero(np.diff(host[order])) + 1)
    return [group for group in groups if group.size >= 2]


def splitter_ratio(table: Overlap) -> tuple[float, int]:
    """Paper 002 eq. 6 and the number of splitters: predicted particles lying more than half
    inside the same reference particle form one splitter set."""
    host = np.full(table.pred_areas.size, -1)
    inside = table.intersection > COVER_FRACTION * table.pred_areas[table.cols]
    host[table.cols[inside]] = table.rows[inside]
    return _group_ratio(host, table.truth_areas.size)


def eta(table: Overlap, iou_threshold: float = 0.5) -> float:
    """Paper 000's ore segmentation accuracy N1 / N0: the share of reference particles that
    are matched one-to-one by a prediction with IoU >= ``iou_threshold``."""
    if table.truth_areas.size == 0:
        return 1.0
    rows, _ = _matched_pairs(table, table.iou, iou_threshold)
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
