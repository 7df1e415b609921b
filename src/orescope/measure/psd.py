"""Particle size distributions: cumulative % passing, Dx sizes and sieve tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PERCENTILES = (10, 20, 50, 80, 90)


@dataclass(frozen=True)
class SizeDistribution:
    """Sizes sorted ascending with the cumulative % passing at each (Hazen plotting positions).

    ``passing_pct[i]`` is the weight of all smaller particles plus half of particle ``i``, so a
    single particle sits at 50 % and the curve is unbiased at both ends.
    """

    sizes: np.ndarray
    weights: np.ndarray
    passing_pct: np.ndarray

    @property
    def count(self) -> int:
        return int(self.sizes.size)

    def size_at(self, percent: float) -> float:
        """Dx: the size that ``percent`` % of the weight passes (linear interpolation).

        Examples
        --------
        >>> import numpy as np
        >>> from orescope.measure import size_distribution
        >>> size_distribution(np.array([1.0, 2.0, 3.0, 4.0])).size_at(50)
        2.5
        """
        if self.count == 0:
            return float("nan")
        return float(np.interp(percent, self.passing_pct, self.sizes))

    def percentiles(self, percents: tuple[int, ...] = PERCENTILES) -> dict[str, float]:
        """``{"P10": D10, ...}``: the sizes a PSD summary reports."""
        return {f"P{p}": self.size_at(p) for p in percents}


def size_distribution(sizes: np.ndarray, weights: np.ndarray | None = None) -> SizeDistribution:
    """Cumulative distribution of ``sizes``; ``weights`` (e.g. volumes) give a mass basis.

    The same sizes give different curves by count and by mass: a few large particles carry
    most of the mass, which is what a sieve analysis weighs.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.measure import size_distribution
    >>> sizes = np.array([1.0, 2.0, 3.0, 4.0])
    >>> size_distribution(sizes).passing_pct.tolist()
    [12.5, 37.5, 62.5, 87.5]
    >>> round(size_distribution(sizes, weights=sizes**3).size_at(50), 2)  # P50 by mass
    3.6
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    weights = np.ones_like(sizes) if weights is None else np.asarray(weights, dtype=np.float64)
    if sizes.shape != weights.shape:
        raise ValueError("sizes and weights differ in length")
    if np.any(weights < 0) or np.any(~np.isfinite(sizes)):
        raise ValueError("weights must be non-negative and sizes finite")
    order = np.argsort(sizes, kind="stable")
    sizes, weights = sizes[order], weights[order]
    total = weights.sum()
    if total <= 0:
        return SizeDistribution(sizes, weights, np.zeros_like(sizes))
    passing = (np.cumsum(weights) - 0.5 * weights) / total * 100.0
    return SizeDistribution(sizes, weights, passing)


def default_sieves(sizes: np.ndarray) -> np.ndarray:
    """A sqrt(2) sieve series (1, 1.41, 2, 2.83, 4, ... in the sizes' unit) spanning the sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.measure import default_sieves
    >>> default_sieves(np.array([1.5, 5.0])).tolist()
    [1.414, 2.0, 2.828, 4.0, 5.657, 8.0]
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    sizes = sizes[sizes > 0]
    if sizes.size == 0:
        return np.array([1.0])
    low = int(np.floor(2 * np.log2(sizes.min())))
    high = int(np.ceil(2 * np.log2(sizes.max()))) + 1
    return np.round(2.0 ** (np.arange(low, high + 1) / 2.0), 3)


def sieve_table(sizes: np.ndarray, weights: np.ndarray | None, sieves: np.ndarray) -> pd.DataFrame:
    """Retained and passing % per sieve: a particle passes a sieve when its size is smaller than
    the opening; ``retained_pct`` is the weight held between this sieve and the next larger one
    (the largest sieve also holds everything above it).

    Rows run from the largest opening down, as a sieve stack is read.

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.measure import sieve_table
    >>> sieve_table(np.array([1.0, 2.0, 3.0, 5.0]), None, np.array([2.0, 4.0]))
       sieve  retained_pct  passing_pct  particles_retained
    0    4.0          25.0         75.0                   1
    1    2.0          50.0         25.0                   2
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    weights = np.ones_like(sizes) if weights is None else np.asarray(weights, dtype=np.float64)
    openings = np.sort(np.asarray(sieves, dtype=np.float64))
    if openings.size == 0 or np.any(openings <= 0):
        raise ValueError("sieve openings must be positive")
    total = weights.sum()
    scale = 100.0 / total if total > 0 else 0.0
    passing = np.array([weights[sizes < opening].sum() for opening in openings]) * scale
    upper = np.append(passing[1:], 100.0 if total > 0 else 0.0)
    counts = [
        int(np.count_nonzero((sizes >= lo) & (sizes < hi)))
        for lo, hi in zip(openings, np.append(openings[1:], np.inf), strict=True)
    ]
    table = pd.DataFrame(
        {
            "sieve": openings,
            "retained_pct": upper - passing,
            "passing_pct": passing,
            "particles_retained": counts,
        }
    )
    return table.iloc[::-1].reset_index(drop=True)
