"""Metric history of a training run: a CSV row per epoch and a figure of the curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from orescope.io.atomic import atomic_path, write_table


def write_history(rows: list[dict[str, float]], folder: Path) -> None:
    """``history.csv`` and ``curves.png`` (losses left, validation scores right), drawn on a
    bare matplotlib figure: no pyplot, no backend switch."""
    from matplotlib.figure import Figure

    table = pd.DataFrame(rows)
    write_table(folder / "history.csv", table)
    figure = Figure(figsize=(10, 4), layout="tight")
    losses, scores = figure.subplots(1, 2)
    losses.plot(table["epoch"], table["train_loss"], label="train loss")
    losses.set_xlabel("epoch")
    losses.set_ylabel("loss")
    losses.legend()
    for column in [c for c in table.columns if c.startswith("val_")]:
        scores.plot(table["epoch"], table[column], label=column.removeprefix("val_"))
    scores.set_xlabel("epoch")
    scores.set_ylabel("validation score")
    scores.set_ylim(0, 1)
    if len(table.columns) > 4:
        scores.legend(fontsize="small")
    with atomic_path(folder / "curves.png") as partial:
        figure.savefig(partial, dpi=100)
