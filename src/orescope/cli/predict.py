"""``orescope predict ...``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orescope.cli.errors import one_line_errors
from orescope.errors import InputError

if TYPE_CHECKING:  # the jobs are imported where a command runs: help stays fast
    from orescope.jobs.particle_run import RunOutcome

app = typer.Typer(help="Find objects in images and measure them.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
Sieves = Annotated[
    str | None,
    typer.Option(help="Sieve openings, comma-separated, in mm (px for an image without scale)."),
]
IncludeBorder = Annotated[
    bool, typer.Option(help="Count particles cut by the image's or volume's edge in the PSD.")
]
Resume = Annotated[
    bool,
    typer.Option(
        help="Continue a killed run into the same --out: keep the inputs it finished (its "
        "manifest.jsonl) and do the rest; refused if its settings differ."
    ),
]
ImageWorkers = Annotated[
    int | None,
    typer.Option(
        min=1, help="Images processed at once on a CPU, one Dask worker process each (default: 1)."
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(help="Dask scheduler address (tcp://HOST:PORT): run the tasks on its workers."),
]
Scales = Annotated[
    str,
    typer.Option(
        help="Average the model over the image at these multiples of its trained scale, "
        "comma-separated (0.8,1,1.25: 2-3.4x slower, steadier results)."
    ),
]


@app.command("particles")
@one_line_errors
def particles(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders of images.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    method: Annotated[str, typer.Option(help="model, threshwater or otsu.")] = "model",
    model: Annotated[
        str, typer.Option(help="Zoo model name or a folder with card.yaml + model.safetensors.")
    ] = "particles",
    particle_px: Annotated[
        float | None,
        typer.Option("--particle-px", help="Typical particle diameter in px (else estimated)."),
    ] = None,
    tta: Annotated[bool, typer.Option(help="Mirror test-time augmentation (4x slower).")] = False,
    scales: Scales = "1",
    mm_per_px: Annotated[
        float | None, typer.Option("--mm-per-px", help="Scale; sizes stay in px without it.")
    ] = None,
    polarity: Annotated[str, typer.Option(help="Particles 'bright' or 'dark' vs belt.")] = "bright",
    size_measure: Annotated[
        str, typer.Option(help="PSD size: ellipse_minor, ecd, feret_min, feret_max, ...")
    ] = "ellipse_minor",
    include_border: IncludeBorder = False,
    sieves: Sieves = None,
    min_area_px: Annotated[int, typer.Option(help="Smallest particle kept, in pixels.")] = 16,
    restore: Annotated[
        bool,
        typer.Option(
            help="Restore wet photos first (writes restored.png; the report shows before "
            "and after)."
        ),
    ] = False,
    restore_model: Annotated[
        str,
        typer.Option(
            help="Restoration model (zoo name or folder), or 'inpaint' for the specular "
            "highlights painted over."
        ),
    ] = "restore",
    workers: ImageWorkers = None,
    resume: Resume = False,
    scheduler: Scheduler = None,
) -> None:
    """Separate touching particles, measure them (mm with a scale) and report the PSD.

    Writes per image DIR/<stem>/labels.tif, overlay.png, particles.csv; and DIR/psd.csv,
    DIR/summary.csv, DIR/report.html, DIR/config.yaml, DIR/manifest.jsonl (and
    DIR/failures.csv if any failed).
    """
    from orescope.jobs import ParticleConfig, run_particles

    config = ParticleConfig(
        method=method,
        model=model,
        particle_px=particle_px,
        tta=tta,
        scales=_numbers(scales, "--scales"),
        mm_per_px=mm_per_px,
        polarity=polarity,
        size_measure=size_measure,
        include_border=include_border,
        sieves=[float(s) for s in sieves.split(",")] if sieves else None,
        min_area_px=min_area_px,
        restore=restore,
        restore_model=restore_model,
    )
    outcome = run_particles(
        list(inputs), out, config, workers=workers, resume=resume, scheduler=scheduler
    )
    for file, reason in outcome.failures:
        console.print(f"[yellow]skipped[/yellow] {file}: {reason}", highlight=False)
    _print_done(outcome, "image", out)


@app.command("minerals")
@one_line_errors
def minerals(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Section images (PPL or reflected light), folders of them, or OME-Zarr "
            "panoramas (orescope stitch), read block by block."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    model: Annotated[
        str, typer.Option(help="Zoo model name or a folder with card.yaml + model.safetensors.")
    ] = "lumenstone",
    xpl: Annotated[
        list[Path] | None,
        typer.Option("--xpl", help="XPL images or folders, paired with the inputs by file stem."),
    ] = None,
    um_per_px: Annotated[
        float | None, typer.Option("--um-per-px", help="Scale; sizes stay in px without it.")
    ] = None,
    liberation: Annotated[
        str | None, typer.Option(help="Mineral (name or index) for a liberation table.")
    ] = None,
    tta: Annotated[bool, typer.Option(help="Mirror test-time augmentation (4x slower).")] = False,
    scales: Scales = "1",
    refine_px: Annotated[
        int,
        typer.Option(
            "--refine-px",
            help="Radius in px of the guided filter that moves class borders onto the "
            "image's edges (0: the model's own borders).",
        ),
    ] = 8,
    minerals: Annotated[
        str | None,
        typer.Option(
            help="The minerals the sections can hold, comma-separated names or indices "
            "(e.g. pyrrhotite,pentlandite,chalcopyrite,magnetite): each pixel gets the most "
            "probable of these or the background."
        ),
    ] = None,
    ore_type: Annotated[
        str,
        typer.Option(
            help="The sections' ore type, one the model's card lists (lumenstone: complex, "
            "copper-nickel): each pixel gets the most probable of its minerals. auto: each "
            "image's own, the type the model's probabilities point to; any: every class."
        ),
    ] = "auto",
    align_xpl: Annotated[
        bool, typer.Option(help="Register each XPL image onto its PPL image first.")
    ] = True,
    min_grain_px: Annotated[int, typer.Option(help="Smallest grain listed, in pixels.")] = 16,
    blank: Annotated[
        Path | None, typer.Option(help="Blank-field photo: flat-field correction of every image.")
    ] = None,
    calibration_image: Annotated[
        list[Path] | None,
        typer.Option(
            help="Colour calibration: one matrix for the run, fitted on this photo (repeat "
            "the option to pool several photos of the series)..."
        ),
    ] = None,
    calibration_mask: Annotated[
        list[Path] | None,
        typer.Option(
            help="...from the class indices of a few of its regions (255 = unlabelled); "
            "one mask per --calibration-image, in the same order."
        ),
    ] = None,
    colour_masks: Annotated[
        Path | None,
        typer.Option(help="Per-image colour correction: folder of <stem>.png region masks."),
    ] = None,
    resume: Resume = False,
    workers: ImageWorkers = None,
    scheduler: Scheduler = None,
) -> None:
    """Map the minerals of section photos and report modal mineralogy, grains and association.

    Writes per image DIR/<stem>/classes.png (uint8 class indices of the model's registry),
    overlay.png, modal.csv, grains.csv, association.csv (and liberation.csv with
    --liberation); and DIR/modal.csv, DIR/report.html, DIR/config.yaml, DIR/manifest.jsonl.
    """
    from orescope.jobs import MineralConfig, run_minerals

    config = MineralConfig(
        model=model,
        um_per_px=um_per_px,
        liberation=liberation,
        tta=tta,
        scales=_numbers(scales, "--scales"),
        refine_px=refine_px,
        minerals=[name.strip() for name in minerals.split(",")] if minerals else [],
        ore_type=ore_type,
        align_xpl=align_xpl,
        min_grain_px=min_grain_px,
        blank=str(blank) if blank else None,
        calibration_images=[str(p) for p in calibration_image or []],
        calibration_masks=[str(p) for p in calibration_mask or []],
        colour_masks=str(colour_masks) if colour_masks else None,
    )
    outcome = run_minerals(
        list(inputs),
        out,
        config,
        xpl=list(xpl or []),
        resume=resume,
        workers=workers,
        scheduler=scheduler,
    )
    for file, reason in outcome.failures:
        console.print(f"[yellow]skipped[/yellow] {file}: {reason}", highlight=False)
    for note in outcome.notes:
        console.print(f"[cyan]note[/cyan] {note}", highlight=False)
    _print_done(outcome, "image", out)


@app.command("volume")
@one_line_errors
def volume(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Volumes: TIFF stacks, folders of slices, zarr or OME-Zarr."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    spacing: Annotated[
        str | None,
        typer.Option(help="Voxel size in mm: one value, or z,y,x. Default: the file's own."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="model (a 3D border-core model) or threshwater (the baseline).")
    ] = "model",
    model: Annotated[
        str, typer.Option(help="Zoo name or model folder (method model).")
    ] = "ct-particles",
    particle_size: Annotated[
        float | None,
        typer.Option(
            "--particle-size",
            help="Typical particle ESD in mm (method model). Default: measured by the model.",
        ),
    ] = None,
    tta: Annotated[bool, typer.Option(help="Average the model over 8 mirrored copies.")] = False,
    contrast_filter: Annotated[
        bool,
        typer.Option(
            help="Model: drop particles no denser than the resin (Otsu threshold of the volume)."
        ),
    ] = False,
    split_cores: Annotated[
        bool,
        typer.Option(help="Model: cut a core that is two joined by a neck, at the neck."),
    ] = True,
    size_measure: Annotated[
        str, typer.Option(help="PSD size: esd, axis_major, axis_middle or axis_minor.")
    ] = "esd",
    include_border: IncludeBorder = False,
    sieves: Sieves = None,
    chunk: Annotated[
        int, typer.Option(help="Voxels a side of each task (a model's labels do not depend on it).")
    ] = 96,
    halo: Annotated[
        int, typer.Option(help="Voxels of context around each tile the model sees.")
    ] = 16,
    min_volume_px: Annotated[
        int, typer.Option("--min-volume-px", help="Smallest particle kept, in voxels.")
    ] = 27,
    polarity: Annotated[str, typer.Option(help="Particles 'bright' or 'dark' vs resin.")] = (
        "bright"
    ),
    workers: Annotated[
        int,
        typer.Option(min=1, help="Local Dask worker processes of one core each (1: this process)."),
    ] = 1,
    scheduler: Scheduler = None,
    resume: Resume = False,
) -> None:
    """Label every particle of micro-CT volumes, chunk by chunk in bounded memory; measure them
    in mm and report the PSD.

    Writes per volume DIR/<stem>/labels.zarr (uint32, 0 = background), particles.csv and
    slices.png; and DIR/psd.csv, DIR/summary.csv, DIR/report.html, DIR/config.yaml (and
    DIR/failures.csv if any failed).
    """
    from orescope.cli.convert import parse_spacing
    from orescope.jobs.volume_run import VolumeJobConfig, run_volumes

    config = VolumeJobConfig.model_validate(
        {
            "method": method,
            "model": model,
            "particle_size_mm": particle_size,
            "tta": tta,
            "contrast_filter": contrast_filter,
            "split_cores": split_cores,
            "spacing_mm": parse_spacing(spacing),
            "size_measure": size_measure,
            "include_border": include_border,
            "sieves": _numbers(sieves, "--sieves") if sieves else None,
            "chunk": chunk,
            "halo": halo,
            "min_volume_px": min_volume_px,
            "polarity": polarity,
            "workers": workers,
            "scheduler": scheduler,
        }
    )
    outcome = run_volumes(list(inputs), out, config, resume=resume)
    for file, reason in outcome.failures:
        console.print(f"[yellow]skipped[/yellow] {file}: {reason}", highlight=False)
    _print_done(outcome, "volume", out)


def _numbers(text: str, option: str) -> list[float]:
    """Comma-separated numbers of an option, or a one-line error naming it."""
    try:
        return [float(value) for value in text.split(",")]
    except ValueError:
        raise InputError(None, f"{option} takes comma-separated numbers, got {text!r}") from None


def _print_done(outcome: RunOutcome, unit: str, out: Path) -> None:
    earlier = f" ({len(outcome.resumed)} by the earlier run)" if outcome.resumed else ""
    console.print(
        f"{len(outcome.processed)} {unit}(s) processed{earlier}, {len(outcome.failures)} "
        f"skipped; report: {out / 'report.html'}",
        highlight=False,
    )
