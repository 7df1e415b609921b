"""Image-quality metrics for restored images (PSNR, SSIM), from scikit-image."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def _data_range(image: np.ndarray) -> float:
    if np.issubdtype(image.dtype, np.integer):
        return float(np.iinfo(image.dtype).max)
    return 1.0


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB; the peak is the dtype's range (1.0 for floats).

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.metrics import psnr
    >>> reference = np.full((8, 8), 100, dtype=np.uint8)
    >>> round(psnr(reference, reference + 1), 1)  # an error of 1 gray level in 255
    48.1
    """
    if reference.shape != test.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {test.shape}")
    return float(peak_signal_noise_ratio(reference, test, data_range=_data_range(reference)))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean structural similarity (colour images: averaged over channels)."""
    if reference.shape != test.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {test.shape}")
    channel_axis = 2 if reference.ndim == 3 else None
    return float(
        structural_similarity(
            reference, test, data_range=_data_range(reference), channel_axis=channel_axis
        )
    )
