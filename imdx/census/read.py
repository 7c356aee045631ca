"""From a person file, as published, to what the tabulation engines read: Parquet files and which
column holds each variable.

Parquet (a file, or a folder of part files) is read where it is. Every other format is *staged*:
the columns the mapping needs are read in blocks (bounded memory) and written to one Parquet file in
a work folder, as published (codes as text or numbers), with the line (text files) or row (other
formats) each record came from and the weight as whole units of 10^-decimals (exact sums in both
engines). What a mapping declares but the file lacks stops here, naming the file and its columns.

Formats: CSV (optionally with a DDI code book), fixed width with a DDI code book (IPUMS), Stata and
SPSS (pyreadstat, value labels as the code book), R ``.rda``/``.rds`` (:func:`imdx.sources.rfiles.read_r`),
Parquet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from imdx.census import text
from imdx.census.codebook import Codebook, Variable, read_ddi
from imdx.census.errors import MappingError, MicrodataError
from imdx.census.mapping import Mapping, text_key

LINE = "_line"
WEIGHT = "_weight"
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


@dataclass
class PersonFiles:
    """Parquet files of person records and where each variable is in them."""

    origin: Path  # the file (or folder) the user gave
    paths: list[str]  # Parquet files
    columns: dict[str, str]  # role -> column
    weight: str | None = None  # column of the weight
    #: None: the weight column holds whole units already; else units = round(weight * 10**scale)
    weight_scale: int | None = None
    weight_decimals: int = 0
    line: str | None = None  # column with each record's line (or row) in the original file
    unit: str = "row"  # "line" (text files) or "row"
    codebook: Codebook | None = None
    records: int | None = None  # records staged (None: not counted before tabulating)
    #: fixed-width and CSV files: the file each problem is reported in (else the Parquet part file)
    display: str = ""

    @property
    def staged(self) -> bool:
        return self.line is not None


Progress = Callable[[str, int, int | None], None]


def stage(path: Path, mapping: Mapping, roles: list[str], work: Path, *, limits: text.Limits | None = None,
          progress: Progress | None = None) -> PersonFiles:
    """The person records of ``path`` as the engines read them (see the module docstring)."""
    limits = limits or text.Limits()
    path = Path(path)
    if not path.exists():
        raise MicrodataError(str(path), "does not exist", hint="Give the path of a person file (or a folder of "
                             "Parquet part files).")
    fmt = mapping.format_for(path)
    wanted = {r: mapping.column(r) for r in roles}
    reader = {"parquet": _parquet, "csv": _csv, "fixed": _fixed, "stata": _stat, "spss": _stat, "rda": _rda}[fmt]
    return reader(path, mapping, wanted, work, limits, progress or (lambda *a: None), fmt)


def _missing(path: Path, mapping: Mapping, wanted: dict[str, str], present: list[str], where: str) -> None:
    weight = {"weight": mapping.weight.column} if mapping.weight else {}
    absent = [(r, c) for r, c in {**wanted, **weight}.items() if c not in present]
    if absent:
        role, column = absent[0]
        shown = ", ".join(present[:40]) + (", ..." if len(present) > 40 else "")
        raise MappingError(f"{path.name}: the mapping {mapping.id!r} declares the column {column!r} as {role}, but "
                           f"{where} has no such column (its columns: {shown}). "
                           + ("No place of birth means no foreign-born table can be made from this file; "
                              if role in ("birthplace", "nativity") else "")
                           + "Correct the mapping, or give a file that has it.")


def _codebook_for(path: Path, mapping: Mapping) -> Path | None:
    given = mapping.read.get("codebook")
    if given:
        candidate = Path(given) if Path(given).is_absolute() else path.parent / given
        if not candidate.is_file():
            raise MappingError(f"the mapping {mapping.id!r} names the code book {given}, which is not at {candidate}")
        return candidate
    stem = path.name.split(".")[0]
    candidate = path.parent / f"{stem}.xml"
    return candidate if candidate.is_file() else None


class _Writer:
    """Writes staged batches (role columns, the weight in units, the line) to one Parquet file."""

    def __init__(self, work: Path, roles: list[str]):
        work.mkdir(parents=True, exist_ok=True)
        self.path, self.roles, self.writer, self.rows = work / "persons.parquet", roles, None, 0

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table.cast(self.schema))
        self.rows += table.num_rows

    def close(self) -> list[str]:
        if self.writer is None:
            return []
        self.writer.close()
        return [str(self.path)]


def _staged(path, mapping, wanted, writer, batches: Iterator[tuple[pa.Table, np.ndarray]], *, unit: str,
            codebook: Codebook | None, decimals: int, implied: bool, column_of=lambda c: c) -> PersonFiles:
    for table, lines in batches:
        columns = {role: table[column_of(col)] for role, col in wanted.items()}
        if mapping.weight is not None:
            columns[WEIGHT] = weight_units(table[column_of(mapping.weight.column)], decimals, implied, path.name,
                                           lines, mapping.weight.column, unit)
        columns[LINE] = pa.array(lines, pa.int64())
        writer.write(pa.table(columns))
    paths = writer.close()
    if not writer.rows:
        raise MicrodataError(path.name, "holds no person records", expected="one record per line (or row) after "
                             "the header")
    return PersonFiles(path, paths, {r: r for r in wanted}, weight=WEIGHT if mapping.weight else None,
                       weight_decimals=decimals, line=LINE, unit=unit, codebook=codebook, records=writer.rows,
                       display=path.name)


def weight_units(values: pa.ChunkedArray | pa.Array, decimals: int, implied: bool, file: str, lines: np.ndarray,
                 column: str, unit: str) -> pa.Array:
    """Weights as whole units of 10^-decimals (int64, null where missing). Text is read as written
    (``1475.59``); ``implied`` integers are units already (fixed-width fields)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    scale = 10 ** decimals
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.if_else(pc.equal(pc.utf8_trim_whitespace(values), ""), pa.scalar(None, values.type), values)
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.match_substring_regex(values, _NUMBER)))
        if pc.any(bad).as_py():
            i = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
            raise MicrodataError(file, f"the weight {values[i].as_py()!r} is not a number", row=int(lines[i]),
                                 column=column, unit=unit)
        values = pc.cast(pc.utf8_trim_whitespace(values), pa.float64())
    if pa.types.is_integer(values.type):
        units = pc.cast(values, pa.int64())
        return units if implied or decimals == 0 else pc.multiply_checked(units, scale)
    if pa.types.is_decimal(values.type) or pa.types.is_floating(values.type):
        x = values.to_numpy(zero_copy_only=False).astype(np.float64)
        missing = np.isnan(x)
        if np.isinf(x).any():
            i = int(np.flatnonzero(np.isinf(x))[0])
            raise MicrodataError(file, "the weight is infinite", row=int(lines[i]), column=column, unit=unit)
        scaled = np.where(missing, 0.0, x) * scale
        huge = np.abs(scaled) >= 2.0**62
        if huge.any():
            i = int(np.flatnonzero(huge)[0])
            raise MicrodataError(file, f"the weight {x[i]!r} is too large to sum exactly", row=int(lines[i]),
                                 column=column, unit=unit, expected="a weight below 10^18 / 10^decimals")
        rounded = np.round(scaled)
        extra = np.abs(scaled - rounded) > 1e-6 * np.maximum(1.0, np.abs(scaled))
        if extra.any():
            i = int(np.flatnonzero(extra)[0])
            raise MicrodataError(file, f"the weight {x[i]!r} has more than {decimals} decimal(s)", row=int(lines[i]),
                                 column=column, unit=unit,
                                 hint="Set [weight] decimals in the mapping to the weights' precision.")
        return pa.array(rounded.astype(np.int64), pa.int64(), mask=missing)
    raise MicrodataError(file, f"the weight column is of type {values.type}", column=column,
                         expected="numbers (integer or decimal)")


