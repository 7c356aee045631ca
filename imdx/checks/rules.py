"""The rules. Each yields :class:`Issue` records; none raises on bad data.

* ``negative-value``: a count below zero where the dataflow cannot be negative;
* ``origin-is-destination``: a bilateral observation whose two areas are the same country;
* ``parts-exceed-total`` / ``parts-differ-from-total``: the sexes do not add up to both sexes, the
  origins to all origins, or the countries to the world, beyond the tolerance the source declares
  (:mod:`imdx.checks.tolerance`: a few units for exact counts, a share for rounded figures); the
  message names the members that can explain the gap: those with no value among the parts (published
  as missing, or left out) though they have one for the total of another dimension;
* ``total-without-parts``: a member has a total but every one of its parts is published as missing
  (UN DESA's 2020 workbook gives Bonaire, Sint Eustatius and Saba no split by sex);
* ``implausible-jump``: a series that grows or falls more than tenfold from one observation to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imdx.checks.tolerance import ROUNDED, Tolerance
from imdx.codes.areas import Areas
from imdx.model.dataflows import Dataflow
from imdx.model.report import Issue

#: dataflows whose values can be negative by definition
MAY_BE_NEGATIVE = {"net_migration", "crude_net_migration_rate", "fdi_inflows", "oda_received",
                   "migrant_stock_growth", "refugee_stock_growth"}
COUNT_UNITS = {"persons", "US dollars", "persons or cases"}
#: at most this many issues of one kind per table; the message of the last one says how many more
LIMIT = 200
CELL = ["cell_file", "cell_sheet", "cell_row", "cell_column"]
#: the kinds of area that add up to a total
PARTS = {"country", "residual"}
#: the code of a dimension's total (all sexes, all ages, all origins)
TOTAL = "_T"
#: at most this many members named as the cause of one gap
NAMED = 3
#: how a part's observation status reads in a message, when it has no value
STATUS_WORDS = {"L": "suppressed by the publisher as a small number", "M": "published as missing",
                "N": "rounds to zero"}


@dataclass(frozen=True)
class Context:
    """What a rule is told besides the table: whose data it is and how exact its figures are."""

    source: str
    tolerance: Tolerance = ROUNDED


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


def negative_values(flow: Dataflow, frame: pd.DataFrame, areas: Areas, context: Context):
    if flow.id in MAY_BE_NEGATIVE or flow.unit not in COUNT_UNITS:
        return
    bad = frame[frame["value"] < 0]
    for _, group in bad.groupby("cell_file", dropna=False, sort=False):
        yield Issue("negative-value", f"{len(group)} negative values in a count that cannot be negative, "
                    f"e.g. {group['value'].iloc[0]:g}", severity="error", n_obs=len(group), **_cell(group.iloc[0]))


def origin_is_destination(flow: Dataflow, frame: pd.DataFrame, areas: Areas, context: Context):
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


def _parts_against_total(frame: pd.DataFrame, dim: str, total_code: str, is_part: np.ndarray, label: str,
                         areas: Areas, tolerance: Tolerance):
    """Parts (``is_part`` rows) summed over ``dim`` against the published ``total_code`` row of each key.

    A gap is reported when ``tolerance`` says so, against the larger of the total and the parts'
    absolute sum (a published total of 0, world net migration, is met by parts that cancel out). The
    issue's place is the total's row; its message names the members that can explain the gap
    (:func:`_causes`). A total whose parts are all published as missing is a ``total-without-parts``.

    Only rows that can meet a total are grouped: a part whose value in some key column occurs in no
    total row (an age band, where only all ages have a total) cannot, and is left out before any hashing."""
    keys = [c for c in _dims(frame) if c != dim]
    value = frame["value"].to_numpy(dtype="float64")
    known = ~np.isnan(value)
    is_total = known & (frame[dim] == total_code).to_numpy(dtype=bool)
    candidate = is_total | np.asarray(is_part, dtype=bool)
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
    part = np.flatnonzero(~total_row & ~np.isnan(value))
    unpublished = np.flatnonzero(~total_row & np.isnan(value))
    n_groups = int(group.max(initial=-1)) + 1
    parts = np.bincount(group[part], weights=value[part], minlength=n_groups)
    count = np.bincount(group[part], minlength=n_groups)
    missing = np.bincount(group[unpublished], minlength=n_groups)
    scale = np.bincount(group[part], weights=np.abs(value[part]), minlength=n_groups)
    rows = np.flatnonzero(total_row)
    g, total = group[rows], value[rows]
    diff = parts[g] - total
    bad = (count[g] > 0) & tolerance.exceeded(diff, np.maximum(np.abs(total), scale[g]))
    without = (count[g] == 0) & (missing[g] > 0) & (total != 0)
    yield from _without_parts(frame, taking[rows[without]], dim, keys, label, areas)
    rows, g, total, diff = taking[rows[bad]], g[bad], total[bad], diff[bad]
    order = np.lexsort((rows, -np.abs(diff)))[:LIMIT]
    causes = _causes(frame, dim, keys, rows[order], taking[unpublished[np.isin(group[unpublished], g[order])]],
                     is_part, areas)
    for n, (i, (_, at)) in enumerate(zip(order, frame.iloc[rows[order]].iterrows())):  # one selection
        where = {key: at[key] for key in keys}
        more = f" ({len(rows) - LIMIT} more like this not listed)" if n == LIMIT - 1 and len(rows) > LIMIT else ""
        yield Issue("parts-exceed-total" if diff[i] > 0 else "parts-differ-from-total",
                    f"{label} add up to {parts[g[i]]:,.0f}, the published total is {total[i]:,.0f} "
                    f"({diff[i]:+,.0f}, {diff[i] / max(abs(total[i]), 1):+.2%}) for "
                    + ", ".join(f"{key}={v}" for key, v in where.items())
                    + _cause_text(causes.get(rows[i], []), diff[i], dim) + f" [{tolerance.describe()}]" + more,
                    area=at[dim] if dim in AREA_KEYS else next((v for key, v in where.items() if key in AREA_KEYS),
                                                                None),
                    n_obs=int(count[g[i]]) + 1, **_cell(at))


AREA_KEYS = ("area", "destination", "origin", "asylum")


def _name(areas: Areas, dim: str, code) -> str:
    """A member as a person reads it: an area's name and code, else the code."""
    if dim in AREA_KEYS + ("sender", "receiver") and code in areas.frame.index:
        return f"{areas.frame.at[code, 'name']} ({code})"
    return str(code)


