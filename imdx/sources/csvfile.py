"""Delimited text files (CSV, tab-separated), checked before a parser sees them.

:func:`read_csv` is the one way imdx reads a CSV file into pandas; a reader that parses with Arrow
(or by hand) calls :func:`check_csv` first. A parser trusts the file: a header of a million columns
makes pandas build a million column objects (past 4 GB and 95 s for a 9 MB file), and one 500 MB
line is one 500 MB string. :func:`check_csv` looks at the bytes first, a window at a time:

* the file's size (``max_file``); each line's length (``max_text``: a cell is never longer than its
  line);
* the header's columns (``max_columns``), the lines (``max_rows``), lines x columns (``max_cells``)
  and the memory the parsed table will take (``max_memory``);
* the header is text in the file's encoding.

Its cost is one pass over the file with numpy (about 10 ms for 10 MB). Parser errors come back as a
:class:`SourceFileError` naming the file (and the line, where the parser says), never shortened to
"a bug".
"""

from __future__ import annotations

import csv
import io
import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imdx import limits
from imdx.errors import SourceFileError

#: what a parsed cell costs in memory (a Python string in an object column), plus the file's own bytes
BYTES_PER_CELL = 64
_WINDOW = 64 << 20


@dataclass(frozen=True)
class CsvShape:
    lines: int  # physical lines (a quoted field may span several)
    columns: int  # fields in the header line
    longest_line: int  # bytes
    header: list[str]


def check_csv(path: Path, *, name: str | None = None, delimiter: str = ",", header_row: int = 1,
              encoding: str = "utf-8", expected: str | None = None) -> CsvShape:
    """Check a delimited text file against the limits before it is parsed; its shape. ``header_row``
    is the 1-based line of the column names (the World Bank's files have four lines before it)."""
    name = name or str(path)
    size = limits.check_file(path, name)
    with open(path, "rb") as fh:
        if size == 0:
            return check_text(b"", name=name, delimiter=delimiter, header_row=header_row, encoding=encoding,
                              expected=expected)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return check_text(view, name=name, delimiter=delimiter, header_row=header_row, encoding=encoding,
                              expected=expected)


def check_text(data, *, name: str, delimiter: str = ",", header_row: int = 1, encoding: str = "utf-8",
               expected: str | None = None) -> CsvShape:
    """:func:`check_csv` on bytes already in memory (or a memory map), e.g. an SDMX-CSV message."""
    size = len(data)
    limits.check(name, "the file's size", size, "max_file")
    lines, longest, longest_at, header_bytes = _scan_lines(data, header_row)
    if longest > limits.current().max_text:
        if longest_at == header_row:  # most likely a header of very many columns: say so if it is
            columns = header_bytes.count(delimiter.encode()) + 1
            limits.check(name, "the number of columns in the header", columns, "max_columns", row=header_row)
        limits.check(name, f"the length of line {longest_at:,}", longest, "max_text", row=longest_at)
    utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig")
    try:
        text = header_bytes.decode("utf-8-sig" if utf8 else encoding)
    except (UnicodeDecodeError, LookupError) as err:
        raise SourceFileError(name, f"the header line is not {'UTF-8' if utf8 else encoding} text "
                              f"({getattr(err, 'reason', err)})", row=header_row,
                              expected=expected or f"a {_kind(delimiter)} text file") from err
    header = next(csv.reader(io.StringIO(text.rstrip("\r\n")), delimiter=delimiter), []) if text.strip() else []
    columns = max(len(header), 1)
    limits.check(name, "the number of columns in the header", columns, "max_columns", row=header_row)
    limits.check(name, "the number of lines", lines, "max_rows")
    limits.check(name, f"the table's cells ({lines:,} lines of {columns:,} columns)", lines * columns, "max_cells")
    limits.check_memory(name, f"parsing {lines:,} lines of {columns:,} columns",
                        lines * columns * BYTES_PER_CELL + size)
    return CsvShape(lines, columns, longest, header)


def _scan_lines(view, header_row: int) -> tuple[int, int, int, bytes]:
    """(lines, the longest line's length, its 1-based number, the bytes of line ``header_row``), looking
    at a window of the bytes at a time."""
    size = len(view)
    if size == 0:
        return 0, 0, 1, b""
    lines, longest, longest_at, previous, span = 0, 0, 1, -1, None
    data = np.frombuffer(view, dtype=np.uint8)
    try:
        for start in range(0, size, _WINDOW):
            ends = np.flatnonzero(data[start:start + _WINDOW] == 10) + start
            if not len(ends):
                continue
            lengths = np.diff(ends, prepend=previous) - 1  # of the lines these newlines end
            at = int(np.argmax(lengths))
            if lengths[at] > longest:
                longest, longest_at = int(lengths[at]), lines + at + 1
            if span is None and lines + len(ends) >= header_row:
                k = header_row - lines - 1
                span = (int(ends[k - 1]) + 1 if k else previous + 1, int(ends[k]))
            previous, lines = int(ends[-1]), lines + len(ends)
    finally:
        del data  # a memory map cannot close while numpy holds it
    if previous < size - 1:  # a last line without a newline
        lines += 1
        if size - 1 - previous > longest:
            longest, longest_at = size - 1 - previous, lines
        if span is None and lines == header_row:
            span = (previous + 1, size)
    return lines, longest, longest_at, bytes(view[span[0]:span[1]]) if span else b""


def _kind(delimiter: str) -> str:
    return {"\t": "tab-separated", ";": "semicolon-separated"}.get(delimiter, "comma-separated")


def read_csv(path: Path, *, expected: str, name: str | None = None, header_row: int = 1, **options) -> pd.DataFrame:
    """``pandas.read_csv(path, **options)`` after :func:`check_csv`; a parser error becomes a
    :class:`SourceFileError` naming the file and saying ``expected``. ``header_row`` is the 1-based
    line of the column names (pass ``skiprows`` to pandas as well)."""
    name = name or str(path)
    delimiter = options.get("sep", options.get("delimiter", ","))
    check_csv(path, name=name, delimiter=delimiter, header_row=header_row,
              encoding=options.get("encoding", "utf-8"), expected=expected)
    try:
        return pd.read_csv(path, **options)
    except UnicodeDecodeError as err:
        line = _line_of_bad_byte(Path(path), options.get("encoding", "utf-8"))
        raise SourceFileError(name, f"bytes that are not {err.encoding} text ({err.reason})",
                              row=line, expected=expected) from err
    except pd.errors.EmptyDataError as err:
        raise SourceFileError(name, "is empty", expected=expected) from err
    except (pd.errors.ParserError, ValueError) as err:
        raise SourceFileError(name, f"cannot be parsed as {_kind(delimiter)} text ({err})", expected=expected) from err


def _line_of_bad_byte(path: Path, encoding: str) -> int | None:
    """The 1-based line of the first byte that is not ``encoding`` text (read a window at a time)."""
    decoder = __import__("codecs").getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as err:
                return line + block[: err.start].count(b"\n")
            line += block.count(b"\n")
    return None
