"""Volumes (micro-CT scans) as lazy dask arrays with their voxel spacing in mm.

A scan of 1000 × 1250 × 1250 voxels is 3 GB at 16 bits, so a volume is never decoded whole: a
multi-page TIFF is read through tifffile's zarr view of it, page by page; a zarr or OME-Zarr
chunk by chunk; a folder of slices one slice at a time. Only the chunks a computation touches
are read. OME-Zarr and ImageJ TIFFs carry their spacing; otherwise it is given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import tifffile
import zarr
from dask import delayed

from orescope.errors import InputError
from orescope.io.atomic import atomic_path
from orescope.io.images import check_pixels, find_images, read_image, tiff_series

# millimetres per unit, for the units OME-Zarr and ImageJ write
UNIT_MM = {
    "meter": 1e3,
    "m": 1e3,
    "centimeter": 10.0,
    "cm": 10.0,
    "millimeter": 1.0,
    "mm": 1.0,
    "micrometer": 1e-3,
    "micron": 1e-3,
    "um": 1e-3,
    "\u00b5m": 1e-3,
    "nanometer": 1e-6,
    "nm": 1e-6,
}
TIFF_UNIT_MM = {2: 25.4, 3: 10.0}  # the TIFF ResolutionUnit tag: inch, centimetre
PYRAMID_CHUNK = 64  # voxels per side of the chunks orescope convert writes


@dataclass(frozen=True)
class Volume:
    """A lazily read (z, y, x) volume and its voxel spacing in mm (None where unknown)."""

    data: da.Array
    spacing_mm: tuple[float, float, float] | None
    path: Path


def read_volume(path: str | Path, spacing_mm: float | Sequence[float] | None = None) -> Volume:
    """Open a multi-page TIFF, a folder of slice images, a zarr array or an OME-Zarr image.

    ``spacing_mm`` (one value for cubic voxels, or z, y, x) replaces what the file says. Bad
    input — a 2D image, a singleton axis, a dtype that is no intensity, slices of different
    sizes, a spacing that is not positive — is an :class:`InputError` naming the file.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import tifffile
    >>> path = Path(tempfile.mkdtemp()) / "scan.tif"
    >>> tifffile.imwrite(path, np.zeros((4, 16, 16), np.uint16))
    >>> volume = read_volume(path, spacing_mm=0.02)
    >>> volume.data.shape, volume.data.chunksize, volume.spacing_mm
    ((4, 16, 16), (1, 16, 16), (0.02, 0.02, 0.02))
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    found: tuple[float, float, float] | None = None
    if path.is_dir() and _is_zarr(path):
        data, found = _read_zarr(path)
    elif path.is_dir():
        data = _read_slices(path)
    elif path.suffix.lower() in (".tif", ".tiff"):
        data, found = _read_tiff(path)
    else:
        raise InputError(path, "not a volume: give a TIFF stack, a folder of slices or a zarr")
    _check_array(path, data.shape, data.dtype)
    return Volume(data, _spacing(path, found if spacing_mm is None else spacing_mm), path)


def volume_blocks(shape: tuple[int, ...], chunk: int | tuple[int, ...]) -> list[tuple[slice, ...]]:
    """The blocks of ``chunk`` voxels a side (one size, or one per axis) that tile a volume
    once, in C order (smaller at the far ends): the unit every chunked pass over a volume
    works in."""
    sides = (chunk,) * len(shape) if isinstance(chunk, int) else chunk
    starts = [range(0, size, side) for size, side in zip(shape, sides, strict=True)]
    return [
        tuple(
            slice(s, min(s + side, size))
            for s, side, size in zip(corner, sides, shape, strict=True)
        )
        for corner in itertools.product(*starts)
    ]


def read_block(volume: Any, box: tuple[slice, ...]) -> np.ndarray:
    """``volume[box]`` in memory, from any array that slices lazily (zarr, dask, a memory
    map). A dask array is read in the calling thread: dask's default, a pool of threads for
    each thread that asks, costs more than a block that decodes in milliseconds, and
    multiplies the allocator's per-thread arenas, each keeping memory it has freed."""
    block = volume[box]
    if isinstance(block, da.Array):
        return np.asarray(block.compute(scheduler="synchronous"))
    return np.asarray(block)


