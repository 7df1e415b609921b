"""The PSD of a set of particle sizes as the reports give it: Dx by count and by mass, the
fragmentation model fits and the sieve table. Shared by the image and the volume jobs, which
differ only in how they size and weigh a particle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orescope.measure.fits import Fit, fit_all
from orescope.measure.psd import PERCENTILES, default_sieves, sieve_table, size_distribution


def psd_tables(
    sizes: np.ndarray,
    masses: np.ndarray,
    unit: str,
    sieves: list[float] | None = None,
    fits: dict[str, Fit | None] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """``count_Pxx_<unit>`` and ``mass_Pxx_<unit>`` percentiles, each fit's parameters and
    R² on the mass basis (``fits`` when already computed), and the sieve table by count and
    by mass on ``sieves`` (default: a √2 series spanning the sizes).

    Examples
    --------
    >>> summary, table = psd_tables(np.array([1.0, 2.0, 4.0]), np.array([1.0, 8.0, 64.0]), "mm")
    >>> summary["count_P50_mm"], list(table.columns[:2])
    (2.0, ['basis', 'sieve_mm'])
    """
    summary: dict = {}
    grid = np.asarray(sieves) if sieves else default_sieves(sizes)
    tables = []
    for basis, weights in (("count", None), ("mass", masses)):
        distribution = size_distribution(sizes, weights)
        for name, value in distribution.percentiles(PERCENTILES).items():
            summary[f"{basis}_{name}_{unit}"] = value
        table = sieve_table(sizes, weights, grid)
        table.insert(0, "basis", basis)
        tables.append(table.rename(columns={"sieve": f"sieve_{unit}"}))
    if fits is None:
        fits = fit_all(size_distribution(sizes, masses))
    for model, fit in fits.items():
        for key, value in (fit.params if fit else {}).items():
            summary[f"{model}_{key}"] = value
        summary[f"{model}_r2"] = fit.r2 if fit else float("nan")
    return summary, pd.concat(tables, ignore_index=True)
