"""Synthetic belt scenes of touching, partly overlapping ore particles with exact instance labels.

Particles are placed largest first at random positions; a new particle may cover part of those
already placed (adherent ore) as long as every particle stays one connected piece with most of
its area visible. Each is then shaded as a lit, textured dome, with cast shadows, dark crevices
between particles, dust, uneven illumination and sensor noise on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy import ndimage
from skimage.segmentation import expand_labels, find_boundaries, relabel_sequential

from orescope.synth.noise import fractal_noise
from orescope.synth.shapes import particle_mask

# Base colours (as seen, sRGB in [0, 1]) of common crushed rocks: grey granite, dark basalt,
# brown iron ore, reddish hematitic ore, greenish schist, pale limestone.
ROCK_COLOURS = np.array(
    [
        [0.58, 0.57, 0.55],
        [0.36, 0.36, 0.37],
        [0.50, 0.42, 0.34],
        [0.56, 0.40, 0.35],
        [0.47, 0.50, 0.45],
        [0.74, 0.71, 0.65],
    ],
    dtype=np.float32,
)


class SceneConfig(BaseModel, extra="forbid"):
    """Everything that defines a scene; the same config and seed give the same scene.

    Scenes with a known size distribution and exact labels test a whole pipeline where no
    hand-labelled image exists: sizes from a Rosin-Rammler curve (``x50_mm``, ``n``) or from
    sieve fractions, at a chosen scale and belt coverage.

    Examples
    --------
    >>> from orescope.synth import SceneConfig
    >>> config = SceneConfig(height=512, width=768, mm_per_px=0.2, x50_mm=5, seed=7)
    >>> config.model_copy(update={"seed": 8}).seed  # the next scene of a series
    8
    >>> SceneConfig(sieve_fractions=[(4, 8, 0.7), (8, 16, 0.3)]).n  # fractions replace x50, n
    1.6
    """

    height: int = Field(1024, ge=32, le=20000)
    width: int = Field(1024, ge=32, le=20000)
    mm_per_px: float = Field(0.25, gt=0, le=100)
    x50_mm: float = Field(6.0, gt=0, description="Rosin-Rammler median (by count) of the ECD")
    n: float = Field(1.6, gt=0.2, le=20, description="Rosin-Rammler uniformity index")
    sieve_fractions: list[tuple[float, float, float]] | None = Field(
        None, description="(lower_mm, upper_mm, count share) per size class; replaces x50/n"
    )
    min_size_px: float = Field(8.0, ge=3)
    max_size_fraction: float = Field(0.3, gt=0, le=1, description="largest ECD / short side")
    coverage: float = Field(0.8, gt=0, le=0.98, description="belt fraction to cover")
    max_overlap: float = Field(0.15, ge=0, lt=0.6, description="share of a particle on others")
    angularity: float = Field(0.6, ge=0, le=1)
    max_elongation: float = Field(2.0, ge=1, le=5)
    touching: float = Field(
        0.3, ge=0, le=2, description="growth into free belt, in median particle radii"
    )
    crevice_darkening: float = Field(0.35, ge=0, le=1)
    shadow_strength: float = Field(0.45, ge=0, le=1)
    dust: float = Field(0.25, ge=0, le=1)
    illumination: float = Field(0.25, ge=0, le=1, description="strength of uneven lighting")
    noise: float = Field(0.02, ge=0, le=0.3)
    seed: int = 0

    @model_validator(mode="after")
    def _fractions_valid(self) -> SceneConfig:
        for low, high, share in self.sieve_fractions or []:
            if not 0 < low < high or share < 0:
                raise ValueError(f"bad sieve fraction ({low}, {high}, {share})")
        return self


@dataclass(frozen=True)
class Scene:
    """An RGB uint8 image, its uint32 instance labels (visible parts) and its scale."""

    image: np.ndarray
    labels: np.ndarray
    mm_per_px: float


def sample_sizes_px(config: SceneConfig, count: int, rng: np.random.Generator) -> np.ndarray:
    """Particle ECDs in pixels from the configured distribution, within the allowed range."""
    largest = config.max_size_fraction * min(config.height, config.width)
    if config.sieve_fractions:
        fractions = np.array(config.sieve_fractions, dtype=np.float64)
        share = fractions[:, 2] / fractions[:, 2].sum()
        chosen = fractions[rng.choice(len(fractions), size=count, p=share)]
        sizes_mm = np.exp(rng.uniform(np.log(chosen[:, 0]), np.log(chosen[:, 1])))
    else:
        uniform = rng.uniform(1e-9, 1.0, count)
        sizes_mm = config.x50_mm * (-np.log1p(-uniform) / np.log(2.0)) ** (1.0 / config.n)
    return np.clip(sizes_mm / config.mm_per_px, config.min_size_px, largest)


Box = tuple[int, int, int, int]  # top, left, bottom, right
Placement = tuple[np.ndarray, Box, float]  # visible mask, its box, its ECD in px


def _bbox_union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _place_particles(config: SceneConfig, rng: np.random.Generator) -> list[Placement]:
    """Choose each particle's mask and position; return (mask, top, left, size_px) in draw order."""
    height, width = config.height, config.width
    target = config.coverage * height * width
    # a pool whose total area covers the target, so that the placed sizes follow the distribution
    pool = sample_sizes_px(config, 1000, rng)
    while np.sum(np.pi / 4 * pool**2) < target:
        pool = np.concatenate([pool, sample_sizes_px(config, pool.size, rng)])
    cut = int(np.searchsorted(np.cumsum(np.pi / 4 * pool**2), target)) + 1
    pool = np.sort(pool[:cut])[::-1]
    order = np.zeros((height, width), dtype=np.int32)
    boxes: dict[int, Box] = {}
    areas: dict[int, int] = {}
    placed: list[Placement] = []
    for size in pool:
        mask = particle_mask(size, rng, config.angularity, config.max_elongation)
        mh, mw = mask.shape
        for _attempt in range(12):
            top = int(rng.integers(-mh // 3, height - 2 * mh // 3))
            left = int(rng.integers(-mw // 3, width - 2 * mw // 3))
            window = (max(top, 0), max(left, 0), min(top + mh, height), min(left + mw, width))
            clipped = mask[window[0] - top : window[2] - top, window[1] - left : window[3] - left]
            if clipped.sum() < 0.5 * mask.sum():
                continue
            under = order[window[0] : window[2], window[1] : window[3]][clipped]
            if np.count_nonzero(under) > config.max_overlap * clipped.sum():
                continue
            hit = np.unique(under[under > 0])
            if not _others_survive(order, hit, window, clipped, boxes, areas):
                continue
            index = len(placed) + 1
            region = order[window[0] : window[2], window[1] : window[3]]
            region[clipped] = index
            for other in hit:
                areas[int(other)] = int(np.count_nonzero(_crop(order, boxes[int(other)]) == other))
            boxes[index] = window
            areas[index] = int(clipped.sum())
            placed.append((clipped, window, size))
            break
    return placed


def _crop(array: np.ndarray, box: Box) -> np.ndarray:
    return array[box[0] : box[2], box[1] : box[3]]


def _others_survive(
    order: np.ndarray,
    hit: np.ndarray,
    window: Box,
    clipped: np.ndarray,
    boxes: dict[int, Box],
    areas: dict[int, int],
) -> bool:
    """Covering part of ``hit`` must leave each of them >= 70 % visible and in one piece."""
    for other in map(int, hit):
        box = _bbox_union(boxes[other], window)
        trial = _crop(order, box) == other
        local = _mask_in_box(box, window, clipped)
        trial &= ~local
        if trial.sum() < 0.7 * areas[other]:
            return False
        if ndimage.label(trial)[1] != 1:
            return False
    return True


def _mask_in_box(box: Box, window: Box, clipped: np.ndarray) -> np.ndarray:
    """``clipped`` (placed at ``window``) as a mask over the larger ``box``."""
    mask = np.zeros((box[2] - box[0], box[3] - box[1]), dtype=bool)
    mask[window[0] - box[0] : window[2] - box[0], window[1] - box[1] : window[3] - box[1]] = clipped
    return mask


def _render(
    config: SceneConfig, placed: list[Placement], labels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    height, width = config.height, config.width
    belt_level = rng.uniform(0.15, 0.28) ** 2.2
    streaks = cv2.resize(
        rng.standard_normal((height, 1)).astype(np.float32), (width, height)
    )  # rubber belts are streaked along the direction of travel
    belt = belt_level * (1 + 0.12 * fractal_noise((height, width), rng, 8, 5) + 0.05 * streaks)
    image = np.repeat(belt[..., None], 3, axis=2)
    elevation = np.zeros((height, width), dtype=np.float32)
    atlas = fractal_noise((512, 512), rng, 16, 4, 0.6)
    grains = fractal_noise((512, 512), rng, 96, 2, 0.5)
    light = np.array([-0.5, -0.5, 0.707], dtype=np.float32)  # from the top-left, 45 degrees up
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is None:
            continue
        window = (window[0].start, window[1].start, window[0].stop, window[1].stop)
        visible = _crop(labels, window) == index
        size = placed[index - 1][2]
        distance = ndimage.distance_transform_edt(np.pad(visible, 1))[1:-1, 1:-1]
        dome = np.sqrt(distance / max(distance.max(), 1.0)) * 0.35 * size
        dome = cv2.GaussianBlur(dome.astype(np.float32), (0, 0), 0.02 * size + 0.5)
        gy, gx = np.gradient(dome)
        normal = np.dstack([-gx, -gy, np.ones_like(gx)])
        normal /= np.linalg.norm(normal, axis=2, keepdims=True)
        shade = 0.35 + 0.65 * np.clip(normal @ light / np.linalg.norm(light), 0, 1)
        rows = (np.arange(visible.shape[0]) + rng.integers(512))[:, None] % 512
        cols = (np.arange(visible.shape[1]) + rng.integers(512))[None, :] % 512
        texture = (
            1
            + rng.uniform(0.05, 0.2) * atlas[rows, cols]
            + rng.uniform(0, 0.12) * grains[rows, cols]
        )
        tint = ROCK_COLOURS[rng.integers(len(ROCK_COLOURS))] * rng.uniform(0.95, 1.05, 3)
        colour = np.clip(tint * rng.uniform(0.7, 1.25), 0, 1) ** 2.2  # to linear light
        albedo = texture[..., None] * colour.astype(np.float32)
        _crop(image, window)[visible] = (albedo * shade[..., None])[visible]
        _crop(elevation, window)[visible] = dome[visible] + index * 1e-3
    image = _add_shadows(config, image, elevation, light)
    boundaries = find_boundaries(labels, mode="inner")
    crevices = cv2.GaussianBlur(boundaries.astype(np.float32), (0, 0), 1.0)
    image *= (1 - config.crevice_darkening * np.clip(crevices * 2, 0, 1))[..., None]
    haze = np.clip(fractal_noise((height, width), rng, 3, 4), 0, None) * config.dust * 0.35
    image = image * (1 - haze[..., None]) + haze[..., None] * np.array([0.62, 0.58, 0.52])
    specks = rng.random((height, width)) < config.dust * 0.002
    image[specks] = image[specks] * 0.3 + 0.6
    ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :] * rng.uniform(-1, 1)
    lighting = 1 + config.illumination * (0.5 * fractal_noise((height, width), rng, 2, 2) + ramp)
    image *= np.clip(lighting, 0.3, 2.0)[..., None]
    image += rng.normal(0, config.noise, image.shape).astype(np.float32)
    gamma_encoded = np.clip(image, 0, 1) ** (1 / 2.2)
    return np.round(gamma_encoded * 255).astype(np.uint8)


def _add_shadows(
    config: SceneConfig, image: np.ndarray, elevation: np.ndarray, light: np.ndarray
) -> np.ndarray:
    """March towards the light: a pixel lies in shadow where something nearer the light
    stands higher than the ray from the pixel (sun elevation 45 degrees)."""
    if config.shadow_strength == 0:
        return image
    step = light[:2] / np.linalg.norm(light[:2])
    shadow = np.zeros(elevation.shape, dtype=bool)
    reach = int(max(elevation.max(), 1))
    for distance in range(1, reach + 1, max(1, reach // 12)):
        dy, dx = np.round(step[::-1] * distance).astype(int)
        shifted = ndimage.shift(elevation, (-dy, -dx), order=0, cval=0.0)
        shadow |= shifted > elevation + distance
    soft = cv2.GaussianBlur(shadow.astype(np.float32), (0, 0), 1.5)
    return image * (1 - config.shadow_strength * soft)[..., None]


def synthesize_scene(config: SceneConfig) -> Scene:
    """Generate one scene; deterministic for a given config (including its seed).

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.synth import SceneConfig, synthesize_scene
    >>> scene = synthesize_scene(SceneConfig(height=64, width=96, x50_mm=4, seed=1))
    >>> scene.image.shape, scene.image.dtype, scene.labels.dtype
    ((64, 96, 3), dtype('uint8'), dtype('uint32'))
    >>> again = synthesize_scene(SceneConfig(height=64, width=96, x50_mm=4, seed=1))
    >>> np.array_equal(scene.labels, again.labels)
    True
    """
    rng = np.random.default_rng(config.seed)
    placed = _place_particles(config, rng)
    order = np.zeros((config.height, config.width), dtype=np.int32)
    for index, (mask, window, _size) in enumerate(placed, start=1):
        _crop(order, window)[mask] = index
    if placed and config.touching > 0:
        median_radius = float(np.median([size for _, _, size in placed])) / 2
        order = expand_labels(order, distance=config.touching * median_radius)
    image = _render(config, placed, order, rng)
    labels, _, _ = relabel_sequential(order)
    return Scene(image=image, labels=labels.astype(np.uint32), mm_per_px=config.mm_per_px)
