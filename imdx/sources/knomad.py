"""KNOMAD/World Bank bilateral matrices 2021 (December 2022 version): remittances and migrant stocks.

Two workbooks, one sheet each, a country × country matrix under a title row:

* ``bilateral_remittance_matrix_2021.xlsx``, sheet ``FINAL BRM 2021 `` (the name ends in a space):
  cell A2 reads "Remittance-receiving country (across) - Remittance-sending country (down)", so
  **rows are senders and columns receivers**. Millions of US$ (the title says so, and is checked):
  converted to US$. A ``WORLD`` row and column hold the totals (area ``001``).
* ``bilateral_migration_matrix_2021_latest.xlsx``, sheet ``BRM 2021``: A2 reads "Destination
  country (across) - Source country (down)", so **rows are origins and columns destinations**.
  Persons. ``Other North``/``Other South`` are the residuals ``_ON``/``_OS``; ``World`` is ``001``.

The table ends at the first row whose column A is blank; what follows (a row of single-space
cells in the remittance matrix, then citation and method notes) is not data. Every cell of the
table is one observation: a blank cell (no estimate published) is kept with value NaN and status
``M``, as is the one ``…`` cell of the migration matrix (its text kept in ``note``). Names are World
Bank spellings, resolved by name (these files have no codes) with the reviewed sidecar
``imdx/codes/aliases/knomad.csv``; a name that still does not resolve is an ``unmapped-area``
issue naming the file, sheet, row and column. ``cell_row``/``cell_column`` are the Excel row
number and column letter of the value.

The files live in the ``wdi`` mirror folder (under ``knomad/``), next to the WDI files they were
published with; see :data:`FOLDER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from imdx.errors import SourceFileError
from imdx.model.report import Report
from imdx.sources.base import LoadContext, ReleaseSpec, Source, SourceFile
from imdx.sources.wdi import column_letter, parse_cells, read_xlsx_sheet, report_bad_cells

#: the mirror folder that holds the KNOMAD files: they were published beside the WDI files, so a
#: mirror laid out as ../shared/data keeps them under ``wdi/knomad/``
FOLDER = "wdi"
YEAR = 2021
SYSTEMS = ("name",)
#: cell texts that mean "no value"; ``…`` is also kept in ``note``
MISSING = ("", "…")
NOTED = ("…",)


@dataclass(frozen=True)
class MatrixLayout:
    file: str
    sheet: str
    corner: str  # how cell A2 starts: says which way the matrix reads
    title_must_contain: str  # in cell A1 (the unit, for the remittances)
    row_dim: str
    column_dim: str
    dataflow: str
    factor: float  # to the dataflow's unit
    sha256: str
    url: str


REMITTANCES = MatrixLayout(
    "knomad/bilateral_remittance_matrix_2021.xlsx", "FINAL BRM 2021 ", "Remittance-receiving country (across)",
    "(millions of US$)", "sender", "receiver", "bilateral_remittances", 1e6,
    "62c68e722dc79b5acb0bb10370d725740ed0a0bee2477ecdaf1a667164901d8c",
    "https://www.knomad.org/data/remittances")
MIGRATION = MatrixLayout(
    "knomad/bilateral_migration_matrix_2021_latest.xlsx", "BRM 2021", "Destination country (across)",
    "Migrant Stocks in 2021", "origin", "destination", "bilateral_migration", 1.0,
    "d99a27d8436aea8af568ab5e16ed7f9f5ccd2ab382299b6db0ea213133ab9832",
    "https://www.knomad.org/data/migration/emigration")


@dataclass(frozen=True)
class Matrix:
    """A matrix as published: row labels (index = Excel row), column labels (index = 0-based
    column position) and the cells (index = Excel row, columns = column positions)."""

    rows: pd.Series
    columns: pd.Series
    cells: pd.DataFrame


# -- read ------------------------------------------------------------------------------------------
def read_matrix(path: Path, layout: MatrixLayout) -> Matrix:
    raw = read_xlsx_sheet(path, layout.sheet, f"the KNOMAD workbook with the sheet {layout.sheet!r}")
    where = {"sheet": layout.sheet}
    def cell(r, c):
        return raw.iat[r, c] if r < raw.shape[0] and c < raw.shape[1] else None
    if layout.title_must_contain not in str(cell(0, 0) or ""):
        raise SourceFileError(str(path), f"the title is {cell(0, 0)!r}", row=1, column="A",
                              expected=f"a title containing {layout.title_must_contain!r}", **where)
    if not str(cell(1, 0) or "").startswith(layout.corner):
        raise SourceFileError(str(path), f"cell A2 is {cell(1, 0)!r}", row=2, column="A",
                              expected=f"{layout.corner!r}, naming the countries across (the header row 2)", **where)
    header = raw.iloc[1, 1:]
    width = int(np.argmax(header.isna().to_numpy())) if header.isna().any() else len(header)
    columns = header.iloc[:width].astype(str).str.strip()
    labels = raw.iloc[2:, 0]
    height = int(np.argmax(labels.isna().to_numpy())) if labels.isna().any() else len(labels)
    rows = labels.iloc[:height].astype(str).str.strip()
    if not width or not height:
        raise SourceFileError(str(path), "no country names in row 2 or column A", row=3, column="A",
                              expected="country names across row 2 and down column A", **where)
    for found, axis in ((columns, "row 2"), (rows, "column A")):
        if not found.str.casefold().eq("world").any():
            raise SourceFileError(str(path), f"{axis} has no World total", expected="a 'World' total", **where,
                                  **({"row": 2} if axis == "row 2" else {"column": "A"}))
    body = raw.iloc[2:2 + height]
    outside = body.iloc[:, 1 + width:].notna().any(axis=1)
    if outside.any():
        row = int(outside.idxmax()) + 1
        raise SourceFileError(str(path), "a value beyond the last named column", row=row,
                              column=column_letter(1 + width), expected="the table to end at the last header", **where)
    rows.index = rows.index + 1
    cells = body.iloc[:, 1:1 + width]
    cells.index = cells.index + 1
    return Matrix(rows, columns, cells)


# -- harmonise -------------------------------------------------------------------------------------
def _map_labels(ctx: LoadContext, matrix: Matrix, layout: MatrixLayout) -> tuple[pd.Series, pd.Series]:
    file, sheet = layout.file, layout.sheet
    row_codes = ctx.map_areas(matrix.rows, SYSTEMS, file=file, sheet=sheet, column="A",
                              rows=pd.Series(matrix.rows.index, index=matrix.rows.index))
    # the column labels sit in row 2, one per column: resolve them at once, then map each name that
    # failed again on its own, so that its unmapped-area issue names its column letter
    scratch = LoadContext(areas=ctx.areas, report=Report(), source=ctx.source, dataflow=ctx.dataflow)
    col_codes = scratch.map_areas(matrix.columns, SYSTEMS, file=file, sheet=sheet, column="", rows=None)
    for pos in col_codes.index[col_codes.isna().to_numpy()]:
        col_codes[pos] = ctx.map_areas(pd.Series([matrix.columns[pos]]), SYSTEMS, file=file, sheet=sheet,
                                       column=column_letter(pos), rows=pd.Series([2])).iloc[0]
    for codes, labels, axis in ((row_codes, matrix.rows, "row"), (col_codes, matrix.columns, "column")):
        dup = codes.notna() & codes.duplicated(keep="first")
        for pos in codes.index[dup.to_numpy()]:
            ctx.issue("duplicate-area", f"{labels[pos]!r} denotes {codes[pos]}, as an earlier {axis} label does; "
                      f"this {axis} was not loaded", severity="error", file=file, sheet=sheet,
                      row=int(pos) if axis == "row" else 2, column="A" if axis == "row" else column_letter(pos),
                      area=codes[pos], n_obs=len(matrix.columns) if axis == "row" else len(matrix.rows))
            codes[pos] = pd.NA
    return row_codes, col_codes


def harmonise_matrix(matrix: Matrix, layout: MatrixLayout, ctx: LoadContext) -> pd.DataFrame:
    ctx.areas.load_sidecar("knomad")
    row_codes, col_codes = _map_labels(ctx, matrix, layout)
    n_rows, n_cols = matrix.cells.shape
    flat = pd.Series(matrix.cells.to_numpy().ravel(), dtype=object)
    cells = parse_cells(flat, MISSING)
    cells["note"] = cells["note"].where(cells["bad"], flat.where(flat.isin(NOTED)).astype("string"))
    letters = [column_letter(p) for p in matrix.cells.columns]
    out = pd.DataFrame({
        layout.row_dim: np.repeat(row_codes.to_numpy(), n_cols),
        layout.column_dim: np.tile(col_codes.to_numpy(), n_rows),
        "year": YEAR,
        "value": cells["value"] * layout.factor,
        "obs_status": cells["obs_status"], "note": cells["note"], "definition": None,
        "cell_file": layout.file, "cell_sheet": layout.sheet,
        "cell_row": np.repeat(matrix.cells.index.to_numpy(), n_cols),
        "cell_column": np.tile(letters, n_rows),
    })
    report_bad_cells(ctx, out.assign(bad=cells["bad"]), layout.file)
    return out


def _build(layout: MatrixLayout, paths: dict[str, Path], ctx: LoadContext) -> dict[str, pd.DataFrame]:
    ctx.dataflow = layout.dataflow
    return {layout.dataflow: harmonise_matrix(read_matrix(paths[layout.file], layout), layout, ctx)}


def _spec(key: str, title: str, layout: MatrixLayout) -> ReleaseSpec:
    return ReleaseSpec(
        source="knomad", key=key, title=title, edition="2021 (December 2022 version)", published=date(2022, 12, 1),
        licence="none stated; cite 'KNOMAD/World Bank Bilateral Remittance Matrix 2021, December 2022'",
        files=(SourceFile(layout.file, layout.url, layout.sha256),), dataflows=(layout.dataflow,),
        build=partial(_build, layout), folder=FOLDER)


SOURCE = Source(
    name="knomad",
    title="KNOMAD/World Bank bilateral remittance and migration matrices",
    publisher="KNOMAD / The World Bank",
    homepage="https://www.knomad.org/data/remittances",
    releases=(
        _spec("brm2021", "Bilateral Remittance Matrix 2021 (sender × receiver, US$)", REMITTANCES),
        _spec("bmm2021", "Bilateral Migration Matrix 2021 (origin × destination, persons)", MIGRATION),
    ),
)
