"""Synthetic micro-CT volumes of particles in resin, with exact instance labels (paper 002's
setting: crushed ore dispersed in epoxy with a sugar-like filler).

Particles — angular polyhedra and rounded ellipsoids, some elongated, sizes from a
Rosin-Rammler curve over a tenfold range — are placed largest first; a chosen share is placed
against one already there, so that they touch. Some hold a crack (resin through the particle)
or an inclusion of a brighter phase: both stay part of the particle's label, as an analyst
would outline it. The scan is then rendered as a CT reconstruction shows it: partial-volume
blur at the edges, the cupping of beam hardening, ring and streak artefacts, and Poisson and
Gaussian noise. The volume is built in memory: generation is for training and test sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from pydantic import BaseModel, Field, model_validator
from scipy import ndimage

from orescope.io.atomic import atomic_path

RESIN, FILLER = 0.15, 0.32  # attenuation of the epoxy and of the filler grains
MATERIALS = (0.55, 0.68, 0.8, 0.95)  # attenuation of the particles' materials
INCLUSION_GAIN = 0.25  # a second phase brighter than its host by this much
PLACEMENT_TRIES = 40


class VolumeConfig(BaseModel, extra="forbid"):
    """Everything that defines a synthetic volume; the same config gives the same volume.

    Examples
    --------
    >>> config = VolumeConfig(shape=(48, 48, 48), x50_mm=0.12, seed=3)
    >>> config.largest_px, config.min_size_px
    (14.4, 4.0)
    """

    shape: tuple[int, int, int] = (128, 128, 128)
    spacing_mm: float = Field(0.01, gt=0, description="voxel size")
    x50_mm: float = Field(0.15, gt=0, description="Rosin-Rammler median (by count) of the ESD")
    n: float = Field(1.5, gt=0.2, le=20, description="Rosin-Rammler uniformity index")
    min_size_px: float = Field(4.0, ge=3, description="smallest equivalent-sphere diameter")
    max_size_fraction: float = Field(0.3, gt=0, le=0.6, description="largest ESD / shortest side")
    packing: float = Field(0.3, gt=0, le=0.55, description="share of the volume in particles")
    touching: float = Field(0.3, ge=0, le=1, description="share placed against another")
    angularity: float = Field(0.6, ge=0, le=1, description="share of angular polyhedra")
    max_elongation: float = Field(3.0, ge=1, le=6)
    cracks: float = Field(0.15, ge=0, le=1, description="share of particles with a crack")
    inclusions: float = Field(0.15, ge=0, le=1, description="share with a brighter inclusion")
    filler: float = Field(0.02, ge=0, le=0.2, description="share of the resin in filler grains")
    blur_px: float = Field(0.8, ge=0, le=3, description="partial-volume blur (Gaussian sigma)")
    beam_hardening: float = Field(0.1, ge=0, le=0.5, description="darkening at the centre")
    rings: float = Field(0.02, ge=0, le=0.2, description="strength of ring artefacts")
    streaks: float = Field(0.03, ge=0, le=0.3, description="strength of streak artefacts")
    photons: float = Field(2000.0, gt=0, description="counts at full attenuation (Poisson)")
    noise: float = Field(0.02, ge=0, le=0.3, description="Gaussian noise (of full scale)")
    seed: int = 0

    @model_validator(mode="after")
    def _sizes_fit(self) -> VolumeConfig:
        if min(self.shape) < 16:
            raise ValueError(f"shape {self.shape}: every side needs at least 16 voxels")
        if self.largest_px < 2 * self.min_size_px:
            raise ValueError(
                f"the largest particle ({self.largest_px:.1f} px) must be at least twice the "
                f"smallest ({self.min_size_px} px): a larger shape or max_size_fraction"
            )
        return self

    @property
    def largest_px(self) -> float:
        return round(self.max_size_fraction * min(self.shape), 6)


@dataclass(frozen=True)
class SyntheticVolume:
    """A rendered scan (uint16), its instance labels (uint32, 0 = resin) and voxel size."""

    image: np.ndarray
    labels: np.ndarray
    spacing_mm: float


def synthesize_volume(config: VolumeConfig) -> SyntheticVolume:
    """Place, label and render one volume as ``config`` says.

    Examples
    --------
    >>> scan = synthesize_volume(VolumeConfig(shape=(32, 32, 32), x50_mm=0.08, seed=1))
    >>> scan.image.dtype, scan.labels.dtype, scan.image.shape
    (dtype('uint16'), dtype('uint32'), (32, 32, 32))
    """
    rng = np.random.default_rng(config.seed)
    labels = np.zeros(config.shape, np.uint32)
    material = np.zeros(config.shape, np.float32)
    centres: list[np.ndarray] = []  # of the particles placed, for placing others against them
    for size in _sizes(config, rng):
        shape, crack = _particle(size, config, rng)
        place = None
        if centres and rng.random() < config.touching:
            place = _against(labels, shape, centres[int(rng.integers(len(centres)))], rng)
        place = place or _free(labels, shape, rng)
        if place is None:
            continue
        region = tuple(slice(p, p + s) for p, s in zip(place, shape.shape, strict=True))
        labels[region][shape] = len(centres) + 1
        values = _attenuation(shape, config, rng)
        values[crack] = RESIN  # resin fills the crack; the particle keeps its outline
        material[region][shape] = values[shape]
        centres.append(np.array(place) + np.array(shape.shape) / 2)
    image = _render(material, labels, config, rng)
    return SyntheticVolume(image, labels, config.spacing_mm)


def write_volumes(out: str | Path, config: VolumeConfig, count: int) -> list[Path]:
    """``count`` volumes with seeds ``config.seed``, +1, ...: ``out/images/volume_NNN.tif``
    (ImageJ TIFF stacks carrying the spacing in mm) and ``out/labels/volume_NNN.tif``."""
    out = Path(out)
    written = []
    for number in range(count):
        scan = synthesize_volume(config.model_copy(update={"seed": config.seed + number}))
        metadata = {"spacing": scan.spacing_mm, "unit": "mm", "axes": "ZYX"}
        resolution = (1 / scan.spacing_mm, 1 / scan.spacing_mm)
        image = out / "images" / f"volume_{number:03d}.tif"
        labels = out / "labels" / f"volume_{number:03d}.tif"
        with atomic_path(image) as partial:
            tifffile.imwrite(
                partial, scan.image, imagej=True, resolution=resolution, metadata=metadata
            )
        with atomic_path(labels) as partial:
            tifffile.imwrite(partial, scan.labels, compression="zlib")
        written.append(image)
    return written


def _sizes(config: VolumeConfig, rng: np.random.Generator) -> np.ndarray:
    """Equivalent-sphere diameters in voxels, largest first: drawn from the Rosin-Rammler
    curve (by count) within [min_size_px, largest_px] until their spheres would fill the
    packing share, so that the small particles come in their true numbers."""
    x50_px = config.x50_mm / config.spacing_mm
    scale = x50_px / np.log(2) ** (1 / config.n)
    budget = config.packing * float(np.prod(config.shape))
    kept: list[np.ndarray] = []
    filled = 0.0
    while filled < budget:
        draws = scale * rng.weibull(config.n, size=1000)
        draws = draws[(draws >= config.min_size_px) & (draws <= config.largest_px)]
        volumes = np.pi / 6 * draws**3
        enough = int(np.searchsorted(np.cumsum(volumes), budget - filled)) + 1
        kept.append(draws[:enough])
        filled += float(volumes[:enough].sum())
    return np.sort(np.concatenate(kept))[::-1]


def _particle(
    size: float, config: VolumeConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A boolean particle of equivalent-sphere diameter ``size`` — a polyhedron (random
    half-spaces) or an ellipsoid, stretched and turned at random — and its crack: a disc of
    one voxel's thickness inside it, at random (empty where there is none)."""
    stretch = rng.uniform(1.0, config.max_elongation) ** (1 / 2)
    axes = np.array([stretch, 1 / np.sqrt(stretch), 1 / np.sqrt(stretch)]) * size / 2
    reach = int(np.ceil(axes.max())) + 1
    grid = np.mgrid[-reach : reach + 1, -reach : reach + 1, -reach : reach + 1].astype(np.float32)
    local = np.tensordot(_rotation(rng), grid, axes=1) / axes[:, None, None, None]
    if rng.random() < config.angularity:
        normals = rng.normal(size=(int(rng.integers(6, 14)), 3))
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        depth = rng.uniform(0.75, 1.0, len(normals))
        shape: np.ndarray = np.all(
            np.tensordot(normals, local, axes=1) <= depth[:, None, None, None], axis=0
        )
    else:
        shape = np.asarray((local**2).sum(axis=0) <= 1)
    crack = np.zeros_like(shape)
    if rng.random() < config.cracks and size >= 8:
        normal = rng.normal(size=3)
        across = np.tensordot(normal / np.linalg.norm(normal), grid, axes=1)
        crack = (np.abs(across) < 0.5) & ((grid**2).sum(axis=0) < (0.6 * axes.min()) ** 2)
        crack &= shape
    box = _bounding_box(shape)
    return shape[box], crack[box]


