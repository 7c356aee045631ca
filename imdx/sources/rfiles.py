"""R data files (``.rda`` written by R's ``save()``, ``.rds`` by ``saveRDS()``) as pandas data frames.

:func:`read_r` is the one way imdx reads them. It returns what ``pyreadr.read_r`` returns (a dict of
object name to data frame; the one object of an ``.rds`` under ``None``) with the same columns, dtypes
and values, but reads the data frames of R's XDR serialisation itself, with numpy and Arrow (R
Internals, 1.8 "Serialization Formats"):

* numeric and logical columns are one big-endian array each, converted in one step;
* a character column is a run of ``CHARSXP`` records (4 bytes of flags, 4 of length, the bytes). R
  strings never hold a NUL byte, so every record's flags are found at once by a vectorised scan; the
  record chain is then checked end to end (each record must end where the next begins) and the bytes
  become one Arrow string array, validated as UTF-8.

pyreadr's librdata calls back into Python once per string, which makes it 3-4× slower on UNHCR's
files (6.7 M strings). Anything this reader does not know (environments, ALTREP objects, R classes
beyond ``data.frame``/``tbl``/``factor``, Latin-1 or byte strings, a record chain that does not
check out) is handed whole to pyreadr, and to the pure-Python ``rdata`` where pyreadr fails: the fast
path never changes a result, and ``tests/sources/test_rfiles.py`` reads every real file both ways.

Limits (:mod:`imdx.limits`): the file's size, and its decompression stopped at ``max_unpacked`` (and
``max_ratio``), before anything is parsed; every vector's declared length against the bytes that
follow it (a file that declares more than it holds is refused, not handed to a library that would
allocate it); each data frame's rows, columns and cells, and its longest string. pyreadr and rdata
run in a child process whose memory is capped (:func:`imdx.limits.in_child`).
"""

from __future__ import annotations

import lzma
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from imdx import limits
from imdx.errors import SourceFileError

# SEXP types and the serialisation's special codes (R's serialize.c)
NILSXP, SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = 0, 1, 2, 9, 10, 13, 14, 16, 19
REFSXP, NILVALUE_SXP = 255, 254
NA_INTEGER = -(2**31)
#: CHARSXP encoding flags (gp bits, shifted into the flags word) that are not UTF-8 or ASCII
_LATIN1, _BYTES = 4 << 12, 2 << 12
#: the R classes of data frames and their columns that are read here; any other goes to pyreadr
_FRAME_CLASSES = {"data.frame", "tbl_df", "tbl"}
_INT32 = struct.Struct(">i")
#: classes of double columns that pyreadr reads as plain numbers (tsibble's months: days since 1970-01-01)
_PLAIN_NUMBER_CLASSES = {"yearmonth", "vctrs_vctr"}


class _Unsupported(Exception):
    """A structure the fast reader leaves to pyreadr."""


def read_r(path: Path, expected: str) -> dict[str | None, pd.DataFrame]:
    """The data frames of an R data file; a :class:`SourceFileError` saying ``expected`` if it is not one,
    a :class:`imdx.limits.LimitError` if it is bigger than the limits allow."""
    name = str(path)
    try:
        data = limits.unpack(limits.read_bytes(Path(path), name), name)
        return _Reader(data, name, expected).objects()
    except (_Unsupported, struct.error, IndexError, ValueError, EOFError, OSError, lzma.LZMAError, zlib.error,
            pa.ArrowException):
        pass  # not a layout the fast reader knows, or not R data at all (or cut short): ask the libraries
    frames = limits.in_child(_read_with_libraries, Path(path), expected, file=name, what="reading the R data")
    for frame in frames.values():
        _check_frame(name, frame.shape[0], frame.shape[1])
    return frames


def _check_frame(file: str, rows: int, columns: int) -> None:
    limits.check(file, "the number of rows of a data frame", rows, "max_rows")
    limits.check(file, "the number of columns of a data frame", columns, "max_columns")
    limits.check(file, f"a data frame's cells ({rows:,} rows of {columns:,} columns)", rows * columns, "max_cells")


