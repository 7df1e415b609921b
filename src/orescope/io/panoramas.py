"""Panoramas as lazily read images: an OME-Zarr image (``orescope stitch`` writes one) is read
block by block from its full-resolution level, never decoded whole.

A stitched section reaches 12000 × 8000 pixels and more; decoded whole as 16-bit RGB that is
half a gigabyte before any model runs. :class:`Panorama` looks like an ``(H, W, C)`` array to
the code that slices it (sliding windows, overlays, colour correction, block plans): each slice
reads only the zarr chunks it touches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from orescope.errors import InputError

ZARR_SUFFIX = ".zarr"  # .zarr and .ome.zarr folders
PIXEL_TYPES = tuple(map(np.dtype, (np.uint8, np.uint16, np.float32, np.float64)))


def is_zarr_image(path: Path) -> bool:
    """Whether ``path`` names a zarr folder, which is read as one (panorama) image."""
    return path.suffix.lower() == ZARR_SUFFIX and path.is_dir()


@dataclass(frozen=True)
class Panorama:
    """A lazily read ``(H, W)`` or ``(H, W, C)`` image: indexing it reads that part, in this
    thread, as a NumPy array. ``recolour`` (a pixel-wise map, such as a colour correction)
    is applied to each part read."""

    pixels: da.Array
    recolour: Callable[[np.ndarray], np.ndarray] | None = None

    @cached_property
    def _corner(self) -> np.ndarray:
        """The top-left pixel as it is read: its channels and type are every part's."""
        return self[:1, :1]

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.pixels.shape[:2], *self._corner.shape[2:])

    @property
    def dtype(self) -> np.dtype:
        return self._corner.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        part = np.asarray(self.pixels[key].compute(scheduler="synchronous"))
        return part if self.recolour is None else self.recolour(part)

    def mapped(self, recolour: Callable[[np.ndarray], np.ndarray]) -> Panorama:
        """The same panorama with ``recolour`` applied to every part read."""
        return Panorama(self.pixels, recolour)


Pixels = np.ndarray | Panorama  # an image in memory, or one read block by block


def read_panorama(path: str | Path) -> Panorama:
    """The full-resolution level of an OME-Zarr image (axes ``c``, ``y``, ``x``, or ``y``,
    ``x``) as an ``(H, W[, C])`` :class:`Panorama`.

    Raises
    ------
    InputError
        Naming the folder, when it is no OME-Zarr image: no multiscales, axes other than
        (c,) y, x, channels other than 1, 3 or 4, pixels that are no intensities, or no pixels.
    """
    path = Path(path)
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as error:  # zarr raises many types for broken folders
        raise InputError(path, f"not a readable zarr ({error})") from None
    attributes: dict[str, Any] = dict(node.attrs)
    multiscales = attributes.get("ome", attributes).get("multiscales")
    if isinstance(node, zarr.Array) or not multiscales:
        raise InputError(path, "not an OME-Zarr image (a zarr group with multiscales)")
    image = multiscales[0]
    axes = [axis["name"] if isinstance(axis, dict) else axis for axis in image.get("axes", [])]
    level = node[image["datasets"][0]["path"]]
    if not isinstance(level, zarr.Array):
        raise InputError(path, "its full-resolution level is a group, not an array")
    if axes not in (["c", "y", "x"], ["y", "x"]) or level.ndim != len(axes):
        raise InputError(path, f"axes {axes} of shape {level.shape}: an image has (c,) y, x")
    if level.dtype not in PIXEL_TYPES:
        raise InputError(path, f"unsupported pixel type {level.dtype}")
    if 0 in level.shape:
        raise InputError(path, f"image has zero size {level.shape}")
    pixels = da.from_zarr(level)
    if level.ndim == 3:
        if level.shape[0] not in (1, 3, 4):
            raise InputError(path, f"{level.shape[0]} channels: an image has 1, 3 or 4")
        pixels = pixels.transpose(1, 2, 0) if level.shape[0] > 1 else pixels[0]
    return Panorama(pixels)
