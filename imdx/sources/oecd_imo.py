"""OECD *International Migration Outlook 2023*, statistical annex Tables A.1 and A.2 (StatLink workbooks).

Two workbooks, one sheet each: the title in row 1, ``Thousands`` in row 2, the years 2011 ... 2021 in row 3 from
column B, then one row per country (names only: 38 in A.1, 29 in A.2) and a closing note row. Into
``reported_flows``, converted from **thousands** to persons:

* A.1 *Inflows of foreign population* -> reporter ``destination`` (origin ``_T``), coverage FOR (foreigners);
* A.2 *Outflows of foreign population* -> reporter ``origin`` (destination ``_T``), coverage FOR. It counts
  foreigners leaving, not nationals emigrating.

The criterion is ``NATDEF``: each country's own definition (residence permits or population registers), not
harmonised; the annex's metadata table is not in these files. ``..`` is missing (status M). Names carry a
non-breaking space in A.1 (``Czech\\xa0Republic``), which name resolution ignores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.checks.tolerance import Tolerance
from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile, column_letter
from imdx.sources.undesa_ims._common import label, parse_cells, read_sheets, report_markers

THOUSAND = 1000.0
YEAR_ROW = 3


@dataclass(frozen=True)
class Table:
    file: str
    sheet: str
    title: str  # how cell A1 starts
    reporter: str  # "destination" (inflows) or "origin" (outflows)
    url: str
    sha256: str


INFLOWS = Table("Inflows of foreign population.xlsx", "A1_EN_2023", "Table\u00a0A.1. Inflows of foreign population",
                "destination", "https://stat.link/bvoli3",
                "80dd7ccb06d0146ca2845b63ae72956092876928512f01e754b0d5812dfaf84f")
OUTFLOWS = Table("Outflows of foreign population.xlsx", "A2_EN_2023", "Table A.2. Outflows of foreign population",
                 "origin", "https://stat.link/ofdsue",
                 "03544bebc1e25d006c45e4b40ef30b70e073f40a9b32efd43fe37ba3c1f0a0f2")


def read_table(path: Path, table: Table) -> tuple[pd.DataFrame, list[int]]:
    """The table as published: ``row`` (Excel row), ``name`` and one column per year (cells untouched)."""
    grid = read_sheets(path, [table.sheet])[table.sheet]

    def cell(r, c):
        return label(grid[r - 1, c]) if r - 1 < grid.shape[0] and c < grid.shape[1] else ""
    if not cell(1, 0).replace("\u00a0", " ").startswith(table.title.replace("\u00a0", " ")):
        raise SourceFileError(str(path), f"the title is {cell(1, 0)!r}", sheet=table.sheet, row=1, column="A",
                              expected=f"a title starting {table.title!r}")
    if cell(2, 0) != "Thousands":
        raise SourceFileError(str(path), f"the unit row reads {cell(2, 0)!r}", sheet=table.sheet, row=2, column="A",
                              expected="'Thousands' (the values are converted to persons)")
    years = []
    for c in range(1, grid.shape[1]):
        text = cell(YEAR_ROW, c)
        if not text:
            break
        if not text.isdigit():
            raise SourceFileError(str(path), f"found {text!r} where a year was published", sheet=table.sheet,
                                  row=YEAR_ROW, column=column_letter(c), expected="a year such as 2011")
        years.append(int(text))
    rows = []
    for r in range(YEAR_ROW + 1, grid.shape[0] + 1):
        name = cell(r, 0)
        if not name or name.startswith("Note"):
            break
        rows.append([r, name] + [grid[r - 1, 1 + j] for j in range(len(years))])
    if not rows:
        raise SourceFileError(str(path), "no country rows under the years", sheet=table.sheet, row=YEAR_ROW + 1,
                              expected="one row per country")
    return pd.DataFrame(rows, columns=["row", "name"] + years), years


def harmonise(raw: tuple[pd.DataFrame, list[int]], table: Table, ctx: LoadContext) -> pd.DataFrame:
    ctx.dataflow = "reported_flows"
    ctx.areas.load_sidecar("oecd_imo")
    frame, years = raw
    country = ctx.map_areas(frame["name"], ("name",), file=table.file, sheet=table.sheet, column="A",
                            rows=frame["row"])
    keep = country.notna().to_numpy()
    frame, country = frame[keep], np.repeat(country[keep].to_numpy(), len(years))
    cells = parse_cells(frame[years].to_numpy(dtype=object).ravel())
    cells["value"] = (cells["value"] * THOUSAND).round(6)  # 990.553 thousand -> 990,553 persons
    inflow = table.reporter == "destination"
    out = cells.assign(
        origin="_T" if inflow else country, destination=country if inflow else "_T", reporter=table.reporter,
        criterion="NATDEF", coverage="FOR", sex="_T", year=np.tile(years, len(frame)),
        definition="national definition (permits or registers), foreign nationals", note=None,
        cell_file=table.file, cell_sheet=table.sheet, cell_row=np.repeat(frame["row"].to_numpy(), len(years)),
        cell_column=np.tile([column_letter(1 + j) for j in range(len(years))], len(frame)))
    report_markers(ctx, out, file=table.file, sheet=table.sheet, dataflow="reported_flows")
    return out.drop(columns="marker")


def _build(table: Table, paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    return {"reported_flows": harmonise(read_table(paths[table.file], table), table, ctx)}


def _spec(key: str, title: str, table: Table) -> ReleaseSpec:
    return ReleaseSpec(
        source="oecd_imo", key=key, title=title, edition="2023", published=date(2023, 10, 23),
        licence="© OECD 2023; reuse under the OECD Terms and Conditions, citing 'OECD (2023), International "
                "Migration Outlook 2023'",
        files=(SourceFile(table.file, table.url, table.sha256),), dataflows=("reported_flows",),
        build=partial(_build, table))


SOURCE = Source(
    name="oecd_imo",
    title="OECD International Migration Outlook, statistical annex",
    publisher="OECD",
    homepage="https://www.oecd.org/en/publications/international-migration-outlook-2023_b0f40584-en.html",
    # published in thousands with three decimals: counts to the person, as the national sources give them
    tolerance=Tolerance.exact(),
    releases=(
        _spec("imo2023-a1-inflows", "International Migration Outlook 2023, Table A.1: inflows of foreign population "
              "into OECD countries, 2011-2021 (thousands)", INFLOWS),
        _spec("imo2023-a2-outflows", "International Migration Outlook 2023, Table A.2: outflows of foreign population "
              "from OECD countries, 2011-2021 (thousands)", OUTFLOWS),
    ),
)
