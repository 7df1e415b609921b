"""Class registries: class index -> name and display colour, loaded from YAML."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, Field, model_validator

from orescope.errors import InputError

# the pixel value of section masks that a sparse labelling (scribbles, calibration regions) left
# open: no class may take it, training skips it (``loss.ignore_index: 255``)
UNLABELLED = 255


class MineralClass(BaseModel):
    index: int = Field(ge=0, le=255)
    name: str
    abbreviation: str = ""
    colour: tuple[int, int, int] = (0, 0, 0)


class ClassRegistry(BaseModel):
    """Ordered classes; indices are the pixel values of class masks and are never renumbered."""

    classes: list[MineralClass]

    @model_validator(mode="after")
    def _unique_indices(self) -> ClassRegistry:
        indices = [c.index for c in self.classes]
        duplicates = sorted({i for i in indices if indices.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate class indices {duplicates}")
        self.classes.sort(key=lambda c: c.index)
        return self

    @property
    def indices(self) -> list[int]:
        return [c.index for c in self.classes]

    def name(self, index: int) -> str:
        return next(c.name for c in self.classes if c.index == index)

    def lookup_table(self) -> np.ndarray:
        """A 256x3 uint8 table: ``table[mask]`` paints a class mask in the registry's colours."""
        table = np.zeros((256, 3), dtype=np.uint8)
        for mineral in self.classes:
            table[mineral.index] = mineral.colour
        return table

    def check_mask(
        self, mask: np.ndarray, source: str | Path, unlabelled: int | None = None
    ) -> None:
        """A mask may only hold indices the registry knows, and ``unlabelled`` (the index a
        training loss skips, ``loss.ignore_index``) where a sparse labelling left pixels open."""
        unknown = sorted(set(np.unique(mask).tolist()) - {*self.indices, unlabelled})
        if unknown:
            raise InputError(
                source, f"mask holds class indices {unknown} missing from the registry"
            )


def _default_colour(index: int) -> tuple[int, int, int]:
    """A distinct colour for classes whose YAML gives none (golden-angle hues)."""
    if index == 0:
        return (0, 0, 0)
    r, g, b = colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


def read_class_registry(path: str | Path) -> ClassRegistry:
    """Load a registry YAML with mappings ``classes`` (index: name) and optional ``palette``
    (index: [r, g, b]) and ``abbreviations`` (index: text), the layout of ../shared/data."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
        names = document["classes"]
        palette = document.get("palette") or {}
        abbreviations = document.get("abbreviations") or {}
        classes = [
            MineralClass(
                index=int(index),
                name=str(name),
                abbreviation=str(abbreviations.get(index, "")),
                colour=tuple(palette.get(index, _default_colour(int(index)))),
            )
            for index, name in names.items()
        ]
        return ClassRegistry(classes=classes)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as error:
        reason = str(error).splitlines()[-1] if str(error) else type(error).__name__
        raise InputError(path, f"invalid class registry ({reason})") from error
