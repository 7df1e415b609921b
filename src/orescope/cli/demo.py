"""``orescope demo``: the whole particle job, offline, on a real gravel photo and on generated
belt scenes, each scored against its known particles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orescope.cli.errors import one_line_errors

console = Console()
# a real photo bundled with the package (BSD-3, see samples/gravel/LICENSE.md), held out from
# the training of the `particles` model
GRAVEL_PHOTO = Path(__file__).resolve().parents[1] / "samples" / "gravel"
SCENE_SETTINGS = {"height": 768, "width": 768, "mm_per_px": 0.25, "x50_mm": 7.0, "seed": 2026}


def _scores(mean: dict) -> str:
    return (
        f"AP50 {mean['ap50']:.2f}, F1_match {mean['f1_match']:.2f}, "
        f"P50 error {100 * mean['p50_relative_error']:+.1f} %"
    )


@one_line_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo"),
) -> None:
    """Find and measure the particles of a real gravel photo (DIR/gravel_photo/report.html) and
    of three generated belt scenes (DIR/report.html) with the bundled model, and score both
    against their known particles (metrics.json beside each report)."""
    from orescope.io import load_gravel
    from orescope.jobs import ParticleConfig, run_particles
    from orescope.jobs.particle_evaluation import evaluate_particles
    from orescope.synth import SceneConfig, write_scenes

    (photo,) = load_gravel(GRAVEL_PHOTO)
    photo_out = out / "gravel_photo"
    run_particles([photo.image_path], photo_out, ParticleConfig(mm_per_px=photo.mm_per_px))
    real = evaluate_particles(photo_out, GRAVEL_PHOTO / "labels", photo_out)["mean"]

    scene = SceneConfig(**SCENE_SETTINGS)
    samples = out / "samples"
    write_scenes(samples, scene, count=3)
    run_particles([samples / "images"], out, ParticleConfig(mm_per_px=scene.mm_per_px))
    generated = evaluate_particles(out, samples / "labels", out)["mean"]

    console.print(
        f"real gravel photo ({photo.mm_per_px} mm/px, never trained on): "
        f"{photo_out / 'report.html'}\n"
        f"  against its hand-drawn grains: {_scores(real)}\n"
        f"three generated belt scenes: {out / 'report.html'}\n"
        f"  against the known particles: {_scores(generated)}",
        soft_wrap=True,  # paths stay whole on a narrow terminal, to copy and open
    )