# -- formats -------------------------------------------------------------------------------------
def _csv(path, mapping, wanted, work, limits, progress, fmt) -> PersonFiles:
    opts = mapping.read
    delimiter, quote = opts.get("delimiter", ","), opts.get("quote", '"')
    encoding, skip, comment = opts.get("encoding", "utf-8"), int(opts.get("skip_lines", 0)), opts.get("comment")
    codebook_path = _codebook_for(path, mapping)
    codebook = read_ddi(codebook_path) if codebook_path else None
    if opts.get("header", True):
        names, header_line = text.header(path, delimiter=delimiter, quote=quote, encoding=encoding,
                                         skip_lines=skip, comment=comment, limits=limits)
        skip = header_line
    else:
        names = list(opts.get("columns") or [])
        if not names:
            raise MappingError(f"mapping {mapping.id!r}: a CSV without a header needs [read] columns = [...]")
    _missing(path, mapping, wanted, names, "its header" if opts.get("header", True) else "the mapping's column list")
    needed = sorted({*wanted.values(), *([mapping.weight.column] if mapping.weight else [])}, key=names.index)
    decimals = _decimals(mapping, codebook)
    batches = text.read_delimited(path, names, needed, delimiter=delimiter, quote=quote, encoding=encoding,
                                  strip=bool(opts.get("strip", False)), skip_lines=skip, comment=comment,
                                  limits=limits, progress=lambda done, total: progress("reading", done, total))
    return _staged(path, mapping, wanted, _Writer(work, list(wanted)), batches, unit="line", codebook=codebook,
                   decimals=decimals, implied=False)


