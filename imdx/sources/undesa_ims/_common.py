"""Helpers shared by the UN DESA International Migrant Stock readers: workbook access, Excel column
letters, the UN's cell markers and footnote marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imdx.codes.names import strip_footnote
from imdx.errors import SourceFileError
from imdx.sources.base import LoadContext, coded
from imdx.sources.base import column_letter as letter
from imdx.sources.xlsx import open_workbook

#: UN DESA's cell markers (from the Notes sheet of the 2020 workbook): status and value
MISSING = ".."  # not available or not reported separately
ROUNDS_TO_ZERO = "—"  # em dash: not zero, but less than half the unit employed
SUPPRESSED = "~"  # protected for privacy (the number, or the number it derives from, is below five)
#: the observation statuses a cell can get (SDMX OBS_STATUS): normal, missing, suppressed, rounds to zero
STATUS_CODES = ["A", "M", "L", "N"]




def read_sheets(path: Path, sheets: list[str]) -> dict[str, np.ndarray]:
    """The named sheets of an xlsx workbook as 2-D object arrays, every cell as published (numbers as
    floats, text as str, empty cells as ``''``), row 0 being Excel's row 1 and column 0 column A."""
    with open_workbook(path, "a complete xlsx workbook as published by UN DESA") as book:
        missing = [s for s in sheets if s not in book.sheet_names]
        if missing:
            raise SourceFileError(str(path), f"sheet {missing[0]!r} is missing (the workbook has "
                                  f"{', '.join(book.sheet_names)})", sheet=missing[0],
                                  expected=f"the sheets {', '.join(sheets)}")
        out = {}
        for sheet in sheets:
            cells = book.rows(sheet)
            width = max((len(r) for r in cells), default=0)
            if all(len(r) == width for r in cells):  # calamine's rows are as wide as the sheet: one copy
                grid = np.empty((len(cells), width), dtype=object)
                grid[:] = cells
            else:
                grid = np.full((len(cells), width), "", dtype=object)
                for i, r in enumerate(cells):
                    grid[i, : len(r)] = r
            out[sheet] = grid
    return out


