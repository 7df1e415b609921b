"""``orescope evaluate ...``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orescope.cli.errors import one_line_errors

app = typer.Typer(help="Compare predictions with ground truth.", no_args_is_help=True)
console = Console()


@app.command("particles")
@one_line_errors
def particles(
    pred: Annotated[Path, typer.Option("--pred", help="Output folder of 'predict particles'.")],
    truth: Annotated[Path, typer.Option("--truth", help="Folder of reference label TIFFs.")],
    out: Annotated[Path | None, typer.Option("--out", help="Where metrics.json goes.")] = None,
) -> None:
    """AP@0.5/0.75/0.9, F1_match, F1_instance, merger/splitter ratios, eta, pixel metrics."""
    from orescope.jobs.particle_evaluation import evaluate_particles

    result = evaluate_particles(pred, truth, out or pred)
    mean = _skipped_then_mean(result)
    console.print(
        "mean over {} image(s): AP50 {ap50:.3f}  F1_match {f1_match:.3f}  "
        "merger {merger_ratio:.3f}  splitter {splitter_ratio:.3f}  eta {eta:.3f}".format(
            len(result["images"]), **mean
        )
    )


@app.command("volume")
@one_line_errors
def volume(
    pred: Annotated[Path, typer.Option("--pred", help="Output folder of 'predict volume'.")],
    truth: Annotated[
        Path, typer.Option("--truth", help="Folder of reference label volumes (TIFF or zarr).")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Where metrics.json goes.")] = None,
) -> None:
    """Paper 002's F1, F1_match, F1_instance, merger and splitter ratios, AP@0.5, voxel
    metrics and the P50 error, per volume and their mean (volumes read block by block)."""
    from orescope.jobs.particle_evaluation import evaluate_volumes

    result = evaluate_volumes(pred, truth, out or pred)
    mean = _skipped_then_mean(result)
    console.print(
        "mean over {} volume(s): F1 {voxel_f1:.3f}  F1_match {f1_match:.3f}  "
        "F1_instance {f1_instance:.3f}  merger {merger_ratio:.3f}  splitter "
        "{splitter_ratio:.3f}  AP50 {ap50:.3f}".format(len(result["volumes"]), **mean)
    )


@app.command("restore")
@one_line_errors
def restore(
    pred: Annotated[Path, typer.Option("--pred", help="Output folder of 'restore'.")],
    truth: Annotated[Path, typer.Option("--truth", help="Folder of the dry reference images.")],
    out: Annotated[Path | None, typer.Option("--out", help="Where metrics.json goes.")] = None,
) -> None:
    """PSNR (dB) and SSIM of each restored image against its dry reference, and their mean."""
    from orescope.jobs.restore_run import evaluate_restore

    result = evaluate_restore(pred, truth, out or pred)
    mean = _skipped_then_mean(result)
    console.print(
        "mean over {} image(s): PSNR {psnr_db:.2f} dB  SSIM {ssim:.3f}".format(
            len(result["images"]), **mean
        )
    )


def _skipped_then_mean(result: dict) -> dict:
    """Print the predictions that could not be scored; return the mean scores."""
    for stem, reason in result["failures"].items():
        console.print(f"[yellow]skipped[/yellow] {stem}: {reason}", highlight=False)
    return result["mean"]
