"""What a worker process holds: the store (read from many threads at once), what is known of it (its
servable dataflows, its editions), and caches of answers.

Requests run concurrently (in a thread pool) and read the store directly: every read method of a
:class:`~imdx.store.base.Store` is safe from many threads. Encoded responses and query results are
kept in bounded LRU caches whose keys include the store's :meth:`~imdx.store.base.Store.version`:
when a release is committed (by a load running while a PostgreSQL store is served), the next request
sees the new version and nothing computed before it is answered again. The version is read at most
every ``freshness`` seconds (a DuckDB file served read-only cannot change, so it is never re-read).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import pandas as pd

from imdx.api.limits import ComputeSlots, Limits
from imdx.store.base import Store

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

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

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


@dataclass
class FlowReleases:
    """What the store holds of one dataflow, read once per version (so that a request checks its ``source`` and
    ``edition`` against sets, not the releases' table)."""

    sources: list[str] = field(default_factory=list)
    editions: list[str] = field(default_factory=list)
    #: the editions of each source
    by_source: dict[str, set[str]] = field(default_factory=dict)
    #: (source, edition, published, n_obs) of each release holding the dataflow
    releases: list[tuple] = field(default_factory=list)


class ApiState:
    def __init__(self, store: Store, *, response_cache_bytes: int = 256 * 2**20,
                 table_cache_bytes: int = 512 * 2**20, freshness: float = 1.0, limits: Limits | None = None):
        self.store = store
        self.freshness = freshness
        self.limits = limits or Limits()
        #: where every answer that is not cached is computed (a few at a time; see ComputeSlots)
        self.slots = ComputeSlots(self.limits)
        #: encoded responses by (version, path, sorted query); query results (Arrow tables) by (version,
        #: resolved query), so that the pages of one query are sliced from one result
        self.responses = LRUCache(response_cache_bytes, max_item_bytes=response_cache_bytes // 8)
        self.tables = LRUCache(table_cache_bytes, max_item_bytes=table_cache_bytes * 3 // 8)
        self._lock = threading.Lock()
        self._checked = 0.0
        self.version = -1
        self.dataflow_ids: list[str] = []
        self.editions = pd.DataFrame()
        self.flows: dict[str, FlowReleases] = {}
        self.current()

    def current(self) -> int:
        """The store's version, read again when ``freshness`` seconds have passed since it was last; when
        it changed, what this state knows of the store is read again and the caches are emptied."""
        now = time.monotonic()
        if now - self._checked < self.freshness:
            return self.version
        version = self.store.version()
        self._checked = now
        if version != self.version:
            with self._lock:
                if version != self.version:
                    self._learn(version)
        return self.version

    def _learn(self, version: int) -> None:
        self.store.areas()  # read once, shared by every thread
        servable = self.store.servable_dataflows()
        for flow in set(self.store.dataflow_ids()) - set(servable):
            log.warning("not serving %s: the store has no table for it as this version of imdx defines it "
                        "(load the store again)", flow)
        #: one row per (dataflow, release): source, key, edition, published, release_id, n_obs
        self.editions = self.store.editions()
        flows: dict[str, FlowReleases] = {}
        for r in self.editions.itertuples(index=False):
            info = flows.setdefault(r.dataflow, FlowReleases())
            info.sources += [r.source] if r.source not in info.sources else []
            info.editions += [r.edition] if r.edition not in info.editions else []
            info.by_source.setdefault(r.source, set()).add(r.edition)
            info.releases.append((r.source, r.edition, r.published, int(r.n_obs)))
        self.flows = flows
        self.dataflow_ids = servable
        self.responses.clear()
        self.tables.clear()
        self.version = version

    def releases_of(self, flow_id: str) -> FlowReleases:
        return self.flows.get(flow_id) or FlowReleases()

    def close(self) -> None:
        self.slots.close()
        self.store.close()
