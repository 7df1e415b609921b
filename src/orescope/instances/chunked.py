"""Border-core decoding of a map too large for memory, chunk by chunk, into exactly the
particles that decoding the whole map at once gives
(:func:`~orescope.instances.border_core.decode_core_map`), whatever the chunk size and wherever
the chunks run.

Every pass is a set of independent chunk tasks over arrays that slice lazily (zarr on disk):

1. *label*: the seeds (P(core) above the threshold) and the particle regions of each chunk are
   labelled, each chunk numbering its own;
2. *link*: each chunk is labelled once more, one voxel larger on its far faces; an id of its own
   and a neighbour's id met in that larger block are one region. Two neighbouring voxels always
   lie together in the chunk of their lower corner grown so, so this finds every connection,
   and seeds are then kept or dropped by their whole size;
2b. *split* (with ``split_h_px``): each kept seed is cut at its necks
   (:mod:`~orescope.instances.core_split`) from a window of the seeds and the particle map
   around its whole bounding box, read by the one task whose chunk holds the box's first
   corner; the parts are made there once and saved in the scratch folder, where every later
   task that meets the seed reads them;
3. *grow*: each particle voxel joins its nearest kept seed (Euclidean), searched in the chunk
   with a margin of context that doubles until no seed outside it could be nearer; a region
   without a seed is a particle of its own.

:func:`tally` then counts each particle's voxels and finds its first voxel, and
:func:`renumber` drops the small ones and numbers the rest in the order they first appear (C
order): the numbering of the whole map, not of its chunks. Tables a task needs travel as
``.npy`` files in a scratch folder, not inside every task.

Written here: dask-image's ``label`` also joins chunks exactly, but as a Dask graph, not as the
independent tasks every chunked stage runs as (:mod:`orescope.jobs.parallel`); and no library
grows seeds chunk by chunk.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from scipy import ndimage
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from orescope.instances.components import label_regions
from orescope.instances.core_split import core_parts, core_window
from orescope.io.volumes import read_block, volume_blocks

Mapper = Callable[..., Iterable[Any]]
Box = tuple[slice, ...]


@dataclass(frozen=True)
class Grid:
    """The chunks of ``chunk`` voxels a side (one per axis) that tile an array of ``shape``."""

    shape: tuple[int, ...]
    chunk: tuple[int, ...]

    def blocks(self) -> list[Box]:
        return volume_blocks(self.shape, self.chunk)

    def overlapping(self, box: Box) -> list[tuple[int, Box]]:
        """The chunks (their C-order index, and their part of ``box`` counted from the box's
        corner) that ``box`` overlaps."""
        counts = [math.ceil(n / c) for n, c in zip(self.shape, self.chunk, strict=True)]
        ranges = [
            range(b.start // c, (b.stop - 1) // c + 1) for b, c in zip(box, self.chunk, strict=True)
        ]
        found = []
        for corner in np.ndindex(*(len(r) for r in ranges)):
            index = tuple(r[i] for r, i in zip(ranges, corner, strict=True))
            part = tuple(
                slice(max(b.start, i * c) - b.start, min(b.stop, (i + 1) * c) - b.start)
                for b, i, c in zip(box, index, self.chunk, strict=True)
            )
            found.append((int(np.ravel_multi_index(index, counts)), part))
        return found


@dataclass(frozen=True)
class _Labelled:
    """What labelling one chunk found: its seeds' sizes, the region each seed lies in, its
    number of regions, and its seeds' bounding boxes (first corners, then far corners + 1, in
    the array's coordinates)."""

    sizes: np.ndarray
    homes: np.ndarray
    regions: int
    boxes: np.ndarray


@dataclass(frozen=True)
class _Tables:
    """The tables the grow pass reads: the particle id of each seed (the first part's, for a
    split seed), of each unseeded region, and the split seeds (first part's id, seed id,
    bounding box), whose parts lie in ``parts`` (``<seed id>.npy``)."""

    seeds: Path
    orphans: Path
    split: Path
    parts: Path