def _attenuation(shape: np.ndarray, config: VolumeConfig, rng: np.random.Generator) -> np.ndarray:
    """The particle's material, with an inclusion of a brighter phase at random."""
    values = np.full(shape.shape, rng.choice(MATERIALS), np.float32)
    if rng.random() < config.inclusions and shape.sum() > 200:
        distance = ndimage.distance_transform_edt(shape)
        centre = np.unravel_index(int(np.argmax(distance)), shape.shape)
        radius = max(1.5, 0.4 * float(distance.max()))
        grid = np.indices(shape.shape) - np.array(centre)[:, None, None, None]
        values[(grid**2).sum(axis=0) <= radius**2] += INCLUSION_GAIN
    return values


def _render(
    material: np.ndarray, labels: np.ndarray, config: VolumeConfig, rng: np.random.Generator
) -> np.ndarray:
    """Attenuation → what a reconstruction shows: filler, blur, cupping, rings, streaks,
    noise; scaled to uint16."""
    resin = labels == 0
    filler = resin & (rng.random(labels.shape) < config.filler)
    filler = ndimage.binary_dilation(filler) & resin
    scan = np.where(resin, RESIN, material).astype(np.float32)
    scan[filler] = FILLER
    if config.blur_px > 0:
        scan = ndimage.gaussian_filter(scan, config.blur_px)
    _, rows, cols = labels.shape
    y, x = np.ogrid[:rows, :cols]
    radius = np.hypot(y - (rows - 1) / 2, x - (cols - 1) / 2) / (0.5 * np.hypot(rows, cols))
    scan *= (1 - config.beam_hardening * (1 - radius**2))[None].astype(np.float32)
    ring_profile = rng.normal(0, config.rings, 64) * (rng.random(64) < 0.3)
    scan += np.interp(radius, np.linspace(0, 1, 64), ring_profile)[None].astype(np.float32)
    for z in rng.choice(labels.shape[0], size=max(1, labels.shape[0] // 16), replace=False):
        angle, offset = rng.uniform(0, np.pi), rng.uniform(-0.3, 0.3) * rows
        across = (x - cols / 2) * np.sin(angle) - (y - rows / 2) * np.cos(angle) - offset
        scan[z] += config.streaks * np.exp(-(across**2) / 2) * rng.choice([-1, 1])
    counted = rng.poisson(np.clip(scan, 0, None) * config.photons) / config.photons
    noisy = counted + rng.normal(0, config.noise, scan.shape)
    return np.round(np.clip(noisy / 1.3, 0, 1) * 65535).astype(np.uint16)


def _free(
    labels: np.ndarray, shape: np.ndarray, rng: np.random.Generator
) -> tuple[int, ...] | None:
    """A corner where ``shape`` fits without touching any particle, or None."""
    room = np.array(labels.shape) - shape.shape
    if (room < 0).any():
        return None
    grown = _grown(shape)
    for _ in range(PLACEMENT_TRIES):
        corner = tuple(int(rng.integers(0, r + 1)) for r in room)
        if not _hits(labels, grown, tuple(c - 1 for c in corner)):
            return corner
    return None


def _against(
    labels: np.ndarray, shape: np.ndarray, centre: np.ndarray, rng: np.random.Generator
) -> tuple[int, ...] | None:
    """A corner where ``shape`` touches the particle around ``centre`` without overlapping
    any: walked out from that centre along a random direction until it fits; None where it
    leaves the volume first or no longer touches."""
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    half = np.array(shape.shape) / 2
    grown = _grown(shape)
    for step in range(1, 2 * max(labels.shape)):
        corner = np.round(centre + step * direction - half).astype(int)
        if (corner < 0).any() or (corner + shape.shape > labels.shape).any():
            return None
        place = tuple(int(c) for c in corner)
        if not _hits(labels, shape, place):
            return place if _hits(labels, grown, tuple(c - 1 for c in place)) else None
    return None


def _grown(shape: np.ndarray) -> np.ndarray:
    """``shape`` grown by one voxel on every side (26-neighbours), one voxel larger around."""
    return ndimage.binary_dilation(np.pad(shape, 1), structure=np.ones((3, 3, 3), bool))


def _hits(labels: np.ndarray, mask: np.ndarray, corner: tuple[int, ...]) -> bool:
    """Whether ``mask`` with its first voxel at ``corner`` meets a particle (the parts of
    it outside the volume meet nothing)."""
    region = tuple(slice(max(c, 0), c + m) for c, m in zip(corner, mask.shape, strict=True))
    window = labels[region]
    inside = tuple(
        slice(max(0, -c), max(0, -c) + w) for c, w in zip(corner, window.shape, strict=True)
    )
    return bool(window[mask[inside]].any())


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3D rotation matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _bounding_box(shape: np.ndarray) -> tuple[slice, ...]:
    where = np.argwhere(shape)
    low, high = where.min(axis=0), where.max(axis=0) + 1
    return tuple(slice(a, b) for a, b in zip(low, high, strict=True))
