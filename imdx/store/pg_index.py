"""The indexes of each release's partitions, built once the release is committed (for :mod:`imdx.store.pg_write`).

A release's partition is written, attached and committed without indexes; the :class:`Indexer` then builds
them (and ANALYZEs the partition) on a connection of its own, in a thread, while the loading process goes
on with the next release: the server sorts the keys of one release on one CPU while it takes in the next
release's rows on the other. Readers see the release whole from its commit (its rows are found by scanning
its partition until its indexes are there). ``imdx load`` waits for the indexes before it ends
(:meth:`Indexer.wait`, from the store's ``close``); partitions a stopped load left without indexes are
found and indexed by the next store opened for writing (:func:`unindexed`).

Each index holds the current values only (``WHERE current``): the queries of current values find them
without visiting the rows superseded, marking a value superseded adds nothing to the indexes, and an
edition or a date reads the partitions of the releases it names.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql

from imdx.model.dataflows import Dataflow

log = logging.getLogger(__name__)


def indexed_columns(flow: Dataflow) -> list[str]:
    """The columns of a dataflow's partitions with an index: the year and the area dimensions (what queries
    filter on; a release's rows are found by its partition)."""
    return ["year"] + [d.name for d in flow.dimensions if d.is_area]


def build(con: psycopg.Connection, schema: str, part: str, columns: list[str]) -> None:
    """The indexes of the partition ``schema.part`` (those it has already are kept), then its statistics."""
    table = sql.Identifier(schema, part)
    for column in columns:
        con.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}) WHERE current").format(
            sql.Identifier(index_name(part, column)), table, sql.Identifier(column)))
    con.execute(sql.SQL("ANALYZE {}").format(table))


def index_name(part: str, column: str) -> str:
    """The name of a partition's index of ``column`` (as schema migration 4 names them too)."""
    return f"{part}_{column}"[:63]


def unindexed(con: psycopg.Connection, schema: str) -> list[tuple[str, str]]:
    """(partition, its table) of the partitions in ``schema`` that have no index (a load stopped before it
    built them)."""
    return con.execute("""
        SELECT c.relname, p.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relnamespace = to_regnamespace(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid)
        ORDER BY c.oid""", [schema]).fetchall()


class Indexer:
    """Builds the indexes of committed partitions, one at a time, on its own connection and thread."""

    def __init__(self, url: str, options: str):
        self.url, self.options = url, options
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imdx-index")
        self._pending: list[Future] = []
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []

    def _connection(self) -> psycopg.Connection:
        con = getattr(self._local, "con", None)
        if con is None or con.closed:
            con = self._local.con = psycopg.connect(self.url, autocommit=True, options=self.options)
            self._connections.append(con)
        return con

    def add(self, schema: str, part: str, columns: list[str]) -> None:
        self._pending = [f for f in self._pending if not f.done() or f.exception() is not None]
        self._pending.append(self._pool.submit(lambda: build(self._connection(), schema, part, columns)))

    def wait(self) -> list[BaseException]:
        """Wait for every index asked for; the errors met (the data stays; the next store opened for
        writing builds what is missing)."""
        errors = []
        for future in self._pending:
            error = future.exception()
            if error is not None:
                log.warning("building an index failed (the next `imdx load` builds it): %s", error)
                errors.append(error)
        self._pending = []
        return errors

    def close(self) -> list[BaseException]:
        errors = self.wait()
        self._pool.shutdown(wait=True)
        for con in self._connections:
            con.close()
        return errors
