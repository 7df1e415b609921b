"""Multi-scale inference: class maps from probabilities averaged over several input scales.

A section model is trained on patches rescaled by up to ±25 %; averaging its predictions at
0.8, 1 and 1.25 times the trained scale steadies the classes that one scale gets wrong
(bench/section_models.py --scales). The image is predicted in bands of rows with half a tile of
context above and below, so memory grows with the band and the image width, never its height.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import torch
from rich.progress import track

from orescope.infer.sliding_window import (
    Normalise,
    Reduce,
    classes_from_bands,
    predict_classes,
    predict_probabilities,
    probabilities_from_bands,
)
from orescope.preprocess.resample import resize_image

BAND_ROWS = 512  # rows of the class map decided per band, at least
# Image pixels a band's window (its rows and their context) may span: a photo of a few
# megapixels is one window, predicted once per scale, and only panoramas pay for the context
# rows that each of their bands predicts again. The window's K float32 maps at every scale
# stay within a few hundred MB for a dozen classes.
BAND_PIXELS = 4_000_000


def predict_classes_multiscale(
    image: np.ndarray,
    model: torch.nn.Module,
    *,
    normalise: Normalise,
    scales: Sequence[float],
    tile: int = 256,
    batch_size: int = 4,
    tta: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
    reduce: Reduce | None = None,
) -> np.ndarray:
    """Class map (uint8 H×W) of ``image``: per pixel the class of highest probability averaged
    over the model's predictions of the image resampled by each of ``scales`` (bilinear back to
    the image's grid), or what ``reduce`` makes of each band of averaged probabilities, as in
    :func:`~orescope.infer.sliding_window.predict_classes`. ``normalise`` is the image's own
    tile normaliser, used at every scale. Scales (1,) are the plain sliding window."""
    if tuple(scales) == (1.0,):
        return predict_classes(
            image,
            model,
            normalise=normalise,
            tile=tile,
            batch_size=batch_size,
            tta=tta,
            device=device,
            progress=progress,
            reduce=reduce,
        )
    bands = _bands(image, model, normalise, scales, tile, batch_size, tta, device, progress)
    return classes_from_bands(image.shape[:2], bands, reduce)


def predict_probabilities_multiscale(
    image: np.ndarray,
    model: torch.nn.Module,
    *,
    normalise: Normalise,
    scales: Sequence[float],
    tile: int = 256,
    batch_size: int = 4,
    tta: bool = False,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """The averaged probabilities (float32 K×H×W) that :func:`predict_classes_multiscale`
    decides by; holds them all, so for small images and benchmarks."""
    if tuple(scales) == (1.0,):
        return predict_probabilities(
            image,
            model,
            normalise=normalise,
            tile=tile,
            batch_size=batch_size,
            tta=tta,
            device=device,
        )
    bands = _bands(image, model, normalise, scales, tile, batch_size, tta, device, False)
    return probabilities_from_bands(image.shape[:2], bands)


def _bands(
    image: np.ndarray,
    model: torch.nn.Module,
    normalise: Normalise,
    scales: Sequence[float],
    tile: int,
    batch_size: int,
    tta: bool,
    device: str | torch.device,
    progress: bool,
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, averaged K×h×W probabilities) per band of at least :data:`BAND_ROWS` rows,
    more where the image is narrow enough for :data:`BAND_PIXELS`."""
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive, got {list(scales)}")
    height, width = image.shape[:2]
    margin = tile // 2
    rows = max(BAND_ROWS, BAND_PIXELS // width - 2 * margin)
    for top in track(range(0, height, rows), description="bands", disable=not progress):
        start, stop = max(top - margin, 0), min(top + rows + margin, height)
        window = image[start:stop]

        total: np.ndarray | None = None
        for scale in scales:
            pixels = resize_image(window, scale)
            probabilities = predict_probabilities(
                pixels,
                model,
                normalise=normalise,
                tile=tile,
                batch_size=batch_size,
                tta=tta,
                device=device,
            )
            if total is None:
                total = np.zeros((len(probabilities), *window.shape[:2]), dtype=np.float32)
            _add_resized(total, probabilities)
            del probabilities  # freed before the next scale's map is made
        assert total is not None  # scales is not empty
        kept = slice(top - start, min(top + rows, height) - start)
        yield top, total[:, kept] / len(scales)


def _add_resized(total: np.ndarray, probabilities: np.ndarray) -> None:
    """Adds K×h×w ``probabilities``, resampled bilinearly to the K×H×W grid of ``total``, to it
    in place: one class at a time, so no second map of the window's size is made."""
    if probabilities.shape == total.shape:
        total += probabilities
        return
    size = (total.shape[2], total.shape[1])
    for index, channel in enumerate(probabilities):
        total[index] += cv2.resize(channel, size, interpolation=cv2.INTER_LINEAR)