def label(value: object) -> str:
    """A cell as text: ``''`` for an empty cell, ``1990`` for the float 1990.0."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()


def expect_labels(path: Path, sheet: str | None, grid: np.ndarray, row: int, labels: dict[int, str]) -> None:
    """Raise unless row ``row`` (1-based) holds ``labels`` ({0-based column: label}) exactly."""
    for col, want in labels.items():
        found = label(grid[row - 1, col]) if row - 1 < grid.shape[0] and col < grid.shape[1] else ""
        if found != want:
            raise SourceFileError(str(path), f"found {found!r} where the column header {want!r} was published "
                                  "(the header row moved or a column was renamed)", sheet=sheet, row=row,
                                  column=letter(col), expected=f"{want!r} in cell {letter(col)}{row}")


def year_of(period: object) -> int | None:
    """The reference year of a column label: 1990, 1995.0, '2019', or the end of a period '1990-1995'."""
    text = label(period)
    if "-" in text:
        text = text.rsplit("-", 1)[1]
    try:
        year = int(float(text))
    except ValueError:
        return None
    return year if 1900 <= year <= 2100 else None


def parse_cells(cells, *, blank: str = "M", value: np.ndarray | None = None) -> pd.DataFrame:
    """Values and status of published cells (any 1-D array): numbers as they are; ``..`` -> NaN 'M';
    ``—`` -> 0 'N'; ``~`` -> NaN 'L'; an empty cell -> NaN with status ``blank``. Any other text -> NaN
    'M' with the text kept in ``marker`` (the caller reports it). ``value``: the cells already
    converted to numbers (NaN where they are not), when the reader has done that."""
    cells = np.asarray(cells, dtype=object)
    if value is None:
        value = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan, copy=True)
    status = np.zeros(len(cells), dtype=np.int32)  # index into STATUS_CODES
    marker = np.full(len(cells), None, dtype=object)
    odd = np.flatnonzero(np.isnan(value))
    if len(odd):
        text = np.array([label(c) for c in cells[odd]], dtype=object)
        status[odd] = np.select([text == "", text == SUPPRESSED, text == ROUNDS_TO_ZERO],
                                [STATUS_CODES.index(blank), STATUS_CODES.index("L"), STATUS_CODES.index("N")],
                                STATUS_CODES.index("M"))
        value[odd[text == ROUNDS_TO_ZERO]] = 0.0
        unknown = ~np.isin(text, ["", MISSING, SUPPRESSED, ROUNDS_TO_ZERO])
        marker[odd[unknown]] = text[unknown]
    return pd.DataFrame({"value": value, "obs_status": coded(STATUS_CODES, status), "marker": marker})


_NUMBER = r"^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$"


def numeric_matrix(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The cells of ``columns`` row by row, flattened: their numbers (NaN where a cell is not a number)
    and, where it is not, the cell as published (None elsewhere). Numeric columns are taken as they
    are; text columns are converted in Arrow. The input of :func:`parse_cells` for a wide table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, k = len(frame), len(columns)
    value = np.empty((n, k), dtype="float64")
    for j, c in enumerate(columns):
        col = frame[c]
        if col.dtype.kind in "iuf":
            value[:, j] = col.to_numpy(dtype="float64")
        else:
            text = pa.array(col.astype("string"))
            number = pc.if_else(pc.match_substring_regex(text, _NUMBER), pc.utf8_trim_whitespace(text), None)
            value[:, j] = pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False)
    cells = np.full((n, k), None, dtype=object)
    for j in np.flatnonzero(np.isnan(value).any(axis=0)):
        rows = np.flatnonzero(np.isnan(value[:, j]))
        cells[rows, j] = frame[columns[j]].to_numpy(dtype=object)[rows]
    return value.ravel(), cells.ravel()


def report_markers(ctx: LoadContext, frame: pd.DataFrame, *, file: str, sheet: str | None, dataflow: str) -> None:
    """One ``unknown-marker`` issue per distinct unexplained text found where a number was expected."""
    odd = frame[frame["marker"].notna()]
    for text, group in odd.groupby("marker", sort=True):
        first = group.iloc[0]
        ctx.issue("unknown-marker", f"{text!r} where a number was expected; UN DESA's notes do not define it. "
                  f"Loaded as missing (status 'M') with the text kept in the note", severity="warning",
                  dataflow=dataflow, file=file, sheet=sheet, row=int(first["cell_row"]),
                  column=str(first["cell_column"]), n_obs=len(group))


def name_marks(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Names without their footnote marks, and the marks (``'*'``) as published (None where there is none)."""
    split = [strip_footnote(label(n)) for n in names]
    return (pd.Series([a for a, _ in split], index=names.index, dtype=object),
            pd.Series([b for _, b in split], index=names.index, dtype=object))


def join_notes(*parts: pd.Series) -> pd.Series:
    """Footnote marks from several columns as one note: ``'*'`` and ``41`` -> ``'* 41'``; none -> None."""
    joined = [" ".join(t for t in map(label, vals) if t) or None for vals in zip(*parts)]
    return pd.Series(joined, index=parts[0].index, dtype=object)


def map_header(ctx: LoadContext, names: list[str], letters: list[str], systems: tuple[str, ...], *, file: str,
               sheet: str | None, row: int, n_rows: int) -> list[str | None]:
    """Area codes of the names in a header row; an unmapped name is an issue naming its own column."""
    codes = ctx.areas.map(pd.Series(names, dtype="string"), systems)
    out = [None if pd.isna(c) else str(c) for c in codes]
    for i, code in enumerate(out):
        if code is None:
            ctx.map_areas(pd.Series([names[i]] * max(n_rows, 1)), systems, file=file, column=letters[i],
                          rows=pd.Series([row] * max(n_rows, 1)), sheet=sheet)
    return out


