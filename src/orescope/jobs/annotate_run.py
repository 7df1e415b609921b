"""``orescope annotate``: labels from scribbles, written into a dataset ``orescope train``
reads, and the parts of an image where a model is least sure, proposed for labelling next.

A dataset here is the LumenStone layout: ``images/<stem>.jpg``, ``masks/<stem>.png`` (uint8
class indices, :data:`~orescope.preprocess.superpixels.UNLABELLED` = 255 where no stroke
reached: train with ``loss.ignore_index: 255``) and ``classes.yaml``. Images of several runs
gather in one folder, so the registry of a folder is written once and must match afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from orescope.errors import InputError
from orescope.infer.settings import InferenceSettings, predict_bands
from orescope.infer.uncertainty import (
    Measure,
    UncertaintyMaps,
    proposal_table,
    propose_regions,
    uncertainty_maps,
)
from orescope.io import (
    ClassRegistry,
    atomic_path,
    read_class_registry,
    read_image,
    read_mask,
    write_image,
    write_table,
    write_text,
)
from orescope.io.images import to_rgb_float, to_uint8_rgb
from orescope.jobs.minerals import model_input, shared_section_model
from orescope.preprocess.normalise import zscore_normaliser
from orescope.preprocess.resample import resize_image
from orescope.preprocess.superpixels import (
    DEFAULT_LEVELS,
    UNLABELLED,
    SuperpixelLevel,
    labels_from_scribbles,
)

JPEG_QUALITY = 95  # images that are no JPEG become one: the layout's loader reads *.jpg
JPEG_SUFFIXES = (".jpg", ".jpeg")
REGISTRY_NOTE = (
    "# Written by orescope annotate labels: masks/*.png hold these class indices and 255 where\n"
    "# no stroke reached; train with loss.ignore_index: 255 so that those pixels are skipped.\n"
)


@dataclass(frozen=True)
class LabelExport:
    """What ``annotate labels`` wrote, and the share of the image's pixels it labelled."""

    image: Path
    mask: Path
    labelled: float


@dataclass(frozen=True)
class UncertaintyExport:
    """The folder ``annotate uncertainty`` wrote into, the share of the image proposed and the
    number of proposed regions."""

    out: Path
    proposed: float
    regions: int


def read_scribbles(
    path: str | Path, registry: ClassRegistry, classes_path: str | Path, shape: tuple[int, ...]
) -> np.ndarray:
    """A scribble mask (uint8 class index per stroked pixel, 255 elsewhere) of an image of
    ``shape``, refused when it is of another size, holds no stroke, or names classes the
    registry (read from ``classes_path``) does not list."""
    scribbles = read_mask(path)
    if scribbles.shape != shape:
        raise InputError(path, f"scribbles {scribbles.shape} and image {shape} differ in size")
    strokes = np.unique(scribbles[scribbles != UNLABELLED]).tolist()
    if not strokes:
        raise InputError(path, f"holds no stroke: every pixel is {UNLABELLED} (unlabelled)")
    unknown = sorted(set(strokes) - set(registry.indices))
    if unknown:
        raise InputError(
            path,
            f"class indices {unknown} are not in {Path(classes_path).name} "
            f"({Path(classes_path)}); {UNLABELLED} marks pixels without a stroke",
        )
    return scribbles


def annotate_labels(
    image_path: str | Path,
    scribbles_path: str | Path,
    out: str | Path,
    classes_path: str | Path,
    levels: Sequence[SuperpixelLevel] = DEFAULT_LEVELS,
    fill: bool = False,
) -> LabelExport:
    """Labels of one image from its scribbles
    (:func:`~orescope.preprocess.superpixels.labels_from_scribbles`), written into the
    dataset folder ``out`` as ``images/<stem>.jpg`` (a JPEG input copied byte for byte),
    ``masks/<stem>.png`` and ``classes.yaml``, each atomically.

    Raises
    ------
    InputError
        For an unreadable image, scribble file or registry, scribbles of unknown classes, a
        registry that uses 255, or a folder whose ``classes.yaml`` lists other classes.
    """
    image_path, out, classes_path = Path(image_path), Path(out), Path(classes_path)
    registry = labelling_registry(classes_path)
    image = read_image(image_path)
    scribbles = read_scribbles(scribbles_path, registry, classes_path, image.shape[:2])
    check_dataset_registry(out, registry)
    labels = labels_from_scribbles(image, scribbles, levels, fill)
    return write_labelled(out, image_path, image, labels, registry)


def labelling_registry(classes_path: Path) -> ClassRegistry:
    """The class registry to label with, refused when it uses the index of unlabelled pixels."""
    registry = read_class_registry(classes_path)
    if UNLABELLED in registry.indices:
        raise InputError(
            classes_path, f"class index {UNLABELLED} is taken: it marks unlabelled pixels"
        )
    return registry


def check_dataset_registry(out: Path, registry: ClassRegistry) -> None:
    """Refuse a dataset folder whose ``classes.yaml`` lists other classes than ``registry``:
    its masks would mean other minerals."""
    existing = out / "classes.yaml"
    if existing.is_file() and read_class_registry(existing) != registry:
        raise InputError(existing, "lists other classes than --classes: use a new folder")


