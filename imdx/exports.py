"""CSV and Excel files that people open in a spreadsheet: safe to open, with their licence and citation.

A spreadsheet program that opens a CSV file runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (``=HYPERLINK(...)`` sends a click to any address, ``=cmd|...`` ran programs through DDE),
and the data imdx serves comes from files and messages anyone can load. So every CSV imdx writes
follows OWASP's rule for CSV injection: a text cell that starts with one of ``= + - @``, a tab or a
carriage return gets a leading apostrophe (``'=HYPERLINK(...)``), which spreadsheets show as text and
people can read. Numbers stay numbers: a numeric column is never touched, and neither is a text cell
that is a plain number (``-12.5``), which a spreadsheet reads as that number, not a formula.

An Excel workbook has typed cells, so text is written as text cells (never a formula, whatever it
starts with) and needs no apostrophe; :func:`excel_bytes` also gives every workbook its licence and
citation, in a sheet and in the document's properties.

* :func:`safe_table` (Arrow, vectorised) and :func:`safe_frame` (pandas) for CSV writers;
* :func:`excel_bytes` for workbooks.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: a cell a spreadsheet would run as a formula (OWASP: =, +, -, @, tab, carriage return)
FORMULA_START = "=+-@\t\r"
_STARTS = "^[=+\\-@\\t\\r]"
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_NUMBER_RE = re.compile(_NUMBER)


def neutralise(text: str) -> str:
    """``text`` made safe to open in a spreadsheet: a leading apostrophe when it starts like a formula."""
    if text and text[0] in FORMULA_START and not _NUMBER_RE.match(text):
        return "'" + text
    return text


def _safe_strings(array: pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([_safe_strings(chunk) for chunk in array.chunks], type=array.type)
    if pa.types.is_dictionary(array.type):
        return pa.DictionaryArray.from_arrays(array.indices, _safe_strings(array.dictionary))
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    risky = pc.and_(pc.match_substring_regex(array, _STARTS), pc.invert(pc.match_substring_regex(array, _NUMBER)))
    if not pc.any(risky).as_py():
        return array
    return pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'", array.type), array, ""), array)


def safe_table(table: pa.Table) -> pa.Table:
    """The table with every formula-looking text cell neutralised (numeric columns as they are)."""
    columns = [_safe_strings(column) for column in table.columns]
    if all(a is b for a, b in zip(columns, table.columns)):
        return table
    return pa.Table.from_arrays(columns, schema=pa.schema([f.with_type(c.type) for f, c in
                                                           zip(table.schema, columns)], table.schema.metadata))


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every formula-looking text cell neutralised (numeric columns as they are)."""
    out = None
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories
            if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
                renamed = [neutralise(c) if isinstance(c, str) else c for c in categories]
                if renamed != list(categories):
                    out = frame.copy() if out is None else out
                    out[name] = column.cat.rename_categories(renamed)
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            text = column.astype("string")
            risky = text.str.match(_STARTS).fillna(False) & ~text.str.match(_NUMBER).fillna(False)
            if risky.any():
                out = frame.copy() if out is None else out
                out[name] = column.where(~risky, "'" + text)
    return frame if out is None else out


def excel_bytes(sheets: Mapping[str, pd.DataFrame], *, title: str, licence: str, citation: str,
                source_url: str | None = None) -> bytes:
    """An .xlsx workbook of ``sheets`` (name -> table), then a sheet ``licence`` with the licence, the
    citation and where the data came from; the same in the document's properties. Text cells are text
    (never formulas), numbers are numbers, missing values are empty cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.packaging.custom import StringProperty

    book = Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(_sheet_name(name))
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_cell(sheet, value, WriteOnlyCell) for value in row])
    about = book.create_sheet("licence")
    for label, value in (("title", title), ("licence", licence), ("cite as", citation), ("data from", source_url)):
        if value:
            about.append([label, _cell(about, value, WriteOnlyCell)])
    book.properties.title = title[:255]
    book.properties.subject = f"Licence: {licence}"[:255]
    book.properties.description = f"Cite as: {citation}"[:1000]
    book.properties.creator = "imdx (International Migration Data eXchange)"
    for name, value in (("Licence", licence), ("Citation", citation), ("Source", source_url)):
        if value:
            book.custom_doc_props.append(StringProperty(name=name, value=value[:2000]))
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def licence_and_citation(releases: pd.DataFrame, release_ids) -> tuple[str, str]:
    """The licence and citation of the data of ``release_ids``, from the store's ``releases()`` table."""
    used = releases[releases["release_id"].isin(list(release_ids))]
    if used.empty:
        return "see the releases the data come from", "imdx (International Migration Data eXchange)"
    licence = "; ".join(f"{r.source} {r.edition}: {r.licence}" for r in used.itertuples())
    citation = "; ".join(f"{r.title} ({r.source}, edition {r.edition}, published {pd.Timestamp(r.published):%Y-%m-%d})"
                         for r in used.itertuples())
    return licence, f"{citation}. Compiled with imdx (International Migration Data eXchange)."


def _sheet_name(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "data"


def _cell(sheet, value, cell_type):
    """A value as a cell: missing -> empty, text -> a text cell even when it starts with '='."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        if value[:1] in FORMULA_START:
            cell = cell_type(sheet, value=value)
            cell.data_type = "s"  # openpyxl would make "=..." a formula
            return cell
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
