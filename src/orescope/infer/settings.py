"""How a model is slid over an image or a volume: one settings object, made from the model's
card and the user's options, that the particle, mineral and volume jobs and training validation
hand down, instead of a dozen loose arguments threaded through every signature."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from orescope.infer.multiscale import multiscale_bands
from orescope.infer.sliding_window import Normalise, Reduce, classes_from_bands
from orescope.infer.tiling import tiles_per_batch
from orescope.zoo import LoadedModel


@dataclass(frozen=True)
class InferenceSettings:
    """Tile side (a square, or a cube for ``spatial_dims=3``), tiles per forward pass, their
    overlap, test-time mirroring, the scales averaged over, the device and a progress bar.

    Examples
    --------
    >>> InferenceSettings(tile=256, batch_size=4).spatial_dims
    2
    """

    tile: int
    batch_size: int
    spatial_dims: int = 2
    overlap: float = 0.25
    tta: bool = False
    scales: tuple[float, ...] = (1.0,)
    device: torch.device = torch.device("cpu")
    progress: bool = False

    @classmethod
    def for_model(
        cls,
        loaded: LoadedModel,
        *,
        tile: int | None = None,
        batch_size: int | None = None,
        tta: bool = False,
        scales: Sequence[float] = (1.0,),
        progress: bool = False,
    ) -> InferenceSettings:
        """The card's tile and dimensionality, the network's device, a batch that holds
        :data:`~orescope.infer.tiling.BATCH_PIXELS`, and the options given."""
        spatial_dims = loaded.card.architecture.spatial_dims
        tile = tile or loaded.card.tile
        return cls(
            tile=tile,
            batch_size=batch_size or tiles_per_batch(tile, spatial_dims),
            spatial_dims=spatial_dims,
            tta=tta,
            scales=tuple(scales),
            device=next(loaded.network.parameters()).device,
            progress=progress,
        )


def predict_bands(
    image: np.ndarray,
    network: torch.nn.Module,
    normalise: Normalise,
    settings: InferenceSettings,
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, K×h×W probabilities) bands of ``image`` (or a volume), top to bottom."""
    return multiscale_bands(
        image,
        network,
        normalise=normalise,
        scales=settings.scales,
        tile=settings.tile,
        overlap=settings.overlap,
        batch_size=settings.batch_size,
        tta=settings.tta,
        device=settings.device,
        progress=settings.progress,
        spatial_dims=settings.spatial_dims,
    )


def predict_map(
    image: np.ndarray,
    network: torch.nn.Module,
    normalise: Normalise,
    settings: InferenceSettings,
    reduce: Reduce | None = None,
) -> np.ndarray:
    """uint8 map of ``image`` (or a volume): its classes, or what ``reduce`` makes of each
    band of probabilities (:func:`~orescope.infer.sliding_window.classes_from_bands`)."""
    bands = predict_bands(image, network, normalise, settings)
    return classes_from_bands(image.shape[: settings.spatial_dims], bands, reduce)
