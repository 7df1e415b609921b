"""Write synthetic scenes in the gravel layout, so every dataset loader and command reads them."""

from __future__ import annotations

from pathlib import Path

import yaml
from rich.progress import track

from orescope.io import write_image, write_labels
from orescope.synth.particles import SceneConfig, synthesize_scene


def write_scenes(
    out: str | Path, config: SceneConfig, count: int, progress: bool = True
) -> list[Path]:
    """``out/images/scene_NNN.png``, ``out/labels/scene_NNN.tif`` and ``out/resolutions.csv``;
    scene ``i`` uses seed ``config.seed + i``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.model_dump(), sort_keys=False))
    lines = ["name,resolution"]
    paths = []
    for index in track(range(count), description="scenes", disable=not progress):
        scene = synthesize_scene(config.model_copy(update={"seed": config.seed + index}))
        name = f"scene_{index:03d}"
        write_image(out / "images" / f"{name}.png", scene.image)
        write_labels(out / "labels" / f"{name}.tif", scene.labels)
        lines.append(f"{name},{scene.mm_per_px}")
        paths.append(out / "images" / f"{name}.png")
    (out / "resolutions.csv").write_text("\n".join(lines) + "\n")
    return paths
