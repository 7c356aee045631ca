"""Census tables as people read them: stored observations of ``foreign_born_population`` laid out as
row-by-column tables (countries of birth by sex, age groups by sex, regions by nativity, ...), each
cell with its weighted count, its unweighted base and whether it was suppressed.

Used by the API (``/api/v1/census``) and the portal's country profile; it reads only what
:meth:`imdx.store.base.Store.select` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from imdx.census.tables import DIMENSIONS, TOTAL

FLOW = "foreign_born_population"
LABELS = {
    "nativity": {"_T": "All persons", "NAT": "Native-born", "FOR": "Foreign-born", "_U": "Place of birth unknown",
                 "_Z": "Not applicable"},
    "sex": {"_T": "Both sexes", "M": "Men", "F": "Women", "_U": "Sex unknown"},
}
BROAD_AGES = {"Y0T14", "Y15T24", "Y25T64", "Y_GE65"}


@dataclass(frozen=True)
class View:
    id: str
    title: str
    rows: str
    columns: str
    fixed: dict = field(default_factory=dict)
    top: int | None = None  # rows shown, largest first (the rest are in the download)


VIEWS = (
    View("nativity_sex", "Population by place of birth and sex", "nativity", "sex"),
    View("birthplace_sex", "Foreign-born by country of birth and sex", "birthplace", "sex", {"nativity": "FOR"},
         top=20),
    View("age_sex", "Foreign-born by age group and sex", "age", "sex", {"nativity": "FOR"}),
    View("region_nativity", "Population by region of residence and place of birth", "region", "nativity"),
    View("birthplace_arrival", "Foreign-born by country of birth and period of arrival", "birthplace",
         "year_of_arrival", {"nativity": "FOR"}, top=20),
    View("birthplace_citizenship", "Foreign-born by country of birth and citizenship", "birthplace", "citizenship",
         {"nativity": "FOR"}, top=20),
)


def age_label(code: str) -> str:
    if code == TOTAL:
        return "All ages"
    if code == "_U":
        return "Age unknown"
    if code.startswith("Y_GE"):
        return f"{code[4:]} and over"
    if code.startswith("Y") and "T" in code:
        lo, hi = code[1:].split("T")
        return f"{lo}–{hi}"
    return code


def _label(dim: str, code: str, row: pd.Series) -> str:
    if dim in LABELS:
        return LABELS[dim].get(code, code)
    if dim == "age":
        return age_label(code)
    if dim in ("birthplace", "citizenship"):
        return {"_T": "All countries", "_U": "Unknown", "_O": "Other (not identified)"}.get(
            code, row.get(f"{dim}_name") or code)
    if dim == "region":
        return "All regions" if code == TOTAL else (row.get("note") or code)
    if dim == "year_of_arrival":
        return {"_T": "All periods", "_U": "Unknown", "_Z": "Not applicable"}.get(code, code)
    return code


def _order(dim: str, codes: list[str], persons: dict) -> list[str]:
    rest = [c for c in codes if c != TOTAL]
    if dim in ("age", "year_of_arrival"):
        def key(c):
            digits = "".join(ch if ch.isdigit() else " " for ch in c).split()
            return (c.startswith("_"), int(digits[0]) if digits else 10**6, c)
        rest.sort(key=key)
    elif dim in ("nativity", "sex"):
        rest.sort(key=lambda c: list(LABELS[dim]).index(c) if c in LABELS[dim] else 99)
    else:
        rest.sort(key=lambda c: (c.startswith("_"), pd.isna(persons.get(c)), -(_number(persons.get(c))), c))
    return ([TOTAL] if TOTAL in codes else []) + rest


def _number(value) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def view(frame: pd.DataFrame, v: View) -> dict | None:
    """One sample's observations laid out as ``v``; None when the sample has no such table."""
    mask = pd.Series(True, index=frame.index)
    for dim in DIMENSIONS:
        if dim in (v.rows, v.columns):
            continue
        mask &= frame[dim] == v.fixed.get(dim, TOTAL)
    cells = frame[mask]
    if v.rows == "age" or v.columns == "age":
        ages = set(cells["age"])
        if ages - BROAD_AGES - {TOTAL, "_U"}:  # five-year groups (or the file's bands): leave the broad ones out
            cells = cells[~cells["age"].isin(BROAD_AGES)]
    if cells.empty or (cells[v.rows] == TOTAL).all() or (cells[v.columns] == TOTAL).all():
        return None  # the sample has no breakdown by one of the two
    persons = cells[(cells["measure"] == "PERSONS") & (cells[v.columns] == TOTAL)].set_index(v.rows)["value"].to_dict()
    by_key = {(r[v.rows], r[v.columns], r["measure"]): r for _, r in cells.iterrows()}
    row_codes = _order(v.rows, list(dict.fromkeys(cells[v.rows])), persons)
    col_codes = _order(v.columns, list(dict.fromkeys(cells[v.columns])), {})
    shown = row_codes if v.top is None else row_codes[: v.top + 1]
    sample_row = {c: cells[cells[v.columns] == c].iloc[0] for c in col_codes}
    out_rows = []
    for code in shown:
        first = next(r for k, r in by_key.items() if k[0] == code)
        out_cells = []
        for col in col_codes:
            p, n = by_key.get((code, col, "PERSONS")), by_key.get((code, col, "RECORDS"))
            hidden = p is not None and p["obs_status"] == "L"
            key = {d: v.fixed.get(d, TOTAL) for d in DIMENSIONS} | {v.rows: code, v.columns: col}
            if p is None:  # no record in this cell: zero persons (the store keeps only cells with records)
                out_cells.append({"persons": 0.0, "records": 0, "suppressed": False, "stored": False, "column": col,
                                  "key": key})
                continue
            out_cells.append({"persons": None if hidden else float(p["value"]),
                              "records": None if n is None or hidden else int(n["value"]),
                              "suppressed": bool(hidden), "stored": True, "column": col, "key": key})
        out_rows.append({"code": code, "label": _label(v.rows, code, first), "cells": out_cells})
    return {"id": v.id, "title": v.title, "rows_dimension": v.rows, "columns_dimension": v.columns,
            "fixed": {d: v.fixed.get(d, TOTAL) for d in DIMENSIONS if d not in (v.rows, v.columns)},
            "columns": [{"code": c, "label": _label(v.columns, c, sample_row[c])} for c in col_codes],
            "rows": out_rows, "more_rows": len(row_codes) - len(shown)}


def tables_for(frame: pd.DataFrame) -> list[dict]:
    """Every sample's tables in ``frame`` (current observations of one area), latest year first."""
    out = []
    groups = sorted(frame.groupby(["sample", "year"], sort=False), key=lambda kv: (-kv[0][1], kv[0][0]))
    for (sample, year), part in groups:
        part = part.reset_index(drop=True)
        views = [t for t in (view(part, v) for v in VIEWS) if t is not None]
        first = part.iloc[0]
        out.append({"sample": sample, "year": int(year), "area": first["area"], "release_id": int(first["release_id"]),
                    "file": first.get("cell_file") or sample.split("/", 1)[-1], "tables": views})
    return out
