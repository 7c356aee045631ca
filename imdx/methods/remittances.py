"""Remittance analytics: growth, volatility against other capital flows, share of GDP, and the
Ratha & Shaw (2007) bilateral allocation.

Volatility is measured two ways, because each has a blind spot:

* **coefficient of variation of annual growth** ``CV = sd(g) / |mean(g)|`` with
  ``g[t] = x[t] / x[t-1] - 1`` (needs positive values; undefined when mean growth is 0);
* **standard deviation of the detrended log series**: residuals of the least-squares line
  ``log x[t] = a + b t`` (independent of the level and of the average growth rate).

References: Ratha, D. (2003) Workers' remittances: an important and stable source of external
development finance, *Global Development Finance*, World Bank, ch. 7 (remittances less volatile than
FDI and ODA); Ratha, D. & Shaw, W. (2007) South-South migration and remittances, World Bank Working
Paper 102 (bilateral allocation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imdx.methods import MethodInputError

__all__ = [
    "BilateralRemittances",
    "Volatility",
    "annual_growth",
    "compare_volatility",
    "detrended_log_sd",
    "growth_cv",
    "ratha_shaw_allocation",
    "share_of_gdp",
    "volatility",
    "volatility_table",
]


def _series(name: str, x, positive: bool = True) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise MethodInputError(f"{name} must be a 1-D yearly series.")
    if positive and np.any(a[np.isfinite(a)] <= 0):
        raise MethodInputError(f"{name} must be positive (growth and logs are undefined otherwise); FDI can be "
                               "negative (disinvestment): use gross inflows or drop those years.")
    return a


def annual_growth(x) -> np.ndarray:
    """``g[t] = x[t] / x[t-1] - 1`` (length ``len(x) - 1``; NaN where a year is missing).

    >>> annual_growth([100.0, 110.0, 99.0]).round(3).tolist()
    [0.1, -0.1]
    """
    a = _series("series", x)
    return a[1:] / a[:-1] - 1.0


def growth_cv(x) -> float:
    """Coefficient of variation of annual growth, ``sd(g) / |mean(g)|`` (sample sd, ddof=1; missing
    years ignored).

    >>> round(growth_cv([100.0, 110.0, 121.0, 133.1]), 9)
    0.0
    """
    g = annual_growth(x)
    g = g[np.isfinite(g)]
    if len(g) < 2:
        raise MethodInputError("need at least three consecutive years to measure growth volatility.")
    m = g.mean()
    return float("inf") if m == 0 else float(g.std(ddof=1) / abs(m))


def detrended_log_sd(x, years=None) -> float:
    """Standard deviation (ddof=2: two fitted parameters) of the residuals of ``log x`` around its
    least-squares linear trend.

    >>> round(detrended_log_sd([1.0, np.e, np.e ** 2]), 12)
    0.0
    """
    a = _series("series", x)
    t = np.arange(len(a), dtype=float) if years is None else np.asarray(years, dtype=float)
    ok = np.isfinite(a)
    if ok.sum() < 3:
        raise MethodInputError("need at least three years to detrend.")
    y = np.log(a[ok])
    coef = np.polyfit(t[ok], y, 1)
    resid = y - np.polyval(coef, t[ok])
    return float(np.sqrt((resid ** 2).sum() / (ok.sum() - 2)))


@dataclass(frozen=True)
class Volatility:
    """Volatility measures of one series."""

    name: str
    years: int
    mean_growth: float
    growth_cv: float
    detrended_log_sd: float
    method: str = "volatility"
    options: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()


def volatility(x, name: str = "series", years=None) -> Volatility:
    """Both volatility measures and the mean annual growth of a series.

    >>> v = volatility([100.0, 110.0, 121.0, 133.1], "remittances")
    >>> round(v.mean_growth, 6), round(v.growth_cv, 6), round(v.detrended_log_sd, 6)
    (0.1, 0.0, 0.0)
    """
    g = annual_growth(x)
    return Volatility(name, int(np.isfinite(np.asarray(x, float)).sum()), float(np.nanmean(g)), growth_cv(x),
                      detrended_log_sd(x, years))


def compare_volatility(remittances, fdi, oda=None, years=None) -> dict[str, Volatility]:
    """Volatility of remittances beside FDI (and ODA where given), over the same years.

    Years where any given series is missing or not positive are dropped from all of them, so the
    measures compare like with like. Returns ``{"remittances": ..., "fdi": ..., "oda": ...}``.

    >>> v = compare_volatility([100, 105, 111, 116, 122], [50, 80, 40, 90, 60])
    >>> v["remittances"].growth_cv < v["fdi"].growth_cv
    True
    """
    series = {"remittances": remittances, "fdi": fdi} | ({"oda": oda} if oda is not None else {})
    arr = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    lengths = {len(v) for v in arr.values()}
    if len(lengths) != 1:
        raise MethodInputError("all series must cover the same years.")
    ok = np.logical_and.reduce([np.isfinite(v) & (v > 0) for v in arr.values()])
    t = np.arange(len(ok)) if years is None else np.asarray(years, dtype=float)
    out = {}
    for k, v in arr.items():
        x = np.where(ok, v, np.nan)
        out[k] = Volatility(k, int(ok.sum()), float(np.nanmean(annual_growth(x))), growth_cv(x),
                            detrended_log_sd(x, t), options={"common_years": int(ok.sum())})
    return out


def volatility_table(panel, min_years: int = 5):
    """Per-country volatility of remittances against FDI (and ODA), and a summary per group.

    ``panel``: a pandas DataFrame with columns ``country``, ``year``, ``remittances``, ``fdi`` and
    optionally ``oda`` and ``group`` (e.g. World Bank income group). For each country,
    :func:`compare_volatility` over its common positive years (countries with fewer than
    ``min_years`` are skipped). Returns ``(by_country, by_group)``: ``by_country`` has one row per
    country with ``<series>_growth_cv`` and ``<series>_detrended_sd`` columns and
    ``remittances_less_volatile`` (detrended-sd comparison with FDI); ``by_group`` has, per group,
    the number of countries, the median of each measure and the share of countries where remittances
    are less volatile than FDI.

    >>> import pandas as pd
    >>> years = list(range(2000, 2008))
    >>> p = pd.DataFrame({"country": ["A"] * 8, "year": years, "group": "LMIC",
    ...                   "remittances": [100 * 1.05 ** i for i in range(8)],
    ...                   "fdi": [50, 90, 40, 120, 60, 150, 70, 160]})
    >>> by_country, by_group = volatility_table(p)
    >>> bool(by_country.loc["A", "remittances_less_volatile"]), int(by_group.loc["LMIC", "countries"])
    (True, 1)
    """
    import pandas as pd

    need = {"country", "year", "remittances", "fdi"}
    if not need <= set(panel.columns):
        raise MethodInputError(f"panel needs the columns {sorted(need)}; it has {sorted(panel.columns)}.")
    series = ("remittances", "fdi") + (("oda",) if "oda" in panel.columns else ())
    rows = []
    for country, g in panel.sort_values("year").groupby("country", sort=True):
        x = {k: g[k].to_numpy(float) for k in series}
        ok = np.logical_and.reduce([np.isfinite(v) & (v > 0) for v in x.values()])
        if ok.sum() < min_years:
            continue
        v = compare_volatility(x["remittances"], x["fdi"], x.get("oda"), g["year"].to_numpy(float))
        row = {"country": country, "group": g["group"].iloc[0] if "group" in g else None,
               "years": v["remittances"].years}
        for k, m in v.items():
            row[f"{k}_growth_cv"], row[f"{k}_detrended_sd"] = m.growth_cv, m.detrended_log_sd
        row["remittances_less_volatile"] = row["remittances_detrended_sd"] < row["fdi_detrended_sd"]
        rows.append(row)
    if not rows:
        return pd.DataFrame(), pd.DataFrame()
    by_country = pd.DataFrame(rows).set_index("country")
    measures = [c for c in by_country.columns if c.endswith(("_growth_cv", "_detrended_sd"))]
    grouped = by_country.assign(group=by_country["group"].fillna("all")).groupby("group")
    by_group = grouped[measures].median()
    by_group.insert(0, "countries", grouped.size())
    by_group["share_remittances_less_volatile"] = grouped["remittances_less_volatile"].mean()
    return by_country, by_group


def share_of_gdp(remittances, gdp) -> np.ndarray:
    """Remittances as a percentage of GDP: ``100 * remittances / gdp`` (NaN where GDP is missing or 0).

    >>> share_of_gdp([5.0, 2.0], [100.0, 0.0]).tolist()
    [5.0, nan]
    """
    r, g = np.asarray(remittances, dtype=float), np.asarray(gdp, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(g > 0, 100.0 * r / g, np.nan)


@dataclass(frozen=True)
class BilateralRemittances:
    """``flows[i, j]``: remittances received by country i from country j (sent by i's emigrants in j)."""

    flows: np.ndarray
    method: str
    options: dict[str, Any]
    unallocated: np.ndarray
    inputs: tuple[str, ...] = ()


def ratha_shaw_allocation(received, migrant_stock, income, rule: str = "host_income") -> BilateralRemittances:
    """Allocate each country's total remittances received over the countries where its emigrants live
    (Ratha & Shaw 2007).

    ``received[i]``: total remittances received by i; ``migrant_stock[i, j]``: people born in i living
    in j (diagonal ignored); ``income[j]``: per-capita income of j. Weights, normalised per row:

    * ``"stock"``: ``w[i, j] = M[i, j]`` (every migrant remits the same);
    * ``"host_income"`` (default): ``w[i, j] = M[i, j] * income[j]`` (remittances per migrant rise with
      the host country's income);
    * ``"income_gap"``: ``w[i, j] = M[i, j] * max(income[j] - income[i], 0)`` (migrants remit from
      the income difference; rows with no positive gap fall back to ``host_income``).

    ``flows[i, j] = received[i] * w[i, j] / sum_j w[i, j]``; a country with no emigrants (or missing
    weights) keeps its total in ``unallocated``. Rows sum to ``received``.

    >>> r = ratha_shaw_allocation([30.0, 0.0], [[0, 10], [5, 0]], [1.0, 3.0])
    >>> r.flows.tolist()
    [[0.0, 30.0], [0.0, 0.0]]
    """
    rec = np.asarray(received, dtype=float)
    m = np.asarray(migrant_stock, dtype=float).copy()
    y = np.asarray(income, dtype=float)
    n = len(rec)
    if m.shape != (n, n) or y.shape != (n,):
        raise MethodInputError("received (n), migrant_stock (n x n) and income (n) must describe the same "
                               "countries in the same order.")
    if np.any(m < 0) or np.any(rec < 0):
        raise MethodInputError("migrant stocks and remittances must be non-negative.")
    np.fill_diagonal(m, 0.0)
    m = np.nan_to_num(m)
    if rule == "stock":
        w = m
    elif rule in ("host_income", "income_gap"):
        yy = np.nan_to_num(y)
        w = m * yy[None, :]
        if rule == "income_gap":
            gap = m * np.maximum(yy[None, :] - yy[:, None], 0.0)
            has = gap.sum(axis=1) > 0
            w = np.where(has[:, None], gap, w)
    else:
        raise MethodInputError("rule must be 'stock', 'host_income' or 'income_gap'.")
    tot = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(tot[:, None] > 0, w / tot[:, None], 0.0)
    flows = share * np.nan_to_num(rec)[:, None]
    unallocated = np.where(tot > 0, 0.0, np.nan_to_num(rec))
    return BilateralRemittances(flows, "ratha_shaw_2007", {"rule": rule}, unallocated)
