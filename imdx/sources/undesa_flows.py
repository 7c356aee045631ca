"""UN DESA *International Migration Flows to and from Selected Countries: The 2015 Revision*, the "Totals" workbook.

``UN_MigFlow_Totals.xlsx``, one sheet ``Totals``: a 15-row title block, super-headers in row 16, **the header in
row 17** (``CntName``, ``Criteria``, ``Type``, ``Coverage``, then the years 1980 ... 2013) and one row per reporting
country and classification (45 countries). It is the only file here with the **sending side**: emigrants as the
country of origin counts them, next to immigrants as the destination counts them. Into ``reported_flows``:

* ``Type`` ``Immigrants`` -> reporter ``destination`` (destination = the country, origin ``_T``: from anywhere);
  ``Emigrants`` -> reporter ``origin`` (origin = the country, destination ``_T``);
* ``Criteria`` -> ``criterion``: ``Residence`` RES, ``Citizenship`` CIT, ``Place of birth`` POB;
* ``Coverage`` -> ``coverage``: ``Both`` ``_T``, ``Foreigners`` FOR, ``Citizens`` NAT.

Rows are comparable only within one (criterion, coverage): a Citizenship block (citizens + foreigners) and a
Residence block of the same country do not add up to the same total. ``..`` is missing (status M, kept); any
other text where a number belongs is an ``unknown-marker`` issue. Names are the UN's long forms (no codes),
resolved by name.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile, column_letter
from imdx.sources.undesa_ims._common import label, parse_cells, read_sheets, report_markers

FILE = "UN_MigFlow_Totals.xlsx"
SHEET = "Totals"
HEADER_ROW = 17
KEYS = ["CntName", "Criteria", "Type", "Coverage"]
CRITERION = {"Residence": "RES", "Citizenship": "CIT", "Place of birth": "POB"}
COVERAGE = {"Both": "_T", "Foreigners": "FOR", "Citizens": "NAT"}
TYPES = ("Immigrants", "Emigrants")


def read_totals(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """The table as published: one row per reporting country and classification (``row`` = Excel row), the four
    labels, and one column per year with the cells untouched; and the years."""
    grid = read_sheets(path, [SHEET])[SHEET]
    header = [label(v) for v in grid[HEADER_ROW - 1]] if grid.shape[0] >= HEADER_ROW else []
    if header[:4] != KEYS:
        raise SourceFileError(str(path), f"row {HEADER_ROW} starts {header[:4]}", sheet=SHEET, row=HEADER_ROW,
                              column="A", expected=f"the header {KEYS} then the years")
    years = []
    for i, text in enumerate(header[4:], start=4):
        if not text:
            break
        if not text.isdigit():
            raise SourceFileError(str(path), f"found {text!r} where a year was published", sheet=SHEET,
                                  row=HEADER_ROW, column=column_letter(i), expected="a year such as 1980")
        years.append(int(text))
    body = grid[HEADER_ROW:]
    names = np.array([label(v) for v in body[:, 0]])
    n = int(np.argmax(names == "")) if (names == "").any() else len(names)
    body = body[:n]
    frame = pd.DataFrame({k: [label(v) for v in body[:, i]] for i, k in enumerate(KEYS)})
    for col, allowed in (("Criteria", CRITERION), ("Type", TYPES), ("Coverage", COVERAGE)):
        bad = ~frame[col].isin(list(allowed))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise SourceFileError(str(path), f"{col} is {frame[col].iloc[i]!r}", sheet=SHEET, row=HEADER_ROW + 1 + i,
                                  column=column_letter(KEYS.index(col)), expected=f"one of {list(allowed)}")
    for j, year in enumerate(years):
        frame[year] = body[:, 4 + j]
    frame.insert(0, "row", np.arange(n) + HEADER_ROW + 1)
    return frame, years


def harmonise(raw: tuple[pd.DataFrame, list[int]], ctx: LoadContext) -> pd.DataFrame:
    ctx.dataflow = "reported_flows"
    ctx.areas.load_sidecar("undesa_flows")
    frame, years = raw
    country = ctx.map_areas(frame["CntName"], ("name",), file=FILE, sheet=SHEET, column="A", rows=frame["row"])
    keep = country.notna().to_numpy()
    frame, country = frame[keep], country[keep].to_numpy()
    k = len(years)
    cells = parse_cells(frame[years].to_numpy(dtype=object).ravel())
    immigrants = np.repeat((frame["Type"] == "Immigrants").to_numpy(), k)
    country = np.repeat(country, k)
    out = cells.assign(
        origin=np.where(immigrants, "_T", country), destination=np.where(immigrants, country, "_T"),
        reporter=np.where(immigrants, "destination", "origin"),
        criterion=np.repeat(frame["Criteria"].map(CRITERION).to_numpy(), k),
        coverage=np.repeat(frame["Coverage"].map(COVERAGE).to_numpy(), k), sex="_T", year=np.tile(years, len(frame)),
        definition=np.repeat((frame["Criteria"] + " / " + frame["Coverage"]).to_numpy(), k), note=None,
        cell_file=FILE, cell_sheet=SHEET, cell_row=np.repeat(frame["row"].to_numpy(), k),
        cell_column=np.tile([column_letter(4 + j) for j in range(k)], len(frame)))
    report_markers(ctx, out, file=FILE, sheet=SHEET, dataflow="reported_flows")
    dims = ["origin", "destination", "reporter", "criterion", "coverage", "year"]
    dup = out.duplicated(dims, keep="first")
    if dup.any():
        first = out[dup].iloc[0]
        ctx.issue("duplicate-row", f"{int(dup.sum())} cells repeat a country, type, criterion and coverage already "
                  "published in an earlier row; only the first was loaded", severity="warning", file=FILE,
                  sheet=SHEET, row=int(first["cell_row"]), n_obs=int(dup.sum()))
    return out[~dup].drop(columns="marker")


def _build(paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    return {"reported_flows": harmonise(read_totals(paths[FILE]), ctx)}


SOURCE = Source(
    name="undesa_flows",
    title="International Migration Flows to and from Selected Countries",
    publisher="United Nations, Department of Economic and Social Affairs, Population Division",
    homepage="https://www.un.org/development/desa/pd/data/international-migration-flows",
    # flows counted by the reporting countries, to the person: a gap of more than a few is real
    tolerance=Tolerance.exact(),
    releases=(ReleaseSpec(
        source="undesa_flows", key="migflow2015-totals", edition="2015", published=date(2015, 12, 1),
        title="International Migration Flows to and from Selected Countries: The 2015 Revision "
              "(POP/DB/MIG/Flow/Rev.2015), totals by reporting country, 1980-2013",
        licence="Copyright © 2015 by United Nations. All rights reserved",
        # UN DESA publishes it inside UN_MigFlow_All_CountryFiles.zip; these bytes are the copy in a public repository
        files=(SourceFile(FILE, "https://raw.githubusercontent.com/cedcot/ProjSpaceY/"
                                "6107bfd035dcc0e8c6fab58a68ec578cb056024e/UN_MigFlow_Totals.xlsx",
                          "e81e3f892102baae18c20b00ae76ae5e5dd7f6d2247b567829c5016c3f63fb5d"),),
        dataflows=("reported_flows",), build=_build),),
)
