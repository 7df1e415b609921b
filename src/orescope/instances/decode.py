"""Particles from a model's per-pixel (per-voxel) map: a border-core map by its seeds, with
paper 002's small-core removal scaled to the trained particle size; a learned distance map by
the watershed of its h-maxima; a foreground mask by watershed or connected components."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from orescope.instances.border_core import core_map, decode_core_map
from orescope.instances.components import connected_components
from orescope.instances.distance import decode_distance_map, distance_map
from orescope.instances.threshwater import split_touching
from orescope.zoo.card import Target

ForegroundSplit = Literal["watershed", "components"]
# P(core) above which a voxel seeds a particle in a volume (images: decode_core_map's 0.7)
CORE_THRESHOLD_3D = 0.7
# height (voxels of the smoothed distance map, at the trained particle size) of the maxima
# that split a volume's seed at a neck: bench/volume_core_split.py, on validation volumes
SPLIT_H_PX_3D = 0.75
MIN_AREA_PX = 4  # smallest particle a decoding keeps at the model's scale (pixels, voxels)


@dataclass(frozen=True)
class CoreDecoding:
    """How a border-core map becomes particles: the P(core) of a seed, the smallest seed and
    the smallest particle (pixels or voxels at the model's scale), and the height of the
    maxima that split a seed at a neck (``None``: seeds are not split)."""

    core_threshold: float
    min_core_px: int
    min_area_px: int
    split_h_px: float | None = None

    @classmethod
    def for_volume(cls, particle_px: float | None, split_cores: bool = True) -> CoreDecoding:
        """The decoding of a volume model trained at ``particle_px`` voxels, its seeds split
        at their necks unless ``split_cores`` is off."""
        split = SPLIT_H_PX_3D if split_cores else None
        return cls(CORE_THRESHOLD_3D, min_core_px(particle_px, 3), MIN_AREA_PX, split)


def min_core_px(particle_px: float | None, spatial_dims: int = 2) -> int:
    """Smallest seed a border-core decoding trusts: 1/48 of the squared trained particle
    diameter (12 px at 24 px), measured best on held-out scenes (bench/border_core_decoding.py);
    smaller seeds are mostly texture that would split a particle. In a volume: the ball of a
    twelfth of the particle's diameter, 1 voxel at 16 (every seed kept): with seeds split at
    their necks, better on the validation volumes of bench/volume_core_split.py than the balls
    of a sixth to a tenth (10 to 2 voxels), which drop the seeds of small particles pressed
    against larger ones."""
    if spatial_dims == 2:
        return max(4, round((particle_px or 0) ** 2 / 48))
    return max(1, round(np.pi / 6 * ((particle_px or 0) / 12) ** 3))


def particle_reduce(target: Target) -> Callable[[np.ndarray], np.ndarray] | None:
    """What becomes of a particle model's probabilities, band by band: a border-core model's
    :func:`core_map`, a distance model's :func:`distance_map`; a foreground model's are
    thresholded as they are (``None``)."""
    return {"border_core": core_map, "distance": distance_map}.get(target)


def decode_particles(
    particle_map: np.ndarray,
    target: Target,
    particle_px: float | None,
    split: ForegroundSplit = "watershed",
    min_area_px: int = MIN_AREA_PX,
    every_seed: bool = False,
) -> np.ndarray:
    """Instances from a model's per-pixel (per-voxel) map: border-core maps by their seeds,
    foreground masks by watershed or connected components. ``every_seed`` takes each core the
    argmax would (the size probe: small particles have small cores, and dropping them would
    bias the median size up)."""
    if target == "distance":
        return decode_distance_map(particle_map, min_area_px=min_area_px)
    if target == "border_core" and every_seed:
        return decode_core_map(particle_map, 0.5, min_core_px=4, min_area_px=min_area_px)
    if target == "border_core" and particle_map.ndim == 3:
        volume = CoreDecoding.for_volume(particle_px)
        return decode_core_map(
            particle_map,
            volume.core_threshold,
            volume.min_core_px,
            min_area_px,
            volume.split_h_px,
        )
    if target == "border_core":
        smallest = min_core_px(particle_px)
        return decode_core_map(particle_map, min_core_px=smallest, min_area_px=min_area_px)
    if split == "components":
        return connected_components(particle_map > 0, min_area_px=min_area_px)
    return split_touching(particle_map > 0, min_area_px=min_area_px)
