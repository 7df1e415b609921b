"""Mineral statistics from a class map: modal mineralogy, grains, association, liberation.

Class maps hold registry indices (0 = background: epoxy, pores or the non-ore matrix); every
table keeps those indices next to the names, so nothing is renumbered.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from orescope.measure.particles import measure_particles
from orescope.measure.psd import size_distribution

GRAIN_LENGTHS = ("ecd", "feret_max", "feret_min", "ellipse_major", "ellipse_minor")
LIBERATION_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def modal_mineralogy(
    classes: np.ndarray, names: list[str], um_per_px: float | None = None, background: int = 0
) -> pd.DataFrame:
    """Area per class: pixels, % of the image and % of the non-background area (the modal
    mineralogy a microscopist reports), and µm² with a scale. One row per class in ``names``."""
    pixels = np.bincount(classes.ravel(), minlength=len(names))[: len(names)]
    return modal_from_pixels(pixels, names, um_per_px, background)


def modal_from_pixels(
    pixels: np.ndarray, names: list[str], um_per_px: float | None = None, background: int = 0
) -> pd.DataFrame:
    """``modal_mineralogy`` from pixel counts per class, e.g. added up over a series."""
    pixels = np.asarray(pixels, dtype=np.int64)
    minerals = pixels.sum() - pixels[background]
    table = pd.DataFrame({"index": np.arange(len(names)), "mineral": names, "pixels": pixels})
    table["area_percent"] = 100 * pixels / max(1, pixels.sum())
    table["mineral_percent"] = np.where(
        table["index"] == background, np.nan, 100 * pixels / max(1, minerals)
    )
    if um_per_px is not None:
        table["area_um2"] = pixels * um_per_px**2
    return table


def grain_labels(classes: np.ndarray, background: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grains: 8-connected regions of one class. Returns int32 grain labels (0 = background)
    and, per grain id, its class (``grain_class[id]``; entry 0 unused)."""
    labels = np.zeros(classes.shape, dtype=np.int32)
    grain_class = [background]
    for index in np.unique(classes):
        if index == background:
            continue
        count, components = cv2.connectedComponents(
            (classes == index).astype(np.uint8), connectivity=8
        )
        found = components > 0
        labels[found] = components[found] + len(grain_class) - 1
        grain_class += [int(index)] * (count - 1)
    return labels, np.asarray(grain_class, dtype=np.int64)


def measure_grains(
    classes: np.ndarray,
    names: list[str],
    um_per_px: float | None = None,
    min_grain_px: int = 16,
    background: int = 0,
) -> pd.DataFrame:
    """One row per grain of at least ``min_grain_px`` pixels: its class, area, centroid,
    equivalent-circle diameter, Feret and ellipse diameters (px, and µm with a scale), and
    whether it touches the image border."""
    labels, grain_class = grain_labels(classes, background)
    sizes = np.bincount(labels.ravel())
    small = sizes < min_grain_px
    small[0] = True
    keep = np.flatnonzero(~small)
    relabel = np.zeros(len(sizes), dtype=np.int32)
    relabel[keep] = np.arange(1, len(keep) + 1)
    table = measure_particles(relabel[labels]).rename(columns={"label": "grain"})
    table.insert(1, "index", grain_class[keep])
    table.insert(2, "mineral", [names[i] for i in grain_class[keep]])
    if um_per_px is not None:
        table["area_um2"] = table["area_px"] * um_per_px**2
        for name in GRAIN_LENGTHS:
            table[f"{name}_um"] = table[f"{name}_px"] * um_per_px
    return table


def grain_size_summary(grains: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per mineral: grain count and the area-weighted D10/D50/D90 of the equivalent-circle
    diameter (µm with a scale, else px): the grain-size distribution in three numbers."""
    unit = "um" if "ecd_um" in grains else "px"
    rows = []
    for index, name in enumerate(names):
        mine = grains[grains["index"] == index]
        row: dict = {"index": index, "mineral": name, "grains": len(mine)}
        if len(mine):
            curve = size_distribution(mine[f"ecd_{unit}"].to_numpy(), mine["area_px"].to_numpy())
            for percent in (10, 50, 90):
                row[f"ecd_D{percent}_{unit}"] = curve.size_at(percent)
        rows.append(row)
    return pd.DataFrame(rows)


def association(
    classes: np.ndarray, names: list[str], um_per_px: float | None = None
) -> pd.DataFrame:
    """Shared boundary length between each pair of classes: the number of 4-neighbour pixel
    pairs of classes (a, b), a ≠ b, counted once, as a symmetric table (px, or µm with a
    scale). Which minerals grow together tells how an ore will break and float."""
    count = len(names)
    pairs = np.zeros((count, count), dtype=np.float64)
    for first, second in (
        (classes[:, :-1], classes[:, 1:]),
        (classes[:-1, :], classes[1:, :]),
    ):
        differ = first != second
        codes = first[differ].astype(np.int64) * count + second[differ]
        pairs += np.bincount(codes, minlength=count * count).reshape(count, count)
    pairs = pairs + pairs.T
    if um_per_px is not None:
        pairs *= um_per_px
    return pd.DataFrame(pairs, index=pd.Index(names, name="mineral"), columns=names)


def liberation(classes: np.ndarray, mineral: int, background: int = 0) -> pd.DataFrame:
    """Liberation by composition: particles are 8-connected regions of non-background; each
    particle's share of ``mineral`` puts it in a bin (0–10 %, …, 90–<100 %, 100 % = liberated)
    and the table gives, per bin, the particles and the % of the mineral's area they hold."""
    count, particles = cv2.connectedComponents(
        (classes != background).astype(np.uint8), connectivity=8
    )
    area = np.bincount(particles.ravel(), minlength=count)[1:]
    held = np.bincount(particles[classes == mineral], minlength=count)[1:]
    holding = held > 0
    share = held[holding] / area[holding]
    edges = np.asarray(LIBERATION_BINS)
    bins = np.where(share >= 1.0, len(edges) - 1, np.digitize(share, edges[1:-1]))
    labels = [
        f"{int(100 * a)}-{int(100 * b)} %" for a, b in zip(edges[:-2], edges[1:-1], strict=True)
    ]
    labels += ["90-<100 %", "100 % (liberated)"]
    total = max(1, held.sum())
    return pd.DataFrame(
        {
            "mineral_share": labels,
            "particles": np.bincount(bins, minlength=len(labels)),
            "mineral_area_percent": 100
            * np.bincount(bins, weights=held[holding], minlength=len(labels))
            / total,
        }
    )
