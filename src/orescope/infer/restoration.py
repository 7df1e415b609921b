"""Restoring a wet photo with a trained generator: tiles blended with Gaussian weights, a band
of rows at a time (:mod:`orescope.infer.sliding_window`), so a panorama needs memory for itself
and one band of tiles, never a float copy of the whole image. An image smaller than a tile is
mirrored out to it and cropped back: the generator's depth never sees a side it cannot halve.
The classical method (highlights inpainted) is chosen by the name ``inpaint`` in a model's
place, so that every job takes one ``restore`` option.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from orescope.errors import InputError
from orescope.infer.device import pick_device
from orescope.infer.sliding_window import network_outputs, probability_bands
from orescope.infer.tiling import tiles_per_batch
from orescope.preprocess.restore import inpaint_highlights
from orescope.zoo import LoadedModel, load_model

RESTORE_STATS = (np.full(3, 127.5, np.float32), np.full(3, 127.5, np.float32))
"""Mean and std (0-255) that map a photo linearly onto the generators' [-1, 1]."""


def restore_image(
    image: np.ndarray,
    network: torch.nn.Module,
    *,
    tile: int,
    stats: tuple[np.ndarray, np.ndarray] = RESTORE_STATS,
    overlap: float = 0.25,
    progress: bool = False,
) -> np.ndarray:
    """The dry version (uint8 H×W×3) of the wet uint8 RGB ``image`` by a restoration
    ``network`` fed with the card's channel ``stats``, in tiles of ``tile`` px overlapping by
    ``overlap``.

    Raises
    ------
    ValueError
        When the image is not uint8 RGB (a grey photo has lost the colour a wet surface is
        told by).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        kind = "grey" if image.ndim == 2 or image.shape[2] == 1 else f"{image.shape} {image.dtype}"
        raise ValueError(f"a restoration model needs a uint8 RGB photo; got a {kind} image")
    mean, std = stats

    def normalise(crop: np.ndarray) -> np.ndarray:
        return np.moveaxis((crop.astype(np.float32) - mean) / std, -1, 0)

    restored = np.empty_like(image)
    bands = probability_bands(
        image,
        network,
        normalise,
        tile,
        overlap,
        tiles_per_batch(tile),
        tta=False,
        device=next(network.parameters()).device,
        progress=progress,
        activate=network_outputs,
    )
    for top, band in bands:
        values = np.moveaxis(band, 0, -1) * std + mean
        restored[top : top + len(values)] = np.clip(values + 0.5, 0, 255).astype(np.uint8)
    return restored


INPAINT = "inpaint"
"""The classical restoration's name where a model's would go: highlights painted over."""


@lru_cache(maxsize=2)
def restoration_model(name_or_path: str) -> LoadedModel:
    """A restoration model (zoo name, folder or ``.safetensors`` file), loaded once per
    process, on the GPU when there is one.

    Raises
    ------
    InputError
        Naming the file, when it is no model or not a restoration model (a discriminator's
        weights, say, given for the generator's).
    """
    loaded = load_model(name_or_path, pick_device("auto"))
    if loaded.card.target != "restore":
        raise InputError(name_or_path, f"is a {loaded.card.target} model, not a restoration model")
    return loaded


def restore_photo(image: np.ndarray, method: str) -> np.ndarray:
    """``image`` made dry by ``method``: :data:`INPAINT` (any image; RGB out) or a
    restoration model (RGB photos).

    Raises
    ------
    ValueError
        For a grey photo given to a model.
    """
    if method == INPAINT:
        return inpaint_highlights(image)
    loaded = restoration_model(method)
    stats = loaded.card.fixed_stats or RESTORE_STATS
    return restore_image(image, loaded.network, tile=loaded.card.tile, stats=stats)
