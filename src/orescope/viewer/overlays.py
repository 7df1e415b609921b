"""Pictures laid over the image in the viewer: a label map in its registry's colours and the
uncertainty maps of ``orescope annotate uncertainty`` as heat maps, each an RGBA uint8 image of
the photo's size whose opacity the page sets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from orescope.errors import InputError
from orescope.io import ClassRegistry, read_image, read_mask
from orescope.io.classes import UNLABELLED

# file of ``annotate uncertainty`` -> whether 255 means sure (margin) rather than unsure
UNCERTAINTY_MAPS = {"entropy": False, "margin": True}


def label_overlay(labels: np.ndarray, registry: ClassRegistry) -> np.ndarray:
    """RGBA of a class map in the registry's colours, transparent where unlabelled (255).

    Examples
    --------
    >>> from orescope.io import MineralClass
    >>> registry = ClassRegistry(classes=[MineralClass(index=1, name="pyrite", colour=(9, 8, 7))])
    >>> label_overlay(np.array([[1, 255]], np.uint8), registry).tolist()
    [[[9, 8, 7, 255], [0, 0, 0, 0]]]
    """
    alpha = np.where(labels == UNLABELLED, 0, 255).astype(np.uint8)
    return np.dstack([registry.lookup_table()[labels], alpha])


def heat_overlay(doubt: np.ndarray) -> np.ndarray:
    """Opaque RGBA of a uint8 map (255: most unsure) in the inferno colour map: dark where the
    model is sure, bright yellow where it is not."""
    rgb = cv2.cvtColor(cv2.applyColorMap(doubt, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    return np.dstack([rgb, np.full(doubt.shape, 255, np.uint8)])


def read_label_map(path: Path, registry: ClassRegistry, shape: tuple[int, int]) -> np.ndarray:
    """A class map (``classes.png`` of ``predict minerals`` or a mask) of an image of ``shape``
    (H, W), in ``registry``'s indices (255: none).

    Raises
    ------
    InputError
        For a file that cannot be read, is of another size than the image, or holds classes
        the registry does not list.
    """
    labels = _of_size(read_mask(path), shape, path)
    registry.check_mask(labels, path, UNLABELLED)
    return labels


def read_overlays(
    registry: ClassRegistry,
    shape: tuple[int, int],
    labels: np.ndarray | None = None,
    uncertainty_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """The overlays of an image of ``shape`` (H, W) by name: ``labels`` from a class map
    (:func:`read_label_map`), ``entropy`` and ``margin`` (shown as 1 − margin, so that bright
    means unsure in both) from the folder ``annotate uncertainty`` wrote.

    Raises
    ------
    InputError
        For an uncertainty map that cannot be read, is missing or of another size than the
        image.
    """
    overlays = {}
    if labels is not None:
        overlays["labels"] = label_overlay(labels, registry)
    if uncertainty_dir is not None:
        for name, sure_is_high in UNCERTAINTY_MAPS.items():
            path = uncertainty_dir / f"{name}.png"
            if not path.is_file():
                raise InputError(
                    uncertainty_dir,
                    f"has no {name}.png: write it with orescope annotate uncertainty",
                )
            values = _of_size(read_image(path), shape, path)
            if values.ndim != 2 or values.dtype != np.uint8:
                raise InputError(path, "is no 8-bit gray map")
            overlays[name] = heat_overlay(255 - values if sure_is_high else values)
    return overlays


def _of_size(picture: np.ndarray, shape: tuple[int, int], path: Path) -> np.ndarray:
    if picture.shape[:2] != shape:
        raise InputError(path, f"is {picture.shape[:2]}, the image {shape}: they must match")
    return picture
