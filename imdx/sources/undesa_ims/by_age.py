"""Migrant stock by age: the 2015 revision's Table 1 (1990, persons) and the 2017 revision's percentage
distribution by age (1990-2017, derived long form).

* ``UN_MigrantStockByAge_2015.csv``: the uploader saved only the sheet "Table 1" of
  ``UN_MigrantStockByAge_2015.xlsx`` as CSV, in **Windows-1252**. A 14-line title block; the header record
  (its first cell ``"Sort\\norder"`` holds a line break, so the record spans two lines) and a line of age
  groups ``0-4`` ... ``75+``, ``Total``, three times (both sexes, male, female; one label reads ``" 15-19"``).
  Numbers are text with **spaces as thousands separators** and leading padding (``" 5 444 102"``): every
  space is removed before the text is read as a number; anything else that is not a number or ``..``
  (missing) is an ``unknown-marker`` issue, never a guessed number. Rows are areas by M49/UN DESA code,
  aggregates mixed in (as in the other UN DESA tables). Into ``migrant_stock`` with origin ``_T`` and the
  ``age`` dimension (``Y0T4`` ... ``Y70T74``, ``Y_GE75``, ``_T``).
* ``derived/by_age_2017_pct/UN_MigrantStockByAge_2017{,Female,Male}.csv``: ``Year,MajorArea,0-4,...,75+,Total``,
  percentages (``Total`` = 100), names only (a visualisation project renamed some countries: the reviewed
  spellings are in ``imdx/codes/aliases/undesa_ims.csv``), ``..`` missing. The both-sexes file is **Latin-1**,
  the other two UTF-8. Into ``migrant_stock_age_share`` (edition 2017). Do not mix the revisions: the 2017
  revision re-estimated 1990 (WORLD 0-4: 3.2 % against 3.57 % from the 2015 figures).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import SourceFileError
from imdx.model.codelists import stock_definition
from imdx.sources.base import LoadContext, column_letter
from imdx.sources.undesa_ims._common import dedupe_areas, join_notes, name_marks, parse_cells, report_markers

AGES = ["0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59",
        "60-64", "65-69", "70-74", "75+", "Total"]
AGE_CODES = [f"Y{a.replace('-', 'T')}" for a in AGES[:-2]] + ["Y_GE75", "_T"]
SEXES = ["_T", "M", "F"]  # the three blocks of Table 1, in order
YEAR_2015_TABLE = 1990
HEADER = {0: "Sort\norder", 1: "Major area, region, country or area of destination", 2: "Notes",
          3: "Country code", 4: "Type of data (a)"}
_SPACED_NUMBER = re.compile(r"[\d ]+")


def _decode(path: Path, encoding: str) -> str:
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError as err:
        raise SourceFileError(str(path), f"is not {encoding} text (byte {err.start}: {err.reason})",
                              expected=f"the published CSV in {encoding}") from err


# -- 2015 revision, Table 1 (1990) ------------------------------------------------------------------------

def read_table_2015(path: Path) -> pd.DataFrame:
    """Table 1 as published: one row per area with ``line`` (its line in the file), the five label columns
    and the 51 value cells as text (spaces still in them)."""
    text = _decode(path, "cp1252")
    records, lines, line = [], [], 1
    for record in csv.reader(io.StringIO(text, newline="")):
        records.append(record)
        lines.append(line)
        line += 1 + sum(cell.count("\n") for cell in record)
    header = next((i for i, r in enumerate(records) if r and r[0] == HEADER[0]), None)
    if header is None or header + 2 > len(records):
        raise SourceFileError(str(path), "no header record starting 'Sort\\norder'", row=15, column="A",
                              expected="the UN DESA Table 1 header (line 15)")
    for col, want in HEADER.items():
        found = records[header][col] if col < len(records[header]) else ""
        if found != want:
            raise SourceFileError(str(path), f"found {found!r} where the header {want!r} was published",
                                  row=lines[header], column=column_letter(col), expected=repr(want))
    ages = [a.strip() for a in records[header + 1][5:]]
    if ages != AGES * 3:
        raise SourceFileError(str(path), f"the age groups read {ages[:5]}...", row=lines[header + 1], column="F",
                              expected=f"{AGES} three times (both sexes, male, female)")
    body = [(lines[i], r) for i, r in enumerate(records) if i > header + 1 and any(c.strip() for c in r)]
    width = 5 + len(AGES) * 3
    short = next(((ln, r) for ln, r in body if len(r) < width), None)
    if short:
        raise SourceFileError(str(path), f"line has {len(short[1])} cells", row=short[0],
                              expected=f"{width} cells per area")
    frame = pd.DataFrame([r[:width] for _, r in body], columns=["sort", "name", "notes", "code", "type_of_data"]
                         + [f"v{i}" for i in range(len(AGES) * 3)])
    frame.insert(0, "line", [ln for ln, _ in body])
    bad = ~frame["code"].str.strip().str.fullmatch(r"\d+")
    if bad.any():
        row = frame[bad].iloc[0]
        raise SourceFileError(str(path), f"country code {row['code']!r}", row=int(row["line"]), column="D",
                              expected="an M49/UN DESA numeric code for every area")
    return frame


def harmonise_2015(raw: pd.DataFrame, ctx: LoadContext, *, file: str) -> pd.DataFrame:
    values = raw[[f"v{i}" for i in range(len(AGES) * 3)]].to_numpy(dtype=object)
    codes = ctx.map_areas(raw["code"].str.strip(), ("undesa", "m49"), file=file, column="D", rows=raw["line"])
    keep = dedupe_areas(ctx, raw["line"], raw["name"], codes, values, file=file, sheet=None, dataflow="migrant_stock")
    raw, codes, values = raw[keep], codes[keep], values[keep]
    n, k = values.shape
    flat = values.ravel()
    spaced = np.array([bool(_SPACED_NUMBER.fullmatch(c)) and c.strip() != "" for c in flat])
    cleaned = np.where(spaced, [c.replace(" ", "") for c in flat], [c.strip() for c in flat])
    cells = parse_cells(cleaned.astype(object))
    _, marks = name_marks(raw["name"])
    note = join_notes(marks, raw["notes"]).to_numpy()
    out = cells.assign(
        destination=np.repeat(codes.to_numpy(), k), origin="_T", sex=np.tile(np.repeat(SEXES, len(AGES)), n),
        age=np.tile(AGE_CODES * 3, n), year=YEAR_2015_TABLE, note=np.repeat(note, k),
        definition=np.repeat(raw["type_of_data"].map(stock_definition).to_numpy(), k), cell_file=file,
        cell_sheet=None, cell_row=np.repeat(raw["line"].to_numpy(), k),
        cell_column=np.tile([column_letter(5 + i) for i in range(k)], n))
    report_markers(ctx, out, file=file, sheet=None, dataflow="migrant_stock")
    odd = out["marker"].notna().to_numpy()
    out.loc[odd, "note"] = out.loc[odd, "marker"]
    return out.drop(columns="marker")


# -- 2017 revision, percentage distribution by age (derived long form) ----------------------------------

SHARE_FILES = {"_T": ("derived/by_age_2017_pct/UN_MigrantStockByAge_2017.csv", "latin-1"),
               "F": ("derived/by_age_2017_pct/UN_MigrantStockByAge_2017Female.csv", "utf-8"),
               "M": ("derived/by_age_2017_pct/UN_MigrantStockByAge_2017Male.csv", "utf-8")}
SHARE_COLUMNS = ["Year", "MajorArea"] + AGES


def read_shares(path: Path, encoding: str) -> pd.DataFrame:
    """One 2017 share file as published (every cell text), plus ``line``."""
    text = _decode(path, encoding)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    columns = [c.strip() for c in frame.columns]
    if columns != SHARE_COLUMNS:
        raise SourceFileError(str(path), f"the header is {list(frame.columns)}", row=1,
                              expected=",".join(SHARE_COLUMNS))
    frame.columns = columns
    frame.insert(0, "line", np.arange(len(frame)) + 2)
    bad = ~frame["Year"].str.fullmatch(r"(19|20)\d\d")
    if bad.any():
        row = frame[bad].iloc[0]
        raise SourceFileError(str(path), f"Year {row['Year']!r}", row=int(row["line"]), column="Year",
                              expected="a year such as 1990")
    return frame


def harmonise_shares(frames: dict[str, pd.DataFrame], ctx: LoadContext) -> pd.DataFrame:
    parts = []
    for sex, raw in frames.items():
        file = SHARE_FILES[sex][0]
        codes = ctx.map_areas(raw["MajorArea"], ("name",), file=file, column="MajorArea", rows=raw["line"])
        values = raw[AGES].to_numpy(dtype=object)
        n, k = values.shape
        cells = parse_cells(values.ravel())
        part = cells.assign(destination=np.repeat(codes.to_numpy(), k), sex=sex, age=np.tile(AGE_CODES, n),
                            year=np.repeat(raw["Year"].astype(int).to_numpy(), k), note=None, definition=None,
                            cell_file=file, cell_sheet=None, cell_row=np.repeat(raw["line"].to_numpy(), k),
                            cell_column=np.tile(AGES, n))
        report_markers(ctx, part, file=file, sheet=None, dataflow="migrant_stock_age_share")
        parts.append(part.drop(columns="marker"))
    out = pd.concat(parts, ignore_index=True)
    dup = out.dropna(subset=["destination"]).duplicated(["destination", "sex", "age", "year"], keep="first")
    for (dest, sex), group in out.loc[dup[dup].index].groupby(["destination", "sex"]):
        ctx.issue("duplicate-row", f"{dest} ({sex}) is listed more than once under names that denote the same area; "
                  "only the first row was loaded", severity="warning", dataflow="migrant_stock_age_share",
                  file=group["cell_file"].iloc[0], row=int(group["cell_row"].iloc[0]), area=dest, n_obs=len(group))
    return out.drop(index=dup[dup].index)