def _decimals(mapping: Mapping, codebook: Codebook | None) -> int:
    if mapping.weight is None:
        return 0
    var = codebook.get(mapping.weight.column) if codebook else None
    if var is not None and var.decimals and mapping.weight.decimals not in (0, var.decimals):
        raise MappingError(f"mapping {mapping.id!r} says the weight {mapping.weight.column} has "
                           f"{mapping.weight.decimals} decimals; its code book says {var.decimals}")
    return var.decimals if var is not None and var.decimals else int(mapping.weight.decimals)


def _fixed(path, mapping, wanted, work, limits, progress, fmt) -> PersonFiles:
    codebook_path = _codebook_for(path, mapping)
    if codebook_path is None:
        raise MappingError(f"{path.name} is a fixed-width file: it needs its code book (a DDI .xml beside it, "
                           f"named {path.name.split('.')[0]}.xml, or [read] codebook = \"...\" in the mapping)")
    codebook = read_ddi(codebook_path)
    _missing(path, mapping, wanted, codebook.names, f"its code book {codebook.file}")
    columns = {*wanted.values(), *([mapping.weight.column] if mapping.weight else [])}
    variables = [codebook.variables[c] for c in codebook.names if c in columns]
    located = [v for v in variables if v.start is None]
    if located:
        raise MicrodataError(codebook.file, f"variable {located[0].name} has no <location> in the record")
    encoding = mapping.read.get("encoding") or _python_charset(codebook.charset)
    batches = text.read_fixed(path, variables, encoding=encoding, limits=limits,
                              progress=lambda done, total: progress("reading", done, total))
    return _staged(path, mapping, wanted, _Writer(work, list(wanted)), batches, unit="line", codebook=codebook,
                   decimals=_decimals(mapping, codebook), implied=True)


def _python_charset(charset: str) -> str:
    return {"iso-8859-1": "latin-1"}.get(charset.lower(), charset)


