"""Per-image z-score normalisation of model inputs: statistics from a regular subsample (a
panorama stays cheap), applied tile by tile so tiles agree with each other, or with a card's
fixed dataset statistics."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from orescope.errors import InputError

if TYPE_CHECKING:
    from orescope.io.panoramas import Pixels

STATS_SAMPLES = 1_000_000  # most pixels sampled for the image statistics: plenty for mean and std
_OPENCV_STATS_TYPES = tuple(map(np.dtype, (np.uint8, np.uint16, np.int16, np.float32, np.float64)))


def stats_sample(image: Pixels) -> np.ndarray:
    """A regular subsample (a view of an array, read from a panorama) of at most about
    ``STATS_SAMPLES`` pixels of ``image``, on which its statistics are computed, so panoramas
    stay cheap."""
    step = max(1, int(np.ceil(np.sqrt(image.shape[0] * image.shape[1] / STATS_SAMPLES))))
    return image[::step, ::step]


def channel_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (float32) of an image, from a regular subsample so panoramas
    stay cheap. OpenCV sums in double precision without a float copy of the sample: ten
    times faster than NumPy's statistics of a float32 copy, and free of their rounding."""
    channels = image.shape[2] if image.ndim == 3 else 1
    sample = stats_sample(image).reshape(-1, 1, channels)
    if sample.dtype not in _OPENCV_STATS_TYPES:
        sample = sample.astype(np.float64)
    mean, std = np.empty(channels, np.float32), np.empty(channels, np.float32)
    for first in range(0, channels, 4):  # OpenCV's statistics take up to 4 channels at once
        part = np.ascontiguousarray(sample[..., first : first + 4])
        mean[first : first + 4], std[first : first + 4] = (
            values.ravel() for values in cv2.meanStdDev(part)
        )
    return mean, np.maximum(std, np.float32(1e-6))


def zscore_normaliser(
    image: np.ndarray,
    in_channels: int,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    spatial_dims: int = 2,
) -> Callable[[np.ndarray], np.ndarray]:
    """Tile normaliser with the whole image's statistics, so tiles agree with each other, or
    with fixed ``stats`` (mean, std per model channel: a card's ``fixed_stats``).
    A gray image feeds a colour model by repeating its one channel; an alpha channel is
    ignored. A model that needs channels the image does not have is refused. A volume
    (``spatial_dims=3``: D×H×W or D×H×W×C) gets d×h×w×C crops to C×d×h×w."""
    channels = image.shape[spatial_dims] if image.ndim == spatial_dims + 1 else 1
    used = in_channels if channels == in_channels + 1 == 4 else channels
    if used != in_channels and not (channels == 1 and in_channels == 3):
        raise InputError(
            None, f"the model expects {in_channels} channels, the image has {channels}"
        )
    if stats is None:
        flat = image if spatial_dims == 2 else image.reshape(image.shape[0], -1, channels)
        mean, std = channel_stats(flat)
    else:
        mean, std = (np.asarray(values, np.float32)[:in_channels] for values in stats)
        if used != in_channels:  # a gray image: its one channel against the channels' average
            mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
    per_channel = (slice(0, used), *(None,) * spatial_dims)
    mean, std = mean[per_channel], std[per_channel]

    def normalise(crop: np.ndarray) -> np.ndarray:
        planes = np.moveaxis(crop.reshape(*crop.shape[:spatial_dims], channels)[..., :used], -1, 0)
        # written straight into a C×h×w buffer: ten times faster than normalising h×w×C
        # and transposing after
        values = np.empty(planes.shape, np.float32)
        np.subtract(planes, mean, out=values, dtype=np.float32)
        values /= std
        return values if used == in_channels else np.repeat(values, in_channels, axis=0)

    return normalise
