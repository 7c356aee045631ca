"""The estimated flows as the flows, profile and corridor pages read them, kept in memory once read:

* the regional sums (``estimated_region_flows``, a few tens of thousands of rows) by grouping, sex and
  period;
* for one sex and period, a *cube*: one dense origin x destination matrix per method (230 x 230 x 8 numbers,
  3.4 MB), with the matrices of each flow's interval (``lower``, ``upper``: NaN where none is stored), from
  which a country's arrivals and departures, its largest partners, a corridor's flows and the largest
  countries of the world are read without going back to the store.

Both are read with :meth:`imdx.store.base.Store.select`, once per portal (a cube when first needed: the
profiles' both-sexes cubes at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from imdx.portal.data import ESTIMATED_FLOWS, Reader

REGIONAL = "estimated_region_flows"


def regional(reader: Reader) -> dict[tuple, pd.DataFrame]:
    """The stored regional sums by (grouping, sex, year): origin, destination, method, period_start, value,
    definition, note, source."""
    def build():
        keep = ["grouping", "origin", "destination", "sex", "method", "period_start", "year", "value", "definition",
                "note", "source"]
        frame = reader.select(REGIONAL, {}, source="", columns=keep[7:]).to_pandas()
        frame = frame[keep]
        return {key: part.reset_index(drop=True) for key, part in frame.groupby(["grouping", "sex", "year"])}
    return reader.index("regional-flows", build)


@dataclass(frozen=True)
class Cube:
    """The estimated flows of one sex and period between countries: ``od[method][i, j]`` from ``codes[i]`` to
    ``codes[j]`` (0 where nothing is stored: estimated exactly 0, or not estimated), and the bounds of its
    interval ``lower[method][i, j]``, ``upper[method][i, j]`` (NaN where the estimate gives none)."""

    sex: str
    start: str
    year: int
    codes: tuple[str, ...]
    od: dict[str, np.ndarray]
    source: str
    lower: dict[str, np.ndarray] = field(default_factory=dict)
    upper: dict[str, np.ndarray] = field(default_factory=dict)

    def at(self, code: str) -> int | None:
        try:
            return self.codes.index(code)
        except ValueError:
            return None

    def interval(self, method: str, i: int, j: int) -> tuple[float, float] | None:
        """The stored interval of the flow from ``codes[i]`` to ``codes[j]`` by ``method``, or None."""
        lo, hi = self.lower.get(method), self.upper.get(method)
        if lo is None or hi is None or not (np.isfinite(lo[i, j]) and np.isfinite(hi[i, j])):
            return None
        return float(lo[i, j]), float(hi[i, j])


def cube(reader: Reader, sex: str, year: int, start: str, methods: list[str]) -> Cube:
    """The flows of ``sex`` in the period ``start``-``year`` by ``methods`` (read once per portal, one method at
    a time: a method's flows are 40,000 rows or so, and reading them together would hold them all at once)."""
    def build():
        keep = ["origin", "destination", "method", "value", "source"]
        bounds = [m for m in reader.flow(ESTIMATED_FLOWS).measures if m in ("lower", "upper")]
        parts = []
        for method in methods:
            t = reader.select(ESTIMATED_FLOWS, {"sex": [sex], "year": [year], "period_start": [start],
                                                "method": [method]}, source="", columns=["value", *bounds, "source"])
            parts.append(t.select(keep + bounds).to_pandas())
        t = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keep + bounds)
        codes = tuple(sorted(set(t["origin"]) | set(t["destination"])))
        pos = {c: i for i, c in enumerate(codes)}
        o = t["origin"].map(pos).to_numpy()
        d = t["destination"].map(pos).to_numpy()
        od: dict[str, np.ndarray] = {}
        bound: dict[str, dict[str, np.ndarray]] = {b: {} for b in ("lower", "upper")}
        for method, idx in t.groupby("method").indices.items():
            m = np.zeros((len(codes), len(codes)))
            m[o[idx], d[idx]] = t["value"].to_numpy()[idx]
            od[str(method)] = m
            for b in bounds:
                values = pd.to_numeric(t[b].iloc[idx], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                if np.isfinite(values).any():  # a method stored without intervals keeps none
                    m = np.full((len(codes), len(codes)), np.nan)
                    m[o[idx], d[idx]] = values
                    bound[b][str(method)] = m
        return Cube(sex, str(start), int(year), codes, od, str(t["source"].iloc[0]) if len(t) else "imdx-estimates",
                    bound["lower"], bound["upper"])
    return reader.index(f"flow-cube-{sex}-{start}-{year}", build)
