"""Image preparation before a model sees it: particle-size normalisation."""

from orescope.preprocess.resample import (
    median_diameter_px,
    resize_image,
    resize_labels,
    size_scale,
)

__all__ = ["median_diameter_px", "resize_image", "resize_labels", "size_scale"]
