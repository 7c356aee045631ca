"""The indexes of each release's partitions, built once the release is committed (for :mod:`imdx.store.pg_write`).

A release's partition is written, attached and committed without indexes; the :class:`Indexer` then builds
them (and ANALYZEs the partition) on connections of its own, in threads, while the loading process goes
on with the next release: the server indexes one release's rows while it takes in the next release's.
Readers see the release whole from its commit (its rows are found by scanning its partition until its
indexes are there). ``imdx load`` waits for the indexes before it ends (:meth:`Indexer.wait`, from the
store's ``close``); partitions a stopped load left without indexes are found and indexed by the next store
opened for writing (:func:`unindexed`).

Two indexes per partition, each holding the current values only (``WHERE current``: the queries of current
values find them without visiting the rows superseded, marking a value superseded adds nothing to the
indexes, and an edition or a date reads the partitions of the releases it names):

``<partition>_year``, a BRIN index of the year
    The rows are written ordered by year (:func:`imdx.store.pg_copy.blocks`), so a summary of each range of
    pages finds a year's rows; it is built in one read of the table, without sorting, and takes a few pages.
    A partition whose rows are not in that order (written by an older imdx) gets a B-tree instead.
``<partition>_areas``, one GIN index of all the area dimensions (``btree_gin``, schema migration 5)
    A GIN index over several columns serves a query on any of them, alone or together, as well as a B-tree
    of each would (measured on UNHCR's 4 M rows: 0.6-5 ms a query either way), and is built in one read
    of the table where a B-tree per column reads it once each: 1.4 s against 3.2 s for origin and asylum.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql

from imdx.model.dataflows import Dataflow

log = logging.getLogger(__name__)


#: how closely the order of a partition's rows must follow the year (PostgreSQL's ``correlation`` statistic)
#: for a BRIN index of the year to find a year's rows without reading most of the partition
ORDERED = 0.95


def area_columns(flow: Dataflow) -> list[str]:
    """The area dimensions of a dataflow: the columns of its partitions' GIN index (with the year, what
    queries filter on; a release's rows are found by its partition)."""
    return [d.name for d in flow.dimensions if d.is_area]


def build_year(con: psycopg.Connection, schema: str, part: str) -> None:
    """The statistics of the partition ``schema.part``, then its index of the year (kept if it has one): a
    BRIN index when its rows lie in the order of the year (as imdx writes them), else a B-tree (a partition
    an older imdx wrote)."""
    table = sql.Identifier(schema, part)
    con.execute(sql.SQL("ANALYZE {}").format(table))
    correlation = con.execute("SELECT coalesce(max(abs(correlation)), 1) FROM pg_stats WHERE schemaname = %s "
                              "AND tablename = %s AND attname = 'year'", [schema, part]).fetchall()[0][0]
    kind = sql.SQL("brin" if correlation >= ORDERED else "btree")
    con.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING {} (year) WHERE current").format(
        sql.Identifier(index_name(part, "year")), table, kind))


def build_areas(con: psycopg.Connection, schema: str, part: str, areas: list[str]) -> None:
    """The index of the area dimensions ``areas`` of the partition ``schema.part`` (kept if it has one)."""
    con.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin ({}) WHERE current").format(
        sql.Identifier(index_name(part, "areas")), sql.Identifier(schema, part),
        sql.SQL(", ").join(map(sql.Identifier, areas))))


def indexes(part: str, areas: list[str]) -> set[str]:
    """The names of the indexes a partition has once indexed."""
    return {index_name(part, "year")} | ({index_name(part, "areas")} if areas else set())


def index_name(part: str, what: str) -> str:
    """The name of a partition's index of ``what`` (``year`` or ``areas``)."""
    return f"{part}_{what}"[:63]


def unindexed(con: psycopg.Connection, schema: str,
              areas_of: Callable[[str], list[str]]) -> list[tuple[str, list[str]]]:
    """(partition, its area columns) of the partitions in ``schema`` that lack an index (a load stopped
    before it built them all, or schema migration 5 dropped them); ``areas_of`` gives the area columns of a
    dataflow's table (``coded_<dataflow>``)."""
    found = con.execute("""
        SELECT c.relname, p.relname, array_remove(array_agg(x.relname::text), NULL) FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        LEFT JOIN pg_index d ON d.indrelid = c.oid LEFT JOIN pg_class x ON x.oid = d.indexrelid
        WHERE c.relnamespace = to_regnamespace(%s)
        GROUP BY c.oid, c.relname, p.relname ORDER BY c.oid""", [schema]).fetchall()
    return [(part, areas) for part, table, names in found
            if not indexes(part, areas := areas_of(table)) <= set(names)]


class Indexer:
    """Builds the indexes of committed partitions in two threads, each on its own connection: a partition's
    two indexes at the same time (once the loading process is done writing, its CPUs are free for them)."""

    def __init__(self, url: str, options: str):
        self.url, self.options = url, options
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imdx-index")
        self._pending: list[Future] = []
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []

    def _connection(self) -> psycopg.Connection:
        con = getattr(self._local, "con", None)
        if con is None or con.closed:
            con = self._local.con = psycopg.connect(self.url, autocommit=True, options=self.options)
            self._connections.append(con)
        return con

    def add(self, schema: str, part: str, areas: list[str]) -> None:
        self._pending = [f for f in self._pending if not f.done() or f.exception() is not None]
        self._pending.append(self._pool.submit(lambda: build_year(self._connection(), schema, part)))
        if areas:
            self._pending.append(self._pool.submit(lambda: build_areas(self._connection(), schema, part, areas)))

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
