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

import numpy as np
import pyarrow as pa

#: bytes per row of a copy, besides its dimensions: value (8), release id (4), seven attribute ids (28)
ROW_BYTES = 40
#: bytes per row and dimension: the id (4), its place in the index (4), and room for a copy of a column with
#: nulls or of another width (``year``) as numbers (4)
DIMENSION_BYTES = 12


def estimated_bytes(rows: int, dimensions: int, measures: int = 0) -> int:
    """What a copy of ``rows`` current values with ``dimensions`` dimensions and ``measures`` measures beside
    the value (8 bytes each) holds (to decide before reading)."""
    return rows * (ROW_BYTES + DIMENSION_BYTES * dimensions + 8 * measures)


class CurrentCopy:
    """The current values of one dataflow, ``coded`` (a table of the dimensions, the stored columns and
    ``release_id``, already in the store's order), with each dimension's rows by code."""

    def __init__(self, coded: pa.Table, dimensions: list[str]):
        self.table = coded.combine_chunks()
        self.dimensions = list(dimensions)
        self.columns: dict[str, np.ndarray] = {}
        #: per dimension: (its codes, ascending; where each code's rows start in ``rows``; the rows by code)
        self.index: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in self.dimensions + ["release_id"]:
            self.columns[name] = _values(self.table[name])
        for name in self.dimensions:
            values = self.columns[name]
            rows = np.argsort(values, kind="stable").astype(np.int32)  # ascending within each code
            codes, starts = np.unique(values[rows], return_index=True)
            self.index[name] = (codes, np.append(starts, len(rows)).astype(np.int64), rows)
        self.nbytes = self.table.nbytes + sum(a.nbytes for a in self.columns.values() if a.base is None) \
            + sum(c.nbytes + s.nbytes + r.nbytes for c, s, r in self.index.values())

    def __len__(self) -> int:
        return self.table.num_rows

    def _rows_of(self, dimension: str, wanted: np.ndarray) -> tuple[int, list[tuple[int, int]]]:
        """(how many rows, their (start, stop) spans in the dimension's index) holding one of ``wanted``."""
        codes, starts, _ = self.index[dimension]
        if len(codes) == 0:
            return 0, []
        at = np.searchsorted(codes, wanted)
        at = at[(at < len(codes)) & (codes[np.minimum(at, len(codes) - 1)] == wanted)]
        spans = [(int(starts[i]), int(starts[i + 1])) for i in np.unique(at)]
        return sum(b - a for a, b in spans), spans

    def count(self, filters: dict[str, list[int]], release_ids: list[int] | None = None) -> int:
        """How many rows :meth:`select` gives (without taking them)."""
        rows = self._rows(filters, release_ids)
        return len(self) if rows is None else len(rows)

    def select(self, filters: dict[str, list[int]], release_ids: list[int] | None = None) -> pa.Table:
        """The rows (in the store's order) whose dimensions hold one of the codes of ``filters`` (dimension ->
        ids; years as numbers) and, when given, whose release is one of ``release_ids``."""
        rows = self._rows(filters, release_ids)
        return self.table if rows is None else self.table.take(pa.array(rows, pa.int64()))

    def _rows(self, filters: dict[str, list[int]], release_ids: list[int] | None) -> np.ndarray | None:
        """The positions (ascending) of the rows :meth:`select` gives; None for every row."""
        wanted = {d: np.asarray(v, dtype=np.int64) for d, v in filters.items()}
        if release_ids is not None:
            wanted["release_id"] = np.asarray(release_ids, dtype=np.int64)
        if not wanted:
            return None
        indexed = {d: self._rows_of(d, v) for d, v in wanted.items() if d in self.index}
        if not indexed:
            rows = np.arange(len(self), dtype=np.int64)
        else:  # the rows of the most selective filter, then the others applied to them alone
            first = min(indexed, key=lambda d: indexed[d][0])
            by_code = self.index[first][2]
            spans = indexed[first][1]
            rows = np.sort(np.concatenate([by_code[a:b] for a, b in spans])) if spans else \
                np.empty(0, dtype=np.int64)
            del wanted[first]
        for name, values in wanted.items():
            if len(rows) == 0:
                break
            rows = rows[np.isin(self.columns[name][rows], values)]
        return rows


def _values(column: pa.ChunkedArray) -> np.ndarray:
    """A column of ids (or years) as numbers, null as -1 (no code is negative, so no filter holds it)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        array = array.fill_null(-1)
    return array.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)  # a view of an int32 column
