"""Migrant stock by destination and origin: the 2015 revision's matrix (Table 16), the 2019 edition's
matrix as a derived CSV, and the 2020 edition as a derived long table (IOM ``gdiviz`` package).

Zeros and blanks, decided per file (each documented in the observation's ``note``):

* 2015 matrix: an empty cell is "zero or not reported" (UN DESA's aggregates count it as zero, but the
  file cannot tell the two apart). It is kept as a row with value NaN, status 'M' and note ``blank``:
  imdx does not invent a zero;
* 2019 CSV and 2020 long table: the uploaders turned UN blanks (and, in the .rda, ``..``) into ``0``;
  those zeros are kept as published (status 'A') with the note ``0: zero or not reported``. The
  ``..`` left in the CSV are missing ('M'); its four ``-`` cells (Montenegro from Albania, 1990-2005)
  are not a documented UN marker: missing, with an ``unknown-marker`` issue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import SourceFileError
from imdx.model.codelists import stock_definition
from imdx.sources.base import LoadContext, coded
from imdx.sources.csvfile import read_csv
from imdx.sources.rfiles import read_r
from imdx.sources.undesa_ims._common import (
    constant,
    dedupe_areas,
    expect_labels,
    factorised,
    join_notes,
    label,
    letter,
    map_codes,
    map_header,
    name_marks,
    numeric_matrix,
    parse_cells,
    read_sheets,
    recoded,
    repeated,
    report_markers,
    tiled,
)

ZERO_NOTE = "0: zero or not reported"

# -- 2015 revision, Table 16 (destination x origin, both sexes, 2015) -------------------------------------

MATRIX_SHEET = "Table 16"
MATRIX_YEAR = 2015
MATRIX_LABELS = {0: "Sort\norder", 1: "Major area, region, country or area of destination", 2: "Notes",
                 3: "Country code", 4: "Type of data (a)", 5: "Country of origin"}
MATRIX_HEADER_ROW, MATRIX_ORIGIN_ROW, MATRIX_FIRST_ROW = 15, 16, 17
#: origin labels that are not places: the total over all origins
TOTAL_ORIGIN = "Total"


def read_matrix_2015(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Table 16 as published: ``rows`` (Excel row, name, notes, code, type of data), ``origins`` (Excel
    letter, origin name as published) and ``cells`` (rows x origins, untouched)."""
    grid = read_sheets(path, [MATRIX_SHEET])[MATRIX_SHEET]
    expect_labels(path, MATRIX_SHEET, grid, MATRIX_HEADER_ROW, MATRIX_LABELS)
    expect_labels(path, MATRIX_SHEET, grid, MATRIX_ORIGIN_ROW, {5: TOTAL_ORIGIN})
    idx = [i for i in range(5, grid.shape[1]) if label(grid[MATRIX_ORIGIN_ROW - 1, i]) != ""]
    origins = pd.DataFrame({"letter": [letter(i) for i in idx],
                            "origin": [label(grid[MATRIX_ORIGIN_ROW - 1, i]) for i in idx]})
    body = grid[MATRIX_FIRST_ROW - 1:]
    keep = np.array([label(v) != "" for v in body[:, 1]], dtype=bool)
    body, excel_rows = body[keep], np.flatnonzero(keep) + MATRIX_FIRST_ROW
    codes = pd.to_numeric(pd.Series([label(v) for v in body[:, 3]]), errors="coerce")
    bad = codes.isna() | (codes % 1 != 0)
    if bad.any():
        row = int(excel_rows[np.flatnonzero(bad)[0]])
        raise SourceFileError(str(path), f"found {label(body[int(np.flatnonzero(bad)[0]), 3])!r} where a numeric "
                              "country code was published", sheet=MATRIX_SHEET, row=row, column="D",
                              expected="an integer M49/UN DESA code for every destination")
    rows = pd.DataFrame({"row": excel_rows, "name": body[:, 1], "notes": body[:, 2],
                         "code": codes.astype("Int64").astype("string"), "type_of_data": body[:, 4]})
    return rows, origins, body[:, idx]


