"""Agreement of our flow estimates with Abel & Sander's (2014) published estimates, 1990-2010.

Abel, G. J. & Sander, N. (2014) Quantifying global international migration flows. *Science*
343:1520-1522. Their inputs were UN DESA's 2013 bilateral stocks (Trends in International Migrant
Stock: The 2013 revision) and WPP 2012 births and deaths, closed demographic accounting with the
stayer (minimum-migration) assumption, 196 countries. Ours are UN DESA 2020 and WPP 2024, 230
countries; the stock tables were revised between the editions (and UN DESA 2020 re-estimated the
1990-2010 stocks), so the numbers cannot be equal: this module measures how close they come.

The file (``abel_flows/abel_sander_2014_flows_196_countries_1990-2010.csv`` in the mirror, see its
PROVENANCE.md) is read with its checksum checked; ``countryflow_<y>`` is the flow of the period
that *starts* in ``y``.

Measures, per method and period, over the ordered pairs of the 196 countries (diagonal excluded):

* totals: theirs, ours over the same 196 countries, ours over all our regions;
* ``corr_log``: Pearson correlation of ``log10(1 + flow)`` over every pair (zeros included);
* ``corr_log_positive``: Pearson correlation of ``log10(flow)`` over the pairs both estimate > 0;
* ``spearman``: rank correlation over every pair;
* ``within_2x``: share of the pairs where either estimate is at least ``min_flow`` (1,000 persons)
  whose ratio lies between 1/2 and 2;
* ``both_small``: share of pairs both put below ``min_flow``;
* ``corr_log``, ``spearman`` and ``within_2x`` again on their 10 regions (the 100 region-to-region sums).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import ImdxError

FILE = "abel_flows/abel_sander_2014_flows_196_countries_1990-2010.csv"
SHA256 = "d925a70d30face345c952ab9c1709509e47841647b7d855c2437b74269dd4c18"
PERIODS = ((1990, 1995), (1995, 2000), (2000, 2005), (2005, 2010))
#: world totals published in the paper (millions), for the check in :func:`read_abel_sander`
PUBLISHED_TOTALS = {1990: 41.4, 1995: 34.2, 2000: 39.9, 2005: 41.5}
MIN_FLOW = 1000.0


class AbelSanderError(ImdxError):
    """The Abel & Sander file is missing or is not the published one."""


def read_abel_sander(mirror: Path | str) -> pd.DataFrame:
    """The published flows, long: ``origin, destination, period_start, year, value`` (off-diagonal)."""
    path = Path(mirror) / FILE
    if not path.is_file():
        raise AbelSanderError(f"{path} is missing: point IMDX_MIRROR (or --mirror) at the folder of published files "
                              "(../shared/data), which holds abel_flows/.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise AbelSanderError(f"{path} is not the file described in abel_flows/PROVENANCE.md (sha256 {digest[:12]}…, "
                              f"expected {SHA256[:12]}…).")
    raw = pd.read_csv(path)
    cols = {"origin_iso", "destination_iso"} | {f"countryflow_{y}" for y, _ in PERIODS}
    missing = cols - set(raw.columns)
    if missing:
        raise AbelSanderError(f"{path} lacks the columns {sorted(missing)}")
    long = raw.melt(id_vars=["origin_iso", "destination_iso", "originregion_name", "destinationregion_name"],
                    value_vars=[f"countryflow_{y}" for y, _ in PERIODS],
                    var_name="column", value_name="value")
    long["period_start"] = long["column"].str[-4:].astype(int)
    long["year"] = long["period_start"] + 5
    long = long.rename(columns={"origin_iso": "origin", "destination_iso": "destination",
                                "originregion_name": "origin_region", "destinationregion_name": "destination_region"})
    long = long[long["origin"] != long["destination"]]
    for start, total in PUBLISHED_TOTALS.items():
        got = long.loc[long["period_start"] == start, "value"].sum() / 1e6
        if abs(got - total) > 0.05:
            raise AbelSanderError(f"{path}: the {start}-{start + 5} world total is {got:.2f} M, not the published "
                                  f"{total} M.")
    return long[["origin", "destination", "period_start", "year", "value", "origin_region",
                 "destination_region"]].reset_index(drop=True)


@dataclass(frozen=True)
class Agreement:
    table: pd.DataFrame  # one row per method and period
    regions: pd.DataFrame  # the same measures on their 10 regions (region-to-region flows, 100 cells)
    largest: pd.DataFrame  # the corridors that differ most (closed accounting, per period)
    countries: int
    ours_only: tuple[str, ...]


def _measures(theirs: np.ndarray, ours: np.ndarray, min_flow: float) -> dict:
    lt, lo = np.log10(1 + np.maximum(theirs, 0)), np.log10(1 + np.maximum(ours, 0))
    pos = (theirs > 0) & (ours > 0)
    big = (np.abs(theirs) >= min_flow) | (np.abs(ours) >= min_flow)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ours[big] / theirs[big]
    return {"pairs": len(theirs),
            "corr_log": float(np.corrcoef(lt, lo)[0, 1]),
            "corr_log_positive": float(np.corrcoef(np.log10(theirs[pos]), np.log10(ours[pos]))[0, 1])
            if pos.sum() > 2 else float("nan"),
            "spearman": float(pd.Series(theirs).corr(pd.Series(ours), method="spearman")),
            "pairs_min_flow": int(big.sum()),
            "within_2x": float(np.mean((ratio >= 0.5) & (ratio <= 2))) if big.any() else float("nan"),
            "both_small": float(np.mean(~big))}


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, *, min_flow: float = MIN_FLOW, top: int = 10) -> Agreement:
    """Agreement of ``ours`` (columns ``origin, destination, method, period_start, value``, zero cells may
    be absent) with ``theirs`` (:func:`read_abel_sander`)."""
    countries = sorted(set(theirs["origin"]) | set(theirs["destination"]))
    ours = ours.assign(period_start=ours["period_start"].astype(int))
    ours_only = tuple(sorted(set(ours["origin"]) - set(countries)))
    rows, largest, region_rows = [], [], []
    region_of = dict(zip(theirs["origin"], theirs["origin_region"])) if "origin_region" in theirs else {}
    grid = pd.MultiIndex.from_product([countries, countries], names=["origin", "destination"])
    grid = grid[grid.get_level_values(0) != grid.get_level_values(1)]
    for (method, start), g in ours.groupby(["method", "period_start"], observed=True, sort=True):
        t = theirs[theirs["period_start"] == start]
        if t.empty:
            continue
        tv = t.set_index(["origin", "destination"])["value"].reindex(grid).fillna(0).to_numpy(float)
        ov = (g.groupby(["origin", "destination"], observed=True)["value"].sum().reindex(grid).fillna(0)
              .to_numpy(float))
        row = {"method": method, "period": f"{start}-{start + 5}",
               "total_theirs": float(tv.sum()), "total_ours_196": float(ov.sum()),
               "total_ours_all": float(g.loc[g["origin"] != g["destination"], "value"].sum())}
        row.update(_measures(tv, ov, min_flow))
        rows.append(row)
        if region_of:
            keys = [grid.get_level_values(0).map(region_of), grid.get_level_values(1).map(region_of)]
            rt = pd.Series(tv).groupby(keys).sum()
            ro = pd.Series(ov).groupby(keys).sum().reindex(rt.index)
            rrow = {"method": method, "period": row["period"], "cells": len(rt)}
            m = _measures(rt.to_numpy(float), ro.to_numpy(float), min_flow)
            rrow.update({k: m[k] for k in ("corr_log", "spearman", "within_2x")})
            region_rows.append(rrow)
        if method == "demographic_accounting_closed":
            diff = pd.DataFrame({"origin": grid.get_level_values(0), "destination": grid.get_level_values(1),
                                 "period": row["period"], "abel_sander": tv, "ours": ov, "difference": ov - tv})
            largest.append(diff.reindex(diff["difference"].abs().sort_values(ascending=False).index[:top]))
    table = pd.DataFrame(rows)
    big = pd.concat(largest, ignore_index=True) if largest else pd.DataFrame()
    return Agreement(table, pd.DataFrame(region_rows), big, len(countries), ours_only)


def report(agreement: Agreement) -> str:
    """The comparison as markdown."""
    from imdx.estimates.markdown import table as md

    t = agreement.table.copy()
    for col in ("total_theirs", "total_ours_196", "total_ours_all"):
        t[col] = (t[col] / 1e6).round(2)
    for col in ("corr_log", "corr_log_positive", "spearman", "within_2x", "both_small"):
        t[col] = t[col].round(3)
    closed = t[t["method"] == "demographic_accounting_closed"]
    lines = ["# Our flow estimates against Abel & Sander (2014)", "",
             ("Abel & Sander estimated 5-year flows between 196 countries from UN DESA's 2013 stocks and WPP 2012 "
             "births and deaths (closed demographic accounting, stayer assumption). Ours use UN DESA 2020 and "
             "WPP 2024 for 230 countries, so agreement, not equality, is expected. Totals in millions; "
             f"correlations over all {agreement.countries * (agreement.countries - 1):,} ordered pairs of their "
             f"{agreement.countries} countries; `within_2x` over the pairs where either estimate is at least "
             f"{MIN_FLOW:,.0f} persons."), "",
             "## Like for like: closed demographic accounting", "", md(closed.drop(columns=["method"])), "",
             "## Every method", "", md(t), ""]
    if len(agreement.regions):
        r = agreement.regions.copy()
        for col in ("corr_log", "spearman", "within_2x"):
            r[col] = r[col].round(3)
        lines += ["## Region to region (their 10 regions, flows between and within them)", "", md(r), ""]
    if len(agreement.largest):
        big = agreement.largest.copy()
        for col in ("abel_sander", "ours", "difference"):
            big[col] = big[col].round(0).astype("int64")
        lines += ["## Corridors that differ most (closed accounting)", "", md(big), ""]
    lines += ["## Why they differ", "",
              ("* **Stock revisions.** UN DESA 2020 re-estimated the 1990-2010 bilateral stocks (new censuses, "
              "new methods for imputed countries, refugees added); the flows respond to *changes* in stocks, so "
              "revisions move them a lot."),
              ("* **Populations, births and deaths.** WPP 2024 against WPP 2012: different native-born and a different "
              "global balance, which the closed system spreads over the native-born."),
              ("* **Countries.** Their 196 against our 230 (the extra small territories "
              f"{', '.join(agreement.ours_only[:12])}{' ...' if len(agreement.ours_only) > 12 else ''} "
              "take part in our account); Sudan before 2011 includes South Sudan in theirs."),
              "* **Other origin.** We leave UN DESA's `_O` (other/unknown birthplace) outside the account.", ""]
    return "\n".join(lines)


def ours_from_estimates(estimates) -> pd.DataFrame:
    """Our ``_T`` flows for the Abel & Sander periods, from :class:`imdx.estimates.run.Estimate` objects."""
    parts = []
    for e in estimates:
        if e.sex != "_T" or (e.start, e.end) not in PERIODS:
            continue
        od = np.nan_to_num(e.od)
        i, j = np.nonzero(od)
        parts.append(pd.DataFrame({"origin": np.asarray(e.regions)[i], "destination": np.asarray(e.regions)[j],
                                   "method": e.method, "period_start": e.start, "value": od[i, j]}))
    return pd.concat(parts, ignore_index=True)


def ours_from_store(store, source: str = "imdx-estimates") -> pd.DataFrame:
    """Our stored ``_T`` flows for the Abel & Sander periods (the current estimate of each cell)."""
    table = store.select("estimated_flows", {"sex": ["_T"], "year": [e for _, e in PERIODS]}, source=source)
    frame = table.select(["origin", "destination", "method", "period_start", "year", "value"]).to_pandas()
    frame["period_start"] = frame["period_start"].astype(int)
    return frame[frame["year"] - frame["period_start"] == 5]
