"""Particles of a CT volume from a model, on one grid for the whole volume (paper 002 §3.3.1),
so that neither the chunk size nor the number of workers changes a voxel of the labels.

1. *map*: the volume is resampled (per axis, so anisotropic voxels come out as cubes) onto one
   grid where the typical particle spans the trained size, and the model predicts that grid in
   fixed tiles of :data:`MAP_TILE` voxels, each seen with ``halo`` voxels of context, into a
   one-byte map (:func:`~orescope.instances.decode.particle_reduce`);
2. *decode*: the map is decoded chunk by chunk into exactly the particles that decoding it
   whole gives (:mod:`orescope.instances.chunked`);
3. *back*: each voxel of the volume takes the label of the grid voxel its centre falls in;
   particles under ``min_volume_px`` voxels, and with a contrast floor those as faint as the
   resin, are dropped; the rest are numbered in the order they first appear.

Every stage is a set of independent tasks (``map``: this process, worker processes or a Dask
cluster) over zarr arrays in a scratch folder; no array of the volume's size is in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from orescope.infer.chunks import Mapper, context_slice
from orescope.instances.chunked import decode_core_map_in_chunks, renumber, tally
from orescope.instances.decode import CoreDecoding
from orescope.instances.threshold import Polarity
from orescope.io.volumes import read_block, volume_blocks
from orescope.preprocess.resample import nearest_indices, resampled_block

MAP_TILE = 96  # voxels a side of the tiles the model predicts, whatever the chunks


@dataclass(frozen=True)
class Contrast:
    """Paper 002's contrast filter: particles whose mean grey value (of the volume's own
    values) lies on the resin's side of ``floor`` are dropped."""

    floor: float
    polarity: Polarity


def segment_volume(
    volume: Any,
    out: Any,
    predict: Callable[[np.ndarray], np.ndarray],
    grid: tuple[int, ...],
    chunk: int,
    halo: int,
    decoding: CoreDecoding,
    min_volume_px: int,
    scratch: Path,
    map: Mapper = map,  # noqa: A002  (the executor's map, named as the builtin it defaults to)
    contrast: Contrast | None = None,
) -> int:
    """Label the particles of ``volume`` (any array that slices lazily) into ``out`` (uint32 of
    the volume's shape: zarr chunked as its tasks should be, or NumPy) and return their
    number. ``predict`` turns a float32 block of the resampled ``grid`` into its one-byte
    map; ``chunk`` (voxels a side of the decoding's tasks) and ``halo`` count on the grid.
    ``scratch`` is an empty folder that every task can reach."""
    particle_map = _work_array(scratch / "map.zarr", grid, MAP_TILE, "u1")
    tiles = volume_blocks(grid, MAP_TILE)
    for _ in map(partial(_predict_tile, volume, particle_map, predict, halo), tiles):
        pass
    on_grid = _work_array(scratch / "particles.zarr", grid, chunk, "u4")
    decode_core_map_in_chunks(
        particle_map,
        on_grid,
        chunk,
        scratch,
        decoding.core_threshold,
        decoding.min_core_px,
        decoding.min_area_px,
        halo,
        map,
        decoding.split_h_px,
    )
    sides = tuple(getattr(out, "chunks", out.shape))
    for _ in map(partial(_back, on_grid, out), volume_blocks(tuple(out.shape), sides)):
        pass
    found = tally(out, sides, map, volume if contrast else None)
    keep = found.sizes >= min_volume_px
    if contrast is not None:
        means = found.means
        keep &= (
            means >= contrast.floor if contrast.polarity == "bright" else means <= contrast.floor
        )
    return renumber(out, sides, found, keep, scratch, map)


def _predict_tile(
    volume: Any, particle_map: Any, predict: Callable, halo: int, tile: tuple[slice, ...]
) -> None:
    """Predict one tile of the grid with its context, write its own voxels of the map."""
    grid = particle_map.shape
    box = tuple(context_slice(t, n, MAP_TILE, halo) for t, n in zip(tile, grid, strict=True))
    values = predict(resampled_block(volume, box, grid))
    inner = tuple(
        slice(t.start - b.start, t.stop - b.start) for t, b in zip(tile, box, strict=True)
    )
    particle_map[tile] = values[inner]


def _back(on_grid: Any, out: Any, core: tuple[slice, ...]) -> None:
    """Write one block of the volume's labels: each voxel the grid voxel its centre falls in."""
    picks = [
        nearest_indices(n, size)[c]
        for n, size, c in zip(on_grid.shape, out.shape, core, strict=True)
    ]
    box = tuple(slice(int(p[0]), int(p[-1]) + 1) for p in picks)
    block = read_block(on_grid, box)
    out[core] = block[np.ix_(*(p - b.start for p, b in zip(picks, box, strict=True)))]


def _work_array(path: Path, shape: tuple[int, ...], chunk: int, dtype: str) -> Any:
    return zarr.open_array(
        str(path), mode="w", shape=shape, chunks=(chunk,) * len(shape), dtype=dtype
    )
