"""The minerals job: section photo (and its XPL twin) -> class map -> mineral statistics."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, PositiveFloat, model_validator

from orescope.errors import InputError
from orescope.infer.chunks import BLOCK_PX, BlockPlan, Mapper, map_cores, scaled_grid
from orescope.infer.device import pick_device
from orescope.infer.guided import refine_bands
from orescope.infer.ore_types import OreTypeVote
from orescope.infer.settings import InferenceSettings, predict_bands
from orescope.infer.sliding_window import Reduce, class_index_among, classes_from_bands
from orescope.io.images import to_gray_float
from orescope.io.panoramas import Panorama, Pixels
from orescope.io.volumes import volume_blocks
from orescope.jobs.blocks import worker_image, worker_output
from orescope.measure.minerals import (
    association,
    grain_size_summary,
    liberation,
    measure_grains,
    modal_mineralogy,
)
from orescope.preprocess.align import align_to
from orescope.preprocess.colour import (
    ColourCorrection,
    fit_colour_correction,
    region_colours,
)
from orescope.preprocess.normalise import channel_stats, stats_sample, zscore_normaliser
from orescope.preprocess.resample import resize_image, resize_labels
from orescope.zoo import LoadedModel, ModelCard, load_model

GUIDE_PERCENTILES = (0.5, 99.5)  # the brightness range the edge refinement's guide spans
# A section goes in blocks of SECTION_BLOCK_PX pixels a side at the model's scale, twice the
# particle job's (BLOCK_PX): its blocks hold a few class maps, not instances, and their context
# (a quarter of a tile and the edge refinement's reach each side) then costs a fifth more
# pixels, not half as many again; a photo of up to a block is one.
SECTION_BLOCK_PX = 2 * BLOCK_PX


class MineralConfig(BaseModel, extra="forbid"):
    """How section photos are segmented and measured.

    A run writes it as ``config.yaml`` next to its outputs, so a modal mineralogy can be traced
    to the model, scale and colour correction that produced it.

    Examples
    --------
    >>> from orescope import MineralConfig
    >>> config = MineralConfig(um_per_px=1.2, minerals=["pyrrhotite", "pentlandite"])
    >>> config.model, config.ore_type
    ('lumenstone', 'auto')
    >>> MineralConfig.model_validate(config.model_dump()) == config  # as config.yaml holds it
    True
    """

    model: str = Field("lumenstone", description="zoo name or folder with card.yaml")
    um_per_px: float | None = Field(
        None, ge=0.01, le=10_000, description="image scale; sizes stay in px without it"
    )
    tta: bool = Field(False, description="average the model over mirrored copies of each tile")
    scales: list[PositiveFloat] = Field(
        [1.0],
        min_length=1,
        description="average the model over the image at these multiples of its trained scale "
        "(0.8, 1, 1.25: ~3.4x the time, steadier classes)",
    )
    refine_px: int = Field(
        8,
        ge=0,
        le=64,
        description="radius in pixels (at the model's scale) of the guided filter that moves "
        "class borders onto the image's edges; 0: the model's borders as they are",
    )
    minerals: list[str] = Field(
        [],
        description="the minerals the sections can hold (names or indices): each pixel gets the "
        "most probable of these or the background (class 0); empty: any class of the model",
    )
    ore_type: str = Field(
        "auto",
        description="the sections' ore type, one of the model card's: each pixel gets the most "
        "probable of its minerals or the background; auto: each image's own, the type the "
        "model's probabilities point to (any class where the card lists no types); any: any "
        "class of the model",
    )
    align_xpl: bool = Field(True, description="register each XPL image onto its PPL image")
    min_grain_px: int = Field(16, ge=1, description="smaller grains are left out of grains.csv")
    liberation: str | None = Field(None, description="mineral (name or index) for liberation")
    blank: str | None = Field(None, description="blank-field photo for flat-field correction")
    calibration_images: list[str] = Field(
        [], description="calibration mode: one colour matrix for the run, from these photos"
    )
    calibration_masks: list[str] = Field(
        [], description="class indices of a few regions of each calibration photo (255 = none)"
    )
    colour_masks: str | None = Field(
        None, description="per-image mode: folder of <stem>.png region masks, a matrix each"
    )
    batch_size: int | None = Field(
        None, ge=1, description="tiles per forward pass; by default four 256² tiles' pixels"
    )

    @model_validator(mode="after")
    def _one_colour_mode(self) -> MineralConfig:
        if len(self.calibration_images) != len(self.calibration_masks):
            raise ValueError("calibration needs one region mask for each calibration photo")
        if self.calibration_images and self.colour_masks:
            raise ValueError("choose calibration mode or per-image colour masks, not both")
        if self.minerals and self.ore_type != "auto":
            raise ValueError("give the minerals or the ore type, not both")
        return self


@dataclass(frozen=True)
class SectionMap:
    classes: np.ndarray  # uint8 H×W registry indices, at the input's size
    ore_type: str | None = None  # the card's ore type the classes were kept to
    evidence: dict[str, float] = field(default_factory=dict)  # each type's share, when voted


@dataclass(frozen=True)
class MineralResult:
    """A section's class map (uint8 registry indices, 0 = background) and its tables."""

    classes: np.ndarray  # uint8 H×W registry indices
    modal: pd.DataFrame
    grains: pd.DataFrame
    grain_sizes: pd.DataFrame
    association: pd.DataFrame
    liberation: pd.DataFrame | None
    ore_type: str | None = None


