"""How both backends turn coded rows into :meth:`~imdx.store.base.Store.select`'s answer, and keep current values
in memory (a mixin of :class:`imdx.store.duckdb_store.DuckDBStore` and :class:`imdx.store.postgres.PostgresStore`).

A backend reads *coded* rows (the dimensions, the stored columns and ``release_id``, text as label ids); here
they are put in the store's order (the dimensions as text, then the source: from the label ranks and a kept
copy of the release table, cheaper than joining the label table once per column) and decoded (text for ids,
area names, the unit, each row's source and edition). The current values of a dataflow can be kept in memory
(:mod:`imdx.store.current`, :meth:`keep_current`) and answer a read of current values without a query; a
backend says how to count and read them (:meth:`_count_current`, :meth:`_read_current`).
"""

from __future__ import annotations

import threading

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdx.codes.areas import Areas
from imdx.model.dataflows import Dataflow
from imdx.store.base import result_columns
from imdx.store.current import CurrentCopy
from imdx.store.json_rows import JsonRows
from imdx.store.labels import Labels, text_columns


class ReleaseNames:
    """The release table as a read needs it: each release's source and edition by release id, and the sources'
    order (text order), to sort and label the rows of a query without joining the table."""

    def __init__(self, frame: pd.DataFrame):
        self.release_ids = pa.array(frame["release_id"].astype("int32"), pa.int32())
        self.sources = pa.array(frame["source"].astype(str), pa.string())
        self.editions = pa.array(frame["edition"].astype(str), pa.string())
        order = sorted(set(frame["source"]))
        self.source_ranks = pa.array([order.index(v) for v in frame["source"]], pa.int32())
        self._ids = {s: [int(i) for i, x in zip(frame["release_id"], frame["source"]) if x == s] for s in order}
        self.last = int(frame["release_id"].max()) if len(frame) else 0

    def ids_of(self, source: str) -> list[int]:
        return self._ids.get(source, [])

    def positions(self, release_ids) -> pa.ChunkedArray | pa.Array:
        return pc.index_in(release_ids, value_set=self.release_ids)

    def column(self, name: str) -> pa.Array:
        return self.sources if name == "source" else self.editions


class CurrentRows:
    """Current values chosen from their copy in memory (:meth:`CodedReads.current`): how many, and any slice of
    them decoded, as :meth:`~imdx.store.base.Store.select` gives them, or as JSON objects."""

    def __init__(self, reads: CodedReads, flow: Dataflow, copy: CurrentCopy, encoder: JsonRows, rows,
                 labels: Labels):
        self._reads, self._flow, self._copy, self._rows, self._labels = reads, flow, copy, rows, labels
        self._encoder = encoder
        self.total = len(rows)
        self.columns = result_columns(flow)

    def table(self, start: int = 0, stop: int | None = None) -> pa.Table:
        """The rows ``start:stop`` (of :attr:`total`), decoded."""
        return self._reads._decoded(self._flow, self._copy.take(self._rows[start:stop]), self.columns, self._labels)

    def json(self, start: int = 0, stop: int | None = None) -> bytes:
        """The rows ``start:stop`` as a JSON array of objects: the bytes of ``orjson.dumps(records(table))``
        (:func:`imdx.api.encode.records`) for :meth:`table`'s rows."""
        return self._encoder.encode(self._rows[start:stop])