def dedupe_areas(ctx: LoadContext, rows, names, codes, cells: np.ndarray, *, file: str, sheet: str | None,
                 dataflow: str) -> np.ndarray:
    """Which rows to keep: a row that resolves to the same area as an earlier row (UN DESA lists Australia
    and New Zealand both as an SDG region and as a geographic region) is dropped, with an info issue when
    it repeats the earlier row's values and a warning naming both rows when it does not. ``rows``: Excel
    row numbers; ``names``, ``codes``: per row."""
    rows, names, codes = list(rows), list(names), [None if pd.isna(c) else c for c in codes]
    keep = np.ones(len(codes), dtype=bool)
    first_of: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            continue
        j = first_of.setdefault(code, i)
        if j == i:
            continue
        keep[i] = False
        same = [label(a) for a in cells[i]] == [label(b) for b in cells[j]]
        ctx.issue("duplicate-row" if same else "conflicting-duplicate-row",
                  f"row {int(rows[i])} ({label(names[i])!r}) is the same area ({code}) as row {int(rows[j])} "
                  f"({label(names[j])!r})" + ("; its values are the same, loaded once" if same else
                                             "; its values differ, only the first row was loaded"),
                  severity="info" if same else "warning", dataflow=dataflow, file=file, sheet=sheet,
                  row=int(rows[i]), area=str(code), n_obs=cells.shape[1])
    return keep


def resolve_rows(ctx: LoadContext, values: list, rows, systems: tuple[str, ...], *, file: str, column: str,
                 sheet: str | None) -> list:
    """Area codes of a short list of codes or names (one per row); unmapped ones are reported through
    :meth:`LoadContext.map_areas` with their rows."""
    lookup = {v: ctx.areas.resolve(v, systems).code for v in set(values) if v is not None}
    out = [lookup.get(v) if v is not None else None for v in values]
    bad = [i for i, (o, v) in enumerate(zip(out, values)) if o is None and v is not None]
    if bad:
        rows = list(rows)
        ctx.map_areas(pd.Series([values[i] for i in bad]), systems, file=file, column=column,
                      rows=pd.Series([int(rows[i]) for i in bad]), sheet=sheet)
    return out


# -- building long tables fast: text columns as categoricals, one Python string per distinct value ---------

def repeated(values, times: int) -> pd.Categorical:
    """Each of ``values`` ``times`` times in a row (row-level values of a melted matrix)."""
    return coded(list(values), np.repeat(np.arange(len(values)), times))


def tiled(values, times: int) -> pd.Categorical:
    """``values`` one after another, ``times`` times over (column-level values of a melted matrix)."""
    return coded(list(values), np.tile(np.arange(len(values)), times))


def constant(value, size: int) -> pd.Categorical:
    return coded([value], np.zeros(size, dtype=np.int32))


def factorised(values) -> pd.Categorical:
    """Any 1-D array of text (or None) as a ``string`` array."""
    codes, uniques = encode(pd.Series(values, dtype=object).astype("string"))
    return coded(uniques + [None], np.where(codes < 0, len(uniques), codes))


def encode(values: pd.Series) -> tuple[np.ndarray, list]:
    """Dictionary-encode a text column in Arrow: (index per row, -1 for a missing value; distinct values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values.astype("string"))
    encoded = pc.dictionary_encode(array)
    indices = pc.coalesce(encoded.indices, pa.scalar(-1, encoded.indices.type))  # as fill_null, faster
    indices = indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return indices, encoded.dictionary.to_pylist()


def recoded(values: pd.Series, mapping: dict) -> pd.Categorical:
    """A text column through ``mapping`` (a value not in it becomes <NA>), once per distinct value."""
    codes, uniques = encode(values)
    return coded([mapping.get(u) for u in uniques] + [None], np.where(codes < 0, len(uniques), codes))


def map_codes(ctx: LoadContext, values: pd.Series, systems: tuple[str, ...], *, file: str, column: str,
              rows: np.ndarray, sheet: str | None, weight: int = 1) -> pd.Categorical:
    """Area codes of a column: resolved once per distinct value; the rows of a value that maps to nothing
    go through :meth:`LoadContext.map_areas`, which reports it with its first row and the number of
    observations it touches (``weight`` observations per row: the width of a matrix)."""
    codes, uniques = encode(values)
    mapped = ctx.areas.map(pd.Series(uniques, dtype="string"), systems)
    bad = np.flatnonzero(mapped.isna().to_numpy())
    if len(bad):
        hit = np.isin(codes, bad)
        ctx.map_areas(pd.Series(np.repeat(np.asarray(values, dtype=object)[hit], weight)), systems, file=file,
                      column=column, rows=pd.Series(np.repeat(np.asarray(rows)[hit], weight)), sheet=sheet)
    uniq = [None if pd.isna(m) else m for m in mapped] + [None]
    return coded(uniq, np.where(codes < 0, len(uniq) - 1, codes))