def _read_with_libraries(path: Path, expected: str) -> dict[str | None, pd.DataFrame]:
    import pyreadr

    try:
        return dict(pyreadr.read_r(str(path)))
    except (pyreadr.custom_errors.PyreadrError, pyreadr.custom_errors.LibrdataError) as first:
        try:  # the pure-Python reader knows some R serialisations librdata does not
            import rdata

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return dict(rdata.read_rda(str(path)) if path.suffix.lower() != ".rds"
                            else {None: rdata.read_rds(str(path))})
        except Exception as second:  # rdata raises many error types for a file that is not R data
            raise SourceFileError(str(path), f"cannot be read as R data (pyreadr: {first}; rdata: {second})",
                                  expected=expected) from second


class _Reader:
    """A recursive-descent reader of one XDR serialisation (``RDX2``/``RDX3`` .rda, or ``X`` .rds)."""

    def __init__(self, data: bytes | bytearray, name: str = "R data", expected: str = "complete R data"):
        self.name, self.expected = name, expected
        if data[:5] in (b"RDX2\n", b"RDX3\n"):
            self.rda, start = True, 5
        elif data[:2] == b"X\n":
            self.rda, start = False, 0
        else:
            raise _Unsupported("not an XDR R serialisation")
        if data[start:start + 2] != b"X\n":
            raise _Unsupported("not XDR")
        self.data = data
        self.bytes = np.frombuffer(data, dtype=np.uint8)
        self.pos = start + 2
        version = self._int()
        self.pos += 8  # the R version that wrote it, the oldest that reads it
        if version == 3:
            size = self._int()
            encoding = data[self.pos:self.pos + size].decode("ascii", "replace")
            self.pos += size
            if encoding.upper().replace("-", "") != "UTF8":  # unflagged strings would be in that encoding
                raise _Unsupported(f"strings in the native encoding {encoding}")
        elif version != 2:
            raise _Unsupported(f"serialisation version {version}")
        self.refs: list = []

    def objects(self) -> dict[str | None, pd.DataFrame]:
        item = self._item()
        if not self.rda:
            return {None: _frame(item, self.name)}
        if not isinstance(item, _Pairlist):
            raise _Unsupported("an .rda file holds a pairlist of objects")
        return {name: _frame(value, self.name) for name, value in item.items}

    # -- the stream ------------------------------------------------------------------------------
    def _int(self) -> int:
        (value,) = _INT32.unpack_from(self.data, self.pos)
        self.pos += 4
        return value

    def _length(self, item_bytes: int) -> int:
        """A vector's length, checked against the bytes left: each item takes at least ``item_bytes``."""
        n = self._int()
        if n == -1:  # a long vector: two more words
            n = (self._int() << 32) + self._int()
        left = len(self.data) - self.pos
        if n < 0 or n * item_bytes > left:
            raise SourceFileError(self.name, f"cannot be read as R data: it declares a vector of {n:,} items at "
                                  f"byte {self.pos:,} of the unpacked data, but only {left:,} bytes follow (the "
                                  "file is damaged or cut short)", expected=self.expected)
        return n

    def _array(self, dtype: str, n: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * n
        if self.pos + size > len(self.data):
            raise EOFError("the file ends inside a vector")
        out = np.frombuffer(self.data, dtype=dtype, count=n, offset=self.pos)
        self.pos += size
        return out

    def _item(self):
        flags = self._int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind == NILVALUE_SXP:
            return None
        if kind == REFSXP:
            index = flags >> 8 or self._int()
            return self.refs[index - 1]
        if kind == SYMSXP:
            name = self._item()
            self.refs.append(_Symbol(name))
            return self.refs[-1]
        if kind == LISTSXP:
            return self._pairlist(has_attr, has_tag)
        if kind == CHARSXP:
            return self._charsxp(flags)
        if kind in (LGLSXP, INTSXP):
            value = _Vector(kind, self._array(">i4", self._length(4)))
        elif kind == REALSXP:
            value = _Vector(kind, self._array(">f8", self._length(8)))
        elif kind == STRSXP:
            value = _Vector(kind, self._strings(self._length(8)))
        elif kind == VECSXP:
            value = _Vector(kind, [self._item() for _ in range(self._length(4))])
        else:
            raise _Unsupported(f"R objects of type {kind}")
        if has_attr:
            attrs = self._item()
            if not isinstance(attrs, _Pairlist):
                raise _Unsupported("attributes that are not a pairlist")
            value.attrs = dict(attrs.items)
        return value

    def _pairlist(self, has_attr, has_tag) -> _Pairlist:
        items = []
        while True:  # a pairlist is written as nested cells: follow the CDRs iteratively
            attrs = self._item() if has_attr else None
            tag = self._item() if has_tag else None
            if attrs is not None:
                raise _Unsupported("a pairlist with attributes")
            items.append((tag.name if isinstance(tag, _Symbol) else None, self._item()))
            flags = self._int()
            kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
            if kind == NILVALUE_SXP:
                return _Pairlist(items)
            if kind != LISTSXP:
                raise _Unsupported(f"a pairlist ending in type {kind}")

    def _charsxp(self, flags: int) -> str | None:
        n = self._int()
        if n == -1:
            return None
        text = self.data[self.pos:self.pos + n]
        self.pos += n
        if flags & (_LATIN1 | _BYTES):
            raise _Unsupported("a Latin-1 or byte string")
        return text.decode("utf-8")

    def _strings(self, n: int) -> pa.Array:
        """``n`` CHARSXP records from the current position, as one Arrow string array."""
        b, start = self.bytes, self.pos
        if n == 0:
            return pa.array([], pa.string())
        window = min(len(b) - start, n * 24 + 64)
        while True:
            chain = _record_chain(b, start, window, n)
            if chain is not None:
                break
            if start + window >= len(b):
                raise _Unsupported("a character vector whose records do not chain")
            window = min(len(b) - start, window * 2)
        starts, sizes, missing = chain
        limits.check(self.name, "the longest string", int(sizes.max()), "max_text")
        if (b[starts + 2] & ((_LATIN1 | _BYTES) >> 8)).any():  # the flags' third byte holds those bits
            raise _Unsupported("Latin-1 or byte strings")
        end = int(starts[-1] + 8 + sizes[-1])
        keep = np.ones(end - start, dtype=bool)
        for k in range(8):
            keep[starts - start + k] = False
        text = b[start:end][keep]
        if len(text) >= 2**31:
            raise _Unsupported("a character vector of over 2 GB")
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(sizes, out=offsets[1:])
        validity = None
        if missing.any():
            validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
        self.pos = end
        array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text), validity)
        array.validate(full=True)  # UTF-8, or ArrowInvalid sends the file to pyreadr
        return array


