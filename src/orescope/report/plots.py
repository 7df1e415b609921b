"""PSD plot: cumulative % passing against size on a log axis, with fits and Dx marks."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from orescope.measure import Fit, SizeDistribution  # noqa: E402


def plot_psd(
    curves: dict[str, SizeDistribution],
    fits: dict[str, Fit | None],
    unit: str,
    path: str | Path,
    title: str = "",
) -> None:
    """One curve per entry of ``curves`` (e.g. count and mass basis); the last one also gets
    ``fits``, the model fits made to it, and its P20/P50/P80 marks."""
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
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
        for percent in (20, 50, 80):
            size = last.size_at(percent)
            axes.plot([size, size], [0, percent], ":", color="gray", linewidth=0.8)
            axes.annotate(
                f"P{percent} {size:.3g}",
                (size, percent),
                fontsize=8,
                xytext=(4, -10),
                textcoords="offset points",
            )
    axes.set_xscale("log")
    axes.set_ylim(0, 100)
    axes.set_xlabel(f"size ({unit})")
    axes.set_ylabel("cumulative % passing")
    axes.grid(True, which="both", alpha=0.3)
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper left")
    # fixed margins for the fixed figure size: tight_layout would cost more than the drawing
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.93)
    figure.savefig(path)
    plt.close(figure)
