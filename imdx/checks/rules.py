"""The rules. Each yields :class:`Issue` records; none raises on bad data.

* ``negative-value``: a count below zero where the dataflow cannot be negative;
* ``origin-is-destination``: a bilateral observation whose two areas are the same country;
* ``parts-exceed-total`` / ``parts-differ-from-total``: the sexes do not add up to both sexes, the
  origins to all origins, or the countries to the world, beyond a tolerance;
* ``implausible-jump``: a series that grows or falls more than tenfold from one observation to the next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imdx.codes.areas import Areas
from imdx.model.dataflows import Dataflow
from imdx.model.report import Issue

#: dataflows whose values can be negative by definition
MAY_BE_NEGATIVE = {"net_migration", "crude_net_migration_rate", "fdi_inflows", "oda_received",
                   "migrant_stock_growth", "refugee_stock_growth"}
COUNT_UNITS = {"persons", "US dollars", "persons or cases"}
#: relative tolerance for parts against their published total (published figures are rounded)
TOLERANCE = 0.005


def _first_cell(frame: pd.DataFrame) -> dict:
    row = frame.iloc[0]
    return {"file": row.get("cell_file"), "sheet": row.get("cell_sheet"),
            "row": None if pd.isna(row.get("cell_row")) else int(row.get("cell_row")),
            "column": row.get("cell_column")}


def negative_values(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.id in MAY_BE_NEGATIVE or flow.unit not in COUNT_UNITS:
        return
    bad = frame[frame["value"] < 0]
    for _, group in bad.groupby("cell_file", dropna=False, sort=False):
        yield Issue("negative-value", f"{len(group)} negative values in a count that cannot be negative, "
                    f"e.g. {group['value'].iloc[0]:g}", severity="error", n_obs=len(group), **_first_cell(group))


def origin_is_destination(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    pairs = [(a, b) for a, b in [("origin", "destination"), ("sender", "receiver"), ("origin", "asylum")]
             if a in frame.columns and b in frame.columns]
    for a, b in pairs:
        same = frame[(frame[a] == frame[b]) & frame[a].map(lambda c: areas.kind(c) == "country")
                     & (frame["value"].fillna(0) != 0)]
        if flow.id in ("refugees", "displacement_demographics"):
            continue  # internally displaced and returned people legitimately have origin == asylum
        for code, group in same.groupby(a, sort=True):
            yield Issue("origin-is-destination", f"{len(group)} observations with {a} = {b} = {code}",
                        area=code, n_obs=len(group), **_first_cell(group))


def _parts_against_total(frame: pd.DataFrame, dim: str, total_code: str, parts_mask: pd.Series, label: str):
    keys = [c for c in frame.columns if c in _dims(frame) and c != dim]
    valued = frame[frame["value"].notna()]
    totals = valued[valued[dim] == total_code].set_index(keys)["value"]
    parts = valued[parts_mask.loc[valued.index]].groupby(keys)["value"].agg(["sum", "count"])
    joined = parts.join(totals.rename("total"), how="inner")
    if joined.empty:
        return
    diff = joined["sum"] - joined["total"]
    rel = diff.abs() / joined["total"].abs().clip(lower=1)
    bad = joined[(rel > TOLERANCE) & (diff.abs() > 5)]
    for key, row in bad.head(200).iterrows():
        key = key if isinstance(key, tuple) else (key,)
        where = dict(zip(keys, key))
        kind = "parts-exceed-total" if row["sum"] > row["total"] else "parts-differ-from-total"
        cell = frame[(frame[dim] == total_code)]
        for k, v in where.items():
            cell = cell[cell[k] == v]
        yield Issue(kind, f"{label} add up to {row['sum']:,.0f}, the published total is {row['total']:,.0f} "
                    f"({(row['sum'] - row['total']) / max(abs(row['total']), 1):+.1%}) for "
                    + ", ".join(f"{k}={v}" for k, v in where.items()),
                    area=next((v for k, v in where.items() if k in ("area", "destination", "origin")), None),
                    n_obs=int(row["count"]) + 1, **_first_cell(cell))


def _dims(frame: pd.DataFrame) -> list[str]:
    stop = list(frame.columns).index("value")
    return list(frame.columns[:stop])


def parts_add_up(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.unit not in COUNT_UNITS or frame.empty:
        return
    if "sex" in frame.columns and (frame["sex"] == "_T").any():
        yield from _parts_against_total(frame, "sex", "_T", frame["sex"].isin(["M", "F"]), "males and females")
    if flow.id == "migrant_stock" and (frame["origin"] == "_T").any():
        kinds = frame["origin"].map(areas.kind)
        yield from _parts_against_total(frame, "origin", "_T", kinds.isin(["country", "residual"]), "the origins")
    for dim in [d.name for d in flow.dimensions if d.is_area]:
        if (frame[dim] == "001").any():
            kinds = frame[dim].map(areas.kind)
            yield from _parts_against_total(frame, dim, "001", kinds == "country", f"the countries ({dim})")


def implausible_jumps(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.unit not in COUNT_UNITS or frame.empty or frame["year"].nunique() < 2:
        return
    keys = [c for c in _dims(frame) if c != "year"]
    data = frame[frame["value"].notna() & (frame["value"] > 0)].sort_values(keys + ["year"])
    prev = data.groupby(keys, sort=False)["value"].shift()
    ratio = data["value"] / prev
    big = data[((ratio > 10) | (ratio < 0.1)) & (np.maximum(data["value"], prev) > 10_000)]
    for _, row in big.head(100).iterrows():
        where = ", ".join(f"{k}={row[k]}" for k in keys)
        yield Issue("implausible-jump", f"{where}: {ratio[row.name]:.1f}× the previous observation in {row['year']}",
                    severity="info", area=row[keys[0]], file=row["cell_file"], sheet=row["cell_sheet"],
                    row=None if pd.isna(row["cell_row"]) else int(row["cell_row"]), column=row["cell_column"])


RULES = [negative_values, origin_is_destination, parts_add_up, implausible_jumps]