@lru_cache(maxsize=4)
def shared_section_model(name: str) -> LoadedModel:
    loaded = load_model(name, device=pick_device("auto"))
    if loaded.card.target != "classes":
        raise InputError(name, f"is a '{loaded.card.target}' model, not a mineral (classes) model")
    return loaded


@overload
def model_input(
    image: np.ndarray, xpl: np.ndarray | None, in_channels: int, align: bool = True
) -> np.ndarray: ...


@overload
def model_input(
    image: Panorama, xpl: np.ndarray | None, in_channels: int, align: bool = True
) -> Panorama: ...


def model_input(
    image: Pixels, xpl: np.ndarray | None, in_channels: int, align: bool = True
) -> Pixels:
    """PPL (or reflected-light) image, with the XPL image stacked as 3 more channels when the
    model was trained on both; the XPL image is first registered onto the PPL one (the
    microscope shifts it by several pixels even in published data sets)."""
    if in_channels == 6:
        if isinstance(image, Panorama):
            raise InputError(None, "a PPL + XPL model takes pairs of photos, not a panorama")
        if xpl is None:
            raise InputError(None, "the model needs an XPL image next to each PPL image (--xpl)")
        if align:
            xpl = align_to(_rgb(image), _rgb(xpl))
        if xpl.shape[:2] != image.shape[:2]:
            raise InputError(None, f"XPL {xpl.shape[:2]} and PPL {image.shape[:2]} differ in size")
        return np.concatenate([_rgb(image), _rgb(xpl)], axis=2)
    if xpl is not None:
        raise InputError(None, "the model takes one image per section, not PPL + XPL")
    return image


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return image[..., :3]


def segment_section(
    image: Pixels,
    loaded: LoadedModel,
    config: MineralConfig,
    xpl: np.ndarray | None = None,
    run: Mapper = map,
    scratch: Path | None = None,
) -> SectionMap:
    """Class map at the input's size: the model runs at the scale it was trained at, tile by
    tile, its class borders are moved onto the image's edges (``refine_px``), and its class
    map is scaled back (nearest neighbour).

    A large image (a :class:`~orescope.io.panoramas.Panorama` is read no other way) goes in
    blocks of :data:`SECTION_BLOCK_PX` at the model's scale, each predicted with a quarter
    tile and the refinement's reach of context around it, all normalised alike; a smaller
    one is one block. ``run`` maps the blocks' tasks: here, or with ``scratch``
    (a folder the workers see, for the image and the class maps) on a cluster's workers,
    which load ``config.model`` once each: the same blocks, normalisation and sums as here,
    so the same map to the bit where the network runs on as many threads. An ore-type
    vote is two passes: each block tallies the evidence of its core, and the type of the
    summed tallies picks its class maps."""
    card = loaded.card
    reduce = section_reduce(card, config)
    stacked = model_input(image, xpl, card.in_channels, config.align_xpl)
    sample = np.asarray(stats_sample(stacked))
    halo = card.tile // 4 + 2 * config.refine_px
    stats = card.fixed_stats or channel_stats(sample)
    plan = BlockPlan(
        card.input_scale, stats, *scaled_grid(SECTION_BLOCK_PX, halo, card.input_scale)
    )
    sides = tuple(_equal_core_side(size, plan.block) for size in stacked.shape[:2])
    maps: tuple[int, ...] = tuple(stacked.shape[:2])  # (T×)H×W: one map per voted type
    if isinstance(reduce, OreTypeVote):
        maps = (len(reduce.names), *maps)
    model: LoadedModel | str = loaded
    out: Any = np.empty(maps, np.uint8)
    if scratch is not None:
        stacked = worker_image(stacked, scratch, sides)
        model, out = config.model, worker_output(scratch, "classes.zarr", maps, sides, "u1")
    blocks = _SectionBlocks(model, config, plan, guide_range(sample), reduce, out)
    cores = volume_blocks(maps[-2:], sides)
    tallies = list(map_cores(stacked, blocks, cores, sides, plan.halo, run))
    if not isinstance(reduce, OreTypeVote):
        return SectionMap(np.asarray(blocks.out), _named_ore_type(card, config))
    vote = reduce.tallied(tallies)
    ore_type, classes = vote.decide(blocks.out)
    return SectionMap(classes, ore_type, vote.shares())


