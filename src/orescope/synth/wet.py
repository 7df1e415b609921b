"""Wet ore from dry images, with the dry image as the exact target (paper 004's pairs, which
are not public, made by physics instead).

Washed ore on a belt differs from dry ore in four ways, each drawn here from the dry image
and its particles' shapes (no pixel is moved, so the dry image's labels hold for the wet one):

- **darker, more saturated surfaces**: water fills the pores, so less light scatters back
  and the colour that does is purer: each channel is raised to a power above one, and the
  colour moved away from its grey;
- **specular highlights** that follow each particle's surface: Blinn–Phong reflection of a
  light from a drawn direction on the normals of a height map (a dome over each particle,
  from its distance to its own edge, roughened by the image's texture);
- **films** of water pooling in concavities and in the gaps between particles, up to a
  water level that rises with the wetness: they blur and darken what lies under them and
  mirror the light as one broad sheen (bright bridges between neighbours);
- **droplets**: small lenses, dark at the rim with a bright spot towards the light.

``wetness`` runs from 0 (the dry image itself) to 1 (flooded).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from orescope.synth.noise import fractal_noise


def wet_image(
    dry: np.ndarray,
    labels: np.ndarray | None,
    wetness: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The wet version (uint8 RGB, same size) of the ``dry`` uint8 RGB image whose particles
    are ``labels`` (uint32, 0 = belt; without them the height comes from the brightness).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dry = np.full((32, 32, 3), 120, np.uint8)
    >>> labels = np.zeros((32, 32), np.uint32)
    >>> labels[8:24, 8:24] = 1
    >>> bool(np.array_equal(wet_image(dry, labels, 0.0, rng), dry))  # dry stays dry
    True
    >>> wet = wet_image(dry, labels, 0.8, rng)
    >>> bool(wet[labels > 0].mean() != 120)
    True
    """
    if not 0 <= wetness <= 1:
        raise ValueError(f"wetness runs from 0 (dry) to 1 (flooded), got {wetness}")
    if dry.ndim != 3 or dry.shape[2] != 3 or dry.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got {dry.shape} {dry.dtype}")
    if wetness == 0:
        return dry.copy()
    colour = dry.astype(np.float32) / 255
    on_particle = labels > 0 if labels is not None else np.ones(dry.shape[:2], bool)
    height, scale = _height(colour, labels)
    light = _light(rng)
    # wet surfaces: darker, and purer in colour (a power darkens the weaker channels more)
    darker = colour ** (1 + 1.2 * wetness) * (1 - 0.15 * wetness)
    grey = darker.mean(axis=2, keepdims=True)
    darker = np.clip(grey + (1 + 0.6 * wetness) * (darker - grey), 0, 1)
    wet = np.where(on_particle[..., None], darker, colour * (1 - 0.3 * wetness))
    # a sharp highlight on the water on each surface, and a broad gloss
    shine = 0.9 * _specular(height, light, float(rng.uniform(40, 160)))
    shine += 0.12 * _specular(height, light, float(rng.uniform(5, 15)))
    wet += (wetness * shine * on_particle)[..., None]
    film = _film(height, scale, wetness, rng)
    wet = _under_film(wet, film, light, rng)
    wet = _droplets(wet, on_particle, wetness, light, rng)
    noise = rng.normal(0, 0.01, wet.shape).astype(np.float32)
    return (np.clip(wet + noise, 0, 1) * 255 + 0.5).astype(np.uint8)


def _height(colour: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Height map (px) and the typical particle radius (px): a dome over each particle, a
    hemisphere's profile on its distance to its own edge, roughened by a tenth of its radius
    of the image's texture; without labels, the smoothed brightness."""
    grey = colour.mean(axis=2)
    if labels is None:
        scale = max(grey.shape) / 40
        smooth = cv2.GaussianBlur(grey, (0, 0), scale / 2)
        return (smooth - smooth.min()) * 2 * scale, scale
    edges = np.zeros(labels.shape, bool)  # where a particle meets another or the belt
    edges[:-1] |= labels[:-1] != labels[1:]
    edges[1:] |= labels[:-1] != labels[1:]
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edges[:, 1:] |= labels[:, :-1] != labels[:, 1:]
    inside = (labels > 0) & ~edges
    distance = ndimage.distance_transform_edt(inside).astype(np.float32)
    radius = ndimage.maximum(distance, labels, index=np.arange(int(labels.max()) + 1))
    radius = np.maximum(np.asarray(radius, np.float32), 1)[labels]
    dome = radius * np.sqrt(1 - (1 - np.minimum(distance / radius, 1)) ** 2)
    texture = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 4.0)
    height = np.where(labels > 0, dome + 0.1 * radius * texture / max(texture.std(), 1e-6), 0)
    typical = float(np.median(radius[labels > 0])) if labels.any() else max(grey.shape) / 40
    return height.astype(np.float32), typical


