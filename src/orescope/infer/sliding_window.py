"""Sliding-window inference with Gaussian blending in bounded memory, for images and volumes.

Panoramas of ore on a belt reach 12000×8000 pixels; their full K×H×W probability map would not
fit next to the model. Tiles are therefore predicted row by row, top to bottom, and blended in a
band one tile high: once a tile row is done, every pixel above the next row's start has received
all its contributions, so it is reduced to a class and the band moves down. A volume (chunk) is
the same with cubic tiles and bands one tile deep along its first axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain, islice, product
from types import EllipsisType

import numpy as np
import torch
from rich.progress import track

from orescope.infer.tiling import gaussian_weights, tile_starts

Normalise = Callable[[np.ndarray], np.ndarray]
Reduce = Callable[[np.ndarray], np.ndarray]
Activate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (outputs, inputs) -> maps


def predict_classes(
    image: np.ndarray,
    model: torch.nn.Module,
    *,
    normalise: Normalise,
    tile: int = 256,
    overlap: float = 0.25,
    batch_size: int = 4,
    tta: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
    reduce: Reduce | None = None,
    spatial_dims: int = 2,
) -> np.ndarray:
    """Class map (uint8 H×W) of ``image``: argmax over K classes, or probability ≥ 0.5 if K = 1;
    or any other uint8 map that ``reduce`` makes of each K×h×w band of final probabilities
    (a border-core model's :func:`~orescope.instances.border_core.core_map`).

    Memory beyond the image and the class map is one band of K×tile×W accumulators, whatever
    the image height. ``normalise`` maps an h×w×C crop (the image's dtype; 2D images come as
    h×w×1) to the float32 C×h×w model input, so the whole image is never converted to float.
    Tiles are ``tile``×``tile`` (a multiple of 32), ``round(tile·(1 − overlap))`` apart;
    images narrower or lower than a tile are padded (reflected, or edge-repeated where a single
    reflection is too short) and cropped back. ``tta`` averages the four mirror variants. The
    model is moved to ``device`` and evaluated in eval mode; its training flag is restored.
    With ``spatial_dims=3`` the image is a volume (D×H×W or D×H×W×C, crops d×h×w×C to
    C×d×h×w), tiles are cubes and ``tta`` averages the eight mirror variants.
    """
    bands = probability_bands(
        image, model, normalise, tile, overlap, batch_size, tta, device, progress, spatial_dims
    )
    return classes_from_bands(image.shape[:spatial_dims], bands, reduce)


def predict_probabilities(
    image: np.ndarray,
    model: torch.nn.Module,
    *,
    normalise: Normalise,
    tile: int = 256,
    overlap: float = 0.25,
    batch_size: int = 4,
    tta: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
    spatial_dims: int = 2,
) -> np.ndarray:
    """Blended probabilities (float32 K×H×W) of ``image``, as :func:`predict_classes` sees them.

    Holds the full probability map, so it is meant for small images and tests only; use
    :func:`predict_classes` for panoramas.
    """
    bands = probability_bands(
        image, model, normalise, tile, overlap, batch_size, tta, device, progress, spatial_dims
    )
    return probabilities_from_bands(image.shape[:spatial_dims], bands)


def classes_from_bands(
    shape: tuple[int, ...],
    bands: Iterator[tuple[int, np.ndarray]],
    reduce: Reduce | None = None,
) -> np.ndarray:
    """uint8 H×W (or D×H×W) map of (first row, K×h×W probability) bands, each band reduced to
    classes by ``reduce`` (default :func:`class_index`) as it arrives, so no full probability
    map is held. A ``reduce`` that makes several maps of each band (…×h×W) gets them all, as
    …×H×W."""
    reduce = reduce or class_index
    classes: np.ndarray | None = None
    for top, probabilities in bands:
        reduced = reduce(probabilities)
        if classes is None:
            classes = np.empty((*reduced.shape[: reduced.ndim - len(shape)], *shape), np.uint8)
        rows: tuple[EllipsisType | slice, ...] = (..., slice(top, top + probabilities.shape[1]))
        classes[rows + _whole(len(shape) - 1)] = reduced
    if classes is None:
        raise ValueError("no probability bands to reduce")
    return classes


def probabilities_from_bands(
    shape: tuple[int, ...], bands: Iterator[tuple[int, np.ndarray]]
) -> np.ndarray:
    """float32 K×H×W map of (first row, K×h×W probability) bands, each written in place as it
    arrives: a list of the bands and their concatenation would hold the map twice."""
    probabilities: np.ndarray | None = None
    for top, band in bands:
        if probabilities is None:
            probabilities = np.empty((len(band), *shape), dtype=np.float32)
        probabilities[:, top : top + band.shape[1]] = band
    if probabilities is None:
        raise ValueError("no probability bands to stack")
    return probabilities


def _whole(axes: int) -> tuple[slice, ...]:
    """``:`` for each of ``axes`` trailing axes."""
    return (slice(None),) * axes


def class_index(probabilities: np.ndarray) -> np.ndarray:
    """Class per pixel of a K×h×w probability band."""
    if len(probabilities) == 1:
        return (probabilities[0] >= 0.5).astype(np.uint8)
    if len(probabilities) > 256:
        raise ValueError(f"{len(probabilities)} classes do not fit a uint8 class map")
    return probabilities.argmax(axis=0).astype(np.uint8)


def class_index_among(allowed: Sequence[int]) -> Reduce:
    """A reduce that gives each pixel the most probable of the ``allowed`` classes only: where
    the minerals a section can hold are known, the model never names one that is absent."""
    keep = np.unique(np.asarray(allowed, dtype=np.intp))
    if keep.size == 0 or keep[0] < 0 or keep[-1] > 255:
        raise ValueError(f"allowed classes must be 0-255, got {list(allowed)}")

    def reduce(probabilities: np.ndarray) -> np.ndarray:
        return keep[probabilities[keep].argmax(axis=0)].astype(np.uint8)

    return reduce


def probability_bands(
    image: np.ndarray,
    model: torch.nn.Module,
    normalise: Normalise,
    tile: int,
    overlap: float,
    batch_size: int,
    tta: bool,
    device: str | torch.device,
    progress: bool,
    spatial_dims: int = 2,
    activate: Activate | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Final blended probabilities as (first row, K×h×W band), top to bottom, covering H rows
    (of a volume: K×d×H×W bands covering D slices); the arguments are :func:`predict_classes`',
    and ``activate`` turns a batch's outputs into what is blended (default: probabilities;
    :func:`network_outputs` for a network whose outputs are images).

    Tile starts on the padded grid are such that a tile row starting at ``top`` overlaps only
    rows ``[top, top + tile)``, so the accumulators are exactly one tile high. Each band is a
    view of them, valid until the next band is asked for: a consumer keeps what it needs.
    """
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 (images) or 3 (volumes), got {spatial_dims}")
    if image.ndim not in (spatial_dims, spatial_dims + 1) or 0 in image.shape:
        kind = "H×W or H×W×C image" if spatial_dims == 2 else "D×H×W or D×H×W×C volume"
        raise ValueError(f"expected a non-empty {kind}, got shape {image.shape}")
    if tile < 32 or tile % 32:
        raise ValueError(f"tile must be a positive multiple of 32, got {tile}")
    if not 0 <= overlap < 0.9:
        raise ValueError(f"overlap must be in [0, 0.9), got {overlap}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    pixels = image if image.ndim == spatial_dims + 1 else image[..., None]
    height, *across = image.shape[:spatial_dims]
    step = round(tile * (1 - overlap))
    padded = [max(size, tile) for size in across]
    origins = list(
        product(*(tile_starts(max(size, tile), tile, step) for size in (height, *padded)))
    )
    weights = gaussian_weights(tile, ndim=spatial_dims)
    was_training = model.training
    model.to(device).eval()
    try:
        tiles = _tile_probabilities(
            pixels,
            model,
            normalise,
            origins,
            tile,
            batch_size,
            tta,
            device,
            progress,
            activate or probabilities_of,
        )
        first = next(tiles)
        band = np.zeros((len(first[1]), tile, *padded), dtype=np.float32)
        total = np.zeros((tile, *padded), dtype=np.float32)
        top = 0
        for (y, *corner), probabilities in chain([first], tiles):
            if y != top:
                yield top, _finished(band, total, y - top, across)
                _shift_up(band, y - top, axis=1)
                _shift_up(total, y - top, axis=0)
                top = y
            window = tuple(slice(start, start + tile) for start in corner)
            band[(slice(None), slice(None), *window)] += probabilities * weights
            total[(slice(None), *window)] += weights
        yield top, _finished(band, total, height - top, across)
    finally:
        model.train(was_training)


def _finished(band: np.ndarray, total: np.ndarray, rows: int, across: Sequence[int]) -> np.ndarray:
    """The first ``rows`` rows of the accumulated ``band``, divided by their weights in place:
    they take no more contributions, and a copy would be a second band at the image's width.
    ``across`` are the image's sides after the first (the band is padded to a tile)."""
    inside = tuple(slice(0, size) for size in across)
    done = band[(slice(None), slice(0, rows), *inside)]
    done /= total[(slice(0, rows), *inside)]
    return done


def _shift_up(buffer: np.ndarray, rows: int, axis: int) -> None:
    """Drop the first ``rows`` rows (along ``axis``) of ``buffer`` in place and zero the freed
    ones."""
    keep = buffer.shape[axis] - rows
    moved = (slice(None),) * axis
    buffer[(*moved, slice(0, keep))] = buffer[(*moved, slice(rows, None))]
    buffer[(*moved, slice(keep, None))] = 0


def _tile_probabilities(
    pixels: np.ndarray,
    model: torch.nn.Module,
    normalise: Normalise,
    origins: list[tuple[int, ...]],
    tile: int,
    batch_size: int,
    tta: bool,
    device: str | torch.device,
    progress: bool,
    activate: Activate,
) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """(origin, K×tile×tile activated outputs) per tile (K×tile³ in a volume), in the order
    of ``origins``.

    Batches run across tile rows, so narrow images still fill ``batch_size``.
    """
    pending = iter(track(origins, description="tiles", disable=not progress))
    while chunk := list(islice(pending, batch_size)):
        inputs = np.stack([_model_input(normalise, _crop(pixels, start, tile)) for start in chunk])
        probabilities = _probabilities(model, torch.from_numpy(inputs).to(device), tta, activate)
        yield from zip(chunk, probabilities, strict=True)


def _crop(pixels: np.ndarray, start: tuple[int, ...], tile: int) -> np.ndarray:
    """The tile×tile×C crop (tile³×C in a volume) at ``start``; sides of the image shorter
    than a tile are padded.

    Such a crop spans the whole short side, so padding the crop equals padding the image.
    """
    crop = pixels[tuple(slice(first, first + tile) for first in start)]
    for axis in range(len(start)):
        size = crop.shape[axis]
        if size < tile:
            widths = [(0, 0)] * crop.ndim
            widths[axis] = (0, tile - size)
            crop = np.pad(crop, widths, mode="reflect" if tile - size < size else "edge")
    return crop


def _model_input(normalise: Normalise, crop: np.ndarray) -> np.ndarray:
    """``normalise(crop)`` as float32 C×h×w (C×d×h×w), checked so that a wrong layout fails
    clearly."""
    tensor = np.asarray(normalise(crop), dtype=np.float32)
    if tensor.ndim != crop.ndim or tensor.shape[1:] != crop.shape[:-1]:
        raise ValueError(
            f"normalise must map an h×w×C crop to C×h×w; got {crop.shape} -> {tensor.shape}"
        )
    return tensor


def _flips(spatial_dims: int) -> list[tuple[int, ...]]:
    """Mirror variants for test-time augmentation, as the torch dimensions of a batch to flip:
    none, each spatial axis and each combination (4 for images, 8 for volumes)."""
    axes = range(2, 2 + spatial_dims)
    return [
        tuple(axis for axis, flipped in zip(axes, bits, strict=True) if flipped)
        for bits in product((False, True), repeat=spatial_dims)
    ]


def _probabilities(
    model: torch.nn.Module, inputs: torch.Tensor, tta: bool, activate: Activate
) -> np.ndarray:
    """Activated outputs (B×K×h×w float32) of a batch, averaged over the mirror variants if
    ``tta``."""
    with torch.inference_mode():
        if not tta:  # no flips, no running sum: each is a copy of the batch
            return activate(model(inputs), inputs).cpu().numpy()
        total = torch.zeros(())
        variants = _flips(inputs.ndim - 2)
        for dims in variants:
            total = total + torch.flip(activate(model(torch.flip(inputs, dims)), inputs), dims)
    return (total / len(variants)).cpu().numpy()


def network_outputs(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The outputs themselves as float32 (a restored image), checked as
    :func:`probabilities_of` checks them."""
    batch, _, *sides = inputs.shape
    if outputs.ndim != inputs.ndim or (len(outputs), *outputs.shape[2:]) != (batch, *sides):
        raise ValueError(
            f"model must map B×C×h×w to B×K×h×w; got {tuple(inputs.shape)} -> "
            f"{tuple(outputs.shape)}"
        )
    return outputs.float()


def probabilities_of(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Sigmoid of K = 1 logits, softmax over K otherwise; checks the model kept B and the
    spatial sides."""
    logits = network_outputs(logits, inputs)
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)