@dataclass(frozen=True)
class Tallies:
    """Per particle id (sorted): voxels, first voxel (flat C-order index) and summed weight."""

    ids: np.ndarray
    sizes: np.ndarray
    first: np.ndarray
    sums: np.ndarray

    @property
    def means(self) -> np.ndarray:
        return self.sums / np.maximum(self.sizes, 1)


def decode_core_map_in_chunks(
    particle_map: Any,
    out: Any,
    chunk: int,
    scratch: Path,
    core_threshold: float,
    min_core_px: int,
    min_area_px: int,
    halo: int = 16,
    map: Mapper = map,  # noqa: A002  (the executor's map, named as the builtin it defaults to)
    split_h_px: float | None = None,
) -> int:
    """Decode ``particle_map`` (a :func:`~orescope.instances.border_core.core_map` of any
    size that slices lazily) into ``out`` (uint32, same shape, chunked by ``chunk``) as
    :func:`~orescope.instances.border_core.decode_core_map` decodes a map in memory, the
    particles numbered in the order they first appear; returns their number. ``scratch`` is an
    empty folder for the work arrays and tables (the tasks' shared disk); ``halo`` is the
    first margin of context searched for a voxel's nearest seed; ``split_h_px`` splits seeds
    joined by a neck, as :func:`~orescope.instances.border_core.decode_core_map` does.

    Examples
    --------
    >>> import tempfile
    >>> from orescope.instances.border_core import decode_core_map
    >>> core_map = np.zeros((12, 12, 30), np.uint8)
    >>> core_map[2:10, 2:10, 2:28] = 1  # one long particle through three chunks...
    >>> core_map[4:8, 4:8, 4:26] = 255  # ...around one long seed
    >>> out = np.zeros(core_map.shape, np.uint32)
    >>> with tempfile.TemporaryDirectory() as scratch:
    ...     decode_core_map_in_chunks(core_map, out, 10, Path(scratch), 0.7, 9, 27)
    1
    >>> bool(np.array_equal(out, decode_core_map(core_map, 0.7, 9, 27)))
    True
    """
    grid = Grid(tuple(particle_map.shape), (chunk,) * particle_map.ndim)
    seed_byte = 1 + 254 * core_threshold
    seed_store, region_store = (
        zarr.open_array(
            str(scratch / f"{name}.zarr"), mode="w", shape=grid.shape, chunks=grid.chunk, dtype="u4"
        )
        for name in ("seeds", "regions")
    )
    cores = grid.blocks()
    labelled = list(map(partial(_label, particle_map, seed_store, region_store, seed_byte), cores))
    offsets = (
        _offsets([found.sizes.size for found in labelled]),
        _offsets([found.regions for found in labelled]),
    )
    linked = list(
        map(partial(_link, particle_map, seed_store, region_store, seed_byte, grid, offsets), cores)
    )
    seed_ids, orphan_ids = _particle_ids(labelled, linked, offsets, min_core_px)
    split = np.zeros((0, 2 + 2 * len(grid.shape)), np.int64)
    parts = scratch / "parts"
    parts.mkdir()
    if split_h_px is not None:
        boxes = _save(scratch, _seed_boxes(labelled, seed_ids))
        seed_table = _save(scratch, seed_ids)
        task = partial(
            _split, particle_map, seed_store, grid, offsets, seed_table, boxes, split_h_px, parts
        )
        seed_ids, orphan_ids, split = _number_parts(
            seed_ids, orphan_ids, _table(boxes), list(map(task, cores))
        )
    saved = (_save(scratch, seed_ids), _save(scratch, orphan_ids), _save(scratch, split))
    tables = _Tables(*saved, parts)
    grow = partial(
        _grow, particle_map, seed_store, region_store, out, grid, offsets, tables, max(halo, 1)
    )
    for _ in map(grow, cores):
        pass
    found = tally(out, chunk, map)
    return renumber(out, chunk, found, found.sizes >= min_area_px, scratch, map)


