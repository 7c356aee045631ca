"""The rules. Each yields :class:`Issue` records; none raises on bad data.

* ``negative-value``: a count below zero where the dataflow cannot be negative;
* ``origin-is-destination``: a bilateral observation whose two areas are the same country;
* ``parts-exceed-total`` / ``parts-differ-from-total``: the sexes do not add up to both sexes, the
  origins to all origins, or the countries to the world, beyond a tolerance;
* ``implausible-jump``: a series that grows or falls more than tenfold from one observation to the next.
"""

from __future__ import annotations

import duckdb
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
#: at most this many issues of one kind per table; the message of the last one says how many more
LIMIT = 200
CELL = ["cell_file", "cell_sheet", "cell_row", "cell_column"]


def _plain(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _cell(row) -> dict:
    file, sheet, line, column = (_plain(row[c]) for c in CELL)
    return {"file": file, "sheet": sheet, "row": None if line is None else int(line), "column": column}


def _kinds(areas: Areas, codes: pd.Series) -> pd.Series:
    """The kind (country, aggregate, residual) of each area code, as plain strings."""
    return codes.astype(object).map(areas.frame["kind"].to_dict()).astype(object)


def _dims(frame: pd.DataFrame) -> list[str]:
    return list(frame.columns[: list(frame.columns).index("value")])


def negative_values(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.id in MAY_BE_NEGATIVE or flow.unit not in COUNT_UNITS:
        return
    bad = frame[frame["value"] < 0]
    for _, group in bad.groupby("cell_file", dropna=False, sort=False):
        yield Issue("negative-value", f"{len(group)} negative values in a count that cannot be negative, "
                    f"e.g. {group['value'].iloc[0]:g}", severity="error", n_obs=len(group), **_cell(group.iloc[0]))


def origin_is_destination(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.id in ("refugees", "displacement_demographics"):
        return  # internally displaced and returned people legitimately have origin == asylum
    pairs = [(a, b) for a, b in [("origin", "destination"), ("sender", "receiver"), ("origin", "asylum")]
             if a in frame.columns and b in frame.columns]
    for a, b in pairs:
        same = frame[(frame[a] == frame[b]).fillna(False) & (_kinds(areas, frame[a]) == "country")
                     & (frame["value"].fillna(0) != 0)]
        for code, group in same.groupby(a, sort=True):
            yield Issue("origin-is-destination", f"{len(group)} observations with {a} = {b} = {code}",
                        area=code, n_obs=len(group), **_cell(group.iloc[0]))


def _parts_against_total(frame: pd.DataFrame, dim: str, total_code: str, is_part: pd.Series, label: str):
    """Parts (``is_part`` rows) summed over ``dim`` against the published ``total_code`` row of each key.

    Tolerance is relative to the larger of the total and the parts' absolute sum, so that a published
    total of 0 (world net migration) is met by parts that cancel out up to rounding."""
    keys = [c for c in _dims(frame) if c != dim]
    cols = ", ".join(f'"{k}"' for k in keys)
    con = duckdb.connect()
    con.register("f", pd.concat([frame[keys + [dim, "value"] + CELL],
                                 pd.Series(is_part.to_numpy(), name="_part", index=frame.index)], axis=1))
    bad = con.execute(f"""
        WITH parts AS (SELECT {cols}, sum(value) AS parts, count(*) AS n, sum(abs(value)) AS scale
                       FROM f WHERE _part AND value IS NOT NULL GROUP BY ALL),
             totals AS (SELECT {cols}, value AS total, {", ".join(CELL)} FROM f
                        WHERE "{dim}" = ? AND value IS NOT NULL)
        SELECT *, count(*) OVER () AS n_bad FROM parts JOIN totals USING ({cols})
        WHERE abs(parts - total) > 5 AND abs(parts - total) / greatest(abs(total), scale, 1) > ?
        ORDER BY abs(parts - total) DESC LIMIT {LIMIT}""", [total_code, TOLERANCE]).df()
    con.close()
    for n, row in bad.iterrows():
        where = {k: row[k] for k in keys}
        more = f" ({row['n_bad'] - LIMIT} more like this not listed)" if n == LIMIT - 1 and row["n_bad"] > LIMIT else ""
        yield Issue("parts-exceed-total" if row["parts"] > row["total"] else "parts-differ-from-total",
                    f"{label} add up to {row['parts']:,.0f}, the published total is {row['total']:,.0f} "
                    f"({(row['parts'] - row['total']) / max(abs(row['total']), 1):+.1%}) for "
                    + ", ".join(f"{k}={v}" for k, v in where.items()) + more,
                    area=next((v for k, v in where.items() if k in ("area", "destination", "origin", "asylum")),
                              None),
                    n_obs=int(row["n"]) + 1, **_cell(row))


def parts_add_up(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.unit not in COUNT_UNITS or frame.empty:
        return
    if "sex" in frame.columns and (frame["sex"] == "_T").any():
        yield from _parts_against_total(frame, "sex", "_T", frame["sex"].isin(["M", "F"]), "males and females")
    if flow.id == "migrant_stock" and (frame["origin"] == "_T").any():
        kinds = _kinds(areas, frame["origin"])
        yield from _parts_against_total(frame, "origin", "_T", kinds.isin(["country", "residual"]), "the origins")
    for dim in [d.name for d in flow.dimensions if d.is_area]:
        if (frame[dim] == "001").any():
            kinds = _kinds(areas, frame[dim])
            yield from _parts_against_total(frame, dim, "001", kinds.isin(["country", "residual"]),
                                            f"the countries ({dim})")


def implausible_jumps(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if (flow.unit not in COUNT_UNITS or flow.id in MAY_BE_NEGATIVE or frame.empty
            or frame["year"].nunique() < 2):
        return  # ratios of net flows, which change sign, mean nothing
    keys = [c for c in _dims(frame) if c != "year"]
    data = frame[frame["value"].notna() & (frame["value"] > 0)]
    series = pd.util.hash_pandas_object(data[keys], index=False).to_numpy()
    order = np.lexsort((data["year"].to_numpy(), series))
    values, series = data["value"].to_numpy()[order], series[order]
    same = np.r_[False, series[1:] == series[:-1]]
    prev = np.r_[np.nan, values[:-1]]
    ratio = values / prev
    hits = np.flatnonzero(same & ((ratio > 10) | (ratio < 0.1)) & (np.maximum(values, prev) > 10_000))
    rows = data.iloc[order[hits[:LIMIT]]]
    for (_, row), r in zip(rows.iterrows(), ratio[hits[:LIMIT]]):
        where = ", ".join(f"{k}={row[k]}" for k in keys)
        yield Issue("implausible-jump", f"{where}: {r:.1f}× the previous observation in {row['year']}",
                    severity="info", area=row[keys[0]], **_cell(row))


RULES = [negative_values, origin_is_destination, parts_add_up, implausible_jumps]
