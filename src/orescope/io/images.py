"""Read and write 2D images: 8/16-bit, gray/RGB/RGBA, PNG/JPEG/TIFF (large and tiled TIFFs too)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np
import tifffile

from orescope.errors import InputError
from orescope.io.atomic import atomic_path
from orescope.io.panoramas import is_zarr_image, read_panorama

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
TIFF_SUFFIXES = (".tif", ".tiff")
# Most pixels an image may claim (32768 x 32768, OpenCV's own limit too): a header claiming more
# is refused before anything is allocated. Raise it with the environment variable.
MAX_PIXELS_VARIABLE = "ORESCOPE_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 2**30


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as ``(H, W)`` gray or ``(H, W, 3|4)`` RGB(A), keeping its dtype (uint8/uint16).

    One reader for PNG, JPEG, BMP and (large, tiled, planar) TIFF, always in RGB order, so that
    no caller meets OpenCV's BGR or a 16-bit image squeezed to 8 bits.

    Raises
    ------
    InputError
        Naming the file, for anything missing, empty, truncated, undecodable, zero-sized or of
        unsupported dimensions.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from orescope.io import read_image, write_image
    >>> path = Path(tempfile.mkdtemp()) / "belt.png"
    >>> write_image(path, np.full((4, 6, 3), 200, dtype=np.uint8))
    >>> image = read_image(path)
    >>> image.shape, image.dtype
    ((4, 6, 3), dtype('uint8'))
    >>> read_image(path.with_name("missing.png"))
    Traceback (most recent call last):
    orescope.errors.InputError: .../missing.png: no such file
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError(path, "a symbolic link to nothing (a loop, or its target is gone)")
    if not path.is_file():
        raise InputError(path, "no such file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    if path.suffix.lower() in TIFF_SUFFIXES:
        image = read_tiff(path)
        # planar TIFFs store channels first: (C, H, W) -> (H, W, C)
        if image.ndim == 3 and image.shape[0] in (3, 4) and image.shape[-1] not in (3, 4):
            image = np.moveaxis(image, 0, -1)
    else:
        data = np.fromfile(path, dtype=np.uint8)
        check_pixels(path, _header_size(data.tobytes()[:65536]))
        image = _read_with_opencv(path, data)
    return _check_image(path, image)


def max_pixels() -> int:
    """The most pixels an image may have (``ORESCOPE_MAX_PIXELS``, default 2**30)."""
    value = os.environ.get(MAX_PIXELS_VARIABLE, "")
    return int(value) if value.isdigit() else DEFAULT_MAX_PIXELS


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(height, width) of an image from its header alone, None where it cannot be told
    (a broken or unknown file: reading it says why)."""
    path = Path(path)
    try:
        if is_zarr_image(path):
            height, width = read_panorama(path).shape[:2]
            return height, width
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tiff:
                height, width = _plane(tiff_series(tiff, path).shape)
                return height, width
        with path.open("rb") as file:
            return _header_size(file.read(65536))
    except Exception:  # noqa: BLE001  (any unreadable file: read_image names the reason)
        return None


def check_pixels(path: Path, shape: tuple[int, ...] | None) -> None:
    """Refuse an image whose header claims more pixels than :func:`max_pixels`."""
    if shape is None or len(shape) < 2:
        return
    pixels = int(np.prod(shape[:2], dtype=np.float64))
    if pixels > max_pixels():
        raise InputError(
            path,
            f"claims {shape[1]} x {shape[0]} pixels, more than the limit of {max_pixels()} "
            f"(raise it with the environment variable {MAX_PIXELS_VARIABLE})",
        )


