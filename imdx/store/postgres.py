"""The server backend: one PostgreSQL database, for an imdx that many people query while releases load.

Open it with :func:`imdx.store.connect` and a URL (``postgresql://imdx@db.example.org:5432/imdx``; the
password from the URL, ``PGPASSWORD`` or ``~/.pgpass``, as libpq reads them). The layout is the DuckDB
file's (:mod:`imdx.store.duckdb_store`): one table per dataflow, ``coded_<dataflow>``, whose text columns
hold the ids of the table ``label`` (partitioned by release: :mod:`imdx.store.pg_write`, which writes
releases), the tables of :mod:`imdx.store.pg_schema` (versioned migrations), and the research library's and
the registry's (:mod:`imdx.store.library_tables`, spoken to PostgreSQL by :mod:`imdx.store.pg_documents`).

Reading
    A pool of connections (psycopg_pool), one per thread reading, in autocommit: each query is one
    statement and sees one committed state, so a release committed meanwhile is seen whole or not at all.
    A call reads what is committed (the store's version and the number of labels) in one statement first,
    and answers from what it keeps for that version (dataflows, areas, release names) without asking again;
    its rows come back by ``COPY ... TO STDOUT`` as CSV of integers and numbers, parsed by Arrow, and are
    decoded and ordered as the DuckDB backend does (:mod:`imdx.store.reads`). Should a release commit between
    the two statements, what the rows need is read again. Current values may be kept in memory
    (:meth:`~imdx.store.base.Store.keep_current`, as ``imdx serve`` does), read with the version and the labels
    in one snapshot.
Connections
    Every connection turns PostgreSQL's JIT compilation off (``-c jit=off``): imdx's statements are short,
    and compiling them cost more than it saved (200-400 ms per statement of a load, measured).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg_pool import ConnectionPool

from imdx.codes.areas import AREA_COLUMNS, Areas
from imdx.errors import QueryError, StoreError
from imdx.model import dataflows
from imdx.model.dataflows import ATTRIBUTES, Dataflow
from imdx.store import display, pg_copy, pg_index, pg_schema
from imdx.store.base import EDITION_COLUMNS, ReleaseRecord, Store, editions_frame, notes_frame, result_columns, typed
from imdx.store.current import CurrentCopy, estimated_bytes
from imdx.store.labels import Labels, coded_table
from imdx.store.library_tables import DocumentTables
from imdx.store.pg_documents import DuckLike
from imdx.store.pg_write import PARTITIONS, RANK, KeysWritten, ReleaseWriter, create_obs_table
from imdx.store.reads import CodedReads

#: what is committed, read in one statement: the last release, the count of library and registry writes
#: (their sum is :meth:`PostgresStore.version`) and the number of labels (ids are 0 ... n - 1)
_STATE = ("SELECT (SELECT coalesce(max(release_id), 0) FROM release), "
          "(SELECT coalesce(max(n), 0) FROM document_version), (SELECT coalesce(max(id), -1) + 1 FROM label)")


class _State(NamedTuple):
    release: int
    documents: int
    labels: int

    @property
    def version(self) -> int:
        return self.release + self.documents


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


class PostgresStore(CodedReads, ReleaseWriter, DocumentTables, Store):
    def __init__(self, url: str, *, read_only: bool = False, pool_size: int = 8):
        self.url, self.read_only = url, read_only
        self._options = "-c jit=off" + (" -c default_transaction_read_only=on" if read_only else "")
        try:
            self._admin = psycopg.connect(url, autocommit=True, options=self._options)
        except psycopg.Error as err:
            raise StoreError(f"cannot connect to {self.describe()}: {str(err).strip()}. Check that the server "
                             "runs and the URL (user, host, port, database, password in PGPASSWORD or "
                             "~/.pgpass) is right.") from err
        found = pg_schema.version(self._admin)
        if found is not None and found > pg_schema.VERSION:
            self._admin.close()
            raise StoreError(f"{self.describe()} was written by a newer imdx (schema {found}, this imdx knows "
                             f"{pg_schema.VERSION}): upgrade imdx")
        if read_only and found != pg_schema.VERSION:
            self._admin.close()
            if found is None:
                raise StoreError(f"{self.describe()} holds no imdx store; load one first with "
                                 f"`imdx load --db {display(url)}`")
            raise StoreError(f"{self.describe()} has schema {found}, this imdx needs {pg_schema.VERSION}: run "
                             f"`imdx load --db {display(url)}` once to migrate it")
        self._local = threading.local()  # each thread's pinned state and connection for the documents
        self._connections: list[psycopg.Connection] = []
        self._documents = self._counted = True  # the tables of migration 2, which every store opened has
        self._write_lock = threading.Lock()  # one document write at a time in this process (_begin_write: in all)
        if not read_only:
            pg_schema.migrate(self._admin)
            for flow in dataflows.DATAFLOWS.values():
                create_obs_table(self._admin, flow)
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True, name="imdx-read",
                                   kwargs={"autocommit": True, "options": self._options})
        self._lock = threading.Lock()
        self._labels: Labels | None = None
        self._cache: dict[str, tuple[int, object]] = {}
        self._merged: tuple[Areas, tuple] | None = None
        self._copy_budget = 0  # see keep_current()
        self._copies: dict[str, tuple[int, CurrentCopy | None]] = {}  # by dataflow, with the version read at
        self._copy_locks: dict[str, threading.Lock] = {}
        self._indexer = pg_index.Indexer(url, self._options)  # the partitions' indexes, built after each commit
        self._keys_written = KeysWritten()
        if not read_only:  # what a stopped load left without indexes
            for part, areas in pg_index.unindexed(
                    self._admin, PARTITIONS, lambda table: pg_index.area_columns(self.dataflow(table[len("coded_"):]))):
                self._indexer.add(PARTITIONS, part, areas)

    # -- plumbing -----------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as con:
            yield con

    def _rows(self, query, params=None) -> list[tuple]:
        with self._read() as con:
            return con.execute(query, params).fetchall()

    def _df(self, query, params=None) -> pd.DataFrame:
        with self._read() as con:
            cur = con.execute(query, params)
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description or []])

    def _state(self) -> _State:
        return _State(*self._rows(_STATE)[0])

    @contextmanager
    def _pinned(self) -> Iterator[_State]:
        """One committed state for the reads of one call (this thread's): what it keeps is looked up by this
        state's version, without asking the server again."""
        outer = getattr(self._local, "state", None)
        state = self._local.state = outer or self._state()
        try:
            yield state
        finally:
            self._local.state = outer

    def _repin(self) -> _State:
        """Read the committed state again (a release committed while a call read)."""
        state = self._local.state = self._state()
        return state

    def describe(self) -> str:
        parts = urlsplit(self.url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        return f"the PostgreSQL database {parts.path.lstrip('/') or '(default)'} on {where}"

    def version(self) -> int:
        pinned = getattr(self._local, "state", None)
        return (pinned or self._state()).version

    def _reader(self) -> DuckLike:
        """This thread's connection to the research library's and the registry's tables (their own
        transactions: :class:`~imdx.store.library_tables.DocumentTables`)."""
        found = getattr(self._local, "documents", None)
        if found is None:
            con = psycopg.connect(self.url, autocommit=True, options=self._options)
            with self._lock:
                self._connections.append(con)
            found = self._local.documents = DuckLike(con)
        return found

    def _begin_read(self, con) -> None:
        """A snapshot for the statements of one read (PostgreSQL's default gives each statement its own)."""
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _begin_write(self, con) -> None:
        """Every process writing this database waits for the one writing (as releases do)."""
        con.execute("BEGIN")
        con.execute("SELECT pg_advisory_xact_lock(%s)", [pg_schema.WRITE_LOCK])

    def close(self) -> None:
        self._indexer.close()  # imdx load ends once the indexes of what it wrote are there
        self.pool.close()
        with self._lock:
            for con in self._connections:
                con.close()
        self._admin.close()

    # -- dataflows ----------------------------------------------------------------------------
    def _definitions(self) -> dict[str, Dataflow]:
        def read():
            rows = self._rows('SELECT id, definition FROM dataflow_definition ORDER BY id COLLATE "C"')
            return {i: dataflows.from_dict(d if isinstance(d, dict) else json.loads(d)) for i, d in rows}
        return self._kept("definitions", read)

    def dataflow(self, dataflow_id: str) -> Dataflow:
        if dataflow_id in dataflows.DATAFLOWS:
            return dataflows.DATAFLOWS[dataflow_id]
        stored = self._definitions()
        if dataflow_id not in stored:
            raise dataflows.unknown_dataflow(dataflow_id, self.dataflow_ids())
        return stored[dataflow_id]

    def dataflow_ids(self) -> list[str]:
        return sorted(dataflows.DATAFLOWS) + [i for i in self._definitions() if i not in dataflows.DATAFLOWS]

    def servable_dataflows(self) -> list[str]:
        def read():
            rows = self._rows("SELECT table_name, array_agg(column_name::text) FROM information_schema.columns "
                              "WHERE table_schema = current_schema() AND table_name LIKE 'coded\\_%%' "
                              "GROUP BY table_name")
            tables = {t: set(c) for t, c in rows}
            return [f for f in self.dataflow_ids()
                    if set(self.dataflow(f).dimension_names + list(self.dataflow(f).measures))
                    <= tables.get(coded_table(f), set())]
        return self._kept("servable", read)

    # -- writing (imdx.store.pg_write) -------------------------------------------------------------
    def has_release(self, release: ReleaseRecord) -> bool:
        return bool(self._rows("SELECT count(*) FROM release WHERE source = %s AND key = %s AND fingerprint = %s",
                               [release.source, release.key, release.fingerprint])[0][0])

    def labels(self, con=None, count: int | None = None) -> Labels:
        """The label table, as committed now (one copy per store, shared by the threads reading it); ``count``:
        the number committed, when known (nothing is read when the copy has them all)."""
        with self._lock:
            if self._labels is None:
                self._labels = Labels([])
        if con is not None:
            return self._labels.refresh(con)
        if count is not None and count == self._labels.committed:
            return self._labels
        with self._read() as reader:
            return self._labels.refresh(reader)

    # -- reading ------------------------------------------------------------------------------
    def releases(self) -> pd.DataFrame:
        return self._df("""
            SELECT r.release_id, r.source, r.key, r.title, r.edition, r.published, r.loaded_at, r.licence,
                   r.fingerprint,
                   (SELECT string_agg(dataflow || ' (' || n_obs || ')', ', ' ORDER BY dataflow COLLATE "C")
                      FROM release_dataflow d WHERE d.release_id = r.release_id) AS dataflows,
                   (SELECT coalesce(sum(n_obs), 0) FROM release_dataflow d WHERE d.release_id = r.release_id)::bigint
                     AS n_obs,
                   (SELECT string_agg(name || ' sha256:' || sha256, '; ' ORDER BY name COLLATE "C")
                      FROM release_file f WHERE f.release_id = r.release_id) AS files
            FROM release r ORDER BY r.source COLLATE "C", r.published, r.release_id""").pipe(typed, "releases")

    def release_files(self) -> pd.DataFrame:
        return typed(self._df('SELECT * FROM release_file ORDER BY release_id, name COLLATE "C"'), "release_files")

    def editions(self, dataflow: str | None = None) -> pd.DataFrame:
        frame = self._kept("editions", lambda: editions_frame(self._df(
            f"SELECT {', '.join(EDITION_COLUMNS)} FROM release_dataflow JOIN release r USING (release_id) "
            f'ORDER BY dataflow COLLATE "C", {RANK}')))
        if dataflow is not None:
            frame = frame[frame["dataflow"] == dataflow]
        return frame.reset_index(drop=True)

    def areas(self) -> Areas | None:
        def read():
            frame = self._df(sql.SQL("SELECT {} FROM area ORDER BY position").format(
                sql.SQL(", ").join(_ident(c) for c in AREA_COLUMNS)))
            if frame.empty:
                return None
            return Areas(frame, self._df("SELECT code, system, alias FROM area_alias"))
        return self._kept("areas", read)

    def notes(self) -> pd.DataFrame:
        return notes_frame(self._df('SELECT release_id, mark, text FROM release_note ORDER BY release_id, mark'))

    def issues(self, *, source=None, area=None) -> pd.DataFrame:
        where, params = [], []
        for column, value in (("source", source), ("area", area)):
            if value:
                where.append(f"{column} = %s" if "\x00" not in value else "FALSE")  # PostgreSQL holds no NUL
                params.extend([value] if "\x00" not in value else [])
        frame = self._df(f"SELECT * FROM issue WHERE {' AND '.join(where) or 'TRUE'} ORDER BY release_id, "
                         'severity COLLATE "C", type COLLATE "C", file COLLATE "C", "row", sheet COLLATE "C", '
                         '"column" COLLATE "C", area COLLATE "C", message COLLATE "C", dataflow COLLATE "C", n_obs',
                         params)
        return typed(frame, "issues")

    def select(self, dataflow, filters, *, edition=None, source=None, as_of=None, columns=None) -> pa.Table:
        with self._pinned() as state:
            flow = self.dataflow(dataflow)
            if dataflow not in self.servable_dataflows():
                raise QueryError(f"has no stored observations in {self.describe()}; load its source first",
                                 kind="not-loaded", parameter="dataflow", value=dataflow)
            wanted = result_columns(flow, columns)
            copy = self._current_copy(flow) if edition is None and as_of is None else None
            if copy is not None:  # the current values, from their copy in memory (read in this state)
                labels = self.labels(count=state.labels)
                ids = self._stored_filters(flow, filters, labels)
                return self._decoded(flow, copy.select(ids, None if source is None else
                                                       self._release_table().ids_of(source)), wanted, labels)
            stored = [c for c in ["value", *flow.measures] + ATTRIBUTES if c in wanted]
            query, params = self._query(flow, filters, stored, edition, source, as_of)
            with self._read() as con:
                coded = self._fetch_out(con, query, params, flow.dimension_names + stored + ["release_id"],
                                        ["value", *flow.measures])
            top = pc.max(coded["release_id"]).as_py() if coded.num_rows else None
            if top is not None and top > state.release:  # committed since the state was read: read it again
                state = self._repin()
            labels = self.labels(count=state.labels)  # every id the rows hold is committed, so known now
            return self._decoded(flow, self._ordered(flow, coded, labels), wanted, labels)

    def _read_current(self, flow: Dataflow, budget: int) -> tuple[int, pa.Table | None]:
        table, dims = _ident(coded_table(flow.id)), flow.dimension_names
        with self._read() as con, con.transaction():  # the version, the rows and their labels: one snapshot
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            state = _State(*con.execute(_STATE).fetchall()[0])
            rows = con.execute(sql.SQL("SELECT count(*) FROM {} WHERE current").format(table)).fetchall()[0][0]
            if estimated_bytes(rows, len(dims), len(flow.measures)) > budget:
                return state.version, None
            columns = [*dims, "value", *flow.measures, *ATTRIBUTES, "release_id"]
            query = sql.SQL("SELECT {} FROM {} WHERE current").format(
                sql.SQL(", ").join(_ident(c) for c in columns), table)
            coded = self._copy_out(con, query, [], columns, ["value", *flow.measures])
            self.labels(con)
        return state.version, coded

    def _query(self, flow: Dataflow, filters: dict[str, list], stored: list[str], edition, source,
               as_of) -> tuple[sql.Composable, list]:
        """The statement that reads the coded rows of :meth:`select`, and its parameters."""
        dims = flow.dimension_names
        where: list[sql.Composable] = []
        params: list = []
        for dim, values in filters.items():
            if dim not in dims:
                raise flow.unknown_dimension(dim)
            if dim == "year":
                where.append(sql.SQL("o.year = ANY(%s::smallint[])"))
                params.append([int(v) for v in values])
            else:  # texts to ids in the statement itself: one consistent state, even while a load commits
                where.append(sql.SQL("o.{} = ANY(ARRAY(SELECT id FROM label WHERE text = ANY(%s::text[])))")
                             .format(_ident(dim)))
                params.append([str(v) for v in values if "\x00" not in str(v)])  # no label holds a NUL
        if edition is not None or source is not None or as_of is not None:
            # the releases chosen, named in the statement, so that it reads their partitions only
            rows = self.editions(flow.id)
            for column, value in (("edition", edition), ("source", source)):
                if value is not None:
                    rows = rows[rows[column] == value]
            if as_of is not None:
                rows = rows[rows["published"] <= as_of]
            where.append(sql.SQL("o.release_id = ANY({}::integer[])").format(sql.Literal(rows["release_id"].tolist())))
        picks = sql.SQL(", ").join(sql.SQL("o.{}").format(_ident(c)) for c in dims + stored + ["release_id"])
        condition = sql.SQL(" AND ").join(where) if where else sql.SQL("TRUE")
        table = _ident(coded_table(flow.id))
        if edition is None and as_of is None:  # the current values, marked at load time
            return sql.SQL("SELECT {} FROM {} o WHERE o.current AND {}").format(picks, table, condition), params
        keys = sql.SQL(", ").join(sql.SQL("o.{}").format(_ident(d)) for d in dims)  # the rule, on the releases chosen
        return sql.SQL(f"""SELECT {{picks}} FROM (SELECT o.*, row_number() OVER (PARTITION BY r.source, {{keys}}
                           ORDER BY {RANK} DESC) AS n FROM {{table}} o JOIN release r USING (release_id)
                           WHERE {{condition}}) o WHERE n = 1""").format(
            picks=picks, keys=keys, table=table, condition=condition), params

    @staticmethod
    def _arrow_types(columns: list[str], numbers: list[str]) -> dict[str, pa.DataType]:
        types = {c: pa.int32() for c in columns} | {"year": pa.int16()} | {c: pa.float64() for c in numbers}
        return {c: types[c] for c in columns}

    @classmethod
    def _parse_csv(cls, data, columns: list[str], numbers: list[str]) -> pa.Table:
        types = cls._arrow_types(columns, numbers)
        return pacsv.read_csv(data, read_options=pacsv.ReadOptions(column_names=columns),
                              convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                                   strings_can_be_null=True))

    @classmethod
    def _fetch_out(cls, con: psycopg.Connection, query: sql.Composable, params: list, columns: list[str],
                   numbers: list[str]) -> pa.Table:
        """The rows of ``query`` as an Arrow table of ``columns`` (ids, years, and the ``numbers``: value and
        measures), read in PostgreSQL's binary form (:func:`pg_copy.read_rows`): the reads of queries. A whole
        dataflow's current values, for the copy in memory, are streamed by :meth:`_copy_out` instead."""
        ints, doubles = pg_copy.read_rows(con, query, params, [c for c in columns if c not in numbers],
                                          [c for c in columns if c in numbers],
                                          group_by=("release_id", "year"))  # a release's year: far less than 1 GB
        types = cls._arrow_types(columns, numbers)
        out = {}
        for c in columns:
            if c in doubles:
                values = doubles[c]
                out[c] = pa.array(values.data, mask=np.ma.getmaskarray(values) if values.mask.any() else None)
            else:
                out[c] = pa.array(ints[c].astype(types[c].to_pandas_dtype()), mask=ints[c] == -1)
        return pa.table(out)

    @classmethod
    def _copy_out(cls, con: psycopg.Connection, query: sql.Composable, params: list, columns: list[str],
                  numbers: list[str]) -> pa.Table:
        """The rows of ``query`` as an Arrow table of ``columns`` (ids, years, and the ``numbers``: value and
        measures), read by COPY (a stream: for reads of any size)."""
        buffer = io.BytesIO()
        with con.cursor() as cur:
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
            with cur.copy(statement, params) as copy:
                for chunk in copy:
                    buffer.write(chunk)
        if buffer.tell() == 0:
            return pa.table({c: pa.array([], t) for c, t in cls._arrow_types(columns, numbers).items()})
        buffer.seek(0)
        return cls._parse_csv(buffer, columns, numbers)

    def distinct(self, dataflow, dimension) -> list:
        flow = self.dataflow(dataflow)
        if dimension not in flow.dimension_names:
            raise flow.unknown_dimension(dimension)
        if dataflow not in self.servable_dataflows():
            return []

        def read():
            rows = self._rows(sql.SQL("SELECT DISTINCT {} FROM {}").format(_ident(dimension),
                                                                            _ident(coded_table(dataflow))))
            values = [r[0] for r in rows]
            if dimension != "year":
                values = self.labels().decode(pa.array(values, pa.int32())).to_pylist()
            return sorted(values, key=lambda v: (v is None, v))
        return list(self._kept(f"distinct {dataflow} {dimension}", read))
