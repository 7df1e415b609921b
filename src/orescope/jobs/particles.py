"""The particle job: image -> instances -> per-particle table -> PSD with fits."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, PositiveFloat, field_validator

from orescope.infer.chunks import BlockPlan, Mapper, segment_in_chunks
from orescope.infer.device import pick_device
from orescope.infer.particles import plan_blocks, segment_block, segment_with_model
from orescope.infer.restoration import restore_photo
from orescope.infer.settings import InferenceSettings
from orescope.instances import otsu_instances, remove_small, threshwater_instances
from orescope.instances.decode import ForegroundSplit
from orescope.jobs.blocks import worker_image, worker_output
from orescope.measure import (
    SIZE_MEASURES,
    Fit,
    measure_particles,
    psd_tables,
    spheroid_volume,
)
from orescope.zoo import LoadedModel, load_model

MIN_MM_PER_PX = 1e-4  # 0.1 um per pixel: finer than any light microscope resolves
MAX_MM_PER_PX = 1000.0  # 1 m per pixel: coarser than any useful photo of ore


class ParticleConfig(BaseModel, extra="forbid"):
    """How particles are found and measured.

    One validated object instead of loose keywords: a run writes it as ``config.yaml`` next to
    its outputs, so every number can be traced to the settings that made it.

    Examples
    --------
    >>> from orescope import ParticleConfig
    >>> config = ParticleConfig(method="threshwater", mm_per_px=0.25, sieves=[2, 4, 8])
    >>> config.unit
    'mm'
    >>> ParticleConfig.model_validate(config.model_dump()) == config  # as config.yaml holds it
    True
    """

    method: Literal["model", "threshwater", "otsu"] = "model"
    restore: bool = Field(False, description="restore wet photos before particles are found")
    restore_model: str = Field(
        "restore",
        description="how: a restoration model (zoo name or folder), or 'inpaint' for the "
        "specular highlights painted over (paper 004's classical method)",
    )
    model: str = Field("particles", description="zoo name or folder with card.yaml (method model)")
    particle_px: float | None = Field(
        None, gt=0, description="typical particle diameter in px; estimated by the model if unset"
    )
    tta: bool = Field(False, description="average the model over mirrored copies of each tile")
    scales: list[PositiveFloat] = Field(
        [1.0],
        min_length=1,
        description="average the model over the image at these multiples of its trained "
        "particle size (0.8, 1, 1.25: steadier small particles, ~2.2x the time on gravel)",
    )
    foreground_split: Literal["watershed", "components"] = Field(
        "watershed", description="how a foreground-only model's mask becomes particles"
    )
    mm_per_px: float | None = Field(None, description="image scale; sizes stay in px without it")
    polarity: Literal["bright", "dark"] = "bright"
    threshold: float | None = Field(None, ge=0, le=1, description="gray level; Otsu's if unset")
    seeds: Literal["distance", "erosion"] = "distance"
    seed_size: float | None = Field(None, gt=0)
    min_area_px: int = Field(16, ge=1)
    size_measure: Literal[SIZE_MEASURES] = "ellipse_minor"  # type: ignore[valid-type]
    include_border: bool = Field(False, description="count particles cut by the image border")
    sieves: list[float] | None = Field(None, description="sieve openings in the PSD's unit")

    @field_validator("mm_per_px")
    @classmethod
    def _plausible_scale(cls, value: float | None) -> float | None:
        if value is not None and not MIN_MM_PER_PX <= value <= MAX_MM_PER_PX:
            raise ValueError(
                f"mm per pixel {value} is outside the plausible {MIN_MM_PER_PX}..{MAX_MM_PER_PX}"
            )
        return value

    @property
    def unit(self) -> str:
        return "px" if self.mm_per_px is None else "mm"


@dataclass(frozen=True)
class ParticleResult:
    """Instance labels (uint32, 0 = background) and one row per particle, keyed by ``label``."""

    labels: np.ndarray
    particles: pd.DataFrame


@lru_cache(maxsize=4)
def shared_model(name_or_path: str) -> LoadedModel:
    """One loaded copy of each model per process, on the GPU when there is one."""
    return load_model(name_or_path, pick_device("auto"))


def prepare_image(image: np.ndarray, config: ParticleConfig) -> np.ndarray:
    """The image the particles are found in: the photo itself, or restored (``restore``).

    Raises
    ------
    InputError
        When the restoration model cannot be loaded; ValueError for a photo it cannot take.
    """
    return restore_photo(image, config.restore_model) if config.restore else image


def segment_particles(image: np.ndarray, config: ParticleConfig) -> np.ndarray:
    """Instance labels by the configured method: a trained model or a classical baseline."""
    if config.method == "model":
        loaded = shared_model(config.model)
        return segment_with_model(
            image,
            loaded,
            particle_px=config.particle_px,
            min_area_px=config.min_area_px,
            split=config.foreground_split,
            settings=InferenceSettings.for_model(loaded, tta=config.tta, scales=config.scales),
        )
    if config.method == "otsu":
        return otsu_instances(image, config.threshold, config.polarity, config.min_area_px)
    return threshwater_instances(
        image,
        config.threshold,
        config.polarity,
        seeds=config.seeds,
        seed_size=config.seed_size,
        min_area_px=config.min_area_px,
    )


def segment_blocks_in_parallel(
    image: np.ndarray, config: ParticleConfig, run: Mapper, scratch: Path
) -> np.ndarray:
    """A large image's particles by the configured model, its blocks segmented side by side
    by ``run``'s workers (the run's Dask cluster), with the labels of
    :func:`segment_particles`: the image and its labels go through zarr arrays in
    ``scratch``, a folder the workers see, and each worker loads the model once."""
    loaded = shared_model(config.model)
    settings = InferenceSettings.for_model(loaded, tta=config.tta, scales=config.scales)
    plan = plan_blocks(image, loaded, config.particle_px, settings)
    pixels = worker_image(image, scratch, plan.block)
    labels = worker_output(scratch, "labels.zarr", image.shape[:2], plan.block, "u4")
    segment = _BlockTask(
        config.model, config.tta, tuple(config.scales), plan, config.foreground_split
    )
    segment_in_chunks(pixels, segment, labels, plan.block, plan.halo, map=run)
    return remove_small(np.asarray(labels[:]), config.min_area_px, in_place=True)


@dataclass(frozen=True)
class _BlockTask:
    """Segments one block of an image with a model named by its zoo name or folder, loaded
    once a process: what a block's task carries to a worker (the network stays there)."""

    model: str
    tta: bool
    scales: tuple[float, ...]
    plan: BlockPlan
    split: ForegroundSplit

    def __call__(self, block: np.ndarray) -> np.ndarray:
        loaded = shared_model(self.model)
        settings = InferenceSettings.for_model(loaded, tta=self.tta, scales=self.scales)
        return segment_block(block, loaded, settings, self.plan, self.split)


