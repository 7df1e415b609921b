"""Write synthetic scenes in the gravel layout, so every dataset loader and command reads them."""

from __future__ import annotations

from pathlib import Path

import yaml
from rich.progress import track

from orescope.io import write_image, write_labels, write_text
from orescope.synth.particles import SceneConfig, synthesize_scene


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
