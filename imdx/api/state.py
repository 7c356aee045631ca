"""What a worker process holds: one read-only DuckDB connection, the area table, a response cache.

Requests run concurrently (in a thread pool), so each one reads through its own cursor of the
shared connection (:meth:`ApiState.reader`). The store cannot change while it is served (a
read-only DuckDB file cannot be written by another process meanwhile), so encoded responses are
kept in a bounded LRU cache keyed by path and query.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from imdx.revisions import editions
from imdx.store.duckdb_store import DuckDBStore

log = logging.getLogger("imdx.api")


class LRUCache:
    """A thread-safe LRU of values with a size each, bounded by the sum of their sizes."""

    def __init__(self, max_bytes: int, max_item_bytes: int):
        self.max_bytes, self.max_item_bytes = max_bytes, max_item_bytes
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item[0]
        return None

    def put(self, key, value, size: int) -> None:
        if size > self.max_item_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, (_, s) = self._items.popitem(last=False)
                self._bytes -= s


class ApiState:
    def __init__(self, db_path: str | Path, *, response_cache_bytes: int = 256 * 2**20,
                 table_cache_bytes: int = 512 * 2**20, writable: bool = False):
        # writable: the registry's entries may change (observations never do while served)
        self.store = DuckDBStore(db_path, read_only=not writable)
        self.store.areas()  # build the area table once; every cursor view shares it
        self.dataflow_ids = [f for f in self.store.dataflow_ids() if self._has_table(f)]
        self.editions = editions(self.store)  # one row per (release, dataflow): source, edition, n_obs
        #: encoded responses by (path, sorted query); query results (Arrow tables) by resolved query, so
        #: that the pages of one query are sliced from one result
        self.responses = LRUCache(response_cache_bytes, max_item_bytes=response_cache_bytes // 8)
        self.tables = LRUCache(table_cache_bytes, max_item_bytes=table_cache_bytes * 3 // 8)

    def _has_table(self, flow_id: str) -> bool:
        """False for a dataflow this version of imdx defines but the store (loaded by an older one) has no
        table for, or a table without all of its dimensions: such dataflows are not served."""
        try:
            columns = ", ".join(f'"{d}"' for d in self.store.dataflow(flow_id).dimension_names)
            self.store.con.execute(f'SELECT {columns}, value FROM "obs_{flow_id}" LIMIT 0')
            return True
        except duckdb.Error:
            log.warning("not serving %s: the store has no table for it as this version of imdx defines it "
                        "(load the store again)", flow_id)
            return False

    @contextmanager
    def reader(self) -> Iterator[DuckDBStore]:
        cursor = self.store.con.cursor()
        try:
            yield self.store.with_cursor(cursor)
        finally:
            cursor.close()

    def cursor_store(self) -> DuckDBStore:
        """A store reading through a new cursor (closed when garbage-collected): for routers that take a
        ``get_store()`` callable, such as :func:`imdx.sdmx.routes.sdmx_router`."""
        return self.store.with_cursor()

    def close(self) -> None:
        self.store.close()