def tally(
    labels: Any,
    chunk: int | tuple[int, ...],
    map: Mapper = map,  # noqa: A002
    weights: Any = None,
) -> Tallies:
    """The :class:`Tallies` of every id in ``labels`` (0 left out), chunk by chunk; ``sums``
    of ``weights`` (an array of the labels' shape, e.g. grey values) where given."""
    grid = Grid(tuple(labels.shape), _sides(chunk, labels.ndim))
    parts = list(map(partial(_tally, labels, weights), grid.blocks()))
    ids = np.concatenate([p[0] for p in parts])
    unique, inverse = np.unique(ids, return_inverse=True)
    sizes = np.bincount(
        inverse, weights=np.concatenate([p[1] for p in parts]), minlength=unique.size
    )
    sums = np.bincount(
        inverse, weights=np.concatenate([p[3] for p in parts]), minlength=unique.size
    )
    first = np.full(unique.size, np.iinfo(np.int64).max)
    np.minimum.at(first, inverse, np.concatenate([p[2] for p in parts]))
    return Tallies(unique, sizes.astype(np.int64), first, sums)


def renumber(
    labels: Any,
    chunk: int | tuple[int, ...],
    found: Tallies,
    keep: np.ndarray,
    scratch: Path,
    map: Mapper = map,  # noqa: A002
) -> int:
    """Rewrite ``labels`` in place: the ids of ``found`` where ``keep`` numbered 1..n in the
    order they first appear, every other id 0; returns n."""
    order = np.argsort(found.first[keep], kind="stable")
    new = np.zeros(found.ids.size, np.uint32)
    new[np.flatnonzero(keep)[order]] = np.arange(1, order.size + 1, dtype=np.uint32)
    table = _save(scratch, np.stack([found.ids.astype(np.int64), new]))
    grid = Grid(tuple(labels.shape), _sides(chunk, labels.ndim))
    for _ in map(partial(_renumber, labels, table), grid.blocks()):
        pass
    return int(order.size)


def _label(particle_map: Any, seeds: Any, regions: Any, seed_byte: float, core: Box) -> _Labelled:
    """Label one chunk's seeds and regions in its own ids."""
    block = read_block(particle_map, core)
    seed_ids, count = label_regions(block > seed_byte)
    region_ids, regions_found = label_regions(block > 0)
    seeds[core] = seed_ids.astype(np.uint32)
    regions[core] = region_ids.astype(np.uint32)
    home = np.zeros(count + 1, np.int64)
    home[seed_ids.ravel()] = region_ids.ravel()  # a seed lies in one region (seed ⊂ particle)
    corner = np.array([c.start for c in core])
    found = ndimage.find_objects(seed_ids)  # every id 1..count is present
    boxes = np.array([[b.start for b in box] + [b.stop for b in box] for box in found])
    return _Labelled(
        np.bincount(seed_ids.ravel(), minlength=count + 1)[1:],
        home[1:],
        regions_found,
        boxes.reshape(count, 2 * block.ndim) + np.tile(corner, 2),
    )


