"""Multi-scale inference: class maps from probabilities averaged over several input scales.

A section model is trained on patches rescaled by up to ±25 %; averaging its predictions at
0.8, 1 and 1.25 times the trained scale steadies the classes that one scale gets wrong
(bench/section_models.py --scales). Each scale's image is predicted once by the streaming
sliding window, and its bands of probabilities are resampled to the image's grid a block of
rows at a time: memory grows with the image's width, never its height, and no rows are
predicted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

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
    probability_bands,
)
from orescope.preprocess.resample import resize_image

# Image pixels per block of averaged rows: the block's K float32 maps (and one class's
# resampling temporaries) stay within a few hundred MB for a dozen classes.
BLOCK_PIXELS = 4_000_000


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
    """(first row, averaged K×h×W probabilities) per block of rows, top to bottom."""
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be positive, got {list(scales)}")
    height, width = image.shape[:2]

    def predict(pixels: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        return probability_bands(
            pixels, model, normalise, tile, 0.25, batch_size, tta, device, False
        )

    streams = [
        _ScaleStream(resize_image(image, scale), (height, width), predict) for scale in scales
    ]
    rows = max(1, BLOCK_PIXELS // width)
    for top in track(range(0, height, rows), description="bands", disable=not progress):
        stop = min(top + rows, height)
        total = streams[0].take(top, stop)
        for stream in streams[1:]:
            total += stream.take(top, stop)
        yield top, total / len(scales)


class _ScaleStream:
    """One scale's blended probabilities on the image's grid, a block of rows at a time.

    Resampled as cv2's bilinear resize does it (pixel centres aligned, edges clamped), but
    separably: each band of the scaled grid across to the image's width as it arrives, then
    rows of the image from the two scaled rows around them, so only the scaled rows the next
    blocks still need are held.
    """

    def __init__(
        self,
        pixels: np.ndarray,
        shape: tuple[int, int],
        predict: Callable[[np.ndarray], Iterator[tuple[int, np.ndarray]]],
    ) -> None:
        self.height, self.width = shape
        self.scaled_height = pixels.shape[0]
        self.bands = predict(pixels)
        self.first = 0  # scaled row of self.rows[:, 0]
        self.rows: np.ndarray | None = None  # K×n×W: scaled rows, resampled across

    def take(self, top: int, stop: int) -> np.ndarray:
        """K×(stop − top)×W probabilities of image rows [top, stop); blocks come in order."""
        ratio = self.scaled_height / self.height
        source = np.clip((np.arange(top, stop) + 0.5) * ratio - 0.5, 0, self.scaled_height - 1)
        lower = np.floor(source).astype(np.intp)
        upper = np.minimum(lower + 1, self.scaled_height - 1)
        self._fill(int(upper[-1]) + 1)
        assert self.rows is not None  # filled above
        weight = (source - lower).astype(np.float32)[:, None]
        block = np.empty((len(self.rows), stop - top, self.width), dtype=np.float32)
        for index, channel in enumerate(self.rows):  # one class at a time: small temporaries
            below, above = channel[lower - self.first], channel[upper - self.first]
            np.multiply(above - below, weight, out=block[index])
            block[index] += below
        drop = int(lower[-1]) - self.first  # later blocks start at or below this row
        self.rows, self.first = self.rows[:, drop:], self.first + drop
        return block

    def _fill(self, needed: int) -> None:
        """Pull bands until scaled rows up to ``needed`` (exclusive) are held."""
        while self.rows is None or self.first + self.rows.shape[1] < needed:
            _, band = next(self.bands)
            across = self._across(band)
            self.rows = across if self.rows is None else np.concatenate([self.rows, across], 1)

    def _across(self, band: np.ndarray) -> np.ndarray:
        if band.shape[2] == self.width:
            return band
        size = (self.width, band.shape[1])
        return np.stack([cv2.resize(c, size, interpolation=cv2.INTER_LINEAR) for c in band])