def _record_chain(b: np.ndarray, start: int, window: int, n: int) -> tuple[np.ndarray, ...] | None:
    """The offsets, byte lengths and NA flags of ``n`` chained CHARSXP records at ``start``, or None
    if ``window`` is too short to hold them.

    A record starts with the flags ``00 ?? ?0 09`` and a length whose first byte is ``00`` (or the
    ``FF FF FF FF`` of NA). R strings hold no NUL byte, so every record start matches, and a match
    that is not one needs odd text (a string of a tab and one more character, say). The matches
    must then chain (each record ends where the next begins), or :class:`_Unsupported` is raised
    and pyreadr reads the file.
    """
    part = b[start:start + window]
    if len(part) < 9:
        return None
    found = np.flatnonzero((part[:-8] == 0) & (part[3:-5] == CHARSXP) & ((part[2:-6] & 0x0F) == 0)
                           & ((part[4:-4] == 0) | (part[4:-4] == 0xFF)))[:n]
    if len(found) == 0 or found[0] != 0:
        raise _Unsupported("no CHARSXP record where a character vector begins")
    size = (part[found + 4].astype(np.int64) << 24 | part[found + 5].astype(np.int64) << 16
            | part[found + 6].astype(np.int64) << 8 | part[found + 7].astype(np.int64))
    missing = size == 0xFFFFFFFF
    size[missing] = 0
    following = found + 8 + size
    if not (following[:-1] == found[1:]).all():
        raise _Unsupported("CHARSXP records that do not chain")
    if len(found) < n or following[-1] > len(part):
        return None
    return found + start, size, missing


