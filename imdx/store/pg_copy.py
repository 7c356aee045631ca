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
        array = pc.fill_null(array, pa.scalar(False if pg_type == "boolean" else 0, arrow_type))
    values = array.to_numpy(zero_copy_only=False)
    return (values.astype(np.uint8) if pg_type == "boolean" else values), valid


def blocks(table: pa.Table, types: list[str], *, order_by: str | None = None,
           rows_per_block: int = 4096) -> Iterator[bytes]:
    """The whole ``COPY ... FROM STDIN (FORMAT binary)`` stream of ``table`` (its columns typed ``types``, in
    order), in blocks of at most ``rows_per_block`` rows, the header first and the trailer last; within each
    group of rows of one layout, the rows ordered by the column ``order_by`` (stable), when given."""
    columns = [_column(table.column(i), t) for i, t in enumerate(types)]
    n = table.num_rows
    pattern = np.zeros(n, dtype=np.int64)  # which nullable columns are valid in each row, as bits
    valids = {i: valid for i, (_, valid) in enumerate(columns) if valid is not None}
    nullable = list(valids)
    for bit, i in enumerate(nullable):
        pattern |= valids[i].astype(np.int64) << bit
    by = None if order_by is None else columns[table.column_names.index(order_by)][0]
    yield HEADER
    order: np.ndarray | None
    if nullable:
        codes, where = np.unique(pattern, return_inverse=True)
        order = np.lexsort((by, where)) if by is not None else np.argsort(where, kind="stable")
        bounds = np.searchsorted(where[order], np.arange(len(codes) + 1))
    else:
        codes, bounds = np.zeros(1, dtype=np.int64), np.array([0, n])
        order = None if by is None else np.argsort(by, kind="stable")
    if order is not None:  # each column put in order once: the blocks below are slices of them
        columns = [(values[order], None) for values, _ in columns]
    for k, code in enumerate(codes.tolist()):
        present = [True] * len(columns)
        for bit, i in enumerate(nullable):
            present[i] = bool(code >> bit & 1)
        fields = [("n", ">i2")]
        for i, (t, here) in enumerate(zip(types, present)):
            fields.append((f"l{i}", ">i4"))
            if here:
                fields.append((f"v{i}", TYPES[t][1]))
        layout = np.dtype(fields)  # packed: no padding between fields
        template = np.zeros(1, dtype=layout)  # the count and the lengths, the same in every row of the group
        template["n"] = len(columns)
        for i, here in enumerate(present):
            template[f"l{i}"] = layout[f"v{i}"].itemsize if here else -1
        for start in range(int(bounds[k]), int(bounds[k + 1]), rows_per_block):
            stop = min(start + rows_per_block, int(bounds[k + 1]))
            out = np.empty(stop - start, dtype=layout)  # small blocks: each field's pass stays in the cache
            out[:] = template[0]
            for i, here in enumerate(present):
                if here:
                    out[f"v{i}"] = columns[i][0][start:stop]
            yield out.tobytes()
    yield TRAILER


def read_ints(con, query, columns: list[str]) -> dict[str, np.ndarray]:
    """The integer columns ``columns`` of the rows of ``query`` (a composed statement; NULL read as -1), as
    numpy arrays: each column comes back as one array value in PostgreSQL's binary form (``array_send``), a
    fixed stride of (length, value) pairs once its NULLs are -1, read by numpy without a Python object per
    row."""
    from psycopg import sql

    picks = sql.SQL(", ").join(sql.SQL("array_send(array_agg(coalesce({}::integer, -1)))").format(sql.Identifier(c))
                               for c in columns)
    with con.cursor(binary=True) as cur:
        row = cur.execute(sql.SQL("SELECT {} FROM ({}) AS q").format(picks, query)).fetchone()
    out = {}
    for column, data in zip(columns, row):
        if data is None:  # no rows
            out[column] = np.empty(0, dtype=np.int32)
            continue
        ndim = struct.unpack_from(">i", data)[0]
        values = np.frombuffer(data, dtype=">i4", offset=12 + 8 * ndim)  # after the header and each dimension's
        out[column] = values[1::2].astype(np.int32)  # every other: the lengths (4) are between the values
    return out