def find_volumes(inputs: Sequence[str | Path]) -> list[Path]:
    """The volumes named by ``inputs``: files and zarr folders as they are; a folder of TIFF
    stacks or zarr folders, each of them (sorted); any other folder, one volume of slices.
    A name that does not exist is kept, so that reading it says why."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if not item.is_dir() or _is_zarr(item):
            found.append(item)
            continue
        members = sorted(
            p
            for p in item.iterdir()
            if (p.is_dir() and _is_zarr(p)) or p.suffix.lower() in (".tif", ".tiff")
        )
        stacks = [p for p in members if p.is_dir() or _pages(p) > 1]
        found.extend(stacks if stacks else [item])
    return found


def _pages(path: Path) -> int:
    """How many pages (slices) the first series of a TIFF has; 0 if it is no readable TIFF."""
    try:
        with tifffile.TiffFile(path) as tiff:
            shape = tiff_series(tiff, path).shape
    except Exception:  # tifffile raises many types for corrupt files
        return 0
    return int(shape[0]) if len(shape) >= 3 else 1


def write_ome_zarr(volume: Volume, out: str | Path, levels: int = 3) -> Path:
    """Write ``volume`` as an OME-Zarr image with a pyramid of up to ``levels`` halvings,
    in 64³ chunks, its spacing in mm in the metadata. Written next to ``out`` and renamed
    when complete, so a killed run leaves no OME-Zarr that looks finished."""
    from ome_zarr.writer import write_image

    if volume.spacing_mm is None:
        raise InputError(volume.path, "the voxel spacing is unknown: give it (--spacing MM)")
    out = Path(out)
    factors = [2**k for k in range(1, levels + 1) if min(volume.data.shape) // 2**k >= 8]
    with atomic_path(out) as partial:
        write_image(
            volume.data.rechunk(PYRAMID_CHUNK),
            zarr.open_group(str(partial), mode="w"),
            scale_factors=factors,
            axes="zyx",
            scale=dict(zip("zyx", volume.spacing_mm, strict=True)),
            axes_units=dict.fromkeys("zyx", "millimeter"),
        )
    return out


def _is_zarr(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("zarr.json", ".zarray", ".zgroup"))


def _read_zarr(path: Path) -> tuple[da.Array, tuple[float, float, float] | None]:
    """A zarr array as it is; an OME-Zarr image's full-resolution level and its spacing."""
    node = zarr.open(str(path), mode="r")
    if isinstance(node, zarr.Array):
        return da.from_zarr(node), None
    attributes: dict[str, Any] = dict(node.attrs)
    multiscales = attributes.get("ome", attributes).get("multiscales")
    if not multiscales:
        raise InputError(path, "a zarr group without OME multiscales: give the array inside it")
    image = multiscales[0]
    level = image["datasets"][0]
    scale = next(
        (t["scale"] for t in level.get("coordinateTransformations", []) if t["type"] == "scale"),
        None,
    )
    spatial = [axis for axis in image.get("axes", []) if axis.get("type") == "space"]
    spacing = None
    if scale is not None and len(scale) == 3 and len(spatial) == 3:
        units = [
            UNIT_MM[unit] for a in spatial if (unit := str(a.get("unit", "")).lower()) in UNIT_MM
        ]
        if len(units) == 3:
            spacing = _triple([s * u for s, u in zip(scale, units, strict=True)])
    return da.from_zarr(node[level["path"]]), spacing


