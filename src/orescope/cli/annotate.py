"""``orescope annotate ...``"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated, Literal

import typer

from orescope.cli.errors import one_line_errors
from orescope.errors import InputError

app = typer.Typer(
    help="Label images faster: scribbles become region labels; a model shows where to label.",
    no_args_is_help=True,
)
DEFAULT_LEVELS = "felzenszwalb:400,slic:1000,slic:250"


@app.command("labels")
@one_line_errors
def labels(
    image: Annotated[Path, typer.Argument(help="The photo that was scribbled on.")],
    scribbles: Annotated[
        Path,
        typer.Argument(
            help="uint8 PNG of the photo's size: the class index under each stroke, 255 elsewhere."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder (created or added to).")],
    classes: Annotated[
        Path, typer.Option("--classes", help="Class registry (classes.yaml) of the indices.")
    ],
    fill: Annotated[
        bool,
        typer.Option(
            help="Give superpixels no stroke touched the class of the labelled region nearest "
            "in colour along the superpixel graph (else they stay 255, skipped by training)."
        ),
    ] = False,
    levels: Annotated[
        str,
        typer.Option(
            help="Superpixel scales, coarse to fine, as method:size (slic: pixels per "
            "superpixel; felzenszwalb: its scale), comma-separated."
        ),
    ] = DEFAULT_LEVELS,
) -> None:
    """Scribbles -> region labels: every superpixel a stroke touches takes the stroke's class,
    split by finer superpixels where strokes of several classes meet. Writes
    DIR/images/<stem>.jpg, DIR/masks/<stem>.png and DIR/classes.yaml, the layout `orescope
    train` reads as a lumenstone source (set loss.ignore_index: 255)."""
    from orescope.jobs.annotate_run import annotate_labels
    from orescope.preprocess.superpixels import parse_levels

    try:
        hierarchy = parse_levels(levels)
    except ValueError as error:
        raise InputError(None, f"--levels: {error}") from None
    export = annotate_labels(image, scribbles, out, classes, hierarchy, fill)
    typer.echo(f"{export.mask}: {export.labelled:.1%} of the pixels labelled")


@app.command("uncertainty")
@one_line_errors
def uncertainty(
    image: Annotated[Path, typer.Argument(help="A section photo (PPL or reflected light).")],
    model: Annotated[
        str, typer.Option(help="Zoo name or folder with card.yaml of a section model.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    fraction: Annotated[
        float,
        typer.Option(min=0.001, max=1.0, help="Share of the image to propose (paper 003: 5-10 %)."),
    ] = 0.05,
    measure: Annotated[
        Literal["entropy", "margin"],  # infer.uncertainty.Measure, without importing torch
        typer.Option(help="Rank by the entropy (all classes) or the margin (top two)."),
    ] = "entropy",
    superpixel_px: Annotated[
        int,
        typer.Option(
            "--superpixel-px",
            min=0,
            help="Propose whole SLIC superpixels of about this many pixels; 0: single pixels.",
        ),
    ] = 1000,
    xpl: Annotated[
        Path | None, typer.Option(help="The XPL photo, for models trained on PPL + XPL.")
    ] = None,
) -> None:
    """Where a model is unsure, to label there next: entropy.png and margin.png (uint8 heat
    maps, 255 = 1), proposal.png (255 = proposed), proposals.csv (regions, most uncertain
    first) and config.yaml in --out."""
    from orescope.jobs.annotate_run import annotate_uncertainty

    export = annotate_uncertainty(image, out, model, fraction, measure, superpixel_px, xpl)
    typer.echo(f"{export.regions} regions ({export.proposed:.1%} of the image) proposed in {out}")


@app.command("view")
@one_line_errors
def view(
    image: Annotated[Path, typer.Argument(help="The photo to label.")],
    classes: Annotated[
        Path, typer.Option("--classes", help="Class registry (classes.yaml) to label with.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Dataset folder that Save writes into (created).")
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            help="A model's class map to show over the photo and correct: classes.png of "
            "`predict minerals` or a mask, in the registry's indices (255: none)."
        ),
    ] = None,
    uncertainty: Annotated[
        Path | None,
        typer.Option(help="Folder with entropy.png and margin.png of `annotate uncertainty`."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Section model (zoo name or folder) whose uncertainty to compute and show; "
            "the maps are written to OUT/uncertainty/<stem>."
        ),
    ] = None,
    levels: Annotated[
        str,
        typer.Option(help="Superpixel scales, coarse to fine, as in `annotate labels`."),
    ] = DEFAULT_LEVELS,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1; 0: any free one.")
    ] = 0,
    browser: Annotated[bool, typer.Option(help="Open the page in the web browser.")] = True,
) -> None:
    """Label IMAGE in a local web page: paint strokes of a class, accept the superpixel
    labels they suggest (all, or a region at a click), see a model's labels and uncertainty,
    start from the model's labels and correct them with strokes, and save
    DIR/images/<stem>.jpg, DIR/masks/<stem>.png (the accepted labels, 255 elsewhere),
    DIR/scribbles/<stem>.png and DIR/classes.yaml. Stop with Ctrl+C."""
    from orescope.preprocess.superpixels import parse_levels
    from orescope.viewer import ViewerServer, open_session, read_overlays

    if uncertainty is not None and model is not None:
        raise InputError(None, "give --uncertainty or --model, not both")
    try:
        hierarchy = parse_levels(levels)
    except ValueError as error:
        raise InputError(None, f"--levels: {error}") from None
    session = open_session(image, classes, out, hierarchy, labels)
    if model is not None:
        from orescope.jobs.annotate_run import annotate_uncertainty

        uncertainty = out / "uncertainty" / image.stem
        annotate_uncertainty(image, uncertainty, model)
    overlays = read_overlays(session.registry, session.shape, session.predicted, uncertainty)
    try:
        server = ViewerServer(session, overlays, port)
    except OSError as error:
        raise InputError(None, f"cannot listen on 127.0.0.1:{port} ({error.strerror})") from None
    typer.echo(f"Annotating {image.name} at {server.url} (Ctrl+C stops)")
    if browser:
        webbrowser.open(server.url)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            typer.echo("Stopped.")
