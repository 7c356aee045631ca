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
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?:c|row)[\s/>]")
_DIMENSION = re.compile(rb'<dimension\s+ref="([A-Za-z]{1,3}\d+(?::[A-Za-z]{1,3}\d+)?)"')
_ROW_TAG = re.compile(rb'<row\s+r="(\d{1,9})"')
_REF = re.compile(rb' r="([A-Za-z]{1,3})(\d{1,9})"[^>]*?(/?)>')
_C_TAGS = (b"<c ", b"<c>", b"<c/", b"<c\t", b"<c\n", b"<c\r")
_ROW_TAGS = (b"<row ", b"<row>", b"<row/", b"<row\t", b"<row\n", b"<row\r")


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
    """The extent of a sheet's cells from its XML, or None when the XML is written in a way the byte
    search cannot vouch for (then the sheet is read in a child process)."""
    head = _DIMENSION.search(xml, 0, 8192)
    declared = head.group(1).decode() if head else None
    cells = sum(xml.count(tag) for tag in _C_TAGS)
    rows = sum(xml.count(tag) for tag in _ROW_TAGS)
    if xml.count(b' r="') != cells + rows or _PREFIXED.search(xml):
        return None  # a cell or row without a plain r="..." reference, or another element with one
    row_tags = [int(r) for r in _ROW_TAG.findall(xml)]
    if len(row_tags) != rows:
        return None
    letters = next((k for k in (3, 2) if re.search(rb' r="[A-Za-z]{%d}\d' % k, xml)), 1) if cells else 0
    top_row = max(row_tags, default=0)
    digits = len(str(top_row))
    if cells and re.search(rb' r="[A-Za-z]{1,3}\d{%d}' % (digits + 1), xml):
        digits = 9  # a cell below its row's number: bound by the longest references
    rows_bound = max(top_row, 10 ** digits - 1 if cells else 0)
    columns_bound = (26, 702, 16_384)[letters - 1] if letters else 0
    return Extent(rows_bound, columns_bound, exact=False, declared=declared)


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
