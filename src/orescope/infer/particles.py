"""Particle instances from a trained model: normalise, resample to the trained particle size,
predict tile by tile, decode the instances and bring them back to the image's own grid. A large
image goes block by block (:mod:`orescope.infer.chunks`), so its memory stays that of a block
whatever the resampling. A CT volume's tiles are predicted with the volume's statistics
(:func:`volume_particle_map`) and decoded as one (:mod:`orescope.infer.volume`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
import torch

from orescope.infer.chunks import BLOCK_PX, BlockPlan, scaled_grid, segment_in_chunks
from orescope.infer.settings import InferenceSettings, predict_map
from orescope.instances.components import remove_small
from orescope.instances.decode import ForegroundSplit, decode_particles, particle_reduce
from orescope.preprocess.intensity import IntensityStats
from orescope.preprocess.normalise import channel_stats, zscore_normaliser
from orescope.preprocess.resample import (
    median_diameter_px,
    resize_image,
    resize_labels,
    resize_volume,
    size_scale,
)
from orescope.zoo import LoadedModel
from orescope.zoo.card import Target

PROBE_PX = 512  # side of the central crop on which the particle size is estimated
PROBE_GROWTH = 1.5  # most a volume's size probe grows (per side) when it is enlarged
# Scales probed for the size estimate's start; ties go to the first, the image's own scale.
# Only shrinking: blown up, texture breaks into as many particle-sized pieces as particles.
PROBE_LADDER = (1.0, 0.5, 0.25)
# A large image is segmented in blocks of BLOCK_PX pixels a side at the model's scale, each seen
# with BLOCK_HALO_PX more on every side (five trained particle sizes).
BLOCK_HALO_PX = 128


def predict_particle_map(
    image: np.ndarray,
    network: torch.nn.Module,
    target: Target,
    in_channels: int,
    settings: InferenceSettings,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """uint8 map of ``image`` (or a volume) at its own scale: a border-core model's core map,
    a distance model's distance map (:func:`~orescope.instances.decode.particle_reduce`), or a
    foreground model's mask; ``stats`` as in :func:`zscore_normaliser`."""
    normalise = zscore_normaliser(image, in_channels, stats, settings.spatial_dims)
    return predict_map(image, network, normalise, settings, particle_reduce(target))


def _model_map(image: np.ndarray, loaded: LoadedModel, settings: InferenceSettings) -> np.ndarray:
    card = loaded.card
    return predict_particle_map(
        image, loaded.network, card.target, card.in_channels, settings, card.fixed_stats
    )


