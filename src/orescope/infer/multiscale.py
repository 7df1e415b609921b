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
    spatial_dims: int = 2,
) -> np.ndarray:
    """Class map (uint8 H×W) of ``image``: per pixel the class of highest probability averaged
    over the model's predictions of the image resampled by each of ``scales`` (bilinear back to
    the image's grid), or what ``reduce`` makes of each band of averaged probabilities, as in
    :func:`~orescope.infer.sliding_window.predict_classes`. ``normalise`` is the image's own
    tile normaliser, used at every scale. Scales (1,) are the plain sliding window, the only
    one for volumes (``spatial_dims=3``)."""
    bands = multiscale_bands(
        image,
        model,
        normalise=normalise,
        scales=scales,
        tile=tile,
        batch_size=batch_size,
        tta=tta,
        device=device,
        progress=progress,
        spatial_dims=spatial_dims,
    )
    return classes_from_bands(image.shape[:spatial_dims], bands, reduce)


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
    bands = multiscale_bands(
        image,
        model,
        normalise=normalise,
        scales=scales,
        tile=tile,
        batch_size=batch_size,
        tta=tta,
        device=device,
    )
    return probabilities_from_bands(image.shape[:2], bands)


def multiscale_bands(
    image: np.ndarray,
    model: torch.nn.Module,
    *,
    normalise: Normalise,
    scales: Sequence[float],
    tile: int = 256,
    overlap: float = 0.25,
    batch_size: int = 4,
    tta: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
    spatial_dims: int = 2,
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, K×h×W probabilities averaged over ``scales``) per band of image rows, top
    to bottom; scales (1,) are the sliding window's own bands (of an image or, with
    ``spatial_dims=3``, a volume). Each band is valid until the next."""
    if tuple(scales) == (1.0,):
        return probability_bands(
            image, model, normalise, tile, overlap, batch_size, tta, device, progress, spatial_dims
        )
    if spatial_dims != 2:
        raise ValueError(f"volumes are predicted at one scale, not {list(scales)}")
    return _bands(image, model, normalise, scales, tile, overlap, batch_size, tta, device, progress)


def _bands(
    image: np.ndarray,
    model: torch.nn.Module,
    normalise: Normalise,
    scales: Sequence[float],
    tile: int,
    overlap: float,
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
            pixels, model, normalise, tile, overlap, batch_size, tta, device, False
        )

    streams = [
        _ScaleStream(resize_image(image, scale), (height, width), predict) for scale in scales
    ]
    rows = max(1, BLOCK_PIXELS // width)
    for top in track(range(0, height, rows), description="bands", disable=not progress):
        stop = min(top + rows, height)
        total: np.ndarray | None = None
        for stream in streams:
            total = stream.add_rows(total, top, stop)
        assert total is not None  # scales is not empty
        total /= len(scales)
        yield top, total


class _ScaleStream:
    """One scale's blended probabilities, added onto the image's grid a block of rows at a time.

    Resampled as cv2's bilinear resize does it (pixel centres aligned, edges clamped), but
    separably and one class at a time: the block's rows from the two scaled rows around each,
    then across to the image's width. Only the sliding window's bands that later blocks still
    need are held, as it made them.
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
        self.held: list[np.ndarray] = []  # K×h×w bands of the scaled grid, top to bottom
        self.first = 0  # scaled row of held[0][:, 0]

    def add_rows(self, total: np.ndarray | None, top: int, stop: int) -> np.ndarray:
        """``total`` (K×h×W, or None for zeros) plus this scale's probabilities of image rows
        [top, stop); blocks come in order."""
        ratio = self.scaled_height / self.height
        source = np.clip((np.arange(top, stop) + 0.5) * ratio - 0.5, 0, self.scaled_height - 1)
        lower = np.floor(source).astype(np.intp)
        upper = np.minimum(lower + 1, self.scaled_height - 1)
        first, last = int(lower[0]), int(lower[-1])
        rows = self._rows(first, int(upper[-1]) + 1)
        if total is None:
            total = np.zeros((len(rows), stop - top, self.width), dtype=np.float32)
        if rows.shape[2] == self.width and self.scaled_height == self.height:
            total += rows[:, : stop - top]  # the image's own grid: no weights to apply
            self._drop_before(last)
            return total
        lower, upper = lower - first, upper - first
        weight = (source - lower - first).astype(np.float32)[:, None]
        size = (self.width, stop - top)
        for channel, summed in zip(rows, total, strict=True):
            below = channel[lower]
            below += (channel[upper] - below) * weight
            if below.shape[1] != self.width:
                below = cv2.resize(below, size, interpolation=cv2.INTER_LINEAR)
            summed += below
        self._drop_before(last)
        return total

    def _drop_before(self, row: int) -> None:
        """Let go of the held bands above scaled ``row``: later blocks start at or below it."""
        while self.held and self.first + self.held[0].shape[1] <= row:
            self.first += self.held.pop(0).shape[1]

    def _rows(self, start: int, stop: int) -> np.ndarray:
        """K×(stop − start)×w scaled rows [start, stop): a view when one band holds them.

        A band is a view of the sliding window's accumulators that the next band overwrites:
        the rows still needed are copied before another band is pulled."""
        while (held_stop := self.first + sum(band.shape[1] for band in self.held)) < stop:
            kept = self._parts(start, held_stop)
            self.held = [np.concatenate(kept, axis=1)] if kept else []
            self.first = max(start, self.first) if kept else held_stop
            self.held.append(next(self.bands)[1])
        parts = self._parts(start, stop)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _parts(self, start: int, stop: int) -> list[np.ndarray]:
        """The held bands' pieces of scaled rows [start, stop)."""
        parts, first = [], self.first
        for band in self.held:
            begin, end = max(start - first, 0), min(stop - first, band.shape[1])
            if begin < end:
                parts.append(band[:, begin:end])
            first += band.shape[1]
        return parts
