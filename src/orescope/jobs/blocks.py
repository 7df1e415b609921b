"""Scratch arrays for an image predicted block by block on a cluster's workers (the particle
and mineral jobs): the image where every worker reads its blocks, and the output each worker
writes its cores into, zarr arrays in a hidden folder next to the image's outputs that is
removed when the image is done."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from orescope.io.panoramas import Panorama

Sides = int | tuple[int, ...]  # a square block's side, or its rows and columns


@contextmanager
def scratch_folder(folder: Path) -> Iterator[Path]:
    """A hidden folder in ``folder`` (created) that the workers see, removed when left."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".blocks-", dir=folder) as scratch:
        yield Path(scratch)


def worker_image(image: np.ndarray | Panorama, scratch: Path, side: Sides) -> Any:
    """``image`` where the workers read it: a panorama from its own zarr, an image in memory
    copied into a zarr array in ``scratch`` in chunks of ``side`` pixels a side (or rows and
    columns)."""
    if isinstance(image, Panorama):
        return image
    pixels = zarr.open_array(
        str(scratch / "image.zarr"),
        mode="w",
        shape=image.shape,
        chunks=_plane(side) + image.shape[2:],
        dtype=image.dtype,
    )
    pixels[:] = image
    return pixels


def worker_output(
    scratch: Path, name: str, shape: tuple[int, ...], side: Sides, dtype: str
) -> zarr.Array:
    """An empty zarr array in ``scratch`` whose last two axes are cut in chunks of ``side``
    pixels a side (or rows and columns): the workers write whole chunks (the cores of
    blocks), never the same one."""
    chunks = (*shape[:-2], *_plane(side))
    return zarr.open_array(str(scratch / name), mode="w", shape=shape, chunks=chunks, dtype=dtype)


def _plane(side: Sides) -> tuple[int, ...]:
    """(rows, columns) of a block of ``side``."""
    return (side, side) if isinstance(side, int) else side