class CodedReads:
    """Ordering, decoding, current values in memory and what reads keep per store version (``_kept``), on a
    backend's ``version``, ``labels``, ``areas``, ``_df`` and the two readers of current values."""

    _lock: threading.Lock
    _copy_budget: int
    _copies: dict[str, tuple[int, CurrentCopy | None]]
    _copy_locks: dict[str, threading.Lock]

    _cache: dict[str, tuple[int, object]]  # what reads keep, with the store's version they were read at

    def _kept(self, name: str, compute):
        """``compute()``, kept until the store's version changes."""
        version = self.version()
        hit = self._cache.get(name)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._cache[name] = (version, value)
        return value

    # -- what the backend gives ----------------------------------------------------------------
    def version(self) -> int:
        raise NotImplementedError

    def labels(self) -> Labels:
        raise NotImplementedError

    def areas(self) -> Areas | None:
        raise NotImplementedError

    def dataflow(self, dataflow_id: str) -> Dataflow:
        raise NotImplementedError

    def editions(self, dataflow: str | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def servable_dataflows(self) -> list[str]:
        raise NotImplementedError

    def _df(self, query, params=None) -> pd.DataFrame:
        raise NotImplementedError

    def _read_current(self, flow: Dataflow, budget: int) -> tuple[int, pa.Table | None]:
        """(the store's version, the coded current values of the dataflow: its dimensions, value, measures,
        attributes and release_id), read together in one state of the store; no table when the copy would take
        more than ``budget`` bytes (:func:`imdx.store.current.estimated_bytes`)."""
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------------
    @staticmethod
    def _stored_filters(flow: Dataflow, filters: dict[str, list], labels: Labels) -> dict[str, list[int]]:
        """The filters' values as stored: label ids (a text no observation holds has none), and years."""
        ids: dict[str, list[int]] = {}
        for dim, values in filters.items():
            if dim not in flow.dimension_names:
                raise flow.unknown_dimension(dim)
            ids[dim] = [int(v) for v in values] if dim == "year" else labels.known(values)
        return ids

    def _release_table(self) -> ReleaseNames:
        return self._kept("release table", lambda: ReleaseNames(self._df(
            "SELECT release_id, source, edition FROM release ORDER BY release_id")))

    def _ordered(self, flow: Dataflow, coded: pa.Table, labels: Labels) -> pa.Table:
        """The rows of a coded query in the store's order: the dimensions as text, then the source."""
        dims, text = flow.dimension_names, set(text_columns(flow))
        releases = self._release_table()
        keys = pa.table({d: labels.ranks(coded[d]) if d in text else coded[d] for d in dims}
                        | {"source": pc.take(releases.source_ranks, releases.positions(coded["release_id"]))})
        return coded.take(pc.sort_indices(keys, [(k, "ascending", "at_end") for k in keys.column_names]))

    def _decoded(self, flow: Dataflow, coded: pa.Table, wanted: list[str], labels: Labels) -> pa.Table:
        """The rows of a coded query (in the store's order) with text for ids, area names, the unit, and each
        row's source and edition (from its release)."""
        text = set(text_columns(flow))
        releases = self._release_table()
        at = releases.positions(coded["release_id"])
        names, revision = self._area_names()
        out = {}
        for column in wanted:
            if column.endswith("_name") and column not in coded.column_names:
                out[column] = labels.lookup(f"area names {revision}", names, coded[column[:-5]])
            elif column == "unit":
                out[column] = pa.repeat(pa.scalar(flow.unit), len(coded))
            elif column in ("source", "edition"):
                out[column] = pc.take(releases.column(column), at)
            else:
                out[column] = labels.decode(coded[column]) if column in text else coded[column]
        return pa.table(out)

    def _area_names(self) -> tuple[dict, object]:
        """(code -> name, the areas' revision), kept until the version changes."""
        def read():
            areas = self.areas()
            return ({}, None) if areas is None else (areas.frame["name"].to_dict(), areas.revision)
        return self._kept("area names", read)

    # -- current values in memory ----------------------------------------------------------------
    def current(self, dataflow, filters, *, source=None, read=True) -> CurrentRows | None:
        if self._copy_budget == 0 or dataflow not in self.servable_dataflows():
            return None
        flow = self.dataflow(dataflow)
        if read:
            copy = self._current_copy(flow)
        else:
            kept = self._copies.get(dataflow)
            copy = kept[1] if kept is not None and kept[0] == self.version() else None
        if copy is None or copy.json is None:  # the copy's encoder is made with it (_current_copy)
            return None
        labels = self.labels()
        ids = self._stored_filters(flow, filters, labels)
        rows = copy.positions(ids, None if source is None else self._release_table().ids_of(source))
        return CurrentRows(self, flow, copy, copy.json, rows, labels)

    def keep_current(self, max_bytes: int, *, now: bool = False) -> None:
        self._copy_budget = max(0, int(max_bytes))
        if not self._copy_budget:
            self._copies = {}
        elif now:  # the smallest dataflows first: as many as fit
            stored = self.editions().groupby("dataflow")["n_obs"].sum()
            for flow_id in sorted(self.servable_dataflows(), key=lambda f: (stored.get(f, 0), f)):
                self._current_copy(self.dataflow(flow_id))

    def _current_copy(self, flow: Dataflow) -> CurrentCopy | None:
        """The copy in memory of the current values of ``flow`` (read on first need, and again when the version
        moved), or None when the copies are off or this one does not fit in what is left of their budget."""
        if not self._copy_budget:
            return None
        version = self.version()
        kept = self._copies.get(flow.id)
        if kept is not None and kept[0] == version:
            return kept[1]
        with self._lock:
            lock = self._copy_locks.setdefault(flow.id, threading.Lock())
        with lock:  # one thread reads it; the others wait for it
            kept = self._copies.get(flow.id)
            if kept is not None and kept[0] == version:
                return kept[1]
            used = sum(c[1].nbytes for c in self._copies.values() if c[0] == version and c[1] is not None)
            read_at, coded = self._read_current(flow, self._copy_budget - used)
            copy = None if coded is None else \
                CurrentCopy(self._ordered(flow, coded, self.labels()), flow.dimension_names)
            if copy is not None:  # its JSON encoder made here too (a second or so for a million rows), not by a request
                releases = self._release_table()
                copy.json = JsonRows(copy, result_columns(flow), set(text_columns(flow)), flow.unit, self.labels(),
                                     self._area_names(), (releases.release_ids.to_pylist(),
                                                          releases.sources.to_pylist(), releases.editions.to_pylist()))
            copies = {f: c for f, c in self._copies.items() if c[0] == read_at}  # what another version kept goes
            copies[flow.id] = (read_at, copy)
            self._copies = copies
            return copy if read_at == version else None  # a release committed meanwhile: this read queries
