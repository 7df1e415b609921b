"""Instance label images (uint16/uint32 TIFF) and class masks (uint8 PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from orescope.errors import InputError
from orescope.io.atomic import atomic_path
from orescope.io.images import read_image, read_tiff


def read_labels(path: str | Path) -> np.ndarray:
    """Read an instance label image (TIFF or 16-bit PNG) as uint32 ``(H, W)``; 0 is background.

    Always uint32, whatever the file stores, so that label arithmetic never wraps around.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from orescope.io import read_labels, write_labels
    >>> labels = np.zeros((4, 5), dtype=np.uint16)
    >>> labels[1:3, 1:4] = 7
    >>> path = Path(tempfile.mkdtemp()) / "labels.tif"
    >>> write_labels(path, labels)
    >>> read_labels(path).dtype, np.array_equal(read_labels(path), labels)
    (dtype('uint32'), True)
    """
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        if not path.is_file():
            raise InputError(path, "no such file")
        labels = read_tiff(path)
    else:
        labels = read_image(path)
    if labels.ndim != 2 or labels.size == 0:
        raise InputError(path, f"label image must be 2D and non-empty, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(path, f"label image must hold integers, got {labels.dtype}")
    if labels.min() < 0:
        raise InputError(path, "label image holds negative ids")
    return labels.astype(np.uint32, copy=False)


def write_labels(path: str | Path, labels: np.ndarray) -> None:
    """Write instance labels as a zlib-compressed uint32 TIFF (the ``labels.tif`` contract).

    zlib level 1: label images are long runs of one id, so the fastest level already
    compresses them ~40×; the default level 6 took twice the time for files 15 % smaller.
    uint32 labels are written as they are, not copied: a panorama's are 0.4 GB. Written
    atomically (:func:`~orescope.io.atomic.atomic_path`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from orescope.io import read_labels, write_labels
    >>> path = Path(tempfile.mkdtemp()) / "scene" / "labels.tif"
    >>> write_labels(path, np.array([[0, 1], [2, 70000]]))
    >>> read_labels(path).tolist()
    [[0, 1], [2, 70000]]
    """
    pixels = np.asarray(labels, dtype=np.uint32)
    with atomic_path(path) as partial:
        tifffile.imwrite(partial, pixels, compression="zlib", compressionargs={"level": 1})


def read_mask(path: str | Path) -> np.ndarray:
    """Read a class mask (one class index per pixel) as uint8 ``(H, W)``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from orescope.io import read_mask, write_image
    >>> path = Path(tempfile.mkdtemp()) / "regions.png"
    >>> write_image(path, np.array([[0, 3], [255, 3]], dtype=np.uint8))
    >>> read_mask(path).tolist()
    [[0, 3], [255, 3]]
    """
    mask = read_image(path)
    if mask.ndim != 2:
        raise InputError(path, f"class mask must be single-channel, got shape {mask.shape}")
    if mask.dtype != np.uint8:
        if mask.max() > 255:
            raise InputError(path, f"class mask index {int(mask.max())} exceeds 255")
        mask = mask.astype(np.uint8)
    return mask