def write_labelled(
    out: Path,
    image_path: Path,
    image: np.ndarray,
    labels: np.ndarray,
    registry: ClassRegistry,
    scribbles: np.ndarray | None = None,
) -> LabelExport:
    """Write one labelled image into the dataset folder ``out``, each file atomically:
    ``images/<stem>.jpg`` (a JPEG input copied byte for byte), ``masks/<stem>.png``,
    ``scribbles/<stem>.png`` when ``scribbles`` are given, and ``classes.yaml`` the first
    time."""
    stem = image_path.stem
    image_out, mask_out = out / "images" / f"{stem}.jpg", out / "masks" / f"{stem}.png"
    with atomic_path(image_out) as partial:
        if image_path.suffix.lower() in JPEG_SUFFIXES:
            shutil.copyfile(image_path, partial)
        else:
            _write_jpeg(partial, to_uint8_rgb(image))
    write_image(mask_out, labels)
    if scribbles is not None:
        write_image(out / "scribbles" / f"{stem}.png", scribbles)
    registry_out = out / "classes.yaml"
    if not registry_out.is_file():
        write_text(registry_out, REGISTRY_NOTE + yaml.safe_dump(_registry_document(registry)))
    return LabelExport(image_out, mask_out, float(np.mean(labels != UNLABELLED)))


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise InputError(path, "cannot encode image as JPEG")
    encoded.tofile(path)


def _registry_document(registry: ClassRegistry) -> dict:
    """The registry in the layout of ../shared/data's ``classes.yaml``."""
    document: dict = {"classes": {c.index: c.name for c in registry.classes}}
    abbreviations = {c.index: c.abbreviation for c in registry.classes if c.abbreviation}
    if abbreviations:
        document["abbreviations"] = abbreviations
    document["palette"] = {c.index: list(c.colour) for c in registry.classes}
    return document


def annotate_uncertainty(
    image_path: str | Path,
    out: str | Path,
    model: str = "lumenstone",
    fraction: float = 0.05,
    measure: Measure = "entropy",
    superpixel_px: int = 1000,
    xpl_path: str | Path | None = None,
    progress: bool = True,
) -> UncertaintyExport:
    """Entropy and margin of a section ``model``'s probabilities on one image, and the most
    uncertain ``fraction`` of it by ``measure``, as whole SLIC superpixels of about
    ``superpixel_px`` pixels (0: single pixels). Writes into ``out``: ``entropy.png`` and
    ``margin.png`` (uint8, 255 = 1), ``proposal.png`` (255 = proposed), ``proposals.csv``
    (the proposed regions, most uncertain first) and ``config.yaml``.

    The model runs as ``predict minerals`` runs it (its trained scale, tiles streamed), and
    the maps are scaled back to the image's size.
    """
    if measure not in ("entropy", "margin"):
        raise InputError(None, f"measure must be entropy or margin, not {measure}")
    if not 0 < fraction <= 1:
        raise InputError(None, f"fraction must be in (0, 1], got {fraction}")
    out = Path(out)
    loaded = shared_section_model(model)
    card = loaded.card
    image = read_image(image_path)
    xpl = read_image(xpl_path) if xpl_path is not None else None
    stacked = model_input(image, xpl, card.in_channels)
    assert isinstance(stacked, np.ndarray)  # a photo in, a photo out (panoramas: predict)
    pixels = resize_image(stacked, card.input_scale)
    settings = InferenceSettings.for_model(loaded, progress=progress)
    normalise = zscore_normaliser(pixels, card.in_channels, card.fixed_stats)
    bands = predict_bands(pixels, loaded.network, normalise, settings)
    maps = _at_size(uncertainty_maps(pixels.shape[:2], bands), image.shape[:2])
    superpixels = None
    if superpixel_px:
        superpixels = SuperpixelLevel("slic", superpixel_px).segment(to_rgb_float(image))
    proposal = propose_regions(maps.doubt(measure), fraction, superpixels)
    table = proposal_table(proposal, maps, measure)
    write_image(out / "entropy.png", _as_uint8(maps.entropy))
    write_image(out / "margin.png", _as_uint8(maps.margin))
    write_image(out / "proposal.png", proposal.astype(np.uint8) * 255)
    write_table(out / "proposals.csv", table)
    settings_used = {
        "image": str(image_path),
        "xpl": str(xpl_path) if xpl_path is not None else None,
        "model": model,
        "fraction": fraction,
        "measure": measure,
        "superpixel_px": superpixel_px,
    }
    write_text(out / "config.yaml", yaml.safe_dump(settings_used, sort_keys=False))
    return UncertaintyExport(out, float(proposal.mean()), len(table))


def _at_size(maps: UncertaintyMaps, shape: tuple[int, ...]) -> UncertaintyMaps:
    """The maps resized (bilinear) to the input image's ``shape`` (H, W)."""
    if maps.entropy.shape == shape:
        return maps
    size = (shape[1], shape[0])
    return UncertaintyMaps(
        cv2.resize(maps.entropy, size, interpolation=cv2.INTER_LINEAR),
        cv2.resize(maps.margin, size, interpolation=cv2.INTER_LINEAR),
    )


def _as_uint8(values: np.ndarray) -> np.ndarray:
    """A [0, 1] map as uint8 0–255, for a PNG heat map."""
    return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)
