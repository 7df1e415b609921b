"""``orescope restore``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orescope.cli.errors import one_line_errors
from orescope.cli.predict import Resume


@one_line_errors
def restore(
    inputs: Annotated[list[Path], typer.Argument(help="Wet photos, or folders of them.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    model: Annotated[
        str,
        typer.Option(
            help="Restoration model (zoo name, folder or .safetensors), or 'inpaint' for the "
            "specular highlights painted over (paper 004's classical method)."
        ),
    ] = "restore",
    resume: Resume = False,
) -> None:
    """Wet photos of ore made dry before particles are measured: DIR/<stem>.png, the input's
    size, by a restoration model (paper 004's improved pix2pix) or by inpainting."""
    from orescope.jobs.restore_run import run_restore

    outcome = run_restore(list(inputs), out, model=model, resume=resume)
    typer.echo(f"{len(outcome.processed)} restored into {out}, {len(outcome.failures)} failed")