def estimate_particle_px(
    image: np.ndarray, loaded: LoadedModel, settings: InferenceSettings | None = None
) -> float:
    """Median particle ECD (px) in the image, measured by the model itself on a central crop.

    A model trained at one particle size sees the texture of much larger particles as small
    particles, so a start at the image's own scale can settle on texture. The start is
    therefore the scale, of the image's own, a half and a quarter (:data:`PROBE_LADDER`), at
    which the model finds the most particles in a crop of the same size: shrunk too far,
    particles are missed; at too large a size, texture breaks into fewer pieces than a right
    scale shows particles. From there the median diameter is measured, and once more at the
    corrected scale when that moved far (a model sees particles best near the size it was
    trained at). Specks under a quarter of the trained size are left out: at a wrong scale a
    model breaks texture into many of them."""
    target = loaded.card.particle_px
    assert target is not None
    settings = settings or InferenceSettings.for_model(loaded)
    speck_px = int(np.pi / 4 * (target / 4) ** 2)

    def found(scale: float) -> np.ndarray:
        side = int(PROBE_PX / scale)
        top, left = max(0, (image.shape[0] - side) // 2), max(0, (image.shape[1] - side) // 2)
        crop = resize_image(image[top : top + side, left : left + side], scale)
        # one plain forward pass over the whole crop: the model is fully convolutional
        whole = min(PROBE_PX, 32 * int(np.ceil(max(crop.shape[:2]) / 32)))
        probe = replace(settings, tile=whole, tta=False, scales=(1.0,), progress=False)
        particle_map = _model_map(crop, loaded, probe)
        labels = decode_particles(particle_map, loaded.card.target, target, every_seed=True)
        return remove_small(labels, speck_px)

    ladder = {scale: found(scale) for scale in PROBE_LADDER}
    start = max(ladder, key=lambda scale: len(np.unique(ladder[scale])))
    # the start's probe is measured already: only a corrected scale needs a new pass
    return _probed_size(
        lambda scale: median_diameter_px(ladder[scale] if scale in ladder else found(scale)),
        target,
        start,
    )


def plan_blocks(
    image: np.ndarray,
    loaded: LoadedModel,
    particle_px: float | None = None,
    settings: InferenceSettings | None = None,
) -> BlockPlan:
    """The :class:`BlockPlan` of ``image``: resampled so that its typical particle diameter
    (``particle_px``, estimated when not given) matches the size the model was trained at,
    normalised by the statistics of the image's own grid, cut in blocks of :data:`BLOCK_PX`
    and :data:`BLOCK_HALO_PX` at the model's scale."""
    settings = settings or InferenceSettings.for_model(loaded)
    card = loaded.card
    scale = 1.0
    if card.particle_px is not None:
        typical = particle_px or estimate_particle_px(image, loaded, settings)
        scale = size_scale(typical, card.particle_px)
    stats = card.fixed_stats or channel_stats(image)
    return BlockPlan(scale, stats, *scaled_grid(BLOCK_PX, BLOCK_HALO_PX, scale))


def segment_with_model(
    image: np.ndarray,
    loaded: LoadedModel,
    particle_px: float | None = None,
    min_area_px: int = 16,
    split: ForegroundSplit = "watershed",
    settings: InferenceSettings | None = None,
) -> np.ndarray:
    """uint32 instance labels of ``image`` (same height and width).

    ``particle_px`` is the typical (median) particle diameter in the image in pixels; it is
    estimated when not given. The image is resampled so that this matches the size the model
    was trained at, and the labels are resampled back (:func:`plan_blocks`). ``split`` says
    how a foreground-only model's mask becomes particles: watershed on its distance map, or
    connected components (paper 000). ``settings`` (default: the card's) say how the model
    is slid over the image; their ``scales`` other than (1,) average it over those multiples
    of the resampled image's scale.
    """
    settings = settings or InferenceSettings.for_model(loaded)
    plan = plan_blocks(image, loaded, particle_px, settings)
    labels = np.zeros(image.shape[:2], np.uint32)
    segment = partial(segment_block, loaded=loaded, settings=settings, plan=plan, split=split)
    segment_in_chunks(image, segment, labels, plan.block, plan.halo)
    return remove_small(labels, min_area_px, in_place=True)


def segment_block(
    block: np.ndarray,
    loaded: LoadedModel,
    settings: InferenceSettings,
    plan: BlockPlan,
    split: ForegroundSplit,
) -> np.ndarray:
    """Instance labels of one block of an image, on the block's own grid."""
    card = loaded.card
    resized = resize_image(block, plan.scale)
    particle_map = predict_particle_map(
        resized, loaded.network, card.target, card.in_channels, settings, plan.stats
    )
    del resized  # freed before decoding, which holds the block's peak memory
    labels = decode_particles(particle_map, card.target, card.particle_px, split)
    del particle_map
    return resize_labels(labels, block.shape[:2]) if plan.scale != 1.0 else labels


def volume_particle_map(
    chunk: np.ndarray, loaded: LoadedModel, stats: IntensityStats, settings: InferenceSettings
) -> np.ndarray:
    """uint8 particle map (as :func:`predict_particle_map`) of a D×H×W chunk of a volume,
    z-scored with the whole volume's ``stats`` so that every chunk is normalised alike."""

    def normalise(crop: np.ndarray) -> np.ndarray:
        return np.moveaxis(stats.normalise(crop), -1, 0)

    return predict_map(
        chunk, loaded.network, normalise, settings, particle_reduce(loaded.card.target)
    )


def estimate_volume_particle_px(
    chunk: np.ndarray, loaded: LoadedModel, stats: IntensityStats
) -> float:
    """Median particle ESD (voxels) in a chunk of a volume, measured by the model itself as
    :func:`estimate_particle_px` does on images: at the volume's scale and, when that is far
    from the trained size, once more at the corrected scale. Particles cut by the chunk's
    faces are left out (their ESD is too small), and so are specks under a quarter of the
    trained size. Enlarged more than ``PROBE_GROWTH`` times, only the chunk's central part is
    probed, so the model never sees a block more than that much larger than the chunk."""
    target = loaded.card.particle_px
    assert target is not None
    speck_px = int(np.pi / 6 * (target / 4) ** 3)

    def measure(scale: float) -> float:
        side = [max(1, min(n, int(PROBE_GROWTH * n / scale))) for n in chunk.shape]
        centre = tuple(
            slice((n - s) // 2, (n - s) // 2 + s) for n, s in zip(chunk.shape, side, strict=True)
        )
        resized = resize_volume(chunk[centre], scale)
        probe = one_pass(InferenceSettings.for_model(loaded), resized.shape)
        particle_map = volume_particle_map(resized, loaded, stats, probe)
        labels = decode_particles(particle_map, loaded.card.target, target, every_seed=True)
        return median_diameter_px(remove_small(_inside(labels), speck_px))

    return _probed_size(measure, target)


def one_pass(settings: InferenceSettings, shape: tuple[int, ...]) -> InferenceSettings:
    """``settings`` with one tile that covers a block of ``shape`` (its longest side rounded
    up to a multiple of 32): a volume's tile is predicted in a single forward pass, its halo
    giving the context at its faces (overlapping tiles inside it would predict voxels twice)."""
    return replace(settings, tile=32 * int(np.ceil(max(shape) / 32)), batch_size=1)


def _probed_size(measure: Callable[[float], float], target: float, scale: float = 1.0) -> float:
    """The typical particle size (px) that ``measure`` finds at ``scale`` (default: the
    image's or volume's own) and, when that is far from the model's ``target``, once more at
    the corrected scale; ``target`` itself when nothing is found."""
    typical = target / scale
    for _ in range(2):
        measured = measure(scale)
        if not np.isfinite(measured):
            return typical
        typical = measured / scale
        new_scale = size_scale(typical, target)
        if abs(np.log(new_scale / scale)) < np.log(1.25):
            break
        scale = new_scale
    return typical


def _inside(labels: np.ndarray) -> np.ndarray:
    """``labels`` without the particles that touch any face of the array."""
    faces = np.concatenate(
        [np.take(labels, [0, -1], axis=axis).ravel() for axis in range(labels.ndim)]
    )
    cut = np.zeros(int(labels.max()) + 1, bool)
    cut[faces] = True
    cut[0] = True
    return np.where(cut[labels], 0, labels).astype(labels.dtype)