def _stat(path, mapping, wanted, work, limits, progress, fmt) -> PersonFiles:
    try:
        import pyreadstat
    except ImportError:  # pragma: no cover - a dependency of imdx
        raise MappingError("Stata and SPSS files need pyreadstat: pip install pyreadstat") from None
    read = pyreadstat.read_dta if fmt == "stata" else pyreadstat.read_sav
    encoding = mapping.read.get("encoding")
    try:
        _, meta = read(str(path), metadataonly=True, encoding=encoding)
    except pyreadstat.ReadstatError as err:
        raise MicrodataError(path.name, f"cannot be read as a {fmt.upper()} file ({err})") from None
    _missing(path, mapping, wanted, list(meta.column_names), "it")
    labels = meta.variable_value_labels or {}
    codebook = Codebook(path.name, {c: Variable(c, meta.column_names_to_labels.get(c) or "",
                                                labels={text_key(k): str(v) for k, v in labels.get(c, {}).items()})
                                    for c in meta.column_names}, fixed_width=False)
    needed = list({*wanted.values(), *([mapping.weight.column] if mapping.weight else [])})
    total = meta.number_rows or None

    def batches():
        first = 1
        for frame, _ in pyreadstat.read_file_in_chunks(read, str(path), chunksize=250_000, usecols=needed,
                                                        encoding=encoding):
            lines = np.arange(first, first + len(frame), dtype=np.int64)
            first += len(frame)
            progress("reading", first - 1, total)
            yield pa.Table.from_pandas(frame, preserve_index=False), lines

    return _staged(path, mapping, wanted, _Writer(work, list(wanted)), batches(), unit="row", codebook=codebook,
                   decimals=int(mapping.weight.decimals) if mapping.weight else 0, implied=True)


def _rda(path, mapping, wanted, work, limits, progress, fmt) -> PersonFiles:
    import pandas as pd

    from imdx.sources.rfiles import read_r

    name = mapping.read.get("object") or path.name.split(".")[0]
    objects = read_r(path, name)
    frame = objects.get(name) if name in objects else (next(iter(objects.values())) if len(objects) == 1 else None)
    if frame is None:
        raise MappingError(f"{path.name} holds no data frame {name!r} (it holds {', '.join(map(str, objects))}); set "
                           "[read] object in the mapping")
    _missing(path, mapping, wanted, [str(c) for c in frame.columns], f"its data frame {name!r}")
    progress("reading", 1, 1)
    columns = {}
    for col in {*wanted.values(), *([mapping.weight.column] if mapping.weight else [])}:
        series = frame[col]
        if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
            series = series.astype("string")
        columns[col] = pa.array(series)
    lines = np.arange(1, len(frame) + 1, dtype=np.int64)
    return _staged(path, mapping, wanted, _Writer(work, list(wanted)), iter([(pa.table(columns), lines)]),
                   unit="row", codebook=None, decimals=int(mapping.weight.decimals) if mapping.weight else 0,
                   implied=True)


def _parquet(path, mapping, wanted, work, limits, progress, fmt) -> PersonFiles:
    files = sorted(str(p) for p in path.rglob("*.parquet")) if path.is_dir() else [str(path)]
    if not files:
        raise MicrodataError(path.name, "is a folder without .parquet files", expected="Parquet part files")
    try:
        schema = pq.read_schema(files[0])
    except (pa.ArrowInvalid, OSError) as err:
        raise MicrodataError(Path(files[0]).name, f"cannot be read as Parquet ({err})") from None
    _missing(path, mapping, wanted, schema.names, "it")
    scale, decimals = None, 0
    if mapping.weight is not None:
        decimals = int(mapping.weight.decimals)
        kind = schema.field(mapping.weight.column).type
        if pa.types.is_integer(kind):
            scale = None if mapping.weight.implied or decimals == 0 else decimals
        elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            scale = decimals
        else:
            raise MicrodataError(Path(files[0]).name, f"the weight column is of type {kind}",
                                 column=mapping.weight.column, expected="numbers")
    return PersonFiles(path, files, dict(wanted), weight=mapping.weight.column if mapping.weight else None,
                       weight_scale=scale, weight_decimals=decimals, line=None, unit="row", codebook=None,
                       display=path.name)