def harmonise_matrix_2015(raw, ctx: LoadContext, *, file: str) -> pd.DataFrame:
    rows, origins, cells = raw
    destination = ctx.map_areas(rows["code"], ("undesa", "m49"), file=file, column="D", rows=rows["row"],
                                sheet=MATRIX_SHEET)
    keep = dedupe_areas(ctx, rows["row"], rows["name"], destination, cells, file=file, sheet=MATRIX_SHEET,
                        dataflow="migrant_stock")
    rows, destination, cells = rows[keep], destination[keep], cells[keep]
    named = origins[origins["origin"] != TOTAL_ORIGIN]
    codes = map_header(ctx, list(named["origin"]), list(named["letter"]), ("name",), file=file,
                       sheet=MATRIX_SHEET, row=MATRIX_ORIGIN_ROW, n_rows=len(rows))
    origin_of = dict(zip(named["letter"], codes)) | {
        let: "_T" for let in origins.loc[origins["origin"] == TOTAL_ORIGIN, "letter"]}
    _, marks = name_marks(rows["name"])
    n, k = cells.shape
    flat = cells.ravel()
    long = parse_cells(flat, blank="M")
    marker = long.pop("marker").to_numpy()
    note = np.repeat(join_notes(marks, rows["notes"]).to_numpy(), k)
    missing = np.flatnonzero(long["value"].isna().to_numpy())
    blank = missing[np.array([label(c) == "" for c in flat[missing]], dtype=bool)]
    odd = np.flatnonzero(pd.notna(marker))
    note[blank] = [f"{x} blank" if x else "blank" for x in note[blank]]
    note[odd] = [f"{x} {m}" if x else m for x, m in zip(note[odd], marker[odd])]
    long = long.assign(
        destination=repeated(destination, k), origin=tiled(origins["letter"].map(origin_of), n),
        sex=constant("_T", n * k), age=constant("_T", n * k), year=MATRIX_YEAR, note=factorised(note),
        definition=repeated(rows["type_of_data"].map(stock_definition), k),
        cell_file=constant(file, n * k), cell_sheet=constant(MATRIX_SHEET, n * k),
        cell_row=np.repeat(rows["row"].to_numpy(), k), cell_column=tiled(origins["letter"], n), marker=marker)
    report_markers(ctx, long, file=file, sheet=MATRIX_SHEET, dataflow="migrant_stock")
    return long.drop(columns="marker")


# -- 2019 edition, destination x origin, derived CSV ------------------------------------------------------

CSV_KEYS = ["Year", "Dest"]


def read_bilateral_2019_csv(path: Path) -> pd.DataFrame:
    """The derived 2019 matrix as published: numbers as numbers, every other cell as its text (``..``
    and ``-`` kept; nothing is turned into NA)."""
    frame = read_csv(path, expected="a UTF-8 CSV with the columns Year, Dest and one column per origin",
                     keep_default_na=False, na_values=[], encoding="utf-8")
    if list(frame.columns[:2]) != CSV_KEYS or frame.shape[1] < 3:
        missing = [c for c in CSV_KEYS if c not in frame.columns[:2]]
        raise SourceFileError(str(path), f"the header starts {list(frame.columns[:2])}", row=1,
                              column=", ".join(missing) or None,
                              expected="the columns Year, Dest, then one column per origin name")
    years = pd.to_numeric(frame["Year"], errors="coerce")
    if years.isna().any() or (years % 1 != 0).any():
        line = int(np.flatnonzero(years.isna() | (years % 1 != 0))[0]) + 2
        raise SourceFileError(str(path), f"found {frame['Year'].iloc[line - 2]!r} where a year was published",
                              row=line, column="Year", expected="a year such as 1990")
    return frame