def _equal_core_side(size: int, block: int) -> int:
    """The side of the equal cores, of at most ``block``, that a side of ``size`` is cut into:
    no thin last core, whose block, moved inside the image, would mostly repeat its
    neighbour's."""
    cores = math.ceil(size / block)
    return math.ceil(size / cores)


@dataclass(frozen=True)
class _SectionBlocks:
    """Classifies one block of a section image and writes its core's class maps into
    ``out``: what a block's task carries to a worker. ``model`` is loaded, or named (a zoo
    name or folder, loaded once a process); ``plan`` and the ``guide`` range are the whole
    image's, so that every block is normalised and refined alike."""

    model: LoadedModel | str
    config: MineralConfig
    plan: BlockPlan
    guide: tuple[float, float]
    reduce: Reduce | OreTypeVote | None
    out: Any  # uint8 (T×)H×W class maps: an array, or a zarr array the workers write

    def __call__(
        self, block: np.ndarray, inner: tuple[slice, ...], core: tuple[slice, ...]
    ) -> np.ndarray | None:
        """Classify ``block``, write the maps of its core (at ``inner`` in it; ``core`` in
        the image); the evidence its core holds for each ore type when they are voted."""
        loaded = (
            self.model if isinstance(self.model, LoadedModel) else shared_section_model(self.model)
        )
        config = self.config
        settings = InferenceSettings.for_model(
            loaded, batch_size=config.batch_size, tta=config.tta, scales=config.scales
        )
        pixels = resize_image(block, self.plan.scale)
        normalise = zscore_normaliser(pixels, loaded.card.in_channels, self.plan.stats)
        bands = predict_bands(pixels, loaded.network, normalise, settings)
        if config.refine_px:
            guide = brightness_rows(pixels, self.guide)
            bands = refine_bands(bands, guide, len(pixels), config.refine_px)
        reduce = self.reduce
        if isinstance(reduce, OreTypeVote):  # the core's evidence, on the model's grid
            reduce = reduce.counting(_scaled_window(inner, block.shape[:2], pixels.shape[:2]))
        maps = classes_from_bands(pixels.shape[:2], bands, reduce)
        if self.plan.scale != 1.0:
            maps = resize_labels(maps, (*maps.shape[:-2], *block.shape[:2]))
        every_map: tuple[Any, ...] = (...,)
        self.out[(*every_map, *core)] = maps[(*every_map, *inner)]
        return reduce.evidence if isinstance(reduce, OreTypeVote) else None


def _scaled_window(
    inner: tuple[slice, ...], shape: tuple[int, ...], scaled: tuple[int, ...]
) -> tuple[slice, slice]:
    """The window ``inner`` of an array of ``shape`` on its resampled grid of ``scaled``."""
    rows, columns = (
        slice(round(part.start * new / old), round(part.stop * new / old))
        for part, old, new in zip(inner, shape, scaled, strict=True)
    )
    return rows, columns


def guide_range(sample: np.ndarray) -> tuple[float, float]:
    """The brightness that the edge refinement's guide maps to 0 and its span to 1: the
    0.5th and 99.5th percentiles of a sample of the image, so that what counts as an edge is
    relative to the photo's own contrast, whatever its bit depth (a 12-bit camera's frames in
    16-bit files would otherwise look flat)."""
    low, high = np.percentile(to_gray_float(sample), GUIDE_PERCENTILES)
    return float(low), float(high - low if high > low else 1.0)


def brightness_rows(
    pixels: np.ndarray, guide: tuple[float, float] | None = None
) -> Callable[[int, int], np.ndarray]:
    """Rows of the image's brightness, the guide of the edge refinement (of the PPL image where
    XPL is stacked after it), scaled by ``guide`` (:func:`guide_range`; by default that of
    ``pixels`` themselves)."""
    low, span = (np.float32(value) for value in guide or guide_range(stats_sample(pixels)))

    def rows(start: int, stop: int) -> np.ndarray:
        brightness = to_gray_float(pixels[start:stop])
        brightness -= low
        brightness /= span
        return brightness

    return rows


