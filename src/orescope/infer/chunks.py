"""Instance segmentation of a volume or image too large for memory, chunk by chunk (paper 002
§3.3.1).

The volume (or image) is cut into cores of ``chunk`` voxels (pixels) a side. Each core is
segmented with ``halo`` voxels of its neighbours around it, so that particles at its faces are
seen whole enough to be segmented as inside, and only the core's labels are written to the
output. Each core is an independent task: ``map`` runs them here, in worker processes or on a
Dask cluster. Then the labels are made consistent across the faces: a particle cut by a face
shows nearly the same cross-section on both sides of it, two particles that merely touch there
share only a small part of theirs, so the pieces whose contact covers at least half of the
smaller cross-section are joined. Ids are numbered in core order, whatever order the tasks
finished in; no array of the whole volume's size exists but the output.

The block path itself, cores read with their context and mapped (:func:`map_cores`) by a plan
fixed for the whole image (:class:`BlockPlan`), is every job's: mineral maps take it too, with
nothing to join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from orescope.io.volumes import read_block, volume_blocks

Segmenter = Callable[[np.ndarray], np.ndarray]
Mapper = Callable[..., Iterable[Any]]
# (block in context, the core's place in it, the core's place in the whole) -> a core's result
CoreTask = Callable[[np.ndarray, tuple[slice, ...], tuple[slice, ...]], Any]
MIN_CONTACT = 0.5  # share of the smaller cross-section that makes two pieces one particle
# A large image is predicted in blocks of BLOCK_PX pixels a side at the model's scale, each
# seen with a halo of context around it: the memory of one block, whatever the image's size.
BLOCK_PX = 2048


@dataclass(frozen=True)
class BlockPlan:
    """How an image is predicted block by block, fixed for the whole image so that its blocks
    agree: the scale the model sees it at, one normalisation, and the blocks and their context
    (pixels of the image's own grid)."""

    scale: float
    stats: tuple[np.ndarray, np.ndarray]
    block: int
    halo: int


def map_cores(
    volume: Any,
    task: CoreTask,
    cores: list[tuple[slice, ...]],
    chunk: int | tuple[int, ...],
    halo: int,
    map: Mapper = map,  # noqa: A002  (the executor's map, named as the builtin it defaults to)
) -> Iterable[Any]:
    """``task(block, inner, core)`` of each of ``cores`` (of ``volume``'s spatial axes), run
    by ``map``: ``block`` is the core with its context (:func:`context_slice`) read from
    ``volume``, ``inner`` the core's place in the block; ``chunk`` is the cores' side, or
    their side along each axis. The block path of every job."""
    shape = tuple(volume.shape[: len(cores[0])])
    sides = (chunk,) * len(shape) if isinstance(chunk, int) else chunk
    return map(partial(_in_context, volume, task, shape, sides, halo), cores)


def _in_context(
    volume: Any,
    task: CoreTask,
    shape: tuple[int, ...],
    sides: tuple[int, ...],
    halo: int,
    core: tuple[slice, ...],
) -> Any:
    padded = tuple(
        context_slice(c, size, side, halo) for c, size, side in zip(core, shape, sides, strict=True)
    )
    inner = tuple(
        slice(c.start - p.start, c.stop - p.start) for c, p in zip(core, padded, strict=True)
    )
    return task(read_block(volume, padded), inner, core)


def segment_in_chunks(
    volume: Any,
    segment: Segmenter,
    out: Any,
    chunk: int,
    halo: int,
    map: Mapper = map,  # noqa: A002  (the executor's map, named as the builtin it defaults to)
) -> int:
    """Segment ``volume`` (any array that slices lazily: zarr, dask, a memory map; or an
    image, H×W or H×W×C) into ``out`` (uint32, of the volume's or the image's spatial shape: a
    zarr array chunked by ``chunk``, or a NumPy array) with ``segment``, a function from a
    block to its instance labels; returns the number of particles.

    Examples
    --------
    >>> import zarr
    >>> from orescope.instances import connected_components
    >>> volume = np.zeros((20, 20, 20), np.uint8)
    >>> volume[3:17, 8:12, 8:12] = 1  # one bar through four cores
    >>> out = zarr.zeros((20, 20, 20), chunks=(10, 10, 10), dtype="u4")
    >>> segment_in_chunks(volume, partial(connected_components, min_area_px=1), out, 10, 2)
    1
    >>> sorted(np.unique(out[:]).tolist())
    [0, 1]
    """
    cores = volume_blocks(tuple(out.shape), chunk)
    task = partial(_segment_core, segment, out)
    counts = np.fromiter(
        map_cores(volume, task, cores, chunk, halo, map), dtype=np.int64, count=len(cores)
    )
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    first, second = _face_pairs(out, cores, offsets, chunk)
    graph = coo_array((np.ones(first.size), (first, second)), shape=(total + 1, total + 1))
    _, component = connected_components(graph, directed=False)
    # number the joined particles in the order their first piece appears, 0 staying 0
    _, first_seen, numbered = np.unique(component[1:], return_index=True, return_inverse=True)
    order = np.argsort(first_seen)
    lookup = np.zeros(total + 1, np.uint32)
    lookup[1:] = np.argsort(order)[numbered] + 1
    for core, offset, count in zip(cores, offsets, counts, strict=True):
        own = np.zeros(count + 1, np.uint32)  # the core's ids 1..count, 0 staying 0
        own[1:] = lookup[offset + 1 : offset + count + 1]
        out[core] = own[np.asarray(out[core])]
    return int(first_seen.size)


def scaled_grid(chunk: int, halo: int, scale: float) -> tuple[int, int]:
    """Chunk and halo on the volume's (image's) own grid that hold ``chunk`` and ``halo``
    voxels once resampled by ``scale``, so the model sees blocks of one size whatever the
    particles' size; at most twice the chunk and four times the halo where the volume is
    shrunk (the memory of reading a block), at least 16 voxels a chunk where it is enlarged.

    Examples
    --------
    >>> scaled_grid(128, 16, 1.0), scaled_grid(128, 16, 4.0), scaled_grid(128, 16, 0.25)
    ((128, 16), (32, 4), (256, 64))
    """
    return (
        int(np.clip(round(chunk / scale), 16, 2 * chunk)),
        int(np.clip(round(halo / scale), 0, 4 * halo)),
    )


def context_slice(core: slice, size: int, chunk: int, halo: int) -> slice:
    """The block segmented for ``core`` along one axis: the core and ``halo`` voxels on each
    side, moved inward at the volume's ends so that it keeps its full ``chunk + 2·halo`` (a
    thin last core gets more context, not a thin block: a model sees every block alike)."""
    want = min(chunk + 2 * halo, size)
    first = min(max(core.start - halo, 0), size - want)
    return slice(first, first + want)


def _segment_core(
    segment: Segmenter,
    out: Any,
    block: np.ndarray,
    inner: tuple[slice, ...],
    core: tuple[slice, ...],
) -> int:
    """Segment one core's ``block``, write the core's own labels (1..n, in their order) to
    ``out``; return n."""
    labels = np.asarray(segment(block))
    kept = labels[inner]
    ids = np.flatnonzero(np.bincount(kept.ravel()))  # the ids in the core, in their order
    renumber = np.zeros(ids[-1] + 1, np.uint32)
    # 1..n, 0 staying 0; a core without background starts at 1 all the same
    renumber[ids] = np.arange(ids.size) + (ids[0] != 0)
    out[core] = renumber[kept]
    return int(ids.size - (ids[0] == 0))


def _face_pairs(
    out: Any, cores: list[tuple[slice, ...]], offsets: np.ndarray, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """Global ids (local + offset) of the pieces to join across every face between cores."""
    index = {tuple(s.start for s in core): n for n, core in enumerate(cores)}
    first: list[np.ndarray] = [np.empty(0, np.int64)]
    second: list[np.ndarray] = [np.empty(0, np.int64)]
    for n, core in enumerate(cores):
        for axis in range(len(core)):
            corner = [s.start for s in core]
            corner[axis] += chunk
            neighbour = index.get(tuple(corner))
            if neighbour is None:
                continue
            last = list(core)
            last[axis] = slice(core[axis].stop - 1, core[axis].stop)
            start = list(cores[neighbour])
            start[axis] = slice(core[axis].stop, core[axis].stop + 1)
            a = np.asarray(out[tuple(last)]).astype(np.int64).ravel()
            b = np.asarray(out[tuple(start)]).astype(np.int64).ravel()
            left, right = _joined(a, b)
            first.append(left + offsets[n])
            second.append(right + offsets[neighbour])
    return np.concatenate(first), np.concatenate(second)


def _joined(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) id pairs, across a face, whose contact covers at least ``MIN_CONTACT`` of the
    smaller of their two cross-sections."""
    both = (a > 0) & (b > 0)
    if not both.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    width = int(b.max()) + 1
    pairs, contact = np.unique(a[both] * width + b[both], return_counts=True)
    left, right = pairs // width, pairs % width
    section_a = np.bincount(a, minlength=int(a.max()) + 1)[left]
    section_b = np.bincount(b, minlength=width)[right]
    keep = contact >= MIN_CONTACT * np.minimum(section_a, section_b)
    return left[keep], right[keep]
