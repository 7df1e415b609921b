"""The ``orescope`` command: one sub-command group per module of this package.

The command modules import the heavy libraries (torch, matplotlib) inside their commands, so
``orescope --help`` and ``orescope --version`` answer at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orescope import __version__
from orescope.cli import annotate, convert, demo, evaluate, predict, restore, stitch, synth, train

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(predict.app, name="predict")
app.add_typer(synth.app, name="synth")
app.add_typer(evaluate.app, name="evaluate")
app.add_typer(annotate.app, name="annotate")
app.command("demo")(demo.demo)
app.command("train")(train.train)
app.command("convert")(convert.convert)
app.command("restore")(restore.restore)
app.command("stitch")(stitch.stitch)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"orescope {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """orescope: images of ore -> particles, sizes in mm, PSD."""


if __name__ == "__main__":
    app()
