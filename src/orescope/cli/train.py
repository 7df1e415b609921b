"""``orescope train CONFIG.yaml [--resume]``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orescope.cli.errors import one_line_errors


@one_line_errors
def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the interrupted run in the config's out.")
    ] = False,
) -> None:
    """Train a segmentation model as the config says; writes model.safetensors + card.yaml of
    the best epoch, last/ (for --resume), history.csv, curves.png and config.yaml."""
    from orescope.train import read_train_config, train_model

    settings = read_train_config(config)
    out = train_model(settings, resume=resume, command=f"orescope train {config}")
    Console().print(f"model: {out / 'model.safetensors'}  card: {out / 'card.yaml'}")
