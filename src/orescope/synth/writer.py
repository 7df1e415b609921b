"""Write synthetic scenes in the gravel layout, so every dataset loader and command reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from rich.progress import track

from orescope.errors import InputError
from orescope.io import find_images, write_image, write_labels, write_text
from orescope.io.datasets import ParticleSample, load_conveyor, load_gravel
from orescope.io.images import to_uint8_rgb
from orescope.synth.particles import SceneConfig, synthesize_scene
from orescope.synth.wet import wet_image


def write_scenes(
    out: str | Path, config: SceneConfig, count: int, progress: bool = True
) -> list[Path]:
    """``out/images/scene_NNN.png``, ``out/labels/scene_NNN.tif`` and ``out/resolutions.csv``;
    scene ``i`` uses seed ``config.seed + i``.

    The layout of the gravel data set, so that training, evaluation and the dataset loaders
    read generated scenes as they read real ones. Returns the image paths.

    Examples
    --------
    >>> import tempfile
    >>> from orescope.synth import SceneConfig, write_scenes
    >>> out = Path(tempfile.mkdtemp())
    >>> config = SceneConfig(height=64, width=64, x50_mm=3)
    >>> [path.name for path in write_scenes(out, config, count=2, progress=False)]
    ['scene_000.png', 'scene_001.png']
    >>> (out / "resolutions.csv").read_text().splitlines()
    ['name,resolution', 'scene_000,0.25', 'scene_001,0.25']
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.yaml", yaml.safe_dump(config.model_dump(), sort_keys=False))
    lines = ["name,resolution"]
    paths = []
    for index in track(range(count), description="scenes", disable=not progress):
        scene = synthesize_scene(config.model_copy(update={"seed": config.seed + index}))
        name = f"scene_{index:03d}"
        write_image(out / "images" / f"{name}.png", scene.image)
        write_labels(out / "labels" / f"{name}.tif", scene.labels)
        lines.append(f"{name},{scene.mm_per_px}")
        paths.append(out / "images" / f"{name}.png")
    write_text(out / "resolutions.csv", "\n".join(lines) + "\n")
    return paths


def write_wet_pairs(
    source: str | Path,
    out: str | Path,
    wetness: tuple[float, float] = (0.2, 1.0),
    seed: int = 0,
    progress: bool = True,
) -> list[Path]:
    """Wet twins of the dry images of ``source``: ``out/dry/<stem>.png`` (the dry image as it
    was), ``out/wet/<stem>.png``, ``out/labels/<stem>.tif`` (the dry image's, valid for both),
    ``out/resolutions.csv`` and ``out/wetness.csv`` (each pair's wetness, drawn uniformly from
    ``wetness``; pair ``i`` uses seed ``seed + i``). Returns the wet images' paths.

    ``source`` is a folder in the gravel layout (``images/``, ``labels/``, optionally
    ``resolutions.csv``: ``orescope synth particles`` writes one), the conveyor layout
    (``images/`` and COCO ``annotations.json``), or images without labels (then the height
    of the surfaces comes from their brightness). The same ``dry/``, ``wet/`` layout takes a
    user's own real pairs.

    Examples
    --------
    >>> import tempfile
    >>> from orescope.synth import SceneConfig, write_scenes, write_wet_pairs
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_scenes(folder / "dry", SceneConfig(height=64, width=64, x50_mm=3), 2, False)
    >>> [p.name for p in write_wet_pairs(folder / "dry", folder / "pairs", progress=False)]
    ['scene_000.png', 'scene_001.png']
    >>> sorted(p.name for p in (folder / "pairs").iterdir())
    ['dry', 'labels', 'resolutions.csv', 'wet', 'wetness.csv']
    """
    low, high = wetness
    if not 0 <= low <= high <= 1:
        raise InputError(Path(source), f"wetness runs from 0 to 1 (low, high), got {wetness}")
    out = Path(out)
    samples = _dry_samples(Path(source))
    rows, scales, paths = ["name,wetness,seed"], ["name,resolution"], []
    for index, sample in enumerate(track(samples, description="wet", disable=not progress)):
        image = to_uint8_rgb(sample.read_image())
        labels = None if sample.image_path == sample.labels_path else sample.read_labels()
        if labels is not None and labels.shape != image.shape[:2]:
            reason = f"labels {labels.shape} and image {image.shape[:2]} differ in size"
            raise InputError(sample.labels_path or sample.image_path, reason)
        rng = np.random.default_rng(seed + index)
        level = float(rng.uniform(low, high))
        write_image(out / "dry" / f"{sample.stem}.png", image)
        write_image(out / "wet" / f"{sample.stem}.png", wet_image(image, labels, level, rng))
        if labels is not None:
            write_labels(out / "labels" / f"{sample.stem}.tif", labels)
        rows.append(f"{sample.stem},{level:.4f},{seed + index}")
        if sample.mm_per_px is not None:
            scales.append(f"{sample.stem},{sample.mm_per_px}")
        paths.append(out / "wet" / f"{sample.stem}.png")
    write_text(out / "wetness.csv", "\n".join(rows) + "\n")
    if len(scales) > 1:
        write_text(out / "resolutions.csv", "\n".join(scales) + "\n")
    return paths


def _dry_samples(source: Path) -> list[ParticleSample]:
    """The images of ``source`` with their labels where its layout has them (an image
    without labels names itself as its labels)."""
    if (source / "labels").is_dir():
        return load_gravel(source)
    if (source / "annotations.json").is_file():
        return load_conveyor(source)
    return [ParticleSample(p.stem, p, None, labels_path=p) for p in find_images([source])]
