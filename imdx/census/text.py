"""Person files as text: delimited (CSV) and fixed width, read in blocks of lines with bounded memory.

Every record keeps the number of the line it is on, so that any problem found later (a code outside
the code book, a negative weight) is reported at its line. A block is a run of whole lines; blank
lines and comment lines are skipped (they hold no person), everything else must be a record:

* CSV: each line is parsed by Arrow; a line with too few or too many fields stops the read with the
  line and the first missing column named;
* fixed width: each line must reach the last position of the variables read; a shorter line stops
  the read with the line and the variable it cuts; a numeric field that is not a number likewise.

Quoted values spanning lines are read correctly (slower: Python's csv module takes over the block).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from imdx.census.codebook import Variable
from imdx.census.errors import CensusError, MicrodataError

BLOCK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Limits:
    """Bounds on what a person file may make imdx read (each configurable; past one the user is told)."""

    max_bytes: int = 256 * 2**30  # bytes read (after decompression)
    max_line_bytes: int = 2**20
    max_columns: int = 20_000


@dataclass
class Block:
    data: bytes  # whole lines, each ending with b"\n"
    lines: np.ndarray  # line number (1-based) of each line in data
    starts: np.ndarray  # byte offset of each line in data
    ends: np.ndarray  # byte offset of each line's end (before "\r\n" or "\n")


@contextmanager
def _open(path: Path):
    """The file's bytes (decompressed when it ends in .gz), and the raw file (whose position is progress)."""
    with open(path, "rb") as raw:
        if path.name.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as stream:
                yield raw, stream
        else:
            yield raw, raw


def blocks(path: Path, *, limits: Limits, skip_lines: int = 0, comment: str | None = None,
           progress: Callable[[int, int], None] | None = None,
           block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """The file's records as blocks of whole lines; skipped, blank and comment lines left out."""
    total = path.stat().st_size
    mark = ord(comment) if comment else None
    with _open(path) as (raw, stream):
        first_line, carry, read = 1, b"", 0
        while True:
            chunk = stream.read(block_bytes)
            read += len(chunk)
            if read > limits.max_bytes:
                raise CensusError(f"{path.name}: more than {limits.max_bytes:,} bytes read (decompressed); if the "
                                  "file is really that large, raise the limit (--max-bytes)")
            data = carry + chunk
            if not chunk:
                if not data:
                    return
                data += b"\n"  # a last line without its newline
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > limits.max_line_bytes:
                    raise MicrodataError(path.name, f"a line longer than {limits.max_line_bytes:,} bytes",
                                         row=first_line,
                                         hint="Is this a text file of records, one per line? Raise the limit "
                                         "only for a file you trust.")
                carry = data
                continue
            body, carry = data[:cut], data[cut:]
            block = _index(body, first_line, skip_lines, mark, limits, path)
            first_line += int(np.count_nonzero(np.frombuffer(body, np.uint8) == 10))
            if progress is not None:
                progress(raw.tell(), total)
            if len(block.lines):
                yield block
            if not chunk:
                return


def _index(body: bytes, first_line: int, skip_lines: int, mark: int | None, limits: Limits, path: Path) -> Block:
    buf = np.frombuffer(body, np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], newlines[:-1] + 1))
    ends = newlines.copy()
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends[cr] -= 1
    lines = np.arange(first_line, first_line + len(starts), dtype=np.int64)
    long = np.flatnonzero(ends - starts > limits.max_line_bytes)
    if len(long):
        raise MicrodataError(path.name, f"a line longer than {limits.max_line_bytes:,} bytes", row=int(lines[long[0]]),
                             hint="Raise the limit only for a file you trust.")
    keep = (lines > skip_lines) & (ends > starts)
    if mark is not None:
        keep &= buf[np.minimum(starts, len(buf) - 1)] != mark
    return Block(body, lines[keep], starts[keep], ends[keep])


def _compact(block: Block) -> bytes:
    """The block's kept lines, each ending with "\\n" (drops blank, comment and skipped lines)."""
    if len(block.lines) == int(np.count_nonzero(np.frombuffer(block.data, np.uint8) == 10)):
        return block.data
    return b"".join(block.data[s:e] + b"\n" for s, e in zip(block.starts.tolist(), block.ends.tolist()))


# -- delimited -----------------------------------------------------------------------------------
def header(path: Path, *, delimiter: str, quote: str, encoding: str, skip_lines: int, comment: str | None,
           limits: Limits) -> tuple[list[str], int]:
    """The column names on the first record line, and that line's number."""
    for block in blocks(path, limits=limits, skip_lines=skip_lines, comment=comment, block_bytes=2**20):
        line = block.data[block.starts[0]:block.ends[0]].decode(encoding, errors="replace")
        names = next(csv.reader([line], delimiter=delimiter, quotechar=quote))
        if len(names) > limits.max_columns:
            raise MicrodataError(path.name, f"the header has {len(names):,} columns, more than the limit of "
                                 f"{limits.max_columns:,}", row=int(block.lines[0]))
        return [n.strip() for n in names], int(block.lines[0])
    raise MicrodataError(path.name, "is empty", expected="a header line and records")


