"""``orescope synth ...``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orescope.cli.errors import one_line_errors

app = typer.Typer(help="Generate images with exact ground truth.", no_args_is_help=True)


@app.command("particles")
@one_line_errors
def particles(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of scenes.")] = 4,
    height: Annotated[int, typer.Option(help="Image height in px.")] = 1024,
    width: Annotated[int, typer.Option(help="Image width in px.")] = 1024,
    mm_per_px: Annotated[float, typer.Option("--mm-per-px", help="Scale.")] = 0.25,
    x50_mm: Annotated[float, typer.Option("--x50-mm", help="Rosin-Rammler median ECD.")] = 6.0,
    n: Annotated[float, typer.Option(help="Rosin-Rammler uniformity index.")] = 1.6,
    coverage: Annotated[float, typer.Option(help="Fraction of the belt covered.")] = 0.8,
    seed: Annotated[int, typer.Option(help="Seed of the first scene.")] = 0,
) -> None:
    """Belt scenes of touching ore particles: images/, labels/ (uint32 TIFF), resolutions.csv."""
    from orescope.synth import SceneConfig, write_scenes

    config = SceneConfig(
        height=height,
        width=width,
        mm_per_px=mm_per_px,
        x50_mm=x50_mm,
        n=n,
        coverage=coverage,
        seed=seed,
    )
    write_scenes(out, config, count)


@app.command("volume")
@one_line_errors
def volume(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    count: Annotated[int, typer.Option(min=1, help="Number of volumes.")] = 2,
    size: Annotated[int, typer.Option(min=16, help="Voxels per side.")] = 128,
    spacing_mm: Annotated[float, typer.Option("--spacing-mm", help="Voxel size in mm.")] = 0.01,
    x50_mm: Annotated[
        float, typer.Option("--x50-mm", help="Rosin-Rammler median equivalent-sphere diameter.")
    ] = 0.15,
    n: Annotated[float, typer.Option(help="Rosin-Rammler uniformity index.")] = 1.5,
    packing: Annotated[float, typer.Option(help="Share of the volume in particles.")] = 0.3,
    touching: Annotated[float, typer.Option(help="Share of particles placed touching.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the first volume.")] = 0,
) -> None:
    """Micro-CT volumes of particles in resin: images/ (16-bit ImageJ TIFF stacks with their
    spacing) and labels/ (uint32 TIFF stacks, 0 = resin)."""
    from orescope.synth import VolumeConfig, write_volumes

    config = VolumeConfig(
        shape=(size, size, size),
        spacing_mm=spacing_mm,
        x50_mm=x50_mm,
        n=n,
        packing=packing,
        touching=touching,
        seed=seed,
    )
    write_volumes(out, config, count)


@app.command("wet")
@one_line_errors
def wet(
    source: Annotated[
        Path,
        typer.Argument(
            help="Dry images: a folder in the gravel layout (images/, labels/), the conveyor "
            "layout (images/, annotations.json), or a folder of images without labels."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    wetness: Annotated[
        str, typer.Option(help="Range of wetness drawn per image, LOW,HIGH (0 dry, 1 flooded).")
    ] = "0.2,1.0",
    seed: Annotated[int, typer.Option(help="Seed of the first pair.")] = 0,
) -> None:
    """Wet twins of dry images, the dry image the exact target: dry/, wet/, labels/ (the dry
    image's, valid for both), wetness.csv and resolutions.csv."""
    from orescope.errors import InputError
    from orescope.synth import write_wet_pairs

    try:
        low, high = (float(value) for value in wetness.split(","))
    except ValueError:
        raise InputError(wetness, "give the wetness as LOW,HIGH, e.g. 0.2,1.0") from None
    write_wet_pairs(source, out, (low, high), seed)
