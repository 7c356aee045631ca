"""The destination workbooks of the 2020 and 2019 editions: six tables of totals by destination.

Each ``Table n`` sheet has a title block, merged block titles over the value columns ("..., both sexes
combined", "..., males", ...), a header row (name, Notes, location code, type of data, years or
periods) and one row per area, aggregates mixed with countries. The two editions differ in layout:

* 2020: block titles in row 8, header in row 11 (years in the same row), data from row 12;
* 2019: block titles in row 15 (the header labels share that row), years in row 16, data from row 17;
  the 2019 ``Table 2`` has no "Type of data" column; heading rows (``UN development groups``, ...)
  have no code and only ``..``: they are skipped (an issue is raised if one ever holds a number).

Areas are joined on the location code (UN DESA's own codes, then M49), never on the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.codes.names import strip_footnote
from imdx.errors import SourceFileError
from imdx.model.codelists import stock_definition
from imdx.sources.base import LoadContext
from imdx.sources.undesa_ims._common import (
    constant,
    dedupe_areas,
    expect_labels,
    factorised,
    label,
    letter,
    parse_cells,
    read_sheets,
    report_markers,
    resolve_rows,
    year_of,
)

SHEETS = [f"Table {i}" for i in range(1, 7)]


@dataclass(frozen=True)
class Layout:
    block_row: int  # 1-based Excel row of the merged block titles
    header_row: int  # row of the column labels (name, Notes, code, type of data)
    period_row: int  # row of the year or period labels
    first_data_row: int
    name: str
    code: str
    type_of_data: str
    notes: str = "Notes"


LAYOUT_2020 = Layout(block_row=8, header_row=11, period_row=11, first_data_row=12,
                     name="Region, development group, country or area", code="Location code",
                     type_of_data="Type of data")
LAYOUT_2019 = Layout(block_row=15, header_row=15, period_row=16, first_data_row=17,
                     name="Major area, region, country or area of destination", code="Code",
                     type_of_data="Type of data (a)")

#: what each table holds: a word its block titles must contain, and how its blocks map to dataflows
TABLES = {
    "Table 1": ("migrant stock", "migrant_stock"),
    "Table 2": ("population", "population"),
    "Table 3": ("percentage of the total population", "migrant_stock_share"),
    "Table 4": ("female migrants", "female_migrant_share"),
    "Table 5": ("annual rate of change of the migrant stock", "migrant_stock_growth"),
    "Table 6": ("refugee", None),  # three blocks, three dataflows: see _table6_flow
}
#: tables whose "Type of data" describes the values (the migrant stock and indicators derived from it)
DEFINED = {"Table 1", "Table 3", "Table 4", "Table 5"}
WITH_SEX = {"migrant_stock", "migrant_stock_share", "migrant_stock_growth", "population"}


@dataclass
class RawTable:
    """One sheet as published: ``rows`` (Excel row, name, notes, code, type of data), ``columns`` (Excel
    letter, block title, year or period label) and ``cells`` (rows x columns, untouched)."""

    sheet: str
    rows: pd.DataFrame
    columns: pd.DataFrame
    cells: np.ndarray


def read_workbook(path: Path, layout: Layout) -> dict[str, RawTable]:
    """Tables 1-6 of a UN DESA destination workbook, validated against ``layout``."""
    grids = read_sheets(path, SHEETS)
    return {sheet: _read_table(path, sheet, grid, layout) for sheet, grid in grids.items()}


def _read_table(path: Path, sheet: str, grid: np.ndarray, layout: Layout) -> RawTable:
    expect_labels(path, sheet, grid, layout.header_row, {1: layout.name, 2: layout.notes, 3: layout.code})
    has_type = label(grid[layout.header_row - 1, 4]) == layout.type_of_data
    first = 5 if has_type else 4
    periods = [label(v) for v in grid[layout.period_row - 1, first:]]
    width = max((i + 1 for i, p in enumerate(periods) if p), default=0)
    if width == 0:
        raise SourceFileError(str(path), "no year labels", sheet=sheet, row=layout.period_row,
                              column=letter(first), expected="years (1990, ...) or periods (1990-1995)")
    value_idx = list(range(first, first + width))
    blocks = pd.Series([label(v) for v in grid[layout.block_row - 1, value_idx]]).replace("", np.nan).ffill()
    columns = pd.DataFrame({"letter": [letter(i) for i in value_idx], "block": blocks.fillna("").tolist(),
                            "period": periods[:width]})
    for col in columns.itertuples():
        if year_of(col.period) is None:
            raise SourceFileError(str(path), f"found {col.period!r} where a year was published",
                                  sheet=sheet, row=layout.period_row, column=col.letter,
                                  expected="a year such as 1990 or a period such as 1990-1995")
    body = grid[layout.first_data_row - 1:]
    keep = np.array([label(v) != "" for v in body[:, 1]], dtype=bool)
    body, excel_rows = body[keep], np.flatnonzero(keep) + layout.first_data_row
    if len(body) == 0:
        raise SourceFileError(str(path), "no data rows below the header", sheet=sheet,
                              row=layout.first_data_row, expected="one row per area")
    code_text = pd.Series([label(v) for v in body[:, 3]], dtype=object)
    codes = pd.to_numeric(code_text.replace("", np.nan), errors="coerce")
    bad = (code_text != "") & (codes.isna() | (codes % 1 != 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceFileError(str(path), f"found {code_text[i]!r} where a numeric location code was published",
                              sheet=sheet, row=int(excel_rows[i]), column="D", expected="an integer M49/UN DESA code")
    rows = pd.DataFrame({"row": excel_rows, "name": body[:, 1], "notes": body[:, 2],
                         "code": codes.astype("Int64").astype("string"),
                         "type_of_data": body[:, 4] if has_type else None})
    return RawTable(sheet, rows, columns, body[:, value_idx])


def _sex(path: str, sheet: str, block: str, layout: Layout, letter_: str) -> str:
    text = block.lower()
    for word, code in (("female", "F"), ("male", "M"), ("both sexes", "_T")):
        if word in text:
            return code
    raise SourceFileError(path, f"block title {block!r} names no sex", sheet=sheet, row=layout.block_row,
                          column=letter_, expected="'both sexes', 'males' or 'females' in the block title")


def _table6_flow(path: str, block: str, layout: Layout, letter_: str) -> str:
    text = block.lower()
    if "rate of change" in text:
        return "refugee_stock_growth"
    if "percentage" in text:
        return "refugee_stock_share"
    if "refugee" in text:
        return "refugee_stock"
    raise SourceFileError(path, f"block title {block!r} is not one of Table 6's", sheet="Table 6",
                          row=layout.block_row, column=letter_,
                          expected="refugee stock, its share of the migrant stock, or its rate of change")


def harmonise_workbook(raw: dict[str, RawTable], ctx: LoadContext, *, file: str,
                       layout: Layout) -> dict[str, pd.DataFrame]:
    """All six tables as observations; Table 2 (thousands) in persons, only its both-sexes block
    (the ``population`` dataflow has no sex dimension)."""
    parts: dict[str, list[dict]] = {}
    for table in raw.values():
        for flow, arrays in _harmonise_table(table, ctx, file=file, layout=layout).items():
            parts.setdefault(flow, []).append(arrays)
    out = {}
    for flow, chunks in parts.items():
        cols = {c: np.concatenate([ch[c] for ch in chunks]) for c in chunks[0]}
        frame = pd.DataFrame({c: factorised(v) if v.dtype == object else v for c, v in cols.items()})
        if flow == "migrant_stock":
            frame = frame.assign(origin=constant("_T", len(frame)), age=constant("_T", len(frame)))
        out[flow] = frame.rename(columns={"area": "area" if flow == "population" else "destination"})
    return out


def _classify(table: RawTable, file: str, layout: Layout) -> pd.DataFrame:
    word, flow0 = TABLES[table.sheet]
    cols = table.columns
    for col in cols.drop_duplicates("block").itertuples():
        if word not in col.block.lower():
            raise SourceFileError(file, f"block title {col.block!r} does not belong in {table.sheet}",
                                  sheet=table.sheet, row=layout.block_row, column=col.letter,
                                  expected=f"a title about {word!r}")
    cols = cols.assign(year=cols["period"].map(year_of))
    cols["flow"] = [flow0 or _table6_flow(file, b, layout, c) for b, c in zip(cols["block"], cols["letter"])]
    cols["sex"] = [_sex(file, table.sheet, b, layout, c) if f in WITH_SEX else None
                   for b, c, f in zip(cols["block"], cols["letter"], cols["flow"])]
    return cols


def _headings(table: RawTable, ctx: LoadContext, file: str, codes: list) -> np.ndarray:
    """Rows without a location code (2019: ``UN development groups``, ...): not loaded; an issue if one
    holds anything but ``..``."""
    no_code = np.array([c is None for c in codes], dtype=bool)
    for i in np.flatnonzero(no_code):
        if any(label(c) not in ("", "..") for c in table.cells[i]):
            row = int(table.rows["row"].iloc[i])
            ctx.issue("row-without-code", f"row {row} ({label(table.rows['name'].iloc[i])!r}) has values but no "
                      "location code; it was not loaded", severity="warning", file=file, sheet=table.sheet,
                      row=row, column="D", dataflow=TABLES[table.sheet][1])
    return ~no_code


def _harmonise_table(table: RawTable, ctx: LoadContext, *, file: str, layout: Layout) -> dict[str, dict]:
    """One sheet as arrays per dataflow (assembled into frames by :func:`harmonise_workbook`)."""
    sheet, cols = table.sheet, _classify(table, file, layout)
    codes = [None if pd.isna(c) else str(c) for c in table.rows["code"]]
    has_code = _headings(table, ctx, file, codes)
    idx = np.flatnonzero(has_code)
    excel_rows = table.rows["row"].to_numpy()[idx]
    names = table.rows["name"].to_numpy()[idx]
    codes = [codes[i] for i in idx]
    area = resolve_rows(ctx, codes, excel_rows, ("undesa", "m49"), file=file, column="D", sheet=sheet)
    cells = table.cells[idx]
    keep = dedupe_areas(ctx, excel_rows, names, area, cells, file=file, sheet=sheet,
                        dataflow=TABLES[sheet][1] or "refugee_stock")
    idx, excel_rows, names, cells = idx[keep], excel_rows[keep], names[keep], cells[keep]
    area = np.array(area, dtype=object)[keep]
    marks = [strip_footnote(label(n))[1] for n in names]
    notes = [" ".join(t for t in (m, label(x)) if t) or None
             for m, x in zip(marks, table.rows["notes"].to_numpy()[idx])]
    types = table.rows["type_of_data"].to_numpy()[idx]
    definition = [stock_definition(t) if sheet in DEFINED else None for t in types]
    if sheet == "Table 2":  # the population dataflow has no sex: only the both-sexes block is loaded
        skipped = cols[cols["sex"] != "_T"]
        if len(skipped):
            ctx.issue("not-loaded", f"{len(skipped)} columns of {sheet} ({', '.join(skipped['block'].unique())}) "
                      "were not loaded: the population dataflow has no sex dimension", severity="info", file=file,
                      sheet=sheet, row=layout.block_row, column=f"{skipped['letter'].iloc[0]}:"
                      f"{skipped['letter'].iloc[-1]}", dataflow="population", n_obs=len(skipped) * len(idx))
        cells = cells[:, (cols["sex"] == "_T").to_numpy()]
        cols = cols[cols["sex"] == "_T"]
    n, k = cells.shape
    parsed = parse_cells(cells.ravel())
    value, marker = parsed["value"].to_numpy(copy=True), parsed["marker"].to_numpy()
    note = np.repeat(np.array(notes, dtype=object), k)
    odd = np.flatnonzero(pd.notna(marker))
    note[odd] = [f"{x} {m}" if x else m for x, m in zip(note[odd], marker[odd])]
    if sheet == "Table 2":
        value = np.round(value * 1000, 0)  # published in thousands
    arrays = {"area": np.repeat(area, k), "year": np.tile(cols["year"].to_numpy(dtype=np.int16), n),
              "sex": np.tile(cols["sex"].to_numpy(dtype=object), n), "value": value,
              "obs_status": parsed["obs_status"].to_numpy(dtype=object), "note": note,
              "definition": np.repeat(np.array(definition, dtype=object), k),
              "cell_file": np.full(n * k, file, dtype=object), "cell_sheet": np.full(n * k, sheet, dtype=object),
              "cell_row": np.repeat(excel_rows.astype(np.int32), k),
              "cell_column": np.tile(cols["letter"].to_numpy(dtype=object), n)}
    flows = np.tile(cols["flow"].to_numpy(dtype=object), n)
    out = {}
    for flow in cols["flow"].unique():
        mask = flows == flow
        if pd.notna(marker[mask]).any():
            report_markers(ctx, pd.DataFrame({"marker": marker[mask], "cell_row": arrays["cell_row"][mask],
                                              "cell_column": arrays["cell_column"][mask]}),
                           file=file, sheet=sheet, dataflow=flow)
        out[flow] = {c: v[mask] for c, v in arrays.items()}
    return out