def _light(rng: np.random.Generator) -> np.ndarray:
    """A unit vector towards the light: any azimuth, 35 to 75 degrees above the belt."""
    azimuth, elevation = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(35, 75))
    return np.array(
        [
            np.cos(elevation) * np.cos(azimuth),
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation),
        ],
        np.float32,
    )


def _specular(height: np.ndarray, light: np.ndarray, shininess: float) -> np.ndarray:
    """Blinn–Phong highlight (0..1) of a camera looking straight down on ``height``."""
    dy, dx = np.gradient(height)
    normal = np.stack([-dx, -dy, np.ones_like(height)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    halfway = light + np.array([0, 0, 1], np.float32)
    halfway /= np.linalg.norm(halfway)
    return np.clip(normal @ halfway, 0, 1) ** shininess


def _film(height: np.ndarray, scale: float, wetness: float, rng: np.random.Generator) -> np.ndarray:
    """Water depth (0..1) pooled up to a level rising with the wetness: in the deepest gaps
    between tall particles first (damp), then over the belt and into each particle's hollows
    (its height below its surroundings') until the low particles drown (flooded), the level
    rippled a little."""
    surroundings = cv2.GaussianBlur(height, (0, 0), max(scale, 1.0))
    hollow = height - 0.5 * surroundings
    level = (0.7 * wetness - 0.45) * scale + 0.1 * scale * fractal_noise(height.shape, rng)
    depth = np.clip((level - hollow) / max(0.2 * scale, 1.0), 0, 1)
    return cv2.GaussianBlur(depth.astype(np.float32), (0, 0), 1.5)


def _under_film(
    wet: np.ndarray, film: np.ndarray, light: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """What lies under a film, blurred and darkened by the water, with the flat water's
    mirror sheen: one broad lobe where the light reflects, and faint ripples."""
    rows, columns = film.shape
    blurred = cv2.GaussianBlur(wet, (0, 0), 2.0) * 0.8
    centre = np.array([rows, columns]) * (
        0.5 + 0.35 * light[1::-1] / max(np.hypot(*light[:2]), 1e-6)
    )
    y, x = np.mgrid[:rows, :columns].astype(np.float32)
    width = rng.uniform(0.25, 0.5) * max(rows, columns)
    lobe = np.exp(-((y - centre[0]) ** 2 + (x - centre[1]) ** 2) / (2 * width**2))
    ripples = 0.5 + 0.5 * fractal_noise(film.shape, rng, base_cells=16, octaves=2)
    sheen = (0.45 * lobe + 0.04) * (0.5 + 0.5 * ripples)
    mixed = wet * (1 - film[..., None]) + blurred * film[..., None]
    return mixed + (film * sheen)[..., None]


def _droplets(
    wet: np.ndarray,
    on_particle: np.ndarray,
    wetness: float,
    light: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Droplets on the particles, more the wetter: a dark rim and a bright spot offset
    towards the light, 2 to 6 px in radius."""
    rows, columns = on_particle.shape
    count = int(wetness * rows * columns / 4000)
    places = np.argwhere(on_particle)
    if count == 0 or places.size == 0:
        return wet
    toward = light[1::-1] / max(float(np.hypot(*light[:2])), 1e-6)
    rim = np.zeros(on_particle.shape, np.float32)
    spot = np.zeros(on_particle.shape, np.float32)
    for y, x in places[rng.integers(0, len(places), count)]:
        radius = float(rng.uniform(2, 6))
        cv2.circle(rim, (int(x), int(y)), round(radius), 1.0, thickness=max(1, round(radius / 3)))
        sy, sx = np.array([y, x]) + toward * radius * 0.4
        cv2.circle(spot, (round(sx), round(sy)), max(1, round(radius / 3)), 1.0, thickness=-1)
    dark = cv2.GaussianBlur(rim, (0, 0), 0.7)[..., None]
    bright = cv2.GaussianBlur(spot, (0, 0), 0.7)[..., None]
    return wet * (1 - 0.4 * dark) + 0.8 * bright
