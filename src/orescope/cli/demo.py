"""``orescope demo``: the whole particle job on bundled (generated) scenes, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orescope.cli.errors import one_line_errors
from orescope.jobs import ParticleConfig, run_particles
from orescope.jobs.particle_evaluation import evaluate_particles
from orescope.synth import SceneConfig, write_scenes

console = Console()
DEMO_SCENE = SceneConfig(height=768, width=768, mm_per_px=0.25, x50_mm=7.0, seed=2026)


@one_line_errors
def demo(out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo")) -> None:
    """Generate three belt scenes with known particles, find and measure them with the bundled
    model, write DIR/report.html and score the result against the known particles
    (DIR/metrics.json)."""
    samples = out / "samples"
    write_scenes(samples, DEMO_SCENE, count=3)
    run_particles([samples / "images"], out, ParticleConfig(mm_per_px=DEMO_SCENE.mm_per_px))
    mean = evaluate_particles(out, samples / "labels", out)["mean"]
    console.print(
        f"report: {out / 'report.html'}\n"
        f"against the known particles: AP50 {mean['ap50']:.2f}, F1_match {mean['f1_match']:.2f}, "
        f"P50 error {100 * mean['p50_relative_error']:+.1f} %"
    )