def _causes(frame: pd.DataFrame, dim: str, keys: list[str], gap_rows: np.ndarray, unpublished_rows: np.ndarray,
            is_part: np.ndarray, areas: Areas) -> dict[int, list[tuple[str, float | None, str | None]]]:
    """For each gap (the frame row of its total), the members of ``dim`` with no value among its parts
    though they could have one: published as missing there (``unpublished_rows``), or left out while they
    have a value for the same key with another dimension at its total (a country with a figure for both
    sexes but none for men). Each as (name, that other value, where it is), the largest first."""
    if not len(gap_rows):
        return {}
    gaps = frame.iloc[gap_rows][keys].astype("object").assign(_gap=gap_rows)
    found: dict[int, dict[str, tuple[float | None, str | None]]] = {int(r): {} for r in gap_rows}
    nan_parts = frame.iloc[unpublished_rows][keys + [dim, "obs_status"]].astype("object").merge(gaps, on=keys)
    for gap, member, status in zip(nan_parts["_gap"], nan_parts[dim], nan_parts["obs_status"]):
        found[int(gap)].setdefault(member, (None, STATUS_WORDS.get(status, "published as missing")))
    value = frame["value"].to_numpy(dtype="float64")
    parts = np.asarray(is_part, dtype=bool) & ~np.isnan(value)
    for other in keys:
        if other == "year" or not (frame[other] == TOTAL).any():
            continue
        off_total = gaps[gaps[other] != TOTAL]
        if off_total.empty:
            continue
        sibling = off_total.assign(**{other: TOTAL})
        candidates = _matching(frame, parts, sibling, keys, dim)  # members with a value for the other total
        if candidates.empty:
            continue
        here = _matching(frame, parts, off_total, keys, dim)
        present = set(zip(here["_gap"], here[dim]))
        for gap, member, total in zip(candidates["_gap"], candidates[dim], candidates["value"]):
            if (gap, member) not in present:
                found[int(gap)][member] = (float(total), f"{other}={TOTAL}")
    out = {}
    for gap, members in found.items():
        ranked = sorted(members.items(), key=lambda m: -(m[1][0] or 0))
        out[gap] = [(_name(areas, dim, member), total, where) for member, (total, where) in ranked]
    return out


def _matching(frame: pd.DataFrame, mask: np.ndarray, wanted: pd.DataFrame, keys: list[str], dim: str) -> pd.DataFrame:
    """The ``mask`` rows of ``frame`` whose keys are those of a row of ``wanted`` (with its ``_gap``):
    narrowed by each key's values first, so that only a few rows are joined."""
    for key in keys:
        mask = mask & frame[key].isin(wanted[key].unique()).to_numpy(dtype=bool)
    rows = frame[mask][keys + [dim, "value"]]
    return rows.astype({k: "object" for k in keys + [dim]}).merge(wanted, on=keys)


