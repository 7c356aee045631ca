"""Summary indices of migration.

* **Net migration** of region r: ``in[r] - out[r]`` = column sum minus row sum of an origin x
  destination flow table (diagonal ignored). Over a closed world it sums to zero.
* **Crude migration intensity** (Bell, Blake, Boyle et al. 2002, *JRSS A* 165(3)): migrants during the
  period as a percentage of the population at risk, ``100 * sum_{i != j} f[i, j] / P``; divided by the
  period length for an annual figure.
* **Emigration rate** of an origin (the "emigration rate" of the UN and of Docquier & Marfouk 2006):
  ``emigrants / (residents + emigrants)``, i.e. the share of all people born in (or citizens of) a
  country who live abroad.
"""

from __future__ import annotations

import numpy as np

from imdx.methods import MethodInputError

__all__ = ["emigration_rate", "emigration_rates_from_stocks", "migration_intensity", "net_migration"]


def _od(flows) -> np.ndarray:
    f = np.asarray(flows, dtype=float)
    if f.ndim != 2 or f.shape[0] != f.shape[1]:
        raise MethodInputError(f"flows must be a square origin x destination table, got {f.shape}.")
    f = f.copy()
    np.fill_diagonal(f, 0.0)
    return f


def net_migration(flows) -> np.ndarray:
    """Net migration by region: inflows minus outflows.

    >>> net_migration([[0, 5], [2, 0]]).tolist()
    [-3.0, 3.0]
    """
    f = _od(flows)
    return f.sum(axis=0) - f.sum(axis=1)


def migration_intensity(flows, population: float, period_years: float = 1.0) -> float:
    """Crude migration intensity, percent per year: ``100 * sum_{i != j} f / P / period_years``.

    >>> migration_intensity([[0, 5], [2, 0]], population=700, period_years=5)
    0.2
    """
    if population <= 0 or period_years <= 0:
        raise MethodInputError("population and period_years must be positive.")
    return float(100.0 * _od(flows).sum() / population / period_years)


def emigration_rate(emigrants, residents) -> np.ndarray:
    """``emigrants / (residents + emigrants)`` element-wise (NaN where both are 0).

    >>> emigration_rate([10.0, 0.0], [90.0, 0.0]).tolist()
    [0.1, nan]
    """
    e, r = np.asarray(emigrants, dtype=float), np.asarray(residents, dtype=float)
    if np.any(e < 0) or np.any(r < 0):
        raise MethodInputError("emigrants and residents must be non-negative.")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(e + r > 0, e / (e + r), np.nan)


def emigration_rates_from_stocks(stock) -> np.ndarray:
    """Emigration rate by origin from a birthplace x residence stock table: emigrants of k are
    ``sum_{j != k} S[k, j]``, residents the native-born ``S[k, k]``.

    >>> emigration_rates_from_stocks([[90, 10], [30, 70]]).tolist()
    [0.1, 0.3]
    """
    s = np.asarray(stock, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise MethodInputError("stock must be a square birthplace x residence table.")
    native = np.diag(s)
    return emigration_rate(s.sum(axis=1) - native, native)
