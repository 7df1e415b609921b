"""Image and volume preparation before a model sees them: particle-size and intensity
normalisation."""

from orescope.preprocess.intensity import IntensityStats, sample_voxels, volume_stats
from orescope.preprocess.normalise import channel_stats, zscore_normaliser
from orescope.preprocess.resample import (
    median_diameter_px,
    resize_image,
    resize_labels,
    resize_volume,
    size_scale,
)

__all__ = [
    "IntensityStats",
    "channel_stats",
    "median_diameter_px",
    "resize_image",
    "resize_labels",
    "resize_volume",
    "sample_voxels",
    "size_scale",
    "volume_stats",
    "zscore_normaliser",
]
