"""Stocks at reference dates from observations at irregular dates.

Census and register stocks are observed on their own dates (e.g. 2011-03-27); estimates are wanted
at mid-year reference dates (1 July). Between two observations the stock is assumed to change at a
constant exponential rate; before the first and after the last observation the rate of the nearest
interval is extended. Every value says how it was obtained (observed / interpolated / extrapolated),
so an estimated number is never mistaken for an observed one.

Reference: United Nations (1983) *Manual X: Indirect Techniques for Demographic Estimation*, annex on
interpolation; the same geometric interpolation is used by UN DESA for the International Migrant Stock
to bring census dates to 1 July.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imdx.methods import MethodInputError

__all__ = ["InterpolatedStocks", "decimal_year", "interpolate_stocks", "mid_year"]

OBSERVED, INTERPOLATED, EXTRAPOLATED, LINEAR = "observed", "interpolated", "extrapolated", "interpolated-linear"


def decimal_year(d) -> float:
    """A date (``datetime.date``, ``numpy.datetime64``, ISO string or a number) as a decimal year:
    ``year + (day of year - 1) / days in year``.

    >>> round(decimal_year("2011-07-01"), 4), decimal_year(2011.5)
    (2011.4959, 2011.5)
    """
    if isinstance(d, (int, float, np.integer, np.floating)):
        return float(d)
    if isinstance(d, str):
        d = _dt.date.fromisoformat(d)
    if isinstance(d, np.datetime64):
        d = d.astype("datetime64[D]").astype(_dt.date)
    if isinstance(d, _dt.datetime):
        d = d.date()
    if not isinstance(d, _dt.date):
        raise MethodInputError(f"cannot read {d!r} as a date; give a date, an ISO string or a decimal year.")
    start = _dt.date(d.year, 1, 1)
    days = (_dt.date(d.year + 1, 1, 1) - start).days
    return d.year + (d - start).days / days


def mid_year(year: int) -> float:
    """The mid-year reference date (1 July) of ``year`` as a decimal year.

    >>> round(mid_year(2020), 4)    # 2020 is a leap year: day 183 of 366
    2020.4973
    """
    return decimal_year(_dt.date(int(year), 7, 1))


@dataclass(frozen=True)
class InterpolatedStocks:
    """``values[t, ...]`` at ``dates[t]`` (decimal years); ``how[t]`` is "observed", "interpolated",
    "interpolated-linear" (a zero at one end makes the exponential undefined) or "extrapolated";
    ``estimated[t]`` is True unless observed."""

    dates: np.ndarray
    values: np.ndarray
    how: tuple[str, ...]
    method: str = "exponential"
    options: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    @property
    def estimated(self) -> np.ndarray:
        return np.array([h != OBSERVED for h in self.how])


def interpolate_stocks(dates: Sequence, values, targets: Sequence | None = None, *,
                       extrapolate: bool = True, max_extrapolation: float | None = None) -> InterpolatedStocks:
    """Stocks at ``targets`` from observations ``values[t, ...]`` at ``dates[t]``.

    Between observations at ``t0 < t1``: ``v(t) = v0 * exp(r (t - t0))`` with
    ``r = ln(v1 / v0) / (t1 - t0)`` (constant exponential growth); if ``v0`` or ``v1`` is 0 the
    change is taken as linear. Outside the observed range (``extrapolate=True``) the rate of the
    nearest interval is extended; with a single observation the stock is held constant. Targets
    further than ``max_extrapolation`` years from the nearest observation raise an error. ``values``
    may have extra dimensions (e.g. a whole bilateral table per date). Default targets: 1 July of
    every year from the first to the last observation.

    Example: a census of 1 000 on 2010-04-01 and 1 210 on 2020-04-01 (10 % growth per 5 years):

    >>> r = interpolate_stocks(["2010-04-01", "2020-04-01"], [1000.0, 1210.0], [mid_year(2015)])
    >>> round(float(r.values[0]), 1), r.how
    (1105.2, ('interpolated',))
    """
    t = np.array([decimal_year(d) for d in dates], dtype=float)
    v = np.asarray(values, dtype=float)
    if v.shape[:1] != t.shape:
        raise MethodInputError(f"values must have one entry per date ({len(t)}), got shape {v.shape}.")
    if len(t) == 0:
        raise MethodInputError("at least one observation is needed.")
    if np.any(~np.isfinite(v)) or np.any(v < 0):
        raise MethodInputError("stocks must be finite and non-negative; drop missing observations first.")
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if np.any(np.diff(t) == 0):
        raise MethodInputError("two observations share a date; keep one.")
    if targets is None:
        targets = [mid_year(y) for y in range(int(np.floor(t[0])), int(np.floor(t[-1])) + 1)
                   if t[0] <= mid_year(y) <= t[-1]]
    tt = np.array([decimal_year(d) for d in targets], dtype=float)
    out = np.empty((len(tt),) + v.shape[1:])
    how: list[str] = []
    for n, x in enumerate(tt):
        hit = np.flatnonzero(np.isclose(t, x, rtol=0, atol=1e-9))
        if len(hit):
            out[n], _ = v[hit[0]], how.append(OBSERVED)
            continue
        inside = t[0] < x < t[-1]
        if not inside:
            if not extrapolate:
                raise MethodInputError(f"target {x:.4f} is outside the observed range "
                                       f"[{t[0]:.4f}, {t[-1]:.4f}]; pass extrapolate=True to extend it.")
            gap = min(abs(x - t[0]), abs(x - t[-1]))
            if max_extrapolation is not None and gap > max_extrapolation:
                raise MethodInputError(f"target {x:.4f} is {gap:.2f} years from the nearest observation "
                                       f"(limit {max_extrapolation}).")
        if len(t) == 1:
            out[n], _ = v[0], how.append(EXTRAPOLATED)
            continue
        i = int(np.clip(np.searchsorted(t, x) - 1, 0, len(t) - 2))
        value, linear = _between(t[i], t[i + 1], v[i], v[i + 1], x)
        out[n] = value
        how.append(EXTRAPOLATED if not inside else (LINEAR if linear else INTERPOLATED))
    return InterpolatedStocks(tt, out, tuple(how), "exponential",
                              {"extrapolate": extrapolate, "max_extrapolation": max_extrapolation})


def _between(t0, t1, v0, v1, x):
    v0, v1 = np.asarray(v0, float), np.asarray(v1, float)
    s = (x - t0) / (t1 - t0)
    pos = (v0 > 0) & (v1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        expo = v0 * np.exp(s * np.log(np.where(pos, v1 / np.where(pos, v0, 1.0), 1.0)))
    lin = np.maximum(v0 + s * (v1 - v0), 0.0)
    return np.where(pos, expo, lin), bool(np.any(~pos & ((v0 > 0) | (v1 > 0))))