def predict_particles(
    image: np.ndarray, config: ParticleConfig | None = None, **settings: Any
) -> ParticleResult:
    """Find and measure every particle of one image, in memory.

    The function behind ``orescope predict particles`` for one array, for a notebook or your
    own pipeline; [run_particles][orescope.jobs.particle_run.run_particles] adds the files and
    the report.

    Parameters
    ----------
    image
        Gray ``(H, W)`` or RGB(A) ``(H, W, 3|4)`` image, uint8 or uint16.
    config
        How to find and measure the particles.
    **settings
        Fields of [ParticleConfig][orescope.jobs.particles.ParticleConfig], instead of ``config``.

    Returns
    -------
    ParticleResult
        Instance labels and their table, as
        [measure_particles][orescope.measure.particles.measure_particles] makes it.

    Examples
    --------
    >>> from orescope import predict_particles
    >>> from orescope.synth import SceneConfig, synthesize_scene
    >>> scene = synthesize_scene(SceneConfig(height=96, width=96, x50_mm=4, seed=1))
    >>> result = predict_particles(scene.image, method="threshwater", mm_per_px=0.25)
    >>> result.labels.shape, int(result.labels.max()) == len(result.particles)
    ((96, 96), True)
    >>> result = predict_particles(image, model="particles", mm_per_px=0.39)  # doctest: +SKIP
    """
    if config is not None and settings:
        raise TypeError("give either a ParticleConfig or keyword settings, not both")
    config = config or ParticleConfig(**settings)
    labels = segment_particles(prepare_image(image, config), config)
    return ParticleResult(labels, measure_particles(labels, config.mm_per_px))


def psd_sizes(particles: pd.DataFrame, config: ParticleConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and volumes of the particles that enter the PSD (border-cut ones are dropped
    unless asked for). Volume: spheroid from the ellipse axes, the mass model at uniform density.
    """
    kept = particles if config.include_border else particles[~particles["touches_border"]]
    unit = config.unit
    volumes = spheroid_volume(
        kept[f"ellipse_major_{unit}"].to_numpy(), kept[f"ellipse_minor_{unit}"].to_numpy()
    )
    return kept[f"{config.size_measure}_{unit}"].to_numpy(), volumes


def psd_summary(
    particles: pd.DataFrame, config: ParticleConfig, fits: dict[str, Fit | None] | None = None
) -> tuple[dict, pd.DataFrame]:
    """Dx by count and by mass, model fits (mass basis; ``fits`` when already computed) and
    the sieve table of a particle set.

    Mass is spheroid volume (ellipse axes, third axis = minor) times a uniform density.
    """
    sizes, volumes = psd_sizes(particles, config)
    summary: dict = {
        "particles": len(particles),
        "particles_in_psd": len(sizes),
        "size_measure": config.size_measure,
        "unit": config.unit,
    }
    dx, table = psd_tables(sizes, volumes, config.unit, config.sieves, fits)
    return summary | dx, table
