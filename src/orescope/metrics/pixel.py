"""Pixel metrics from a confusion matrix: accuracy, IoU, F1/Dice, precision, recall,
specificity per class and their means; AUC from foreground scores."""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``matrix[t, p]`` counts pixels of true class ``t`` predicted as ``p``.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.metrics import confusion_matrix
    >>> truth = np.array([[0, 0, 1], [0, 1, 1]])
    >>> pred = np.array([[0, 1, 1], [0, 0, 1]])
    >>> confusion_matrix(truth, pred, num_classes=2).tolist()
    [[2, 1], [1, 2]]
    """
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    truth = truth.ravel().astype(np.int64)
    pred = pred.ravel().astype(np.int64)
    if truth.max(initial=0) >= num_classes or pred.max(initial=0) >= num_classes:
        raise ValueError(f"class index out of range for {num_classes} classes")
    return np.bincount(truth * num_classes + pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def pixel_metrics(truth: np.ndarray, pred: np.ndarray, num_classes: int = 2) -> dict:
    """Per-class (one-vs-rest) metrics and their means over the classes that occur in truth or
    prediction. ``mean_iou`` is paper 000's MIoU (the mean over background and foreground in the
    binary case); ``f1``/``precision``/``recall`` without a suffix are the foreground class's
    (index 1) when ``num_classes == 2``.

    Classes absent from both images are left out of the means (their per-class value is None):
    a section without pyrite should not score a perfect or a zero pyrite IoU.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.metrics import pixel_metrics
    >>> truth = np.array([[0, 0, 1], [0, 1, 1]])
    >>> pred = np.array([[0, 1, 1], [0, 0, 1]])
    >>> scores = pixel_metrics(truth, pred)
    >>> round(scores["accuracy"], 3), scores["iou"], round(scores["f1"], 3)
    (0.667, 0.5, 0.667)
    >>> pixel_metrics(truth, pred, num_classes=3)["iou_per_class"]
    [0.5, 0.5, None]
    """
    return confusion_metrics(confusion_matrix(truth, pred, num_classes))


def confusion_metrics(counts: np.ndarray) -> dict:
    """``pixel_metrics`` from a confusion matrix, so that images can be pooled first."""
    num_classes = len(counts)
    matrix = counts.astype(np.float64)
    tp = np.diag(matrix)
    fp = matrix.sum(axis=0) - tp
    fn = matrix.sum(axis=1) - tp
    tn = matrix.sum() - tp - fp - fn
    per_class = {
        "iou": _ratio(tp, tp + fp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
    }
    present = (tp + fp + fn) > 0
    result: dict = {"accuracy": float(tp.sum() / matrix.sum())}
    for name, values in per_class.items():
        result[f"{name}_per_class"] = [None if np.isnan(v) else float(v) for v in values]
        result[f"mean_{name}"] = float(np.nanmean(values[present])) if present.any() else None
    if num_classes == 2:
        for name, values in per_class.items():
            result[name] = None if np.isnan(values[1]) else float(values[1])
    return result


def auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of foreground ``scores`` against a binary ``truth``: the
    Mann-Whitney U statistic over the two classes' scores, ties counting one half.

    Threshold-free: it tells how well a model's probabilities separate particle from belt
    before any threshold is chosen.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.metrics import auc
    >>> auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    truth = np.asarray(truth).ravel().astype(bool)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    positives, negatives = scores[truth], scores[~truth]
    if positives.size == 0 or negatives.size == 0:
        return float("nan")
    statistic = mannwhitneyu(positives, negatives, alternative="two-sided").statistic
    return float(statistic / (positives.size * negatives.size))
