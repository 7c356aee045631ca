"""Excel workbooks, read with calamine after checking what the file says about its size.

:func:`open_workbook` is the one way imdx opens a workbook, and :meth:`Workbook.rows` the one way it
reads a sheet. An xlsx file is a zip archive of XML parts, and calamine trusts it: a part that expands
a thousandfold fills the memory, and a sheet whose used range reaches cell XFD1048576 makes it ask for
512 GiB and abort the whole process. So, before calamine sees them:

* the zip's members: each one's declared size and expansion, and their sum (``max_unpacked``,
  ``max_ratio``; the zip readers stop at the declared size, so a member cannot expand further);
* each sheet's real extent, from its XML: the highest row and column any cell names (not the
  ``<dimension>`` the sheet declares, which may lie either way), against ``max_rows``, ``max_columns``,
  ``max_cells`` and the memory the cells will take (``max_memory``); and the longest run of text
  (``max_text``).

The extent is found by counting and searching the XML's bytes, not parsing it (a few milliseconds a
megabyte). A sheet written in an unusual way (cells without an ``r`` reference, namespace prefixes,
references in single quotes), or a workbook that is not an xlsx zip (.xls), is read by calamine in a
child process whose memory is capped instead (:func:`imdx.limits.in_child`).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Self
from xml.etree import ElementTree

import numpy as np

from imdx import limits
from imdx.errors import SourceFileError

#: about what a cell costs in memory: calamine's 32 bytes, a Python object and a list slot
BYTES_PER_CELL = 80
#: what reading the central directory costs per zip member (Python's ZipInfo)
BYTES_PER_MEMBER = 1024
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_DIMENSION = re.compile(rb'<dimension\s+ref="([A-Za-z]{1,3}\d+(?::[A-Za-z]{1,3}\d+)?)"')
_REF = re.compile(rb' r="([A-Za-z]{1,3})(\d{1,9})"[^>]*?(/?)>')
_MAIN_NS = b"spreadsheetml/2006/main"
_LONG_REF = re.compile(rb'<c r="(?:[A-Za-z]{3}|[A-Za-z]{1,2}\d{5})')
_PAD = 24  # bytes a cell tag and its reference take at most: read at fixed offsets from the tag


def column_number(letters: bytes | str) -> int:
    """1-based column number of Excel column letters: A -> 1, XFD -> 16384."""
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.decode("ascii").upper():
        n = n * 26 + ord(ch) - 64
    return n


@dataclass(frozen=True)
class Extent:
    """How far a sheet's cells reach (an upper bound when ``exact`` is False)."""

    rows: int
    columns: int
    exact: bool
    declared: str | None = None  # the <dimension ref> the sheet declares

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def sheet_extent(xml: bytes) -> Extent | None:
    """How far a sheet's cells reach, from its XML's bytes (numpy, no parsing: every ``<c`` tag must be
    written ``<c r="A1"...``, as every writer does), or None when the XML is written otherwise (cells
    without a reference, a prefixed namespace): then the sheet is read in a child process.

    An upper bound: row 9,999 and column ZZ when no reference goes further (the usual sheet: one search),
    else the highest row and column referenced, a self-closing ``<c .../>`` (a style, no value) included
    though calamine keeps no cell for it (:func:`exact_extent` leaves those out, when the bound is over a
    limit)."""
    head = _DIMENSION.search(xml, 0, 8192)
    declared = head.group(1).decode() if head else None
    first = xml.find(_MAIN_NS)
    if first >= 0 and (xml.find(_MAIN_NS, first + 1) >= 0 or xml.rfind(b"xmlns:", 0, first) > xml.find(b"<", 0, first)
                       and xml.rfind(b"xmlns:", 0, first) > xml.rfind(b"xmlns=", 0, first)):
        return None  # SpreadsheetML under a prefix, or declared again inside: tags the search would miss
    if xml.find(b"<c", len(xml) - _PAD) >= 0:
        return None  # a cell tag cut short at the very end
    a = np.frombuffer(xml, dtype=np.uint8)
    tags = np.flatnonzero(a[:len(xml) - _PAD] == ord("<"))
    tags = tags[a[tags + 1] == ord("c")]
    c = tags[~_NAME_CHAR[a[tags + 2]]]  # "<c" then not a name character: a cell (not <col, <cfRule ...)
    if not ((a[c + 2] == ord(" ")) & (a[c + 3] == ord("r")) & (a[c + 4] == ord("=")) & (a[c + 5] == ord('"'))).all():
        return None
    if not _LONG_REF.search(xml):  # no reference past column ZZ or row 9,999: that bound will do
        return Extent(9_999 if len(c) else 0, 702 if len(c) else 0, exact=False, declared=declared)
    a = np.concatenate([a, np.zeros(_PAD, dtype=np.uint8)])  # every reference readable at fixed offsets
    at, column, letter = c + 6, np.zeros(len(c), dtype=np.int32), np.ones(len(c), dtype=bool)
    for _ in range(3):  # up to three letters, A to XFD (either case)
        value = _LETTER[a[at]]
        letter &= value > 0
        column = np.where(letter, column * 26 + value, column)
        at += letter
    row, digit = np.zeros(len(c), dtype=np.int64), np.ones(len(c), dtype=bool)
    for _ in range(10):  # up to nine digits, then the closing quote
        value = _DIGIT[a[at]]
        digit &= value >= 0
        row = np.where(digit, row * 10 + value, row)
        at += digit
    if not ((a[at] == ord('"')) & (column > 0) & (row > 0)).all():
        return None
    return Extent(int(row.max(initial=0)), int(column.max(initial=0)), exact=False, declared=declared)