def _plane(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(height, width) of a TIFF series' shape, a channel axis first or last left out."""
    if len(shape) >= 3 and shape[-1] in (3, 4):
        shape = shape[:-1]
    elif len(shape) >= 3 and shape[0] in (3, 4):
        shape = shape[1:]
    return shape[-2:]


def _header_size(head: bytes) -> tuple[int, int] | None:
    """(height, width) from a PNG, BMP or JPEG header, None for anything else. By hand: OpenCV
    has no header-only read, and Pillow's (matplotlib's dependency) refuses large panoramas by
    a limit of its own; a bomb must be caught before its pixels are allocated."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return height, width
    if head[:2] == b"BM" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(height), abs(width)
    if head[:2] == b"\xff\xd8":  # JPEG: walk the markers to the frame header (SOFn)
        at = 2
        while at + 9 <= len(head) and head[at] == 0xFF:
            marker, length = head[at + 1], struct.unpack(">H", head[at + 2 : at + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", head[at + 5 : at + 9])
                return height, width
            at += 2 + length
    return None


def tiff_series(tiff: tifffile.TiffFile, path: Path) -> tifffile.TiffPageSeries:
    """The first series of an open TIFF, refused when its pages point back to an earlier one
    or past the file's end, or its first page holds no pixels: tifffile would then walk the
    same pages again and again without end (found by fuzzing)."""
    _check_page_chain(path)
    if 0 in tiff.pages.first.shape:
        raise InputError(path, f"a TIFF page of {tiff.pages.first.shape} pixels: no image")
    return tiff.series[0]


def _check_page_chain(path: Path) -> None:
    """Walk a TIFF's chain of pages (image file directories) by their offsets alone, refusing
    a loop or a page past the end. By hand: tifffile catches a page that points to itself,
    not a longer loop or one through a page it cannot parse."""
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(16)
        order = "<" if head[:2] == b"II" else ">"
        big = struct.unpack(order + "H", head[2:4])[0] == 43  # BigTIFF: 64-bit offsets
        offset_format, count_format = ("Q", "Q") if big else ("I", "H")
        entry_size, count_size, offset_size = (20, 8, 8) if big else (12, 2, 4)
        offset = struct.unpack(order + offset_format, head[8:16] if big else head[4:8])[0]
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise InputError(path, f"its TIFF pages loop back to the page at byte {offset}")
            seen.add(offset)
            file.seek(offset)
            raw = file.read(count_size)
            if len(raw) < count_size:
                raise InputError(path, f"a TIFF page at byte {offset}, past the end ({size})")
            entries = struct.unpack(order + count_format, raw)[0]
            file.seek(offset + count_size + entries * entry_size)
            raw = file.read(offset_size)
            if len(raw) < offset_size:
                raise InputError(path, f"the TIFF page at byte {offset} runs past the end")
            offset = struct.unpack(order + offset_format, raw)[0]


def read_tiff(path: Path) -> np.ndarray:
    """The first series of a TIFF, singleton axes dropped; refused when it claims more pixels
    a plane than :func:`max_pixels` or cannot be decoded, naming the file."""
    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff_series(tiff, path)
            check_pixels(path, _plane(series.shape))
            image = series.asarray()
    except InputError:
        raise
    except Exception as error:  # tifffile raises many types for corrupt files
        raise InputError(path, f"cannot decode TIFF ({error})") from error
    return np.squeeze(image)


def _read_with_opencv(path: Path, data: np.ndarray) -> np.ndarray:
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # OpenCV's own header checks (a width over its limit) raise
        reason = str(error).strip().splitlines()[-1]
        raise InputError(path, f"cannot decode image ({reason})") from None
    if image is None:
        raise InputError(path, "cannot decode image (truncated or not an image)")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def _check_image(path: Path, image: np.ndarray) -> np.ndarray:
    if image.size == 0 or 0 in image.shape:
        raise InputError(path, f"image has zero size {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise InputError(
            path, f"unsupported image shape {image.shape}: expected HxW, HxWx3 or HxWx4"
        )
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise InputError(path, f"unsupported pixel type {image.dtype}")
    return image


def to_rgb_float(image: np.ndarray) -> np.ndarray:
    """Any supported image -> float32 RGB in [0, 1]; alpha dropped, gray repeated, 16-bit scaled.
    Channels after the third (alpha, a stacked XPL image) are dropped before converting."""
    if image.ndim == 3:
        image = image[..., :3]
    if image.dtype == np.uint8:
        scaled = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        scaled = image.astype(np.float32) / 65535.0
    else:
        scaled = np.clip(image.astype(np.float32), 0.0, 1.0)
    if scaled.ndim == 2:
        return np.repeat(scaled[..., None], 3, axis=2)
    return scaled


def to_gray_float(image: np.ndarray) -> np.ndarray:
    """Any supported image -> float32 luminance (Rec. 601) in [0, 1]."""
    rgb = to_rgb_float(image)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Any supported image -> uint8 RGB, for display and overlays."""
    if image.dtype == np.uint8:  # already display-ready: no float round trip
        return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    return np.round(to_rgb_float(image) * 255.0).astype(np.uint8)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write a gray or RGB(A) uint8/uint16 image; the format follows the suffix.

    Folders are created as needed; TIFFs are zlib-compressed; written atomically
    (:func:`~orescope.io.atomic.atomic_path`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from orescope.io import read_image, write_image
    >>> path = Path(tempfile.mkdtemp()) / "out" / "gray16.tif"
    >>> write_image(path, np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    >>> int(read_image(path).max())
    55000
    """
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        with atomic_path(path) as partial:
            tifffile.imwrite(partial, image, compression="zlib")
        return
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise InputError(path, "cannot encode image")
    with atomic_path(path) as partial:
        encoded.tofile(partial)


def output_names(paths: list[Path]) -> list[str]:
    """The name of each input's output folder: its stem, or ``<folder>_<stem>`` where two
    inputs share a stem (``day1/a.jpg`` and ``day2/a.jpg`` would overwrite each other).

    Examples
    --------
    >>> output_names([Path("day1/a.jpg"), Path("day2/a.png"), Path("day2/b.jpg")])
    ['day1_a', 'day2_a', 'b']
    """
    stems = [  # panorama.ome.zarr: panorama
        path.stem.removesuffix(".ome") if path.suffix == ".zarr" else path.stem for path in paths
    ]
    return [
        stem if stems.count(stem) == 1 else f"{path.parent.name}_{stem}"
        for path, stem in zip(paths, stems, strict=True)
    ]


def find_images(inputs: list[str | Path]) -> list[Path]:
    """Expand files and folders into a sorted list of image files (folders are not recursed).

    A file is returned even if its suffix is unknown so that reading it reports why it failed,
    and so is a zarr folder (a panorama, :mod:`orescope.io.panoramas`); a folder without
    images is an error.

    Examples
    --------
    >>> import tempfile
    >>> from orescope.io import find_images
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("b.png", "a.tif", "notes.txt"):
    ...     (folder / name).touch()
    >>> [path.name for path in find_images([folder])]
    ['a.tif', 'b.png']
    """
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir() and not is_zarr_image(item):
            try:
                images = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            except OSError as error:
                raise InputError(item, f"folder cannot be read ({error.strerror})") from None
            if not images:
                raise InputError(item, "folder contains no images")
            found.extend(images)
        elif item.exists():
            found.append(item)
        else:
            raise InputError(item, "no such file or folder")
    return found