def _cause_text(causes: list, diff: float, dim: str) -> str:
    """The members that can explain a shortfall: those with a value for another total first (a member
    with a total but no parts: the likeliest cause), else those published without a value."""
    if not causes or diff > 0:
        return ""
    valued = [c for c in causes if c[1] is not None]
    if valued:
        named = "; ".join(f"{name}, which has {total:,.0f} for {where} but no value here"
                          for name, total, where in valued[:NAMED])
        covered = sum(total for _, total, _ in valued)
        share = "which can account for it" if covered >= abs(diff) else f"which can account for {covered:,.0f} of it"
        more = f"; and {len(valued) - NAMED} more" if len(valued) > NAMED else ""
        return f". Cause: {len(valued)} member(s) of {dim} missing from the parts, {share}: {named}{more}"
    named = "; ".join(f"{name} ({how})" for name, _, how in causes[:NAMED])
    more = f"; and {len(causes) - NAMED} more" if len(causes) > NAMED else ""
    return f". Cause: {len(causes)} member(s) of {dim} without a value among the parts: {named}{more}"


def _without_parts(frame: pd.DataFrame, rows: np.ndarray, dim: str, keys: list[str], label: str, areas: Areas):
    """``total-without-parts``: one issue per member (the total's keys but the year) over its years, the
    largest totals first, at most :data:`LIMIT`."""
    if not len(rows):
        return
    rest = [k for k in keys if k != "year"]
    member = _groups([_key_codes(frame[k]).take(rows).astype(np.int64) + 1 for k in rest], len(rows)) if rest \
        else np.zeros(len(rows), dtype=np.int64)
    value = frame["value"].to_numpy(dtype="float64")[rows]
    year = frame["year"].to_numpy(dtype=np.int64)[rows] if "year" in frame else np.zeros(len(rows), dtype=np.int64)
    order = np.lexsort((-year, member))  # each member's rows, the latest year first
    first = order[np.r_[True, member[order][1:] != member[order][:-1]]]  # the latest row of each member
    n_years = np.bincount(member)
    low = np.full(len(n_years), np.iinfo(np.int64).max)
    np.minimum.at(low, member, year)
    chosen = first[np.argsort(-np.abs(value[first]), kind="stable")][:LIMIT]
    area_key = next((k for k in rest if k in AREA_KEYS), None)
    shown = frame.iloc[rows[chosen]]  # one selection, not one per issue
    for n, (i, (_, last)) in enumerate(zip(chosen, shown.iterrows())):
        where = ", ".join(f"{k}={last[k]}" for k in rest)
        m, latest = member[i], int(year[i])
        span = f" in {latest}" if n_years[m] == 1 else f" in {n_years[m]} years, {low[m]}-{latest}"
        name = _name(areas, area_key, last[area_key]) if area_key else where
        more = f" ({len(first) - LIMIT} more like this not listed)" if n == LIMIT - 1 and len(first) > LIMIT else ""
        yield Issue("total-without-parts", f"{name} has a published total{span} ({value[i]:,.0f} in {latest}) but "
                    f"its {label} are all published as missing ({where}): totals over {dim} that include it "
                    f"lack its parts{more}", severity="info", area=last[area_key] if area_key else None,
                    n_obs=int(n_years[m]), **_cell(last))


def parts_add_up(flow: Dataflow, frame: pd.DataFrame, areas: Areas, context: Context):
    if flow.unit not in COUNT_UNITS or frame.empty:
        return
    tolerance = context.tolerance
    if "sex" in frame.columns and (frame["sex"] == TOTAL).any():
        yield from _parts_against_total(frame, "sex", TOTAL, frame["sex"].isin(["M", "F"]).to_numpy(),
                                        "males and females", areas, tolerance)
    if flow.id == "migrant_stock" and (frame["origin"] == TOTAL).any():
        yield from _parts_against_total(frame, "origin", TOTAL, _is_kind(areas, frame["origin"], PARTS),
                                        "the origins", areas, tolerance)
    for dim in [d.name for d in flow.dimensions if d.is_area]:
        if (frame[dim] == "001").any():
            yield from _parts_against_total(frame, dim, "001", _is_kind(areas, frame[dim], PARTS),
                                            f"the countries ({dim})", areas, tolerance)


def implausible_jumps(flow: Dataflow, frame: pd.DataFrame, areas: Areas, context: Context):
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
    with np.errstate(over="ignore"):  # a jump past the largest double is infinite, still a jump
        ratio = values / prev
    hits = np.flatnonzero(same & ((ratio > 10) | (ratio < 0.1)) & (np.maximum(values, prev) > 10_000))
    rows = frame.iloc[taking[order[hits[:LIMIT]]]]
    for n, ((_, row), r) in enumerate(zip(rows.iterrows(), ratio[hits[:LIMIT]])):
        where = ", ".join(f"{k}={row[k]}" for k in keys)
        more = f" ({len(hits) - LIMIT} more like this not listed)" if n == LIMIT - 1 and len(hits) > LIMIT else ""
        yield Issue("implausible-jump", f"{where}: {r:.1f}× the previous observation in {row['year']}{more}",
                    severity="info", area=row[keys[0]], **_cell(row))


RULES = [negative_values, origin_is_destination, parts_add_up, implausible_jumps]
