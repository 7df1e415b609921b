"""``orescope stitch``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orescope.cli.errors import one_line_errors
from orescope.errors import InputError


def parse_grid(text: str | None) -> tuple[int, int] | None:
    """``5x5`` (columns × rows) as (5, 5); None when not given.

    Examples
    --------
    >>> parse_grid("6x4")
    (6, 4)
    """
    if text is None:
        return None
    columns, _, rows = text.lower().replace("×", "x").partition("x")
    if not (columns.strip().isdigit() and rows.strip().isdigit()):
        raise InputError(None, f"--grid {text!r}: give COLUMNSxROWS, e.g. 5x5")
    return int(columns), int(rows)


@one_line_errors
def stitch(
    fields_dir: Annotated[
        Path,
        typer.Argument(help="Folder of overlapping field photos, named in the stage's order."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output folder: panorama.ome.zarr, poses.csv and unmatched.csv."
        ),
    ],
    blank: Annotated[
        Path | None,
        typer.Option(help="Photo of an empty field under the same light, for flat-field."),
    ] = None,
    grid: Annotated[
        str | None,
        typer.Option(
            help="The stage's grid, COLUMNSxROWS (e.g. 5x5): only neighbours are matched, "
            "and fields that match nothing are placed by it."
        ),
    ] = None,
    overlap: Annotated[
        float, typer.Option(help="Nominal overlap of grid neighbours, a fraction of a side.")
    ] = 0.2,
    model: Annotated[
        str,
        typer.Option(
            help="translation (a sliding stage), rigid (fields also turn a little) or affine."
        ),
    ] = "translation",
    order: Annotated[
        str,
        typer.Option(help="How the stage walks the grid: row (each row left to right) or snake."),
    ] = "row",
    seams: Annotated[
        bool,
        typer.Option(
            help="Cut overlaps along the paths where fields differ least; --no-seams feathers "
            "across the whole overlap (anything that moved between fields shows doubled)."
        ),
    ] = True,
) -> None:
    """Stitch overlapping microscope fields of a polished section into one panorama:
    flat-field, keypoint matching, every field's pose at once, exposure gains, seams through
    the least visible paths and feather blending, written tile by tile as a pyramidal
    OME-Zarr."""
    from orescope.jobs.stitch_run import StitchConfig, run_stitch

    config = StitchConfig.model_validate(
        {
            "grid": parse_grid(grid),
            "overlap": overlap,
            "model": model,
            "order": order,
            "seams": seams,
        }
    )
    outcome = run_stitch(fields_dir, out, config, blank=blank)
    height, width = outcome.shape
    typer.echo(
        f"{len(outcome.poses)} fields stitched into {outcome.panorama} ({width} × {height} px)"
    )
    for row in outcome.unmatched.itertuples():
        typer.echo(f"unmatched: {row.field}: {row.reason} ({row.placed})")
