"""Loaders for the dataset layouts in ../shared/data: each sample knows its files and its scale."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orescope.errors import InputError
from orescope.io.classes import ClassRegistry, read_class_registry
from orescope.io.coco import read_coco
from orescope.io.images import find_images, read_image, to_uint8_rgb
from orescope.io.labels import read_labels, read_mask

ROCK_CATEGORIES = {2, 3}  # conveyor COCO: 2 roca (rock), 3 glomero (agglomerate); 1 is the belt


@dataclass(frozen=True)
class ParticleSample:
    """An image with instance labels. ``sparse`` labels outline only some particles."""

    stem: str
    image_path: Path
    mm_per_px: float | None
    labels_path: Path | None = None
    coco_labels: np.ndarray | None = field(default=None, repr=False)
    sparse: bool = False

    def read_image(self) -> np.ndarray:
        return read_image(self.image_path)

    def read_labels(self) -> np.ndarray:
        if self.coco_labels is not None:
            return self.coco_labels
        assert self.labels_path is not None
        return read_labels(self.labels_path)

    def read_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """The image and its labels, refused when they differ in size or (dense labels) name
        no particle: a model would learn that the image is all background."""
        image, labels = self.read_image(), self.read_labels()
        source = self.labels_path or self.image_path
        if labels.shape != image.shape[:2]:
            raise InputError(
                source, f"labels {labels.shape} and image {image.shape[:2]} differ in size"
            )
        if not self.sparse and not labels.any():
            raise InputError(source, "the label image holds no particle")
        return image, labels


@dataclass(frozen=True)
class SectionSample:
    """A section photo (PPL or reflected light), optionally its XPL twin, and its class mask."""

    stem: str
    image_path: Path
    mask_path: Path
    xpl_path: Path | None = None

    def read_image(self) -> np.ndarray:
        return read_image(self.image_path)

    def read_xpl(self) -> np.ndarray | None:
        return read_image(self.xpl_path) if self.xpl_path else None

    def read_mask(self) -> np.ndarray:
        return read_mask(self.mask_path)


@dataclass(frozen=True)
class WetPair:
    """A wet photo of ore and the dry photo of the same ore, taken from the same place."""

    stem: str
    wet_path: Path
    dry_path: Path

    def read_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """Both as uint8 RGB, refused when they differ in size: a pair must match pixel for
        pixel to teach a restoration."""
        wet, dry = to_uint8_rgb(read_image(self.wet_path)), to_uint8_rgb(read_image(self.dry_path))
        if wet.shape != dry.shape:
            raise InputError(
                self.wet_path, f"{wet.shape[:2]} differs in size from its dry twin {dry.shape[:2]}"
            )
        return wet, dry


def _require_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(path, "dataset folder not found")
    return path


def load_gravel(root: str | Path) -> list[ParticleSample]:
    """``images/<stem>.jpg|png`` + ``labels/<stem>.tif``, mm/px from ``resolutions.csv`` where
    there is one.

    The layout of ../shared/data/gravel and ../shared/data/grains, also written by
    ``orescope synth particles``. Images and labels must pair up one to one.
    """
    root = _require_dir(Path(root))
    images = {p.stem: p for p in sorted((root / "images").glob("*.[jp][pn]g"))}
    labels = {p.stem for p in (root / "labels").glob("*.tif")}
    if not images:
        raise InputError(root / "images", "holds no .jpg or .png image")
    if unlabelled := sorted(images.keys() - labels):
        stem = unlabelled[0]
        raise InputError(root / "labels" / f"{stem}.tif", f"missing: the labels of {stem}")
    if orphans := sorted(labels - images.keys()):
        raise InputError(root / "labels" / f"{orphans[0]}.tif", "has no image of the same name")
    scale: dict[str, float] = {}  # without resolutions.csv the images have no scale
    if (root / "resolutions.csv").is_file():
        with open(root / "resolutions.csv", newline="") as handle:
            scale = {row["name"]: float(row["resolution"]) for row in csv.DictReader(handle)}
    return [
        ParticleSample(stem, path, scale.get(stem), labels_path=root / "labels" / f"{stem}.tif")
        for stem, path in images.items()
    ]


def load_conveyor(root: str | Path) -> list[ParticleSample]:
    """``conveyor/images/*.png`` with rock and agglomerate polygons from ``annotations.json``.

    The labels are sparse (unlabelled rocks are not background) and the scale is unknown.
    """
    root = _require_dir(Path(root))
    return [
        ParticleSample(
            Path(item.file_name).stem,
            root / "images" / item.file_name,
            None,
            coco_labels=item.labels,
            sparse=True,
        )
        for item in read_coco(root / "annotations.json", ROCK_CATEGORIES)
    ]


def load_lumenstone(root: str | Path) -> tuple[list[SectionSample], ClassRegistry]:
    """``lumenstone/images/<stem>.jpg`` + ``lumenstone/masks/<stem>.png`` and the class registry."""
    root = _require_dir(Path(root))
    samples = [
        SectionSample(path.stem, path, root / "masks" / f"{path.stem}.png")
        for path in sorted((root / "images").glob("*.jpg"))
    ]
    return samples, read_class_registry(root / "classes.yaml")


def load_wet_pairs(root: str | Path) -> list[WetPair]:
    """``wet/<stem>.*`` + ``dry/<stem>.*`` (``orescope synth wet``'s layout, or a user's own
    real pairs); an image without its partner is an error naming it."""
    root = _require_dir(Path(root))
    sides = {
        side: {path.stem: path for path in find_images([_require_dir(root / side)])}
        for side in ("wet", "dry")
    }
    for side, other in (("wet", "dry"), ("dry", "wet")):
        lonely = sorted(sides[side].keys() - sides[other].keys())
        if lonely:
            raise InputError(sides[side][lonely[0]], f"has no partner of that name in {other}/")
    return [WetPair(stem, path, sides["dry"][stem]) for stem, path in sorted(sides["wet"].items())]


def load_thinsections(root: str | Path) -> tuple[list[SectionSample], ClassRegistry]:
    """``thinsections/{ppl,xpl}/<id>.jpg`` + ``thinsections/masks/<id>.png`` and the registry."""
    root = _require_dir(Path(root))
    samples = [
        SectionSample(
            path.stem, path, root / "masks" / f"{path.stem}.png", root / "xpl" / path.name
        )
        for path in sorted((root / "ppl").glob("*.jpg"))
    ]
    return samples, read_class_registry(root / "classes.yaml")