class _Symbol:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Pairlist:
    __slots__ = ("items",)

    def __init__(self, items: list):
        self.items = items


class _Vector:
    __slots__ = ("attrs", "kind", "values")

    def __init__(self, kind: int, values):
        self.kind, self.values, self.attrs = kind, values, {}

    def strings(self, name: str) -> list[str]:
        value = self.attrs.get(name)
        if value is None:
            return []
        if not isinstance(value, _Vector) or value.kind != STRSXP:
            raise _Unsupported(f"attribute {name} is not character")
        return value.values.to_pylist()


def _frame(value, file: str) -> pd.DataFrame:
    """A data frame as pyreadr gives it: its columns, and its row names as index when they are text."""
    if not isinstance(value, _Vector) or value.kind != VECSXP:
        raise _Unsupported("an object that is not a data frame")
    if not set(value.strings("class")) & {"data.frame"} or set(value.strings("class")) - _FRAME_CLASSES:
        raise _Unsupported(f"class {value.strings('class')}")
    names = value.strings("names")
    if len(names) != len(value.values) or len(set(names)) != len(names):
        raise _Unsupported("column names")
    _check_frame(file, max((len(c.values) for c in value.values if isinstance(c, _Vector)), default=0), len(names))
    columns = {name: _column(column) for name, column in zip(names, value.values)}
    frame = pd.DataFrame(columns, copy=False)
    rows = value.attrs.get("row.names")
    if isinstance(rows, _Vector) and rows.kind == STRSXP:
        frame.index = pd.Index(rows.values.to_pylist(), name="rownames")  # as pyreadr names them
    elif not (isinstance(rows, _Vector) and rows.kind == INTSXP):
        raise _Unsupported("row names")
    return frame


def _column(value) -> pd.Series | pd.Categorical | np.ndarray:
    if not isinstance(value, _Vector):
        raise _Unsupported("a list column")
    classes = value.strings("class")
    if set(value.attrs) - {"class", "levels", "names", "label"}:  # pyreadr drops labels too
        raise _Unsupported(f"a column with the attributes {sorted(value.attrs)}")
    if classes == ["factor"] and value.kind == INTSXP:
        codes = value.values.astype(np.int32)
        codes = np.where(codes == NA_INTEGER, 0, codes) - 1
        return pd.Categorical.from_codes(codes, categories=value.strings("levels"))
    if classes == ["Date"] and value.kind in (REALSXP, INTSXP):  # days since 1970-01-01: dates, as pyreadr
        days = value.values.astype(np.float64)
        dates = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
        known = np.isfinite(days) & (days != NA_INTEGER if value.kind == INTSXP else True)
        dates[known] = days[known].astype(np.int64)
        return dates.astype(object)  # datetime.date, None where missing
    if classes and (set(classes) - _PLAIN_NUMBER_CLASSES or value.kind != REALSXP):
        raise _Unsupported(f"a column of class {classes}")
    if value.kind == REALSXP:
        return value.values.astype(np.float64)
    if value.kind in (INTSXP, LGLSXP):
        ints = value.values.astype(np.int32)
        out = ints if value.kind == INTSXP else ints != 0
        missing = ints == NA_INTEGER
        if missing.any():  # as pyreadr: Python ints or bools, and NaN
            out = out.astype(object)
            out[missing] = np.nan
        return out
    if value.kind == STRSXP:
        return pd.Series(value.values.to_pandas(types_mapper=_string_dtype), copy=False)
    raise _Unsupported(f"a column of type {value.kind}")


def _string_dtype(arrow_type):
    return pd.StringDtype("pyarrow", na_value=np.nan) if arrow_type == pa.string() else None
