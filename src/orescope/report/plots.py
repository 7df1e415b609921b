"""PSD plot: cumulative % passing against size on a log axis, with fits and Dx marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orescope.io.atomic import atomic_path
from orescope.measure import Fit, SizeDistribution


def _two_and_five(value: float, _: int) -> str:
    """A minor tick's label on a log axis: only 2 and 5 times a power of ten."""
    mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if mantissa in (2, 5) else ""


def plot_psd(
    curves: dict[str, SizeDistribution],
    fits: dict[str, Fit | None],
    unit: str,
    path: str | Path,
    title: str = "",
) -> None:
    """One curve per entry of ``curves`` (e.g. count and mass basis); the last one also gets
    ``fits``, the model fits made to it, and its P20/P50/P80 marks.

    Drawn on a bare :class:`~matplotlib.figure.Figure`, not pyplot: no backend is chosen and
    no figure is kept open, whatever the calling program does with matplotlib.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(7, 4.5), dpi=110)
    axes = figure.subplots()
    last = None
    for name, distribution in curves.items():
        if distribution.count:
            axes.step(distribution.sizes, distribution.passing_pct, where="mid", label=name)
            last = distribution
    if last is not None and last.count:
        grid = np.geomspace(last.sizes.min(), last.sizes.max(), 200)
        for model, fit in fits.items():
            if fit is not None:
                label = f"{model.replace('_', ' ')} (R² {fit.r2:.3f})"
                axes.plot(grid, fit.passing_pct(grid), "--", linewidth=1, label=label)
        middle = np.sqrt(last.sizes.min() * last.sizes.max())
        for percent in (20, 50, 80):
            size = last.size_at(percent)
            axes.plot([size, size], [0, percent], ":", color="gray", linewidth=0.8)
            right = size < middle  # labels on the right half go left of their line, inside
            axes.annotate(
                f"P{percent} {size:.3g}",
                (size, percent),
                fontsize=8,
                xytext=(4 if right else -4, -10),
                textcoords="offset points",
                ha="left" if right else "right",
            )
    axes.set_xscale("log")
    # plain numbers (2, 5, 10, 20, 50) instead of the log axis' crowded 2×10⁰, 3×10⁰, ...
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(FuncFormatter(_two_and_five))
    axes.set_ylim(0, 100)
    axes.set_xlabel(f"size ({unit})")
    axes.set_ylabel("cumulative % passing")
    axes.grid(True, which="both", alpha=0.3)
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper left")
    # fixed margins for the fixed figure size: tight_layout would cost more than the drawing
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.93)
    with atomic_path(path) as partial:
        figure.savefig(partial)
