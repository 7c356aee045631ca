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
#: at most this many issues of one kind per table; the message of the last one says how many more
LIMIT = 200
CELL = ["cell_file", "cell_sheet", "cell_row", "cell_column"]
#: the kinds of area that add up to a total
PARTS = {"country", "residual"}


def _plain(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _cell(row) -> dict:
    file, sheet, line, column = (_plain(row[c]) for c in CELL)
    return {"file": file, "sheet": sheet, "row": None if line is None else int(line), "column": column}


def _categorical(column: pd.Series) -> pd.Series:
    return column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")


def _is_kind(areas: Areas, codes: pd.Series, kinds: set[str]) -> np.ndarray:
    """Whether each area code is of one of ``kinds`` (country, aggregate, residual): looked up once
    per distinct code, not per row."""
    codes = _categorical(codes)
    kind = codes.cat.categories.map(areas.frame["kind"].to_dict())
    return np.append(np.asarray(kind.isin(list(kinds)), dtype=bool), False)[codes.cat.codes.to_numpy()]


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Row by row, whether two code columns hold the same (non-missing) code."""
    a, b = _categorical(a), _categorical(b)
    both = a.cat.categories.union(b.cat.categories)
    x = a.cat.set_categories(both).cat.codes.to_numpy()
    y = b.cat.set_categories(both).cat.codes.to_numpy()
    return (x == y) & (x >= 0)


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
        same = frame[_same(frame[a], frame[b]) & _is_kind(areas, frame[a], {"country"})
                     & (frame["value"].fillna(0) != 0).to_numpy()]
        for code, group in same.groupby(a, sort=True):
            yield Issue("origin-is-destination", f"{len(group)} observations with {a} = {b} = {code}",
                        area=code, n_obs=len(group), **_cell(group.iloc[0]))


def _key_codes(column: pd.Series) -> np.ndarray:
    """Integers that are equal where the column's values are equal, -1 where it has none."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    if pd.api.types.is_integer_dtype(column.dtype) and not column.hasnans:  # e.g. the year: no hashing needed
        values = column.to_numpy(dtype=np.int64)
        return values - values.min() if len(values) else values
    return pd.factorize(column)[0]


def _groups(codes: list[np.ndarray], n: int) -> np.ndarray:
    """For each of ``n`` rows, one integer per distinct combination of the key ``codes`` (arrays of
    non-negative integers)."""
    group = np.zeros(n, dtype=np.int64)
    for key in codes:
        key = key.astype(np.int64)
        size = int(key.max(initial=0)) + 1
        if int(group.max(initial=0)) + 1 > (2**62) // size:  # keep the mixed-radix number in 64 bits
            group = pd.factorize(group)[0].astype(np.int64)
        group = group * size + key
    return pd.factorize(group)[0]


def _parts_against_total(frame: pd.DataFrame, dim: str, total_code: str, is_part: np.ndarray, label: str):
    """Parts (``is_part`` rows) summed over ``dim`` against the published ``total_code`` row of each key.

    Tolerance is relative to the larger of the total and the parts' absolute sum, so that a published
    total of 0 (world net migration) is met by parts that cancel out up to rounding. The issue's place
    is the total's row.

    Only rows that can meet a total are grouped: a part whose value in some key column occurs in no
    total row (an age band, where only all ages have a total) cannot, and is left out before any hashing."""
    keys = [c for c in _dims(frame) if c != dim]
    value = frame["value"].to_numpy(dtype="float64")
    known = ~np.isnan(value)
    is_total = known & (frame[dim] == total_code).to_numpy(dtype=bool)
    candidate = is_total | (known & np.asarray(is_part, dtype=bool))
    codes = []
    for key in keys:
        code = _key_codes(frame[key])  # -1, no value, indexes the last slot: never grouped
        in_totals = np.zeros(int(code.max(initial=0)) + 2, dtype=bool)
        in_totals[code[is_total]] = True
        in_totals[-1] = False
        candidate &= in_totals[code]
        codes.append(code)
    taking = np.flatnonzero(candidate)  # the frame's rows that take part, in order
    group = _groups([code[taking] for code in codes], len(taking))
    value, total_row = value[taking], is_total[taking]
    part = np.flatnonzero(~total_row)
    n_groups = int(group.max(initial=-1)) + 1
    parts = np.bincount(group[part], weights=value[part], minlength=n_groups)
    count = np.bincount(group[part], minlength=n_groups)
    scale = np.bincount(group[part], weights=np.abs(value[part]), minlength=n_groups)
    rows = np.flatnonzero(total_row)
    g, total = group[rows], value[rows]
    diff = parts[g] - total
    bad = (count[g] > 0) & (np.abs(diff) > 5) & (np.abs(diff) / np.maximum.reduce([np.abs(total), scale[g],
                                                                                    np.ones_like(total)]) > TOLERANCE)
    rows, g, total, diff = taking[rows[bad]], g[bad], total[bad], diff[bad]
    order = np.lexsort((rows, -np.abs(diff)))[:LIMIT]
    for n, i in enumerate(order):
        at = frame.iloc[rows[i]]
        where = {key: at[key] for key in keys}
        more = f" ({len(rows) - LIMIT} more like this not listed)" if n == LIMIT - 1 and len(rows) > LIMIT else ""
        yield Issue("parts-exceed-total" if diff[i] > 0 else "parts-differ-from-total",
                    f"{label} add up to {parts[g[i]]:,.0f}, the published total is {total[i]:,.0f} "
                    f"({diff[i] / max(abs(total[i]), 1):+.1%}) for "
                    + ", ".join(f"{key}={v}" for key, v in where.items()) + more,
                    area=next((v for key, v in where.items() if key in ("area", "destination", "origin", "asylum")),
                              None),
                    n_obs=int(count[g[i]]) + 1, **_cell(at))


def parts_add_up(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if flow.unit not in COUNT_UNITS or frame.empty:
        return
    if "sex" in frame.columns and (frame["sex"] == "_T").any():
        yield from _parts_against_total(frame, "sex", "_T", frame["sex"].isin(["M", "F"]).to_numpy(),
                                        "males and females")
    if flow.id == "migrant_stock" and (frame["origin"] == "_T").any():
        yield from _parts_against_total(frame, "origin", "_T", _is_kind(areas, frame["origin"], PARTS),
                                        "the origins")
    for dim in [d.name for d in flow.dimensions if d.is_area]:
        if (frame[dim] == "001").any():
            yield from _parts_against_total(frame, dim, "001", _is_kind(areas, frame[dim], PARTS),
                                            f"the countries ({dim})")


def implausible_jumps(flow: Dataflow, frame: pd.DataFrame, areas: Areas):
    if (flow.unit not in COUNT_UNITS or flow.id in MAY_BE_NEGATIVE or frame.empty
            or frame["year"].nunique() < 2):
        return  # ratios of net flows, which change sign, mean nothing
    keys = [c for c in _dims(frame) if c != "year"]
    value = frame["value"].to_numpy(dtype="float64")
    taking = np.flatnonzero(value > 0)
    series = _groups([_key_codes(frame[key])[taking].astype(np.int64) + 1 for key in keys], len(taking))
    year = frame["year"].to_numpy(dtype=np.int64)[taking]
    year -= year.min(initial=0)
    order = np.argsort(series * (int(year.max(initial=0)) + 1) + year, kind="stable")  # each series by year
    values, series = value[taking[order]], series[order]
    same = np.r_[False, series[1:] == series[:-1]]
    prev = np.r_[np.nan, values[:-1]]
    ratio = values / prev
    hits = np.flatnonzero(same & ((ratio > 10) | (ratio < 0.1)) & (np.maximum(values, prev) > 10_000))
    rows = frame.iloc[taking[order[hits[:LIMIT]]]]
    for n, ((_, row), r) in enumerate(zip(rows.iterrows(), ratio[hits[:LIMIT]])):
        where = ", ".join(f"{k}={row[k]}" for k in keys)
        more = f" ({len(hits) - LIMIT} more like this not listed)" if n == LIMIT - 1 and len(hits) > LIMIT else ""
        yield Issue("implausible-jump", f"{where}: {r:.1f}× the previous observation in {row['year']}{more}",
                    severity="info", area=row[keys[0]], **_cell(row))


RULES = [negative_values, origin_is_destination, parts_add_up, implausible_jumps]
