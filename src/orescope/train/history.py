"""Metric history of a training run: a CSV row per epoch and a figure of the curves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from orescope.io.atomic import atomic_path, write_table


def write_history(rows: list[dict[str, float]], folder: Path) -> None:
    """``history.csv`` and ``curves.png`` (losses left, validation scores right, PSNR in dB
    on an axis of its own), drawn on a bare matplotlib figure: no pyplot, no backend switch."""
    from matplotlib.figure import Figure

    table = pd.DataFrame(rows)
    write_table(folder / "history.csv", table)
    figure = Figure(figsize=(10, 4), layout="tight")
    losses, scores = figure.subplots(1, 2)
    for column in [c for c in table.columns if c.startswith("train_")]:
        losses.plot(table["epoch"], table[column], label=column.replace("_", " "))
    losses.set_xlabel("epoch")
    losses.set_ylabel("loss")
    losses.legend()
    for column in [c for c in table.columns if c.startswith("val_") and c != "val_psnr"]:
        scores.plot(table["epoch"], table[column], label=column.removeprefix("val_"))
    if "val_psnr" in table:
        decibels = scores.twinx()
        decibels.plot(table["epoch"], table["val_psnr"], "k--", label="PSNR")
        decibels.set_ylabel("validation PSNR (dB)")
        decibels.legend(loc="lower right", fontsize="small")
    scores.set_xlabel("epoch")
    scores.set_ylabel("validation score")
    scores.set_ylim(0, 1)
    if len(table.columns) > 4:
        scores.legend(fontsize="small")
    with atomic_path(folder / "curves.png") as partial:
        figure.savefig(partial, dpi=100)