def _link(
    particle_map: Any,
    seeds: Any,
    regions: Any,
    seed_byte: float,
    grid: Grid,
    offsets: tuple[np.ndarray, np.ndarray],
    core: Box,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of global seed ids, and of region ids, that are one (see the module's pass 2)."""
    grown = tuple(slice(c.start, min(c.stop + 1, n)) for c, n in zip(core, grid.shape, strict=True))
    block = read_block(particle_map, grown)
    pairs = []
    for store, mask, offset in (
        (seeds, block > seed_byte, offsets[0]),
        (regions, block > 0, offsets[1]),
    ):
        mine = label_regions(mask)[0][mask].astype(np.int64)
        stored = _global_ids(store, grown, grid, offset)[mask]
        width = int(stored.max(initial=0)) + 1
        both = np.unique(mine * width + stored)  # each (region here, stored id) met, sorted
        region, met = both // width, both % width
        # every id met by one of this block's regions joins the first id that region met
        _, first = np.unique(region, return_index=True)
        anchors = np.repeat(met[first], np.diff(np.append(first, both.size)))
        pairs.append(np.stack([anchors, met]))
    return pairs[0], pairs[1]


def _particle_ids(
    labelled: list[_Labelled],
    linked: list[tuple],
    offsets: tuple[np.ndarray, np.ndarray],
    min_core_px: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The particle id of every seed (global id, 0 where dropped: its whole size is under
    ``min_core_px``) and of every region without a kept seed (0 for the seeded ones)."""
    seed_offsets, region_offsets = offsets
    seeds = _components(seed_offsets[-1], [pairs for pairs, _ in linked])
    regions = _components(region_offsets[-1], [pairs for _, pairs in linked])
    sizes = np.concatenate([found.sizes for found in labelled])
    kept = np.bincount(seeds[1:], weights=sizes, minlength=seeds.max() + 1) >= min_core_px
    kept[0] = False
    seed_ids = np.where(kept, np.cumsum(kept), 0)[seeds].astype(np.uint32)
    # the region each seed lies in, as a global id
    homes = np.concatenate(
        [found.homes + o for found, o in zip(labelled, region_offsets, strict=False)]
    )
    orphan = np.ones(regions.max() + 1, bool)
    orphan[regions[homes[seed_ids[1:] > 0]]] = False
    orphan[0] = False
    orphan_ids = np.where(orphan, np.cumsum(orphan) + kept.sum(), 0)[regions].astype(np.uint32)
    return seed_ids, orphan_ids


def _seed_boxes(labelled: list[_Labelled], seed_ids: np.ndarray) -> np.ndarray:
    """The bounding box of every kept seed (row = particle id; first corner, far corner + 1),
    from the boxes of its pieces in each chunk."""
    pieces = np.concatenate([found.boxes for found in labelled])
    ndim = pieces.shape[1] // 2
    boxes = np.zeros((int(seed_ids.max()) + 1, 2 * ndim), np.int64)
    boxes[:, :ndim] = np.iinfo(np.int64).max
    np.minimum.at(boxes[:, :ndim], seed_ids[1:], pieces[:, :ndim])
    np.maximum.at(boxes[:, ndim:], seed_ids[1:], pieces[:, ndim:])
    return boxes


def _split(
    particle_map: Any,
    seeds: Any,
    grid: Grid,
    offsets: tuple[np.ndarray, np.ndarray],
    seed_table: Path,
    boxes: Path,
    split_h_px: float,
    parts: Path,
    core: Box,
) -> tuple[np.ndarray, np.ndarray]:
    """The kept seeds whose box begins in this chunk that split, and their numbers of parts,
    each from its :func:`~orescope.instances.core_split.core_window` (read once for all); the
    parts of each in ``parts`` (``<seed id>.npy``, int32 over the window)."""
    ndim = len(core)
    every = _table(boxes)
    corners = every[1:, :ndim]
    mine = 1 + np.flatnonzero(
        np.all([(c >= b.start) & (c < b.stop) for c, b in zip(corners.T, core, strict=True)], 0)
    )
    windows = [core_window(_box(every[seed]), grid.shape) for seed in mine]
    if not windows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    block = _cover(windows)
    kept = _table(seed_table)[_global_ids(seeds, block, grid, offsets[0])]
    particle = read_block(particle_map, block) > 0
    counts = np.zeros(mine.size, np.int64)
    for index, (seed, window) in enumerate(zip(mine, windows, strict=True)):
        inside = _within(window, block)
        found, counts[index] = core_parts(kept[inside] == seed, particle[inside], split_h_px)
        if counts[index] > 1:
            np.save(parts / f"{seed}.npy", found)
    return mine[counts > 1], counts[counts > 1]


def _number_parts(
    seed_ids: np.ndarray, orphan_ids: np.ndarray, boxes: np.ndarray, found: list[tuple]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Particle ids once the split seeds are parts: each seed's id is its first part's, the
    parts of a seed follow each other, unseeded regions come after all; and the table of
    split seeds (first part's id, seed id, bounding box)."""
    parts = np.ones(boxes.shape[0], np.int64)
    parts[0] = 0
    for seeds, counts in found:
        parts[seeds] = counts
    first = np.cumsum(parts) - parts + 1
    first[0] = 0
    was_split = parts > 1
    split = np.column_stack([first[was_split], np.flatnonzero(was_split), boxes[was_split]])
    added = int(parts.sum()) - (boxes.shape[0] - 1)
    orphans = np.where(orphan_ids > 0, orphan_ids.astype(np.int64) + added, 0)
    return first[seed_ids].astype(np.uint32), orphans.astype(np.uint32), split


def _seeds_in(
    seeds: Any, box: Box, grid: Grid, offsets: tuple[np.ndarray, np.ndarray], tables: _Tables
) -> np.ndarray:
    """The particle id of every seed voxel of ``box`` (0 elsewhere), each part of a split
    seed its own."""
    split = _table(tables.split)
    ndim = len(box)
    starts, stops = np.array([b.start for b in box]), np.array([b.stop for b in box])
    near = split[np.all((split[:, 2 : 2 + ndim] < stops) & (split[:, 2 + ndim :] > starts), axis=1)]
    windows = [core_window(_box(row[2:]), grid.shape) for row in near]
    block = _cover([box, *windows])
    kept = _table(tables.seeds)[_global_ids(seeds, block, grid, offsets[0])]
    for first, seed, window in zip(near[:, 0], near[:, 1], windows, strict=True):
        parts = np.load(tables.parts / f"{seed}.npy")
        view = kept[_within(window, block)]
        view[parts > 1] = first + parts[parts > 1] - 1
    return kept[_within(box, block)]


def _box(row: np.ndarray) -> Box:
    """A bounding box row (first corner, far corner + 1) as slices."""
    ndim = row.size // 2
    return tuple(slice(int(a), int(b)) for a, b in zip(row[:ndim], row[ndim:], strict=True))


def _cover(boxes: list[Box]) -> Box:
    """The smallest box that holds all ``boxes``."""
    return tuple(
        slice(min(b.start for b in axis), max(b.stop for b in axis))
        for axis in zip(*boxes, strict=True)
    )


def _within(box: Box, outer: Box) -> Box:
    """``box`` counted from the first corner of ``outer``, which holds it."""
    return tuple(
        slice(b.start - o.start, b.stop - o.start) for b, o in zip(box, outer, strict=True)
    )


def _grow(
    particle_map: Any,
    seeds: Any,
    regions: Any,
    out: Any,
    grid: Grid,
    offsets: tuple[np.ndarray, np.ndarray],
    tables: _Tables,
    halo: int,
    core: Box,
) -> None:
    """Write one chunk's particles: each voxel of a seeded region its nearest seed's id, each
    voxel of a region without a seed its region's particle id."""
    particle = read_block(particle_map, core) > 0
    orphan = _table(tables.orphans)[_global_ids(regions, core, grid, offsets[1])]
    need = particle & (orphan == 0)
    nearest = np.zeros(particle.shape, np.uint32)
    margin = halo
    while need.any():
        box = tuple(
            slice(max(c.start - margin, 0), min(c.stop + margin, n))
            for c, n in zip(core, grid.shape, strict=True)
        )
        kept = _seeds_in(seeds, box, grid, offsets, tables)
        inner = _within(core, box)
        whole = all(b.stop - b.start == n for b, n in zip(box, grid.shape, strict=True))
        if kept.any():
            distance, where = ndimage.distance_transform_edt(kept == 0, return_indices=True)
            near = distance[inner] < _room(core, box, grid.shape) + 1
            if whole or near[need].all():
                nearest = kept[tuple(where)][inner]
                break
        elif whole:
            break
        margin *= 2
    out[core] = np.where(particle, np.where(orphan > 0, orphan, nearest), 0).astype(np.uint32)


def _room(core: Box, box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """For each voxel of ``core``, its distance to the nearest face of ``box`` that is not the
    array's own: any voxel beyond it lies at least that distance plus one away."""
    room = np.full([c.stop - c.start for c in core], np.inf)
    for axis, (c, b, n) in enumerate(zip(core, box, shape, strict=True)):
        position = np.arange(c.start, c.stop)
        low = position - b.start if b.start > 0 else np.full(position.size, np.inf)
        high = b.stop - 1 - position if b.stop < n else np.full(position.size, np.inf)
        along = [1] * len(core)
        along[axis] = position.size
        room = np.minimum(room, np.minimum(low, high).reshape(along))
    return room


def _tally(labels: Any, weights: Any, core: Box) -> tuple[np.ndarray, ...]:
    block = read_block(labels, core)
    ids, first, inverse, sizes = np.unique(
        block, return_index=True, return_inverse=True, return_counts=True
    )
    local = np.unravel_index(first, block.shape)
    corner = [c.start for c in core]
    flat = np.ravel_multi_index(
        tuple(i + s for i, s in zip(local, corner, strict=True)), labels.shape
    )
    summed: np.ndarray = np.zeros(ids.size)
    if weights is not None:
        summed = np.bincount(
            inverse.ravel(), weights=read_block(weights, core).ravel(), minlength=ids.size
        )
    keep = ids > 0
    return ids[keep].astype(np.int64), sizes[keep], flat[keep], summed[keep]


def _renumber(labels: Any, table: Path, core: Box) -> None:
    old, new = _table(table)
    block = read_block(labels, core).astype(np.int64)
    if old.size == 0:
        labels[core] = np.zeros(block.shape, np.uint32)
        return
    place = np.minimum(np.searchsorted(old, block), old.size - 1)
    labels[core] = np.where(old[place] == block, new[place], 0).astype(np.uint32)


def _global_ids(store: Any, box: Box, grid: Grid, offsets: np.ndarray) -> np.ndarray:
    """The stored ids of ``box``, each chunk's own ids moved past those of the chunks before
    it (0 staying 0)."""
    ids = read_block(store, box).astype(np.int64)
    for index, part in grid.overlapping(box):
        view = ids[part]
        view[view > 0] += offsets[index]
    return ids


def _components(count: int, pairs: list[np.ndarray]) -> np.ndarray:
    """The component of each of ids 0..count joined by ``pairs``, 0 for id 0."""
    joined = np.concatenate([np.empty((2, 0), np.int64), *pairs], axis=1)
    graph = coo_array((np.ones(joined.shape[1]), (joined[0], joined[1])), shape=(count + 1,) * 2)
    component = connected_components(graph, directed=False)[1]
    # components numbered 1.. in the order of their first id, 0 staying 0
    _, first, numbered = np.unique(component[1:], return_index=True, return_inverse=True)
    return np.concatenate([[0], np.argsort(np.argsort(first))[numbered] + 1]).astype(np.int64)


def _offsets(counts: list[int]) -> np.ndarray:
    """Ids before each chunk's, and (last) the total."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _sides(chunk: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    return (chunk,) * ndim if isinstance(chunk, int) else tuple(chunk)


def _save(folder: Path, table: np.ndarray) -> Path:
    """``table`` in a new file of ``folder`` (a name never reused: tasks cache what they read)."""
    handle, name = tempfile.mkstemp(suffix=".npy", dir=folder)
    with os.fdopen(handle, "wb") as file:
        np.save(file, table)
    return Path(name)


@lru_cache(maxsize=8)
def _table(path: Path) -> np.ndarray:
    """A table a task reads, mapped from disk once a process."""
    return np.load(path, mmap_mode="r")
