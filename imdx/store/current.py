"""Current values in memory: a compact copy of one dataflow's current values, coded as the store keeps them
(label ids, years, values, attribute ids, release ids), in the store's order, with an index of the rows
holding each code of each dimension.

A filtered read of current values (``destination=DEU&year=2020``) is then a few array operations on this
copy instead of a query: the rows of the most selective filter are taken from the index, the other filters
are applied to those rows alone, and the positions stay ascending, so the rows come out in the store's order
and are decoded as a query's rows are (:meth:`imdx.store.duckdb_store.DuckDBStore.select`). A copy costs
about 8 to 12 bytes per row and dimension on top of the columns (:func:`estimated_bytes`); a store keeps copies
up to the memory it is given (:meth:`imdx.store.base.Store.keep_current`), and reads the other dataflows
from its tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from imdx.store.json_rows import JsonRows

#: bytes per row of a copy, besides its dimensions: value (8), release id (4), seven attribute ids (28), and room
#: for copies of columns holding nulls as numbers (null: -1 or NaN) with their masks (37)
ROW_BYTES = 80
#: bytes per row and dimension: the id (4), its place in the index (4), and room for a copy of a column with
#: nulls or of another width (``year``) as numbers (4)
DIMENSION_BYTES = 12


def estimated_bytes(rows: int, dimensions: int, measures: int = 0) -> int:
    """What a copy of ``rows`` current values with ``dimensions`` dimensions and ``measures`` measures beside
    the value (8 bytes each, twice that when they hold nulls) holds (to decide before reading)."""
    return rows * (ROW_BYTES + DIMENSION_BYTES * dimensions + 16 * measures)


class CurrentCopy:
    """The current values of one dataflow, ``coded`` (a table of the dimensions, the stored columns and
    ``release_id``, already in the store's order), with each dimension's rows by code."""

    def __init__(self, coded: pa.Table, dimensions: list[str]):
        self.table = coded.combine_chunks()
        self.dimensions = list(dimensions)
        #: every integer column as numbers (null: -1, or a mask in ``nulls``; a column of nulls only: None),
        #: every floating column as numbers (null: NaN)
        self.columns: dict[str, np.ndarray | None] = {}
        self.nulls: dict[str, np.ndarray] = {}
        made = 0  # bytes of the arrays made here (a column without nulls is a view of the table's)
        for name, column in zip(self.table.column_names, self.table.columns):
            if pa.types.is_integer(column.type):
                self.columns[name] = None if column.null_count == len(column) > 0 else _values(column)
                if column.null_count and name not in self.dimensions and self.columns[name] is not None:
                    self.nulls[name] = column.combine_chunks().is_null().to_numpy(zero_copy_only=False)
            elif pa.types.is_floating(column.type):
                self.columns[name] = column.to_numpy()  # nulls: NaN
            numbers = self.columns.get(name)
            if column.null_count and numbers is not None:
                made += numbers.nbytes
        #: per dimension: (its codes, ascending; where each code's rows start in ``rows``; the rows by code)
        self.index: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in self.dimensions:
            values = self.columns[name]
            if values is None:  # a dimension without a code: no filter holds it
                values = self.columns[name] = np.full(len(self), -1, dtype=np.int32)
            rows = np.argsort(values, kind="stable").astype(np.int32)  # ascending within each code
            codes, starts = np.unique(values[rows], return_index=True)
            self.index[name] = (codes, np.append(starts, len(rows)).astype(np.int64), rows)
        self.nbytes = self.table.nbytes + made + sum(m.nbytes for m in self.nulls.values()) \
            + sum(c.nbytes + s.nbytes + r.nbytes for c, s, r in self.index.values())
        #: what encodes its rows as JSON (:class:`imdx.store.json_rows.JsonRows`), set by the store that made it
        self.json: JsonRows | None = None

    def __len__(self) -> int:
        return self.table.num_rows

    def count(self, filters: dict[str, list[int]], release_ids: list[int] | None = None) -> int:
        """How many rows :meth:`select` gives (without taking them)."""
        return len(self.positions(filters, release_ids))

    def select(self, filters: dict[str, list[int]], release_ids: list[int] | None = None) -> pa.Table:
        """The rows (in the store's order) whose dimensions hold one of the codes of ``filters`` (dimension ->
        ids; years as numbers) and, when given, whose release is one of ``release_ids``."""
        return self.take(self.positions(filters, release_ids))

    def take(self, rows: np.ndarray) -> pa.Table:
        """The rows at ``rows`` (positions from :meth:`positions`)."""
        return self.table if len(rows) == len(self) else self.table.take(pa.array(rows, pa.int64()))

    def positions(self, filters: dict[str, list[int]], release_ids: list[int] | None = None) -> np.ndarray:
        """The positions (ascending: the store's order) of the rows :meth:`select` gives."""
        wanted = dict(filters)
        if release_ids is not None:
            wanted["release_id"] = release_ids
        if not wanted:
            return np.arange(len(self), dtype=np.int64)
        spans = {d: self._spans(d, v) for d, v in wanted.items() if d in self.index}
        if spans:  # the rows of the most selective filter, then the others applied to them alone
            first = min(spans, key=lambda d: spans[d][0])
            by_code = self.index[first][2]
            found = [by_code[a:b] for a, b in spans[first][1]]
            rows = found[0] if len(found) == 1 else np.sort(np.concatenate(found)) if found else \
                np.empty(0, dtype=np.int32)
            del wanted[first]
        else:
            rows = np.arange(len(self), dtype=np.int64)
        for name, values in wanted.items():
            if len(rows) == 0:
                break
            column = self.columns[name]
            if column is None:  # nulls only: no filter holds it
                return np.empty(0, dtype=np.int64)
            rows = rows[column[rows] == values[0]] if len(values) == 1 else \
                rows[np.isin(column[rows], np.asarray(values, dtype=np.int64))]
        return rows

    def _spans(self, dimension: str, wanted: list[int]) -> tuple[int, list[tuple[int, int]]]:
        """(how many rows, their (start, stop) spans in the dimension's index) holding one of ``wanted``."""
        codes, starts, _ = self.index[dimension]
        spans = []
        for code in sorted(set(wanted)):
            at = int(codes.searchsorted(code))
            if at < len(codes) and codes[at] == code:
                spans.append((int(starts[at]), int(starts[at + 1])))
        return sum(b - a for a, b in spans), spans


def _values(column: pa.ChunkedArray) -> np.ndarray:
    """A column of ids (or years) as numbers, null as -1 (no code is negative, so no filter holds it)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        array = pc.coalesce(array, pa.scalar(-1, array.type))  # as fill_null, many times faster
    return array.to_numpy(zero_copy_only=False)  # a view of the column when it holds no null
