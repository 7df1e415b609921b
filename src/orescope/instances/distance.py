"""Learned distance transform: instances as quantised distances to their own edge.

Each particle pixel is classed by its distance to the nearest pixel outside its particle
(background or a neighbour), in a few levels: the Deep Watershed Transform of Bai & Urtasun
(CVPR 2017) learns such quantised energy levels as classes. A segmentation network then learns
it like any class map, with the same losses and tiled inference as border-core (which is the
case of two levels), but every particle keeps a peak at its centre whatever its size. The
expected distance of the predicted levels is split into particles by the seeded watershed of
ThreshWater (the h-maxima of the distance as seeds), on the learned distance instead of the
distance transform of a mask: where two particles touch, the network sees the valley between
them that a mask has lost. The same functions serve images and volumes.

The levels are in pixels at the trained particle size (24 px median diameter for the
particle models): finer near the edge, where the seeds are decided, coarser inside.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orescope.instances.threshwater import split_touching

LEVEL_EDGES = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 15.0)  # px; level k: [edge k, edge k + 1)
LEVEL_VALUES = (1.5, 2.5, 3.5, 5.0, 7.0, 9.5, 13.0, 17.0)  # the distance each level stands for
TOP_DISTANCE = LEVEL_VALUES[-1]
CLASS_NAMES = ("background", *(f"distance {edge:g}+ px" for edge in LEVEL_EDGES))
SEED_HEIGHT_PX = 2.0  # h of the h-maxima seeds, at the trained particle size
EDGE_PAD_PX = int(LEVEL_EDGES[-1])  # the image edge is not a particle edge within this reach


def edge_distance(labels: np.ndarray) -> np.ndarray:
    """float32 distance of each labelled pixel (voxel) to the nearest one outside its own
    particle, 0 off the particles. Negative labels (unlabelled ground of a sparse annotation)
    are outside every particle. The edge of the array is not a particle edge: the labels are
    extended past it by repetition before measuring."""
    padded = np.pad(labels, EDGE_PAD_PX, mode="edge")
    distance = np.zeros(padded.shape, np.float32)
    for index, box in enumerate(ndimage.find_objects(np.maximum(padded, 0)), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in box)
        inside = padded[grown] == index
        distance[grown][inside] = ndimage.distance_transform_edt(inside)[inside]
    return distance[(slice(EDGE_PAD_PX, -EDGE_PAD_PX),) * labels.ndim]


def encode_distance_levels(labels: np.ndarray) -> np.ndarray:
    """uint8 class map: 0 background, k the k-th distance level of :data:`LEVEL_EDGES`.

    >>> labels = np.zeros((9, 9), dtype=np.int32)
    >>> labels[1:8, 1:8] = 1
    >>> encode_distance_levels(labels)[4].tolist()
    [0, 1, 2, 3, 4, 3, 2, 1, 0]
    """
    distance = edge_distance(labels)
    levels = np.searchsorted(LEVEL_EDGES, distance, side="right").astype(np.uint8)
    levels[labels <= 0] = 0
    return levels


def distance_map(probabilities: np.ndarray) -> np.ndarray:
    """uint8 map of a distance model's K×h×w probabilities: 0 off the particles
    (P(background) ≥ 0.5), else 1 + 254·(expected distance over the particle levels) /
    :data:`TOP_DISTANCE`. One byte a pixel, as a border-core model's core map."""
    on_particle = probabilities[0] < 0.5
    values = np.asarray(LEVEL_VALUES, np.float32).reshape(-1, *([1] * (probabilities.ndim - 1)))
    expected = (probabilities[1:] * values).sum(axis=0)
    expected /= np.maximum(probabilities[1:].sum(axis=0), 1e-6)
    scaled = 1 + np.rint(254 * np.clip(expected / TOP_DISTANCE, 0, 1))
    return np.where(on_particle, scaled, 0).astype(np.uint8)


def decode_distance_map(
    particle_map: np.ndarray, seed_height_px: float | None = None, min_area_px: int = 4
) -> np.ndarray:
    """uint32 instance labels from a :func:`distance_map`: seeds are the maxima of the
    expected distance at least ``seed_height_px`` (default :data:`SEED_HEIGHT_PX`) above the
    saddle to any higher one, each particle pixel joins a seed by watershed on the distance,
    and particles under ``min_area_px`` are dropped."""
    if seed_height_px is None:
        seed_height_px = SEED_HEIGHT_PX
    mask = particle_map > 0
    distance = (particle_map.astype(np.float64) - 1) * (TOP_DISTANCE / 254)
    distance[~mask] = 0
    # split_touching drops the particles under min_area_px and numbers the rest, as uint32
    return split_touching(mask, "distance", seed_height_px, min_area_px, distance=distance)
