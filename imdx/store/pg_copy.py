"""Arrow columns as PostgreSQL's binary ``COPY`` format, built with numpy (for :mod:`imdx.store.pg_write`).

The binary format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format") is a header, then
per row a 16-bit count of fields and per field a 32-bit length (-1 for NULL) and the value, big-endian, and a
trailer. The server reads it without parsing text, and numpy writes it a whole block of rows at a time: the
rows whose fields are NULL in the same columns have one layout, so each such group is one numpy structured
array (its fields the lengths and the values), filled column by column. The rows are sent group by group, in
their order within each group (the table's order does not matter: the readers order what they read).

Only the fixed-width types the observation tables use: ``smallint``, ``integer``, ``double precision`` and
``boolean``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no header extension
TRAILER = struct.pack(">h", -1)
#: PostgreSQL type -> (Arrow type the column is cast to, big-endian numpy type of the value on the wire)
TYPES: dict[str, tuple[pa.DataType, str]] = {
    "smallint": (pa.int16(), ">i2"), "integer": (pa.int32(), ">i4"), "double precision": (pa.float64(), ">f8"),
    "boolean": (pa.bool_(), "u1"),
}


def _column(array: pa.ChunkedArray | pa.Array, pg_type: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The values (nulls as 0) and, when some are null, where they are valid."""
    arrow_type = TYPES[pg_type][0]
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if array.type != arrow_type:
        array = pc.cast(array, arrow_type)  # safe: a value that does not fit raises
    valid = None
    if array.null_count:
        valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
        array = pc.coalesce(array, pa.scalar(False if pg_type == "boolean" else 0, arrow_type))  # as fill_null, faster
    values = array.to_numpy(zero_copy_only=False)
    return (values.astype(np.uint8) if pg_type == "boolean" else values), valid


def constant_columns(table: pa.Table, types: list[str]) -> tuple[pa.Table, dict[str, object]]:
    """``table`` without the columns that need not be sent: those whose rows are all NULL (a column without a
    default is NULL where COPY does not name it), and the integer and boolean columns (typed ``types``) whose
    rows all hold one value, returned by name with that value (to be made the table's default). A table
    without rows keeps its columns, and one with rows keeps one at least (a row of COPY is its fields)."""
    constants, dropped = {}, []
    for name, pg_type in zip(table.column_names, types):
        column = table[name]
        if not len(column):
            return table, {}
        if column.null_count == len(column):
            dropped.append(name)
        elif not column.null_count and pg_type != "double precision":  # doubles: -0.0 and 0.0 are equal
            low, high = pc.min_max(column).values()
            if low == high:
                constants[name] = low.as_py()
                dropped.append(name)
    if len(dropped) == table.num_columns:
        constants.pop(dropped.pop(0), None)
    return table.drop_columns(dropped), constants


def blocks(table: pa.Table, types: list[str], *, order_by: str | None = None,
           rows_per_block: int = 16384) -> Iterator[bytes]:
    """The whole ``COPY ... FROM STDIN (FORMAT binary)`` stream of ``table`` (its columns typed ``types``, in
    order), the header first and the trailer last, in blocks of at most ``rows_per_block`` rows; the rows in
    the order of the column ``order_by`` when given (stable), and of each value of it (or of the whole
    table), those of one layout of missing values together."""
    columns = [_column(table.column(i), t) for i, t in enumerate(types)]
    n = table.num_rows
    valids = {i: valid for i, (_, valid) in enumerate(columns) if valid is not None}
    nullable = list(valids)
    pattern = np.zeros(n, dtype=np.int64)  # which nullable columns are valid in each row, as bits
    for bit, i in enumerate(nullable):
        pattern |= valids[i].astype(np.int64) << bit
    codes, layout_of_row = _codes(pattern, len(nullable))
    key = layout_of_row.astype(np.int64)
    if order_by is not None:
        by = columns[table.column_names.index(order_by)][0].astype(np.int64)
        key += (by - (by.min() if n else 0)) * len(codes)  # the value first, then the layout
    order = None  # the rows as they are, when already in order (read by slices, not gathered)
    if n > 1 and not (key[1:] >= key[:-1]).all():
        top = int(key.max())
        order = np.argsort(key.astype(np.int16) if top < 2**15 else key, kind="stable")  # 16 bits: by radix
    runs = np.flatnonzero(np.diff(key if order is None else key[order])) + 1  # where the key changes
    layouts = [_layout(code, nullable, types) for code in codes.tolist()]
    yield HEADER
    for first, last in zip(np.r_[0, runs].tolist(), np.r_[runs, n].tolist() if n else []):
        layout, template, present = layouts[layout_of_row[first if order is None else order[first]]]
        for start in range(first, last, rows_per_block):
            stop = min(start + rows_per_block, last)
            rows = slice(start, stop) if order is None else order[start:stop]
            out = np.empty(stop - start, dtype=layout)
            out[:] = template[0]
            for i, here in enumerate(present):
                if here:
                    out[f"v{i}"] = columns[i][0][rows]
            yield out.tobytes()
    yield TRAILER


