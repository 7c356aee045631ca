"""The default backend: one embedded DuckDB file (``imdx.duckdb``).

One table per dataflow (``coded_<dataflow>``: ``release_id``, the dimensions, ``year``, ``value``, the
dataflow's measures (``lower``, ``upper``) and the attributes, text stored as the ids of
:mod:`imdx.store.labels`), with a view ``obs_<dataflow>``
that reads it as text (for people and tools exploring the file; imdx's own queries read the coded
table), and the tables ``label``, ``release``, ``release_file``, ``release_dataflow``, ``area``,
``area_alias`` and ``issue``; the research library's and the registry's tables are those of
:mod:`imdx.store.library_tables`. A release is written in one transaction; a process killed part-way
leaves the file as it was at the last commit (DuckDB's write-ahead log holds only committed work).

A DuckDB file has one writing process at a time: while ``imdx load`` writes it, ``imdx serve`` cannot
open it, and the other way round (a shared server that loads while it answers runs on PostgreSQL).
Reads from many threads go through one cursor per thread (:meth:`DuckDBStore._reader`).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from imdx.codes.areas import AREA_COLUMNS, AreaChanges, Areas
from imdx.errors import QueryError, StoreError
from imdx.model import dataflows
from imdx.model.dataflows import ATTRIBUTES, Dataflow
from imdx.store.base import (
    EDITION_COLUMNS,
    ReleaseRecord,
    Store,
    check_definition,
    editions_frame,
    notes_frame,
    result_columns,
    typed,
)
from imdx.store.current import CurrentCopy, estimated_bytes
from imdx.store.labels import LABEL_SCHEMA, Labels, coded_table, decoded, text_columns
from imdx.store.library_tables import DocumentTables
from imdx.store.reads import CodedReads

_SCHEMA = """
CREATE TABLE IF NOT EXISTS release (
  release_id INTEGER PRIMARY KEY, source VARCHAR NOT NULL, key VARCHAR NOT NULL, title VARCHAR,
  edition VARCHAR NOT NULL, published DATE NOT NULL, licence VARCHAR, fingerprint VARCHAR NOT NULL,
  loaded_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS release_file (
  release_id INTEGER, name VARCHAR, url VARCHAR, sha256 VARCHAR, size BIGINT, retrieved_from VARCHAR,
  retrieved_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS release_dataflow (release_id INTEGER, dataflow VARCHAR, n_obs BIGINT);
CREATE TABLE IF NOT EXISTS release_note (release_id INTEGER, mark VARCHAR, text VARCHAR);
CREATE TABLE IF NOT EXISTS area (code VARCHAR PRIMARY KEY, name VARCHAR, kind VARCHAR, m49 VARCHAR,
  iso3 VARCHAR, iso2 VARCHAR, region VARCHAR, subregion VARCHAR, intermediate_region VARCHAR,
  sdg_region VARCHAR, wb_income VARCHAR, un_development VARCHAR, ldc BOOLEAN, lldc BOOLEAN, sids BOOLEAN);
CREATE TABLE IF NOT EXISTS dataflow_definition (id VARCHAR PRIMARY KEY, definition JSON);
CREATE TABLE IF NOT EXISTS area_alias (code VARCHAR, system VARCHAR, alias VARCHAR);
CREATE TABLE IF NOT EXISTS issue (
  release_id INTEGER, type VARCHAR, severity VARCHAR, source VARCHAR, dataflow VARCHAR, file VARCHAR,
  sheet VARCHAR, "row" INTEGER, "column" VARCHAR, area VARCHAR, message VARCHAR, n_obs BIGINT);
"""


#: the releases, each with its ``rank`` (:data:`imdx.store.base.RANK_ORDER`)
_RANKED = "(SELECT *, row_number() OVER (ORDER BY published, edition, release_id) AS rank FROM release)"


class DuckDBStore(CodedReads, DocumentTables, Store):
    def __init__(self, path: str | Path = "imdx.duckdb", *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}; load one first with `imdx load --db {self.path}`")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as err:
            raise StoreError(f"cannot open the store {self.path}: {err}. If another imdx process is "
                             "loading into it, wait for it to finish.") from err
        self.con.execute("SET enable_progress_bar = false")
        self._check_layout()
        if not read_only:
            self.con.execute(_SCHEMA + LABEL_SCHEMA)
            for flow in dataflows.DATAFLOWS.values():
                self._create_obs_table(flow)
            self._create_document_tables()  # the research library and the coordination registry
        self._find_document_tables()
        self._owner = threading.get_ident()  # the thread that reads and writes through self.con
        self._local = threading.local()  # other threads' cursors
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one write transaction at a time (library and registry writes)
        self._labels: Labels | None = None  # see labels()
        self._labels_version: int | None = None
        self._cache: dict[str, tuple[int, object]] = {}  # what reads keep, with the version they were read at
        self._version: int | None = None  # a read-only file cannot change while it is open
        self._merged: tuple[Areas, tuple] | None = None  # the areas last written, and their revision
        self._copy_budget = 0  # see keep_current()
        self._copies: dict[str, tuple[int, CurrentCopy | None]] = {}  # by dataflow, with the version read at
        self._copy_locks: dict[str, threading.Lock] = {}

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """The connection this thread reads through: the store's own in the thread that opened it, else a
        cursor of it, one per thread (a DuckDB connection must not run two queries at once)."""
        if threading.get_ident() == self._owner:
            return self.con
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self.con.cursor()
            cursor.execute("SET enable_progress_bar = false")
            self._local.cursor = cursor
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def describe(self) -> str:
        return f"the DuckDB file {self.path}"

    def version(self) -> int:
        if self._version is not None:
            return self._version
        # two counters that only grow, read in one statement: the last release, and the number of the library's
        # and the registry's writes (none in a file written before the counter: it is open read-only)
        writes = "(SELECT coalesce(max(n), 0) FROM document_version)" if self._counted else "0"
        version = self._reader().execute(f"SELECT (SELECT coalesce(max(release_id), 0) FROM release) + {writes}"
                                         ).fetchall()[0][0]
        if self.read_only:
            self._version = version
        return version

    def _check_layout(self) -> None:
        """Refuse a store written by an imdx that kept observations as text (before label ids)."""
        old = self.con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                               "AND starts_with(table_name, 'obs_') LIMIT 1").fetchall()
        if old:
            self.con.close()
            raise StoreError(f"the store {self.path} was written by an older imdx (its table {old[0][0]} holds text, "
                             "this imdx stores label ids); load the sources again into a new file, e.g. "
                             f"`imdx load --db {self.path.with_name('imdx-new.duckdb')}`")

    def _create_obs_table(self, flow: Dataflow) -> None:
        dims = ", ".join(f'"{d}" INTEGER' for d in flow.dimension_names[:-1])
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {coded_table(flow.id)} (release_id INTEGER, {dims}, "
            "year SMALLINT, value DOUBLE, obs_status INTEGER, definition INTEGER, note INTEGER, "
            "cell_file INTEGER, cell_sheet INTEGER, cell_row INTEGER, cell_column INTEGER, "
            "current BOOLEAN DEFAULT FALSE)")
        for measure in flow.measures:  # an interval beside the value (estimates); added to older stores too
            self.con.execute(f'ALTER TABLE {coded_table(flow.id)} ADD COLUMN IF NOT EXISTS "{measure}" DOUBLE')
        self.con.execute(f"CREATE VIEW IF NOT EXISTS obs_{flow.id} AS "
                         + decoded(f"SELECT * FROM {coded_table(flow.id)}", text_columns(flow)))

    def _mark_current(self, flow: Dataflow, release_id: int, source: str) -> None:
        """Keep ``current`` true for exactly one observation per key and source: the one from the most
        recently published release (ties: the later edition, then the later load). The new release's
        rows were inserted as current; here they and the rows they supersede are corrected."""
        table = coded_table(flow.id)
        rank = "(r.published, r.edition, r.release_id)"
        others = self.con.execute(f"""
            SELECT count(*) FILTER (WHERE {rank} < (n.published, n.edition, n.release_id)),
                   count(*) FILTER (WHERE {rank} > (n.published, n.edition, n.release_id))
            FROM release r, release n
            WHERE n.release_id = ? AND r.source = ? AND r.release_id <> n.release_id
              AND r.release_id IN (SELECT release_id FROM release_dataflow WHERE dataflow = ?)""",
                                  [release_id, source, flow.id]).fetchall()[0]
        older, newer = others
        same = " AND ".join(f'o."{d}" IS NOT DISTINCT FROM n."{d}"' for d in flow.dimension_names)
        if older:  # the new release supersedes the older releases' values of the keys it holds
            self.con.execute(f"""
                UPDATE {table} o SET current = FALSE
                FROM (SELECT * FROM {table} WHERE release_id = ?) n
                WHERE o.current AND {same} AND o.release_id IN (
                    SELECT r.release_id FROM release r, release x WHERE x.release_id = ? AND r.source = ?
                      AND {rank} < (x.published, x.edition, x.release_id))""", [release_id, release_id, source])
        if newer:  # a release published later already holds some of these keys (an old edition loaded late)
            self.con.execute(f"""
                UPDATE {table} n SET current = FALSE
                FROM (SELECT * FROM {table} WHERE release_id IN (
                    SELECT r.release_id FROM release r, release x WHERE x.release_id = ? AND r.source = ?
                      AND {rank} > (x.published, x.edition, x.release_id))) o
                WHERE n.release_id = ? AND {same}""", [release_id, source, release_id])

    def dataflow(self, dataflow_id: str) -> Dataflow:
        if dataflow_id in dataflows.DATAFLOWS:
            return dataflows.DATAFLOWS[dataflow_id]
        stored = self._definitions()
        if dataflow_id not in stored:
            raise dataflows.unknown_dataflow(dataflow_id, self.dataflow_ids())
        return stored[dataflow_id]

    def _definitions(self) -> dict[str, Dataflow]:
        def read():
            rows = self._reader().execute("SELECT id, definition FROM dataflow_definition ORDER BY id").fetchall()
            return {i: dataflows.from_dict(json.loads(d)) for i, d in rows}
        return self._kept("definitions", read)

    def dataflow_ids(self) -> list[str]:
        return sorted(dataflows.DATAFLOWS) + [i for i in self._definitions() if i not in dataflows.DATAFLOWS]

    def servable_dataflows(self) -> list[str]:
        def read():
            rows = self._reader().execute(
                "SELECT table_name, list(column_name) FROM information_schema.columns "
                "WHERE starts_with(table_name, 'coded_') GROUP BY table_name").fetchall()
            tables = {t: set(c) for t, c in rows}
            return [f for f in self.dataflow_ids()
                    if set(self.dataflow(f).dimension_names + list(self.dataflow(f).measures))
                    <= tables.get(coded_table(f), set())]
        return self._kept("servable", read)

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self.con.close()

    # -- writing ------------------------------------------------------------------------------
    def has_release(self, release: ReleaseRecord) -> bool:
        row = self._reader().execute("SELECT count(*) FROM release WHERE source = ? AND key = ? AND fingerprint = ?",
                               [release.source, release.key, release.fingerprint]).fetchall()[0]
        return row[0] > 0

    def write_release(self, release, observations, report, areas, definitions=()) -> int:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for flow in definitions:
                check_definition(flow)
                con.execute("INSERT OR REPLACE INTO dataflow_definition VALUES (?, ?)",
                            [flow.id, json.dumps(dataflows.to_dict(flow))])
                self._create_obs_table(flow)
            release_id = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM release").fetchall()[0][0]
            con.execute("INSERT INTO release VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [release_id, release.source, release.key, release.title, release.edition,
                         release.published, release.licence, release.fingerprint,
                         datetime.now(UTC).replace(tzinfo=None)])
            for f in release.files:
                con.execute("INSERT INTO release_file VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [release_id, f.name, f.url, f.sha256, f.size, f.retrieved_from, f.retrieved_at])
            if release.notes:
                con.executemany("INSERT INTO release_note VALUES (?, ?, ?)",
                                [[release_id, mark, text] for mark, text in release.notes.items()])
            labels = self.labels()  # as this transaction sees it
            brought = {flow.id: flow for flow in definitions}
            for flow_id, frame in observations.items():
                flow = brought.get(flow_id) or self.dataflow(flow_id)
                cols = flow.dimension_names + ["value", *flow.measures] + ATTRIBUTES
                text = set(text_columns(flow))
                table = pa.table({c: labels.encode(frame[c]) if c in text else pa.array(frame[c]) for c in cols})
                con.register("_incoming", table)
                quoted = ", ".join(f'"{c}"' for c in cols)
                con.execute(f"INSERT INTO {coded_table(flow_id)} (release_id, {quoted}, current) "
                            f"SELECT {release_id}, {quoted}, TRUE FROM _incoming")
                con.unregister("_incoming")
                con.execute("INSERT INTO release_dataflow VALUES (?, ?, ?)", [release_id, flow_id, len(frame)])
                self._mark_current(flow, release_id, release.source)
            issues = report.to_frame()
            if len(issues):
                issues.insert(0, "release_id", release_id)
                con.register("_issues", issues)
                con.execute("INSERT INTO issue SELECT release_id, type, severity, source, dataflow, file, sheet, "
                            '"row", "column", area, message, n_obs FROM _issues')
                con.unregister("_issues")
            merged = (areas, areas.revision)
            since = self._merged[1] if self._merged is not None and self._merged[0] is areas else (0, 0, 0)
            changed = since != merged[1]
            if changed:  # only what was added since the last write of these areas: they only grow
                self._merge_areas(areas.changes_since(since))
            con.register("_labels", labels.added())
            con.execute("INSERT INTO label SELECT id, text FROM _labels")
            con.unregister("_labels")
            con.execute("COMMIT")
            labels.commit()
        except BaseException:
            con.execute("ROLLBACK")
            if self._labels is not None:
                self._labels.rollback()
            raise
        if changed:
            self._merged = merged
        self._cache.clear()
        return release_id

    def share_cpus(self, taken: int) -> None:
        """DuckDB's own threads would only contend with the workers (measured: one thread is faster)."""
        if taken != getattr(self, "_taken", 0):
            self.con.execute(f"SET threads = {max(1, (os.cpu_count() or 1) - taken)}" if taken else "RESET threads")
            self._taken = taken

    def _merge_areas(self, changes: AreaChanges) -> None:
        if len(changes.areas):
            table = changes.areas[AREA_COLUMNS].astype(object)
            table = table.where(table.notna(), None)
            for col in ("ldc", "lldc", "sids"):
                table[col] = table[col].map(lambda v: None if v is None else bool(v))
            self.con.register("_areas", table)
            self.con.execute("INSERT INTO area SELECT * FROM _areas WHERE code NOT IN (SELECT code FROM area)")
            self.con.unregister("_areas")
        income = changes.wb_income.rename("wb_income").rename_axis("code").reset_index()
        self.con.register("_income", income)
        self.con.execute("UPDATE area SET wb_income = n.wb_income FROM _income n "
                         "WHERE area.code = n.code AND area.wb_income IS NULL")
        self.con.unregister("_income")
        if changes.aliases:
            self.con.register("_aliases", pd.DataFrame(changes.aliases, columns=["code", "system", "alias"]))
            self.con.execute("INSERT INTO area_alias SELECT DISTINCT a.code, a.system, a.alias FROM _aliases a "
                             "WHERE NOT EXISTS (SELECT 1 FROM area_alias b WHERE b.code = a.code AND "
                             "b.system = a.system AND b.alias = a.alias)")
            self.con.unregister("_aliases")

    # -- reading ------------------------------------------------------------------------------
    def _df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self._reader().execute(sql, params or []).df()

    def releases(self) -> pd.DataFrame:
        return self._df("""
            SELECT r.release_id, r.source, r.key, r.title, r.edition, r.published, r.loaded_at, r.licence,
                   r.fingerprint,
                   (SELECT string_agg(dataflow || ' (' || n_obs || ')', ', ' ORDER BY dataflow)
                      FROM release_dataflow d WHERE d.release_id = r.release_id) AS dataflows,
                   (SELECT coalesce(sum(n_obs), 0) FROM release_dataflow d WHERE d.release_id = r.release_id) AS n_obs,
                   (SELECT string_agg(name || ' sha256:' || sha256, '; ' ORDER BY name)
                      FROM release_file f WHERE f.release_id = r.release_id) AS files
            FROM release r ORDER BY r.source, r.published, r.release_id""").pipe(typed, "releases")

    def release_files(self) -> pd.DataFrame:
        return typed(self._df("SELECT * FROM release_file ORDER BY release_id, name"), "release_files")

    def editions(self, dataflow: str | None = None) -> pd.DataFrame:
        frame = self._kept("editions", lambda: editions_frame(self._df(
            f"SELECT {', '.join(EDITION_COLUMNS)} FROM release_dataflow JOIN {_RANKED} USING (release_id) "
            "ORDER BY dataflow, rank")))
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

    def notes(self) -> pd.DataFrame:
        exists = self._reader().execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'release_note'")
        if not exists.fetchall()[0][0]:  # a store written before footnotes were kept
            return notes_frame()
        return notes_frame(self._reader().execute(
            "SELECT release_id, mark, text FROM release_note ORDER BY release_id, mark").df())

    def issues(self, *, source=None, area=None) -> pd.DataFrame:
        where, params = [], []
        if source:
            where.append("source = ?")
            params.append(source)
        if area:
            where.append("area = ?")
            params.append(area)
        return typed(self._df(f"SELECT * FROM issue WHERE {' AND '.join(where) or 'TRUE'} "
                              'ORDER BY release_id, severity, type, file, "row", sheet, "column", area, message, '
                              'dataflow, n_obs', params), "issues")

    def select(self, dataflow, filters, *, edition=None, source=None, as_of=None, columns=None) -> pa.Table:
        flow = self.dataflow(dataflow)
        if dataflow not in self.servable_dataflows():
            raise QueryError(f"has no stored observations in {self.describe()}; load its source first (or load "
                             "the store again with this version of imdx)", kind="not-loaded", parameter="dataflow",
                             value=dataflow)
        dims = flow.dimension_names
        wanted = result_columns(flow, columns)
        labels = self.labels()
        ids = self._stored_filters(flow, filters, labels)
        copy = self._current_copy(flow) if edition is None and as_of is None else None
        if copy is not None:  # the current values, from their copy in memory
            coded = copy.select(ids, None if source is None else self._release_table().ids_of(source))
            return self._decoded(flow, coded, wanted, labels)
        where = [f'o."{dim}" IN ({", ".join("?" for _ in values)})' if values else "FALSE"
                 for dim, values in ids.items()]
        params: list = [v for values in ids.values() for v in values]
        stored = [c for c in ["value", *flow.measures] + ATTRIBUTES if c in wanted]
        picks = ", ".join([f'o."{c}"' for c in dims + stored] + ["o.release_id"])
        if edition is None and as_of is None:  # the current values, marked at load time: no join needed
            where.append("o.current")
            if source is not None:
                released = self._release_table().ids_of(source)
                where.append(f"o.release_id IN ({', '.join(map(str, released))})" if released else "FALSE")
            sql = f"SELECT {picks} FROM {coded_table(dataflow)} o WHERE {' AND '.join(where)}"
        else:  # the rule applied to the releases of an edition, or published by a date
            for column, value, op in (("edition", edition, "="), ("source", source, "="),
                                      ("published", as_of, "<=")):
                if value is not None:
                    where.append(f"r.{column} {op} ?")
                    params.append(value)
            sql = (f"SELECT {picks} FROM {coded_table(dataflow)} o JOIN {_RANKED} r USING (release_id) "
                   f"WHERE {' AND '.join(where)} QUALIFY row_number() OVER (PARTITION BY r.source, "
                   f"{', '.join(f'o.{d}' for d in dims)} ORDER BY r.rank DESC) = 1")
        coded = self._reader().sql(sql, params=params).to_arrow_table()
        return self._decoded(flow, self._ordered(flow, coded, labels), wanted, labels)

    def _read_current(self, flow: Dataflow, budget: int) -> tuple[int, pa.Table | None]:
        table, dims = coded_table(flow.id), flow.dimension_names
        version = self.version()
        rows = self._reader().execute(f"SELECT count(*) FROM {table} WHERE current").fetchall()[0][0]
        if estimated_bytes(rows, len(dims), len(flow.measures)) > budget:
            return version, None
        picks = ", ".join(f'"{c}"' for c in [*dims, "value", *flow.measures, *ATTRIBUTES, "release_id"])
        return version, self._reader().sql(f"SELECT {picks} FROM {table} WHERE current").to_arrow_table()

    def distinct(self, dataflow, dimension) -> list:
        flow = self.dataflow(dataflow)
        if dimension not in flow.dimension_names:
            raise flow.unknown_dimension(dimension)
        if dataflow not in self.servable_dataflows():
            return []

        def read():
            values = self._reader().sql(f'SELECT DISTINCT "{dimension}" AS v FROM {coded_table(dataflow)}') \
                .to_arrow_table()["v"]
            if dimension != "year":
                values = self.labels().decode(values)
            return sorted(values.to_pylist(), key=lambda v: (v is None, v))
        return list(self._kept(f"distinct {dataflow} {dimension}", read))

    def labels(self) -> Labels:
        """The label table, as committed now (one copy per store, shared by the threads reading it); read again
        only when :meth:`version` moved (a read-only file: once)."""
        version = self.version()
        labels = self._labels
        if labels is not None and self._labels_version == version:
            return labels
        reader = self._reader()  # before the lock: a thread's first read takes it to register its cursor
        with self._lock:
            if self._labels is None:
                self._labels = Labels([])
            self._labels.refresh(reader)
            self._labels_version = version
            return self._labels