def _read_tiff(path: Path) -> tuple[da.Array, tuple[float, float, float] | None]:
    """The first series of a TIFF through its zarr view (one page a chunk) and the spacing of
    its resolution tags and ImageJ metadata."""
    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff_series(tiff, path)
            if series.ndim == 2:
                raise InputError(path, "a 2D image, not a volume (a TIFF stack has many pages)")
            check_pixels(path, tuple(series.shape[-2:]))  # a slice, as any image
            if (end := _data_end(series)) > path.stat().st_size:
                raise InputError(path, f"truncated: its pages need {end} bytes, it has fewer")
            spacing = _tiff_spacing(tiff)
        store = tifffile.imread(path, aszarr=True)
        return da.from_zarr(zarr.open(store, mode="r")), spacing
    except InputError:
        raise
    except Exception as error:  # tifffile raises many types for corrupt files
        raise InputError(path, f"not a readable TIFF stack ({error})") from None


def _data_end(series: tifffile.TiffPageSeries) -> int:
    """Where the last byte of a TIFF series' pixel data lies, from the headers alone: a stack
    cut short (a copy that stopped) is refused when opened, not halfway through a run."""
    if series.dataoffset is not None:  # contiguous, as tifffile and ImageJ write stacks
        return int(series.dataoffset + series.nbytes)
    return max(
        int(offset + count)
        for page in series.pages
        if page is not None
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True)
    )


def _tiff_spacing(tiff: tifffile.TiffFile) -> tuple[float, float, float] | None:
    page = tiff.pages.first
    imagej = tiff.imagej_metadata or {}
    tags = {name: page.tags.get(name) for name in ("XResolution", "YResolution", "ResolutionUnit")}
    if tags["XResolution"] is None or tags["YResolution"] is None or "spacing" not in imagej:
        return None
    unit = TIFF_UNIT_MM.get(int(tags["ResolutionUnit"].value)) if tags["ResolutionUnit"] else None
    unit = UNIT_MM.get(str(imagej.get("unit", "")).lower(), unit)
    if unit is None:
        return None

    def size(tag: Any) -> float:
        numerator, denominator = tag.value
        return unit * denominator / numerator if numerator else math.nan

    return _triple(
        [unit * float(imagej["spacing"]), size(tags["YResolution"]), size(tags["XResolution"])]
    )


def _read_slices(folder: Path) -> da.Array:
    """One slice image a chunk, sorted by name; every slice must have the first one's size."""
    paths = find_images([folder])
    first = read_image(paths[0])
    if first.ndim != 2:
        raise InputError(paths[0], f"a slice must be grey, got {first.shape[2]} channels")
    for path in paths[1:]:
        if (shape := _slice_shape(path)) != first.shape:
            raise InputError(path, f"slice of {shape} where the first is {first.shape}")
    read = delayed(read_image, pure=True)
    return da.stack([da.from_delayed(read(path), first.shape, first.dtype) for path in paths])


def _slice_shape(path: Path) -> tuple[int, ...]:
    """A slice's shape from its header alone, without decoding it."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            with tifffile.TiffFile(path) as tiff:
                return tuple(tiff_series(tiff, path).shape)
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
            bands = len(image.getbands())
    except (tifffile.TiffFileError, OSError) as error:
        raise InputError(path, f"not a readable slice ({error})") from None
    return (height, width) if bands == 1 else (height, width, bands)


def _check_array(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if len(shape) != 3:
        raise InputError(path, f"{len(shape)} axes where a volume has 3 (z, y, x)")
    if min(shape) < 2:
        raise InputError(path, f"a volume of shape {shape} has a singleton axis")
    if np.dtype(dtype).kind not in "uif":
        raise InputError(path, f"voxels of type {dtype}, not intensities (integers or floats)")


def _triple(values: list[float]) -> tuple[float, float, float]:
    z, y, x = (float(v) for v in values)
    return z, y, x


def _spacing(
    path: Path, spacing: float | Sequence[float] | None
) -> tuple[float, float, float] | None:
    """One value for cubic voxels, or z, y, x; each positive and finite."""
    if spacing is None:
        return None
    values = [float(spacing)] if isinstance(spacing, int | float) else [float(v) for v in spacing]
    values = values * 3 if len(values) == 1 else values
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(path, f"voxel spacing {spacing} mm: give one or three positive values")
    return _triple(values)