def harmonise_bilateral_2019(raw: pd.DataFrame, ctx: LoadContext, *, file: str) -> pd.DataFrame:
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    names = list(raw.columns[2:])
    n, k = len(raw), len(names)
    destination = map_codes(ctx, raw["Dest"], ("name",), file=file, column="Dest", rows=lines, sheet=None,
                            weight=k)
    codes = map_header(ctx, names, names, ("name",), file=file, sheet=None, row=1, n_rows=n)
    value, cells = numeric_matrix(raw, names)  # row by row, as the file reads
    long = parse_cells(cells, value=value)
    marker = long.pop("marker").to_numpy()
    note = np.where(value == 0, ZERO_NOTE, None)
    note[pd.notna(marker)] = marker[pd.notna(marker)]
    long = long.assign(
        destination=coded(destination.categories, np.repeat(destination.codes, k)), origin=tiled(codes, n),
        sex=constant("_T", n * k), age=constant("_T", n * k), year=np.repeat(raw["Year"].to_numpy(dtype=int), k),
        note=factorised(note), definition=constant(None, n * k), cell_file=constant(file, n * k),
        cell_sheet=constant(None, n * k), cell_row=np.repeat(lines, k), cell_column=tiled(names, n), marker=marker)
    report_markers(ctx, long, file=file, sheet=None, dataflow="migrant_stock")
    return long.drop(columns="marker")


# -- 2020 edition, destination x origin x sex, derived long table (.rda) ---------------------------------

RDA_OBJECT = "stocks"
RDA_COLUMNS = ["from", "to", "sex", "t", "v"]
RDA_SEX = {"Total": "_T", "Male": "M", "Female": "F"}
#: gdiviz's own codes, registered by the sidecar as the system "gdiviz": CHA Channel Islands, XXX other
RDA_SYSTEMS = ("gdiviz", "iso3")


def read_gdiviz_rda(path: Path) -> pd.DataFrame:
    objects = read_r(path, expected=f"an .rda file holding the data frame {RDA_OBJECT!r}")
    if RDA_OBJECT not in objects:
        raise SourceFileError(str(path), f"holds {list(objects)} but no object {RDA_OBJECT!r}", sheet=RDA_OBJECT,
                              expected=f"the data frame {RDA_OBJECT!r}")
    frame = objects[RDA_OBJECT]
    missing = [c for c in RDA_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceFileError(str(path), f"columns {missing} are missing (found {list(frame.columns)})",
                              sheet=RDA_OBJECT, column=missing[0], expected=f"the columns {RDA_COLUMNS}")
    odd = ~frame["sex"].isin(list(RDA_SEX))
    if odd.any():
        raise SourceFileError(str(path), f"unknown sex {frame['sex'][odd].iloc[0]!r}", sheet=RDA_OBJECT,
                              row=int(np.flatnonzero(odd)[0]) + 1, column="sex", expected=f"one of {list(RDA_SEX)}")
    return frame


def harmonise_gdiviz(raw: pd.DataFrame, ctx: LoadContext, *, file: str) -> pd.DataFrame:
    n = len(raw)
    rows = np.arange(1, n + 1)  # 1-based row index, as R shows it
    value = pd.to_numeric(raw["v"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame({
        "destination": map_codes(ctx, raw["to"], RDA_SYSTEMS, file=file, column="to", rows=rows, sheet=RDA_OBJECT),
        "origin": map_codes(ctx, raw["from"], RDA_SYSTEMS, file=file, column="from", rows=rows, sheet=RDA_OBJECT),
        "sex": recoded(raw["sex"], RDA_SEX), "age": constant("_T", n),
        "year": raw["t"].to_numpy(dtype=np.int16), "value": value,
        "obs_status": coded(["A", "M"], np.isnan(value).astype(np.int32)),
        "note": coded([None, ZERO_NOTE], (value == 0).astype(np.int32)), "definition": constant(None, n),
        "cell_file": constant(file, n), "cell_sheet": constant(RDA_OBJECT, n), "cell_row": rows,
        "cell_column": constant("v", n)})
