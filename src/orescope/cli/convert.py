"""``orescope convert VOLUME OUT.zarr``: any volume to OME-Zarr with a pyramid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orescope.cli.errors import one_line_errors
from orescope.errors import InputError


def parse_spacing(text: str | None) -> float | tuple[float, ...] | None:
    """``0.02`` (cubic voxels) or ``0.04,0.02,0.02`` (z, y, x) in mm; None when not given."""
    if text is None:
        return None
    try:
        values = tuple(float(value) for value in text.split(","))
    except ValueError:
        raise InputError(
            None, f"--spacing {text!r}: give mm, e.g. 0.02 or 0.04,0.02,0.02"
        ) from None
    return values[0] if len(values) == 1 else values


@one_line_errors
def convert(
    volume: Annotated[Path, typer.Argument(help="TIFF stack, folder of slices, zarr or OME-Zarr.")],
    out: Annotated[Path, typer.Argument(help="The OME-Zarr to write (a folder, e.g. scan.zarr).")],
    spacing: Annotated[
        str | None,
        typer.Option(help="Voxel spacing in mm: one value, or z,y,x. Default: the file's own."),
    ] = None,
) -> None:
    """Write a volume as OME-Zarr: 64³ chunks, a pyramid of halvings, the spacing in mm in its
    metadata; read chunk by chunk, so any size fits in memory."""
    from dask.diagnostics import ProgressBar

    from orescope.io.volumes import read_volume, write_ome_zarr

    scan = read_volume(volume, parse_spacing(spacing))
    with ProgressBar(minimum=1.0):
        written = write_ome_zarr(scan, out)
    shape = " × ".join(map(str, scan.data.shape))
    Console().print(f"{written}: {shape} voxels of {scan.spacing_mm} mm (z, y, x)")