def _table(pairs) -> np.ndarray:
    table = np.full(256, -1, dtype=np.int8)
    for byte, value in pairs:
        table[byte] = value
    return table


#: byte -> letter value (A or a: 1, ..., Z or z: 26; else 0), digit value (else -1), XML name character
_LETTER = np.maximum(_table([(ord(ch), i + 1) for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
                            + [(ord(ch), i + 1) for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz")]), 0)
_DIGIT = _table([(ord(ch), i) for i, ch in enumerate("0123456789")])
_NAME_CHAR = (_table([(b, 1) for b in b"-._:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"]
                     + [(b, 1) for b in range(0x80, 0x100)]) > 0)


def exact_extent(xml: bytes, declared: str | None) -> Extent:
    """The highest row and column any cell with a value names (one pass over every reference; a
    self-closing ``<c .../>`` holds no value, only a style, and calamine keeps no cell for it)."""
    refs = [(c, r) for c, r, empty in _REF.findall(xml) if not empty]
    rows = max((int(r) for _, r in refs), default=0)
    columns = max((column_number(c) for c in {c for c, _ in refs}), default=0)
    return Extent(rows, columns, exact=True, declared=declared)


def longest_text(xml: bytes) -> int:
    """The longest run of bytes between two tags (text of one cell or one rich-text run)."""
    if len(xml) <= limits.current().max_text:
        return len(xml)
    tags = np.flatnonzero(np.frombuffer(xml, dtype=np.uint8) == ord("<"))
    if len(tags) == 0:
        return len(xml)
    return int(max(np.diff(tags).max(initial=0), tags[0], len(xml) - tags[-1]))


@dataclass
class Workbook:
    """A workbook whose zip members were checked; :meth:`rows` checks and reads one sheet."""

    path: Path
    name: str  # how messages name the file
    sheet_names: list[str]
    _book: object = field(repr=False)
    _parts: dict[str, str] = field(default_factory=dict, repr=False)  # sheet name -> zip member
    _archive: zipfile.ZipFile | None = field(default=None, repr=False)

    def rows(self, sheet: str) -> list[list]:
        """The sheet's cells as calamine's ``to_python(skip_empty_area=False)`` gives them: one list per
        row from row 1, numbers as floats, text as str, empty cells as ``''``."""
        if sheet not in self.sheet_names:
            raise SourceFileError(self.name, f"has no sheet {sheet!r} (its sheets: {', '.join(self.sheet_names)})",
                                  sheet=sheet)
        part = self._parts.get(sheet)
        extent = None
        if self._archive is not None and part is not None:
            xml = self._archive.read(part)
            extent = sheet_extent(xml)
            if extent is not None:
                self._check(sheet, xml, extent)
        if extent is None:  # not a sheet the byte search can vouch for: calamine in a capped child
            return limits.in_child(_read_sheet, str(self.path), sheet, file=self.name,
                                   what=f"reading sheet {sheet!r}")
        return _read_sheet(self.path, sheet, self.name, book=self._book)

    def check(self, sheet: str | int) -> str:
        """Check a sheet (by name or position) against the limits without keeping its cells, before a
        reader that trusts the file (pandas' ``read_excel``) reads it; its name."""
        name = self.sheet_names[sheet] if isinstance(sheet, int) and 0 <= sheet < len(self.sheet_names) else sheet
        self.rows(name)
        return name

    def _check(self, sheet: str, xml: bytes, extent: Extent) -> None:
        current = limits.current()
        memory = extent.cells * BYTES_PER_CELL + len(xml)
        if extent.rows > current.max_rows or extent.columns > current.max_columns \
                or extent.cells > current.max_cells or memory > current.per_process:
            extent = exact_extent(xml, extent.declared)
            memory = extent.cells * BYTES_PER_CELL + len(xml)
        declared = f"; it declares the range {extent.declared}" if extent.declared else ""
        used = f"(its cells reach row {extent.rows:,} and column {_letters(extent.columns)}{declared})"
        limits.check(self.name, f"the number of rows {used}", extent.rows, "max_rows", sheet=sheet)
        limits.check(self.name, f"the number of columns {used}", extent.columns, "max_columns", sheet=sheet)
        limits.check(self.name, f"the sheet's used range {used}", extent.cells, "max_cells", sheet=sheet)
        limits.check_memory(self.name, f"the sheet's {extent.cells:,} cells {used}", memory, sheet=sheet)
        limits.check(self.name, "the longest text in the sheet", longest_text(xml), "max_text", sheet=sheet)

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _letters(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(n) if 1 <= n <= 18_278 else str(n)


def _read_sheet(path, sheet: str, name: str | None = None, book=None) -> list[list]:
    from python_calamine import CalamineWorkbook

    try:
        book = book or CalamineWorkbook.from_path(str(path))
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as err:  # calamine raises its own error types for broken zips and XML
        raise SourceFileError(name or str(path), f"the sheet cannot be read ({type(err).__name__}: {err})",
                              sheet=sheet, expected="a complete xlsx workbook") from err


def open_workbook(path: Path, expected: str, *, name: str | None = None) -> Workbook:
    """A workbook whose zip members were checked against the limits; ``expected`` says what it should be
    (for the error when it is not a workbook); ``name`` is how messages name it (default: the path)."""
    from python_calamine import CalamineWorkbook

    name = name or str(path)
    packed = limits.check_file(path, name)
    archive, parts = _checked_archive(Path(path), name, packed, expected)
    try:
        if archive is None:  # not a zip (an .xls, or not a workbook at all): calamine says which, in a child
            names = limits.in_child(_sheet_names, str(path), file=name, what="opening the workbook")
            book = None
        else:
            book = CalamineWorkbook.from_path(str(path))
            names = list(book.sheet_names)
    except SourceFileError:
        raise
    except Exception as err:  # calamine raises its own error types for broken zips and XML
        raise SourceFileError(name, f"cannot be read as an xlsx workbook ({type(err).__name__}: {err})",
                              expected=expected) from err
    if isinstance(names, Exception):
        raise SourceFileError(name, f"cannot be read as a workbook ({type(names).__name__}: {names})",
                              expected=expected)
    return Workbook(Path(path), name, names, book, parts, archive)


def _sheet_names(path: str) -> list[str] | Exception:
    from python_calamine import CalamineWorkbook

    try:
        return list(CalamineWorkbook.from_path(path).sheet_names)
    except Exception as err:  # noqa: BLE001 -- sent back to say what the file is not
        return ValueError(f"{type(err).__name__}: {err}")


def _checked_archive(path: Path, name: str, packed: int, expected: str) -> tuple[zipfile.ZipFile | None, dict]:
    """The zip archive with its members checked, and each sheet's member; (None, {}) if not a zip."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return None, {}
        entries = _central_directory_entries(fh)
    if entries is not None:
        limits.check_memory(name, f"the zip directory of {entries:,} members", entries * BYTES_PER_MEMBER)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise SourceFileError(name, f"cannot be read as an xlsx workbook (a damaged zip archive: {err})",
                              expected=expected) from err
    current = limits.current()
    total = 0
    for info in archive.infolist():
        total += info.file_size
        what = f"member {info.filename} unpacked"
        if info.file_size > current.max_unpacked:
            limits.check(name, what, info.file_size, "max_unpacked")
        if info.file_size > limits.RATIO_GRACE:
            limits.check(name, f"{what} ({limits.size(info.file_size)} from {limits.size(info.compress_size)})",
                         info.file_size / max(info.compress_size, 1), "max_ratio")
    limits.check(name, "all the members of the workbook unpacked", total, "max_unpacked")
    if total > limits.RATIO_GRACE:
        limits.check(name, f"the workbook unpacked ({limits.size(total)} from {limits.size(packed)})",
                     total / max(packed, 1), "max_ratio")
    for info in archive.infolist():
        if info.filename.endswith("sharedStrings.xml") and info.file_size > current.max_text:
            limits.check(name, "the longest text in the shared strings", longest_text(archive.read(info)),
                         "max_text")
    return archive, _sheet_parts(archive)


def _central_directory_entries(fh) -> int | None:
    """How many members the zip's end record declares, read before Python builds one object for each."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(max(0, size - 65_557))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return None
    entries = int.from_bytes(tail[at + 10:at + 12], "little")
    if entries == 0xFFFF:  # zip64: the count is in the zip64 end record
        at64 = tail.rfind(b"PK\x06\x06")
        if at64 >= 0 and at64 + 40 <= len(tail):
            return int.from_bytes(tail[at64 + 32:at64 + 40], "little")
    return entries


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the zip member holding its XML, from the workbook part and its relationships."""
    try:
        members = set(archive.namelist())
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return {}  # not the usual layout: each sheet is read in a child process
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    parts = {}
    for sheet in book.iter():
        if sheet.tag.endswith("}sheet") and sheet.get("name") is not None:
            target = targets.get(sheet.get(_REL), "")
            member = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            if member in members:
                parts[sheet.get("name")] = member
    return parts
