"""``orescope annotate view``: the annotation page, served on this machine."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from orescope.cli.annotate import DEFAULT_LEVELS, app
from orescope.cli.errors import one_line_errors
from orescope.errors import InputError


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
            help="A class map to show over the photo: classes.png of `predict minerals` or a "
            "mask, in the registry's indices (255: none)."
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
    and save DIR/images/<stem>.jpg, DIR/masks/<stem>.png (the accepted labels, 255 elsewhere),
    DIR/scribbles/<stem>.png and DIR/classes.yaml. Stop with Ctrl+C."""
    from orescope.preprocess.superpixels import parse_levels
    from orescope.viewer import ViewerServer, open_session, read_overlays

    if uncertainty is not None and model is not None:
        raise InputError(None, "give --uncertainty or --model, not both")
    try:
        hierarchy = parse_levels(levels)
    except ValueError as error:
        raise InputError(None, f"--levels: {error}") from None
    session = open_session(image, classes, out, hierarchy)
    if model is not None:
        from orescope.jobs.annotate_run import annotate_uncertainty

        uncertainty = out / "uncertainty" / image.stem
        annotate_uncertainty(image, uncertainty, model)
    overlays = read_overlays(session.registry, session.shape, labels, uncertainty)
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
