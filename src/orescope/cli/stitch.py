"""``orescope stitch``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

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


def parse_distortion(text: str | None) -> tuple[float, float] | Literal["auto"] | None:
    """``K1[,K2]`` as (k1, k2), ``auto`` as itself; None when not given.

    Examples
    --------
    >>> parse_distortion("-0.05")
    (-0.05, 0.0)
    """
    if text is None:
        return None
    if text == "auto":
        return "auto"
    parts = text.split(",")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if not 1 <= len(numbers) <= 2 or not all(abs(k) <= 1 for k in numbers):
        raise InputError(
            None,
            f"--distortion {text!r}: give K1 or K1,K2 (radial coefficients between -1 and 1, "
            "e.g. -0.05) or auto",
        )
    return numbers[0], numbers[1] if len(numbers) == 2 else 0.0


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
            help="translation (a sliding stage), rigid (fields also turn a little), affine "
            "or homography (a camera not square to the stage)."
        ),
    ] = "translation",
    distortion: Annotated[
        str | None,
        typer.Option(
            help="Radial lens distortion K1[,K2] undone before anything else (about the "
            "field's centre, radii in half-diagonals; e.g. -0.05 for barrel), or auto: k1 "
            "found with the poses."
        ),
    ] = None,
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
    blend: Annotated[
        str,
        typer.Option(
            help="feather: average the fields by their weights; multiband: fine detail from "
            "the field the seam picks, shading blended over a wide band (hides exposure steps)."
        ),
    ] = "multiband",
) -> None:
    """Stitch overlapping microscope fields of a polished section into one panorama:
    flat-field, lens distortion, keypoint matching, every field's pose at once, exposure gains,
    seams through the least visible paths and feather or multi-band blending, written tile by
    tile as a pyramidal OME-Zarr."""
    from orescope.jobs.stitch_run import StitchConfig, run_stitch

    config = StitchConfig.model_validate(
        {
            "grid": parse_grid(grid),
            "overlap": overlap,
            "model": model,
            "order": order,
            "seams": seams,
            "blend": blend,
            "distortion": parse_distortion(distortion),
        }
    )
    outcome = run_stitch(fields_dir, out, config, blank=blank)
    height, width = outcome.shape
    typer.echo(
        f"{len(outcome.poses)} fields stitched into {outcome.panorama} ({width} × {height} px)"
    )
    if outcome.lens is not None:
        how = "estimated" if distortion == "auto" else "given"
        lens = outcome.lens
        typer.echo(f"lens distortion undone ({how}): k1 = {lens.k1:.5f}, k2 = {lens.k2:.5f}")
    for row in outcome.unmatched.itertuples():
        typer.echo(f"unmatched: {row.field}: {row.reason} ({row.placed})")
