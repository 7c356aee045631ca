"""The server backend: one PostgreSQL database, for an imdx that many people query while releases load.

Open it with :func:`imdx.store.connect` and a URL (``postgresql://imdx@db.example.org:5432/imdx``; the
password from the URL, ``PGPASSWORD`` or ``~/.pgpass``, as libpq reads them). The layout is the DuckDB
file's (:mod:`imdx.store.duckdb_store`): one table per dataflow, ``coded_<dataflow>``, whose text columns
hold the ids of the table ``label``, and the tables of :mod:`imdx.store.pg_schema` (versioned migrations).

Writing
    One writer at a time: a release is written in one transaction that first takes an advisory lock, so
    a second ``imdx load`` waits for the first. Observations go in by ``COPY`` (CSV made by Arrow), the
    current flags of the values a release supersedes are corrected in the same transaction, and the
    tables written are analysed after the commit.
Reading
    A pool of connections (psycopg_pool), one per thread reading, in autocommit: each query is one
    statement and sees one committed state, so a release committed meanwhile is seen whole or not at all
    (filters name texts, translated to label ids inside the statement; ids the reader does not know yet
    are read right after). Results come back by ``COPY ... TO STDOUT`` as CSV of integers and numbers,
    parsed by Arrow, and are decoded and ordered as the DuckDB backend does
    (:func:`imdx.store.labels.result_table`).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg_pool import ConnectionPool

from imdx.codes.areas import AREA_COLUMNS, AreaChanges, Areas
from imdx.errors import QueryError, StoreError
from imdx.model import dataflows
from imdx.model.dataflows import ATTRIBUTES, Dataflow
from imdx.store import display, pg_schema
from imdx.store.base import EDITION_COLUMNS, ReleaseRecord, Store, editions_frame, result_columns, typed
from imdx.store.labels import Labels, coded_table, result_table, text_columns
from imdx.store.library_tables import DocumentTables

#: a release's rank (:data:`imdx.store.base.RANK_ORDER`); editions compare as bytes, as DuckDB compares them
_RANK = '(r.published, r.edition COLLATE "C", r.release_id)'


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


class _DuckLike:
    """A psycopg connection spoken to as the research library's and the registry's tables
    (:class:`~imdx.store.library_tables.DocumentTables`) speak to DuckDB: ``?`` parameters, ``register``
    of a frame as a table, results as frames. One per thread (:meth:`PostgresStore._reader`)."""

    def __init__(self, con: psycopg.Connection):
        self.con = con

    def execute(self, query: str, params=None) -> _Result:
        return _Result(self.con.execute(query.replace("?", "%s") if params else query, params or None))

    def executemany(self, query: str, rows) -> None:
        with self.con.cursor() as cur:
            cur.executemany(query.replace("?", "%s"), rows)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        columns = sql.SQL(", ").join(sql.SQL("{} {}").format(_ident(c), sql.SQL(_pg_type(frame[c])))
                                     for c in frame.columns)
        self.con.execute(sql.SQL("CREATE TEMP TABLE {} ({})").format(_ident(name), columns))
        with self.con.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(_ident(name))) as copy:
            for row in frame.itertuples(index=False):
                copy.write_row([None if _missing(v) else v.item() if hasattr(v, "item") else v for v in row])

    def unregister(self, name: str) -> None:
        self.con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_ident(name)))


def _pg_type(column: pd.Series) -> str:
    """The type of a registered frame's column: by its dtype, or (objects) by its first value; a column of
    missing values only is a bigint, which PostgreSQL assigns to an integer or a text column alike."""
    kinds = {"i": "bigint", "u": "bigint", "f": "double precision", "b": "boolean", "M": "timestamp"}
    if column.dtype.kind in kinds:
        return kinds[column.dtype.kind]
    values = column.dropna()
    if values.empty:
        return "bigint"
    first = values.iloc[0]
    for kind, name in ((bool, "boolean"), (int, "bigint"), (float, "double precision"), (datetime, "timestamp")):
        if isinstance(first, kind):
            return name
    return "text"


class _Result:
    def __init__(self, cur):
        self.cur = cur

    def fetchall(self) -> list[tuple]:
        return self.cur.fetchall()

    def df(self) -> pd.DataFrame:
        return pd.DataFrame(self.cur.fetchall(), columns=[c.name for c in self.cur.description or []])


class PostgresStore(DocumentTables, Store):
    def __init__(self, url: str, *, read_only: bool = False, pool_size: int = 8):
        self.url, self.read_only = url, read_only
        options = "-c default_transaction_read_only=on" if read_only else None
        try:
            self._admin = psycopg.connect(url, autocommit=True, options=options)
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
        self._local = threading.local()  # each thread's connection for the library's and registry's tables
        self._connections: list[psycopg.Connection] = []
        self._documents = self._counted = True  # the tables of migration 2, which every store opened has
        self._write_lock = threading.Lock()  # one document write at a time in this process (_begin_write: in all)
        if not read_only:
            pg_schema.migrate(self._admin)
            for flow in dataflows.DATAFLOWS.values():
                self._create_obs_table(self._admin, flow)
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True, name="imdx-read",
                                   kwargs={"autocommit": True, "options": options} if options else
                                   {"autocommit": True})
        self._lock = threading.Lock()
        self._labels: Labels | None = None
        self._cache: dict[str, tuple[int, object]] = {}
        self._merged: tuple[Areas, tuple] | None = None

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

    def _kept(self, name: str, compute):
        version = self.version()
        hit = self._cache.get(name)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._cache[name] = (version, value)
        return value

    def describe(self) -> str:
        parts = urlsplit(self.url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        return f"the PostgreSQL database {parts.path.lstrip('/') or '(default)'} on {where}"

    def version(self) -> int:
        # two counters that only grow, read in one statement: the last release, and the number of the library's
        # and the registry's writes
        return self._rows("SELECT (SELECT coalesce(max(release_id), 0) FROM release) + "
                          "(SELECT coalesce(max(n), 0) FROM document_version)")[0][0]

    def _reader(self) -> _DuckLike:
        """This thread's connection to the research library's and the registry's tables (their own
        transactions: :class:`~imdx.store.library_tables.DocumentTables`)."""
        found = getattr(self._local, "documents", None)
        if found is None:
            options = "-c default_transaction_read_only=on" if self.read_only else None
            con = psycopg.connect(self.url, autocommit=True, options=options)
            with self._lock:
                self._connections.append(con)
            found = self._local.documents = _DuckLike(con)
        return found

    def _begin_read(self, con) -> None:
        """A snapshot for the statements of one read (PostgreSQL's default gives each statement its own)."""
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _begin_write(self, con) -> None:
        """Every process writing this database waits for the one writing (as releases do)."""
        con.execute("BEGIN")
        con.execute("SELECT pg_advisory_xact_lock(%s)", [pg_schema.WRITE_LOCK])

    def close(self) -> None:
        self.pool.close()
        with self._lock:
            for con in self._connections:
                con.close()
        self._admin.close()

    def _create_obs_table(self, con, flow: Dataflow) -> None:
        table = coded_table(flow.id)
        dims = sql.SQL(", ").join(sql.SQL("{} integer").format(_ident(d)) for d in flow.dimension_names[:-1])
        con.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (release_id integer NOT NULL, {}, year smallint, value double precision, "
            "obs_status integer, definition integer, note integer, cell_file integer, cell_sheet integer, "
            "cell_row integer, cell_column integer, current boolean NOT NULL DEFAULT false)").format(
            _ident(table), dims))

    def _create_indexes(self, con, flow: Dataflow) -> None:
        """The indexes of a coded table: its release, year and area dimensions (the filters queries use).
        Made after the first release's rows are copied in (building an index at once is several times
        cheaper than growing it row by row); later releases grow them."""
        table = coded_table(flow.id)
        for column in ["release_id", "year"] + [d.name for d in flow.dimensions if d.is_area]:
            con.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                _ident(f"{table}_{column}"[:63]), _ident(table), _ident(column)))

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
                    if set(self.dataflow(f).dimension_names) <= tables.get(coded_table(f), set())]
        return self._kept("servable", read)

    # -- writing ------------------------------------------------------------------------------
    def has_release(self, release: ReleaseRecord) -> bool:
        return bool(self._rows("SELECT count(*) FROM release WHERE source = %s AND key = %s AND fingerprint = %s",
                               [release.source, release.key, release.fingerprint])[0][0])

    def labels(self, con=None) -> Labels:
        """The label table, as committed now (one copy per store, shared by the threads reading it)."""
        with self._lock:
            if self._labels is None:
                self._labels = Labels([])
        if con is not None:
            return self._labels.refresh(con)
        with self._read() as reader:
            return self._labels.refresh(reader)

    def write_release(self, release, observations, report, areas, definitions=()) -> int:
        if self.read_only:
            raise StoreError(f"{self.describe()} was opened read-only")
        con = self._admin
        brought = {flow.id: flow for flow in definitions}
        written = []
        try:
            with con.transaction():
                con.execute("SELECT pg_advisory_xact_lock(%s)", [pg_schema.WRITE_LOCK])  # one writer at a time
                labels = self.labels(con)  # as this transaction sees it, after the lock
                for flow in definitions:
                    if flow.id in dataflows.DATAFLOWS:
                        raise StoreError(f"a release cannot redefine imdx's own dataflow {flow.id!r}")
                    if not _valid_id(flow.id):
                        raise StoreError(f"dataflow id {flow.id!r} must be lower-case letters, digits and '_'")
                    con.execute("INSERT INTO dataflow_definition VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                                "SET definition = excluded.definition", [flow.id, json.dumps(dataflows.to_dict(flow))])
                    self._create_obs_table(con, flow)
                release_id = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM release").fetchall()[0][0]
                con.execute("INSERT INTO release VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                            [release_id, release.source, release.key, release.title, release.edition,
                             release.published, release.licence, release.fingerprint,
                             datetime.now(UTC).replace(tzinfo=None)])
                with con.cursor().copy("COPY release_file FROM STDIN") as copy:
                    for f in release.files:
                        copy.write_row([release_id, f.name, f.url, f.sha256, f.size, f.retrieved_from,
                                        f.retrieved_at])
                for flow_id, frame in observations.items():
                    flow = brought.get(flow_id) or self.dataflow(flow_id)
                    self._copy_observations(con, flow, release_id, frame, labels)
                    self._create_indexes(con, flow)
                    con.execute("INSERT INTO release_dataflow VALUES (%s, %s, %s)", [release_id, flow_id, len(frame)])
                    self._mark_current(con, flow, release_id, release.source)
                    written.append(coded_table(flow_id))
                self._copy_issues(con, release_id, report)
                merged = (areas, areas.revision)
                since = self._merged[1] if self._merged is not None and self._merged[0] is areas else (0, 0, 0)
                changed = since != merged[1]
                if changed:  # only what was added since the last write of these areas: they only grow
                    self._merge_areas(con, areas.changes_since(since))
                added = labels.added()
                with con.cursor().copy("COPY label (id, text) FROM STDIN") as copy:
                    for i, text in zip(added["id"].to_pylist(), added["text"].to_pylist()):
                        copy.write_row([i, text])
        except BaseException:
            if self._labels is not None:
                self._labels.rollback()
            raise
        labels.commit()
        if changed:
            self._merged = merged
        self._cache.clear()
        for table in written:  # the planner's statistics, for the queries that follow
            con.execute(sql.SQL("ANALYZE {}").format(_ident(table)))
        return release_id

    def _copy_observations(self, con, flow: Dataflow, release_id: int, frame: pd.DataFrame, labels: Labels) -> None:
        cols, text = flow.dimension_names + ["value"] + ATTRIBUTES, set(text_columns(flow))
        table = pa.table({c: labels.encode(frame[c]) if c in text else pa.array(frame[c]) for c in cols})
        table = table.append_column("release_id", pa.repeat(pa.scalar(release_id, pa.int32()), len(table)))
        table = table.append_column("current", pa.repeat(pa.scalar(True), len(table)))
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            _ident(coded_table(flow.id)), sql.SQL(", ").join(_ident(c) for c in table.column_names))
        with con.cursor().copy(statement) as copy:
            view = sink.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start:start + (1 << 20)])

    def _copy_issues(self, con, release_id: int, report) -> None:
        frame = report.to_frame()
        if frame.empty:
            return
        columns = ["type", "severity", "source", "dataflow", "file", "sheet", "row", "column", "area", "message",
                   "n_obs"]
        whole = {"row", "n_obs"}  # whole numbers (pandas makes them floats where some are missing)
        rows = [[None if _missing(v) else int(v) if c in whole else str(v) for c, v in zip(columns, row)]
                for row in frame[columns].itertuples(index=False)]
        statement = sql.SQL("COPY issue (release_id, {}) FROM STDIN").format(
            sql.SQL(", ").join(_ident(c) for c in columns))
        with con.cursor().copy(statement) as copy:
            for row in rows:
                copy.write_row([release_id, *row])

    def _mark_current(self, con, flow: Dataflow, release_id: int, source: str) -> None:
        """Keep ``current`` true for exactly one observation per key and source (the rule of
        :mod:`imdx.store.base`): the new release's rows were written as current; here they and the rows
        they supersede are corrected."""
        table = _ident(coded_table(flow.id))
        [(older, newer)] = con.execute(f"""
            SELECT count(*) FILTER (WHERE {_RANK} < (n.published, n.edition COLLATE "C", n.release_id)),
                   count(*) FILTER (WHERE {_RANK} > (n.published, n.edition COLLATE "C", n.release_id))
            FROM release r, release n
            WHERE n.release_id = %s AND r.source = %s AND r.release_id <> n.release_id
              AND r.release_id IN (SELECT release_id FROM release_dataflow WHERE dataflow = %s)""",
                                   [release_id, source, flow.id]).fetchall()
        # keys compared so that the planner can hash them (ids and years are never negative)
        same = sql.SQL(" AND ").join(sql.SQL("coalesce(o.{d}, -1) = coalesce(n.{d}, -1)").format(d=_ident(d))
                                     for d in flow.dimension_names)
        params = {"new": release_id, "source": source}

        def ranked(op: str) -> sql.Composable:  # the releases of the source ranked below (<) or above (>) the new one
            return sql.SQL(f"""SELECT r.release_id FROM release r, release x WHERE x.release_id = %(new)s
                               AND r.source = %(source)s AND {_RANK} {op} (x.published, x.edition COLLATE "C",
                               x.release_id)""")

        if older or newer:  # the new rows are not in the planner's statistics yet: it would loop over them
            con.execute("SET LOCAL enable_nestloop = off")
        if older:  # the new release supersedes the older releases' values of the keys it holds
            con.execute(sql.SQL("UPDATE {t} o SET current = FALSE FROM {t} n WHERE n.release_id = %(new)s "
                                "AND o.current AND {same} AND o.release_id IN ({older})").format(
                t=table, same=same, older=ranked("<")), params)
        if newer:  # a release published later already holds some of these keys (an old edition loaded late)
            con.execute(sql.SQL("UPDATE {t} n SET current = FALSE FROM {t} o WHERE n.release_id = %(new)s "
                                "AND {same} AND o.release_id IN ({newer})").format(
                t=table, same=same, newer=ranked(">")), params)

    def _merge_areas(self, con, changes: AreaChanges) -> None:
        if len(changes.areas):
            flags = {"ldc", "lldc", "sids"}
            rows = [[None if _missing(v) else bool(v) if c in flags else str(v) for c, v in zip(AREA_COLUMNS, row)]
                    for row in changes.areas[AREA_COLUMNS].itertuples(index=False)]
            names = sql.SQL(", ").join(_ident(c) for c in AREA_COLUMNS)
            con.execute("CREATE TEMP TABLE _areas (LIKE area) ON COMMIT DROP")
            with con.cursor().copy(sql.SQL("COPY _areas ({}) FROM STDIN").format(names)) as copy:
                for row in rows:
                    copy.write_row(row)
            con.execute("INSERT INTO area SELECT * FROM _areas ON CONFLICT (code) DO NOTHING")
        income = changes.wb_income.dropna()
        if len(income):
            con.execute("CREATE TEMP TABLE _income (code text, wb_income text) ON COMMIT DROP")
            with con.cursor().copy("COPY _income FROM STDIN") as copy:
                for code, group in income.items():
                    copy.write_row([str(code), str(group)])
            con.execute("UPDATE area SET wb_income = n.wb_income FROM _income n "
                        "WHERE area.code = n.code AND area.wb_income IS NULL")
        if changes.aliases:
            con.execute("CREATE TEMP TABLE _aliases (code text, system text, alias text) ON COMMIT DROP")
            with con.cursor().copy("COPY _aliases FROM STDIN") as copy:
                for alias in changes.aliases:
                    copy.write_row([str(v) for v in alias])
            con.execute("INSERT INTO area_alias SELECT DISTINCT code, system, alias FROM _aliases "
                        "ON CONFLICT DO NOTHING")

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
            f'ORDER BY dataflow COLLATE "C", {_RANK}')))
        if dataflow is not None:
            frame = frame[frame["dataflow"] == dataflow]
        return frame.reset_index(drop=True)

    def areas(self) -> Areas | None:
        def read():
            frame = self._df("SELECT * FROM area")
            if frame.empty:
                return None
            return Areas(frame, self._df("SELECT code, system, alias FROM area_alias"))
        return self._kept("areas", read)

    def issues(self, *, source=None, area=None) -> pd.DataFrame:
        where, params = [], []
        for column, value in (("source", source), ("area", area)):
            if value:
                where.append(f"{column} = %s")
                params.append(value)
        frame = self._df(f"SELECT * FROM issue WHERE {' AND '.join(where) or 'TRUE'} ORDER BY release_id, "
                         'severity COLLATE "C", type COLLATE "C", file COLLATE "C", "row", sheet COLLATE "C", '
                         '"column" COLLATE "C", area COLLATE "C", message COLLATE "C", dataflow COLLATE "C", n_obs',
                         params)
        return typed(frame, "issues")

    def _release_names(self, ids: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
        """The source and edition of each release id (read again when one is newer than what is kept)."""
        def read():
            rows = self._rows("SELECT release_id, source, edition FROM release ORDER BY release_id")
            size = (rows[-1][0] + 1) if rows else 1
            sources, editions = [None] * size, [None] * size
            for release_id, source, edition in rows:
                sources[release_id], editions[release_id] = source, edition
            return pa.array(sources, pa.string()), pa.array(editions, pa.string())
        names = self._kept("release names", read)
        top = pc.max(ids).as_py() if len(ids) else None
        if top is not None and top >= len(names[0]):
            self._cache.pop("release names", None)
            names = self._kept("release names", read)
        return pc.take(names[0], ids), pc.take(names[1], ids)

    def select(self, dataflow, filters, *, edition=None, source=None, as_of=None, columns=None) -> pa.Table:
        flow = self.dataflow(dataflow)
        if dataflow not in self.servable_dataflows():
            raise QueryError(f"has no stored observations in {self.describe()}; load its source first",
                             kind="not-loaded", parameter="dataflow", value=dataflow)
        dims = flow.dimension_names
        wanted = result_columns(flow, columns)
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
                params.append([str(v) for v in values])
        releases = []
        for column, value, op in (("edition", edition, "="), ("source", source, "="), ("published", as_of, "<=")):
            if value is not None:
                releases.append(sql.SQL("{} {} %s").format(_ident(column), sql.SQL(op)))
                params.append(value)
        if releases:
            where.append(sql.SQL("o.release_id IN (SELECT release_id FROM release WHERE {})").format(
                sql.SQL(" AND ").join(releases)))
        stored = [c for c in ["value"] + ATTRIBUTES if c in wanted]
        picks = sql.SQL(", ").join(sql.SQL("o.{}").format(_ident(c)) for c in dims + stored + ["release_id"])
        condition = sql.SQL(" AND ").join(where) if where else sql.SQL("TRUE")
        table = _ident(coded_table(dataflow))
        if edition is None and as_of is None:  # the current values, marked at load time
            query = sql.SQL("SELECT {} FROM {} o WHERE o.current AND {}").format(picks, table, condition)
        else:  # the rule applied to the releases chosen
            keys = sql.SQL(", ").join(sql.SQL("o.{}").format(_ident(d)) for d in dims)
            query = sql.SQL(f"""SELECT {{picks}} FROM (SELECT o.*, row_number() OVER (PARTITION BY r.source, {{keys}}
                                 ORDER BY {_RANK} DESC) AS n FROM {{table}} o JOIN release r USING (release_id)
                                 WHERE {{condition}}) o WHERE n = 1""").format(
                picks=picks, keys=keys, table=table, condition=condition)
        coded = self._copy_out(query, params, flow, dims + stored + ["release_id"])
        labels = self.labels()  # read after the rows: every id they hold is committed, so known now
        sources, editions = self._release_names(coded["release_id"])
        coded = coded.append_column("source", sources).append_column("edition", editions)
        return result_table(flow, coded, wanted, labels, self.areas())

    def _copy_out(self, query: sql.Composable, params: list, flow: Dataflow, columns: list[str]) -> pa.Table:
        """The rows of ``query`` as an Arrow table of ``columns`` (ids, years, values), read by COPY."""
        types = {c: pa.int32() for c in columns} | {"year": pa.int16(), "value": pa.float64()}
        types = {c: types[c] for c in columns}
        buffer = io.BytesIO()
        with self._read() as con, con.cursor() as cur:
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
            with cur.copy(statement, params) as copy:
                for chunk in copy:
                    buffer.write(chunk)
        if buffer.tell() == 0:
            return pa.table({c: pa.array([], t) for c, t in types.items()})
        buffer.seek(0)
        return pacsv.read_csv(buffer, read_options=pacsv.ReadOptions(column_names=columns),
                              convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""],
                                                                   strings_can_be_null=True))

    def distinct(self, dataflow, dimension) -> list:
        flow = self.dataflow(dataflow)
        if dimension not in flow.dimension_names:
            raise flow.unknown_dimension(dimension)
        if dataflow not in self.servable_dataflows():
            return []
        rows = self._rows(sql.SQL("SELECT DISTINCT {} FROM {}").format(_ident(dimension),
                                                                        _ident(coded_table(dataflow))))
        values = [r[0] for r in rows]
        if dimension != "year":
            values = self.labels().decode(pa.array(values, pa.int32())).to_pylist()
        return sorted(values, key=lambda v: (v is None, v))


def _valid_id(flow_id: str) -> bool:
    import re

    return re.fullmatch(r"[a-z][a-z0-9_]{0,62}", flow_id) is not None


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