def read_delimited(path: Path, names: list[str], wanted: list[str], *, delimiter: str, quote: str,
                   encoding: str, strip: bool, skip_lines: int, comment: str | None, limits: Limits,
                   progress=None) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Batches of the ``wanted`` columns as text, with the line number of every row."""
    for block in blocks(path, limits=limits, skip_lines=skip_lines, comment=comment, progress=progress):
        data = _compact(block)
        table = None
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(column_names=names, encoding=encoding, use_threads=True),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote, newlines_in_values=False,
                                                 ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in wanted},
                                                     include_columns=wanted, strings_can_be_null=False,
                                                     quoted_strings_can_be_null=False))
        except pa.ArrowInvalid:
            table = None
        if table is None or table.num_rows != len(block.lines):
            table, lines = _slow_delimited(path, block, names, wanted, delimiter, quote, encoding)
        else:
            lines = block.lines
        if strip:
            table = pa.table({c: pc.utf8_trim_whitespace(table[c]) for c in table.column_names})
        yield table, lines


def _slow_delimited(path, block, names, wanted, delimiter, quote, encoding):
    """Python's csv module over the block: exact line numbers even with quoted line breaks; the first
    record with a wrong number of fields stops the read."""
    text = _compact(block).decode(encoding, errors="strict")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote)
    index = [names.index(c) for c in wanted]
    rows, lines, kept = [], [], block.lines
    previous = 0
    for fields in reader:
        physical = int(kept[previous]) if previous < len(kept) else int(kept[-1])
        previous = reader.line_num
        if not fields:
            continue
        if len(fields) != len(names):
            missing = names[len(fields)] if len(fields) < len(names) else None
            raise MicrodataError(path.name, f"the record has {len(fields)} field(s), the file's other records "
                                 f"{len(names)} (a truncated or run-on line)", row=physical, column=missing,
                                 expected=f"{len(names)} fields: {', '.join(names[:8])}"
                                          + (", ..." if len(names) > 8 else ""))
        rows.append([fields[i] for i in index])
        lines.append(physical)
    columns = list(zip(*rows)) if rows else [[] for _ in wanted]
    return pa.table({c: pa.array(list(v), pa.string()) for c, v in zip(wanted, columns)}), np.array(lines, np.int64)


# -- fixed width ---------------------------------------------------------------------------------
def read_fixed(path: Path, variables: list[Variable], *, encoding: str, limits: Limits,
               progress=None) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Batches of the given variables of a fixed-width file: numeric ones as int64 (the digits as
    written: implied decimals stay implied), others as text; blank fields are missing."""
    needed = max(v.end for v in variables)
    for block in blocks(path, limits=limits, progress=progress):
        lengths = block.ends - block.starts
        short = np.flatnonzero(lengths < needed)
        if len(short):
            i = int(short[0])
            cut = next(v for v in sorted(variables, key=lambda v: v.end) if v.end > lengths[i])
            raise MicrodataError(path.name, f"the line has {int(lengths[i])} characters; the code book puts "
                                 f"{cut.name} at positions {cut.start}-{cut.end} (a truncated line)",
                                 row=int(block.lines[i]), column=cut.name,
                                 expected=f"at least {needed} characters per record")
        buf = np.frombuffer(block.data, np.uint8)
        columns = {v.name: _field(path, buf, block, v, encoding) for v in variables}
        yield pa.table(columns), block.lines


def _field(path: Path, buf: np.ndarray, block: Block, var: Variable, encoding: str) -> pa.Array:
    width = var.width
    index = block.starts[:, None] + np.arange(var.start - 1, var.end)[None, :]
    cells = buf[index]  # (records, width) bytes
    blank = (cells == 32).all(axis=1)
    if not var.numeric:
        text = np.char.decode(np.ascontiguousarray(cells).view(f"S{width}").ravel(), encoding)
        return pa.array(np.char.strip(text), pa.string(), mask=blank)
    ok = ((cells >= 48) & (cells <= 57)) | (cells == 32)
    ok[:, 0] |= cells[:, 0] == 45  # a leading minus sign
    bad = np.flatnonzero(~ok.all(axis=1))
    if len(bad):
        i = int(bad[0])
        value = bytes(cells[i]).decode(encoding, errors="replace")
        raise MicrodataError(path.name, f"{var.name} is {value!r}, not a number", row=int(block.lines[i]),
                             column=f"{var.name} (positions {var.start}-{var.end})",
                             expected="digits, as the code book says the variable is numeric")
    digits = np.where(cells == 32, 48, cells).astype(np.uint8)
    digits[:, 0] = np.where(cells[:, 0] == 45, 48, digits[:, 0])
    values = np.zeros(len(cells), np.int64)
    for k in range(width):
        values = values * 10 + (digits[:, k] - 48)
    values = np.where(cells[:, 0] == 45, -values, values)
    return pa.array(values, pa.int64(), mask=blank)