def section_reduce(card: ModelCard, config: MineralConfig) -> Reduce | OreTypeVote | None:
    """How probabilities become classes: among the given minerals, among those of the given
    ore type, by a vote among the card's ore types, or (None) among all classes."""
    if config.minerals:
        return class_index_among(allowed_classes(card.class_names, config.minerals))
    if config.ore_type == "any" or (config.ore_type == "auto" and not card.ore_types):
        return None
    types = {
        name: allowed_classes(card.class_names, minerals)
        for name, minerals in card.ore_types.items()
    }
    name = _named_ore_type(card, config)
    return class_index_among(types[name]) if name else OreTypeVote(types)


def _named_ore_type(card: ModelCard, config: MineralConfig) -> str | None:
    """The card's ore type that ``config.ore_type`` names (case-insensitive); None for auto
    and any, or when minerals are given."""
    if config.minerals or config.ore_type in ("auto", "any"):
        return None
    if not card.ore_types:
        raise InputError(None, f"model {card.name} lists no ore types: give the minerals instead")
    for name in card.ore_types:
        if name.lower() == config.ore_type.lower():
            return name
    known = ", ".join(card.ore_types)
    raise InputError(None, f"no ore type '{config.ore_type}'; the model knows {known}")


def calibrate_colours(
    photos: list[tuple[np.ndarray, np.ndarray]], card: ModelCard
) -> ColourCorrection:
    """The colour matrix that maps the class-mean colours of the labelled regions of one or
    more ``(photo, mask)`` pairs onto the class means of the model's training photos (index 255
    marks unlabelled pixels)."""
    if not card.reference_colours:
        raise InputError(None, "the model's card holds no reference colours to correct towards")
    for image, mask in photos:
        if mask.shape != image.shape[:2]:
            raise InputError(None, f"region mask {mask.shape} and image {image.shape[:2]} differ")
    reference = {i: np.asarray(rgb) for i, rgb in card.reference_colours.items()}
    return fit_colour_correction(
        *region_colours(photos, reference), saturation_bias=card.reference_saturation
    )


def mineral_index(names: list[str], mineral: str) -> int:
    """A mineral given by name (case-insensitive) or index."""
    if mineral.isdigit() and int(mineral) < len(names):
        return int(mineral)
    lowered = [name.lower() for name in names]
    if mineral.lower() not in lowered:
        raise InputError(None, f"no mineral '{mineral}'; the model knows {', '.join(names)}")
    return lowered.index(mineral.lower())


def allowed_classes(names: list[str], minerals: list[str]) -> list[int]:
    """Class indices of the ``minerals`` a section can hold, with the background (0); empty
    when no minerals are given, so every class stays possible."""
    if not minerals:
        return []
    return sorted({0, *(mineral_index(names, mineral) for mineral in minerals)})


def measure_section(classes: np.ndarray, names: list[str], config: MineralConfig) -> MineralResult:
    """All statistics of one class map."""
    grains = measure_grains(classes, names, config.um_per_px, config.min_grain_px)
    freed = None
    if config.liberation is not None:
        freed = liberation(classes, mineral_index(names, config.liberation))
    return MineralResult(
        classes,
        modal_mineralogy(classes, names, config.um_per_px),
        grains,
        grain_size_summary(grains, names),
        association(classes, names, config.um_per_px),
        freed,
    )


def predict_minerals(
    image: Pixels, config: MineralConfig | None = None, xpl: np.ndarray | None = None
) -> MineralResult:
    """Mineral map and statistics of one section image, in memory.

    The function behind ``orescope predict minerals`` for one array; the model comes from the
    zoo (or a folder) once per process and is reused by later calls.

    Parameters
    ----------
    image
        PPL or reflected-light photo, ``(H, W, 3)`` uint8 or uint16, or a panorama read block
        by block (:func:`~orescope.io.panoramas.read_panorama`).
    config
        Model, scale and what to measure; the defaults when None.
    xpl
        The same section under crossed polars, for models trained on PPL + XPL.

    Returns
    -------
    MineralResult
        Class map, modal mineralogy, grains, grain sizes, association (and liberation).

    Examples
    --------
    >>> from orescope import MineralConfig, predict_minerals
    >>> from orescope.io import read_image
    >>> config = MineralConfig(um_per_px=1.2)
    >>> result = predict_minerals(read_image("section.png"), config)  # doctest: +SKIP
    >>> result.modal[["mineral", "mineral_percent"]]  # doctest: +SKIP
    """
    config = config or MineralConfig()
    loaded = shared_section_model(config.model)
    if config.liberation is not None:
        mineral_index(loaded.card.class_names, config.liberation)  # a typo fails before the model
    section = segment_section(image, loaded, config, xpl)
    result = measure_section(section.classes, loaded.card.class_names, config)
    return replace(result, ore_type=section.ore_type)
