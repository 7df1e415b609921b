"""Compare any stage's output with ground truth: pixel, instance and image-quality metrics."""

from orescope.metrics.image import psnr, ssim
from orescope.metrics.instance import (
    Overlap,
    average_precision,
    drop_unlabelled,
    eta,
    f1_instance,
    f1_match,
    instance_metrics,
    merger_ratio,
    merger_sets,
    overlap,
    splitter_ratio,
)
from orescope.metrics.pixel import auc, confusion_matrix, pixel_metrics

__all__ = [
    "Overlap",
    "auc",
    "average_precision",
    "confusion_matrix",
    "drop_unlabelled",
    "eta",
    "f1_instance",
    "f1_match",
    "instance_metrics",
    "merger_ratio",
    "merger_sets",
    "overlap",
    "pixel_metrics",
    "psnr",
    "splitter_ratio",
    "ssim",
]