def _codes(pattern: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``pattern`` (of ``bits`` bits), and each row's index among them."""
    if bits > 16:  # too many patterns to count in an array of each
        codes, index = np.unique(pattern, return_inverse=True)
        return codes, index.astype(np.int32)
    counts = np.bincount(pattern, minlength=1)
    codes = np.flatnonzero(counts)
    index = np.zeros(len(counts), dtype=np.int32)
    index[codes] = np.arange(len(codes), dtype=np.int32)
    return codes, index[pattern]


def _layout(code: int, nullable: list[int], types: list[str]) -> tuple[np.dtype, np.ndarray, list[bool]]:
    """The numpy layout of a row whose nullable columns ``nullable`` are present where ``code`` has their
    bit; a row of it holding the count of fields and their lengths; which fields have a value."""
    present = [True] * len(types)
    for bit, i in enumerate(nullable):
        present[i] = bool(code >> bit & 1)
    fields = [("n", ">i2")]
    for i, (t, here) in enumerate(zip(types, present)):
        fields.append((f"l{i}", ">i4"))
        if here:
            fields.append((f"v{i}", TYPES[t][1]))
    layout = np.dtype(fields)  # packed: no padding between fields
    template = np.zeros(1, dtype=layout)  # the count and the lengths, the same in every row of the layout
    template["n"] = len(types)
    for i, here in enumerate(present):
        template[f"l{i}"] = layout[f"v{i}"].itemsize if here else -1
    return layout, template, present


#: PostgreSQL's binary form of a column's value (its ``send`` function) and how numpy reads it
_SENT = {"integer": ("int4send", ">i4"), "double precision": ("float8send", ">f8"), "boolean": ("boolsend", "u1")}


def read_rows(con, query, params, ints: list[str], numbers: list[str], *,
              group_by: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict[str, np.ma.MaskedArray]]:
    """Columns of the rows of ``query`` (a composed statement, with ``params``) as numpy arrays, without a
    Python object (nor a message) per row or a text per value: the server joins each row's values in their
    binary form into one ``bytea`` per group of rows (``group_by``; a value holds at most 1 GB), rows of one
    fixed layout (no NULL left in them) that numpy reads as they are. ``ints`` are read as 32-bit integers,
    NULL as -1 (ids and years are never negative); ``numbers`` as doubles, masked where NULL."""
    from psycopg import sql

    def sent(kind: str, value: sql.Composable) -> sql.Composable:
        return sql.SQL("{}({})").format(sql.SQL(_SENT[kind][0]), value)

    parts, fields = [], []
    for k, c in enumerate(ints):
        parts.append(sent("integer", sql.SQL("coalesce(q.{}::integer, -1)").format(sql.Identifier(c))))
        fields.append((f"i{k}", _SENT["integer"][1]))
    for k, c in enumerate(numbers):
        parts += [sent("double precision", sql.SQL("coalesce(q.{}, 0)::float8").format(sql.Identifier(c))),
                  sent("boolean", sql.SQL("q.{} IS NULL").format(sql.Identifier(c)))]
        fields += [(f"f{k}", _SENT["double precision"][1]), (f"null{k}", _SENT["boolean"][1])]
    statement = sql.SQL("SELECT string_agg({}, ''::bytea) FROM ({}) AS q").format(sql.SQL(" || ").join(parts), query)
    if group_by:
        statement = sql.SQL("{} GROUP BY {}").format(statement, sql.SQL(", ").join(
            sql.SQL("q.{}").format(sql.Identifier(c)) for c in group_by))
    with con.cursor(binary=True) as cur:
        chunks = [data for (data,) in cur.execute(statement, params).fetchall() if data is not None]
    rows = np.frombuffer(b"".join(chunks), dtype=np.dtype(fields))
    return ({c: rows[f"i{k}"].astype(np.int32) for k, c in enumerate(ints)},
            {c: np.ma.MaskedArray(rows[f"f{k}"].astype(np.float64), mask=rows[f"null{k}"].astype(bool))
             for k, c in enumerate(numbers)})


def read_ints(con, query, columns: list[str]) -> dict[str, np.ndarray]:
    """The integer columns ``columns`` of the rows of ``query`` (a composed statement), NULL read as -1
    (:func:`read_rows`)."""
    return read_rows(con, query, [], columns, [])[0]
