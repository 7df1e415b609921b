"""Fits of the classic fragmentation models to a cumulative size distribution.

All three are written as fraction passing F(x) in [0, 1]:

- Rosin-Rammler (Weibull, Kuz-Ram form): ``F = 1 - exp(-ln 2 (x / x50)^n)``
- Swebrec (Ouchterlony 2005): ``F = 1 / (1 + (ln(xmax/x) / ln(xmax/x50))^b)`` for x < xmax
- Gaudin-Schuhmann: ``F = (x / xmax)^m`` for x <= xmax
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from orescope.measure.psd import SizeDistribution


def rosin_rammler(x: np.ndarray, x50: float, n: float) -> np.ndarray:
    return 1.0 - np.exp(-np.log(2.0) * (np.asarray(x) / x50) ** n)


def swebrec(x: np.ndarray, x50: float, xmax: float, b: float) -> np.ndarray:
    x = np.minimum(np.asarray(x, dtype=np.float64), xmax * (1 - 1e-12))
    return 1.0 / (1.0 + (np.log(xmax / x) / np.log(xmax / x50)) ** b)


def gaudin_schuhmann(x: np.ndarray, xmax: float, m: float) -> np.ndarray:
    return np.minimum(np.asarray(x, dtype=np.float64) / xmax, 1.0) ** m


MODELS: dict[str, Callable[..., np.ndarray]] = {
    "rosin_rammler": rosin_rammler,
    "swebrec": swebrec,
    "gaudin_schuhmann": gaudin_schuhmann,
}


@dataclass(frozen=True)
class Fit:
    """A fitted model: its parameters (sizes in the data's unit), R^2 and RMSE in % passing."""

    model: str
    params: dict[str, float]
    r2: float
    rmse_pct: float

    def passing_pct(self, x: np.ndarray) -> np.ndarray:
        """The fitted curve's % passing at sizes ``x``, e.g. to draw it over the data."""
        return 100.0 * MODELS[self.model](x, **self.params)


def fit_distribution(distribution: SizeDistribution, model: str) -> Fit | None:
    """Least-squares fit of ``model`` to the distribution's points; None with fewer than 3
    distinct sizes or when the optimiser does not converge.

    The fitted parameters summarise a PSD in two or three numbers that blast and crusher
    models take as input (x50 and n for Kuz-Ram).

    Parameters
    ----------
    distribution
        Sizes with their cumulative % passing.
    model
        ``"rosin_rammler"``, ``"swebrec"`` or ``"gaudin_schuhmann"``.

    Examples
    --------
    Sizes drawn exactly from a Rosin-Rammler curve with x50 = 6 mm and n = 1.6:

    >>> import numpy as np
    >>> from orescope.measure import fit_distribution, size_distribution
    >>> passing = (np.arange(200) + 0.5) / 200
    >>> sizes = 6.0 * (-np.log1p(-passing) / np.log(2)) ** (1 / 1.6)
    >>> fit = fit_distribution(size_distribution(sizes), "rosin_rammler")
    >>> round(fit.params["x50"], 3), round(fit.params["n"], 3), round(fit.r2, 3)
    (6.0, 1.6, 1.0)
    """
    x = distribution.sizes
    y = distribution.passing_pct / 100.0
    if np.unique(x).size < 3 or np.any(x <= 0):
        return None
    x50 = distribution.size_at(50)
    largest = float(x.max())
    smallest = float(x.min())
    if model == "rosin_rammler":
        start, bounds = [x50, 1.5], ([smallest * 0.1, 0.05], [largest * 10, 20.0])
    elif model == "swebrec":
        start = [x50, largest * 1.5, 2.0]
        bounds = ([smallest, largest * 1.0001, 0.05], [largest, largest * 100, 50.0])
    elif model == "gaudin_schuhmann":
        start, bounds = [largest * 1.05, 1.0], ([largest, 0.01], [largest * 100, 20.0])
    else:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    first_guess = np.clip(start, bounds[0], bounds[1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(MODELS[model], x, y, p0=first_guess, bounds=bounds, maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    names = {"rosin_rammler": ("x50", "n"), "swebrec": ("x50", "xmax", "b")}
    named = dict(zip(names.get(model, ("xmax", "m")), map(float, params), strict=True))
    residual = y - MODELS[model](x, **named)
    total = ((y - y.mean()) ** 2).sum()
    r2 = float(1.0 - (residual**2).sum() / total) if total > 0 else float("nan")
    return Fit(model, named, r2, float(100.0 * np.sqrt((residual**2).mean())))


def fit_all(distribution: SizeDistribution) -> dict[str, Fit | None]:
    """Rosin-Rammler, Swebrec and Gaudin-Schuhmann fitted to the same distribution, to compare
    their R².

    Examples
    --------
    >>> import numpy as np
    >>> from orescope.measure import fit_all, size_distribution
    >>> fits = fit_all(size_distribution(np.array([1.0, 1.5, 2.0, 3.0, 5.0, 8.0])))
    >>> sorted(fits)
    ['gaudin_schuhmann', 'rosin_rammler', 'swebrec']
    >>> fit_all(size_distribution(np.array([2.0, 2.0])))["swebrec"] is None  # too few sizes
    True
    """
    return {name: fit_distribution(distribution, name) for name in MODELS}
