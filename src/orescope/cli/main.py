"""The ``orescope`` command: one sub-command group per module of this package."""

from __future__ import annotations

import typer

from orescope.cli import demo, evaluate, predict, synth, train

app = typer.Typer(
    help="orescope: images of ore -> particles, sizes in mm, PSD.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(predict.app, name="predict")
app.add_typer(synth.app, name="synth")
app.add_typer(evaluate.app, name="evaluate")
app.command("demo")(demo.demo)
app.command("train")(train.train)

if __name__ == "__main__":
    app()
