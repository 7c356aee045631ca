"""The research library's and the coordination registry's tables (a mixin of both backends,
:class:`imdx.store.duckdb_store.DuckDBStore` and :class:`imdx.store.postgres.PostgresStore`; the methods are
documented on :class:`imdx.store.base.Store`).

As the statistics: reads go through the calling thread's own cursor (``_reader``), a read of several
queries runs in one transaction (one consistent state while a write commits: ``_begin_read``); writes run one
at a time (``_write_lock`` in this process, ``_begin_write`` across processes where the backend has several
writers), each in one transaction, and count themselves in ``document_version`` so that
:meth:`~imdx.store.base.Store.version` changes (an audit row alone, a refusal, does not). The statements are
DuckDB's (``?`` parameters, frames registered as tables); the PostgreSQL backend's ``_reader`` speaks them
to psycopg.

Plain SQL types only, so that the PostgreSQL backend can create the same tables::

  library_record (record_id, body, updated_at)           -- body: the record as JSON text
  library_link   (record_id, rel, target)                -- what a record is about: area, gcm, dataflow, ...
  library_source (record_id, import_id, source, source_key, file, sha256, location)   -- provenance
  library_import (import_id, format, file, sha256, size, imported_at, actor, n_read, n_new, n_merged)
  library_issue  (import_id, and the fields of imdx.model.report.Issue)
  registry_entry (kind, entry_id, owner, body, version, updated_at, updated_by)
  registry_link  (kind, entry_id, rel, target)
  registry_audit (seq, logged_at, actor, organisation, action, kind, entry_id, outcome, before_body, after_body, detail)
  document_version (n)                                   -- one row: the number of library and registry writes
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from imdx.errors import StoreError
from imdx.model.report import Report
from imdx.store.documents import (
    AuditRow,
    LibraryImport,
    RecordSource,
    RegistryChange,
    StoredEntry,
    StoredRecord,
    VersionConflict,
)

DOCUMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS library_record (record_id VARCHAR PRIMARY KEY, body VARCHAR NOT NULL,
  updated_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS library_link (record_id VARCHAR NOT NULL, rel VARCHAR NOT NULL, target VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS library_source (record_id VARCHAR NOT NULL, import_id INTEGER NOT NULL, source VARCHAR,
  source_key VARCHAR, file VARCHAR, sha256 VARCHAR, location VARCHAR);
CREATE TABLE IF NOT EXISTS library_import (import_id INTEGER PRIMARY KEY, format VARCHAR, file VARCHAR,
  sha256 VARCHAR, size BIGINT, imported_at TIMESTAMP, actor VARCHAR, n_read INTEGER, n_new INTEGER,
  n_merged INTEGER);
CREATE TABLE IF NOT EXISTS library_issue (import_id INTEGER, type VARCHAR, severity VARCHAR, source VARCHAR,
  dataflow VARCHAR, file VARCHAR, sheet VARCHAR, "row" INTEGER, "column" VARCHAR, area VARCHAR, message VARCHAR,
  n_obs BIGINT);
CREATE TABLE IF NOT EXISTS registry_entry (kind VARCHAR NOT NULL, entry_id VARCHAR NOT NULL, owner VARCHAR,
  body VARCHAR NOT NULL, version INTEGER NOT NULL, updated_at TIMESTAMP NOT NULL, updated_by VARCHAR,
  PRIMARY KEY (kind, entry_id));
CREATE TABLE IF NOT EXISTS registry_link (kind VARCHAR NOT NULL, entry_id VARCHAR NOT NULL, rel VARCHAR NOT NULL,
  target VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS registry_audit (seq BIGINT PRIMARY KEY, logged_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
  organisation VARCHAR, action VARCHAR NOT NULL, kind VARCHAR, entry_id VARCHAR, outcome VARCHAR,
  before_body VARCHAR, after_body VARCHAR, detail VARCHAR);
CREATE TABLE IF NOT EXISTS document_version (n BIGINT NOT NULL);
INSERT INTO document_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM document_version);
"""


AUDIT_COLUMNS = ["seq", "logged_at", "actor", "organisation", "action", "kind", "entry_id", "outcome", "before_body",
                 "after_body", "detail"]


def _held(*texts: str | None) -> bool:
    """Whether a store can hold these texts: none has a NUL character (PostgreSQL cannot store one, and the
    library's and the registry's doors remove control characters). A read filtered on a text no store holds
    answers nothing, on every backend (on PostgreSQL the statement would fail)."""
    return not any(t is not None and "\x00" in t for t in texts)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dumps(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class DocumentTables:
    """Library and registry reads and writes for :class:`~imdx.store.duckdb_store.DuckDBStore` (its
    ``con``, ``read_only``, ``_reader()`` and ``_write_lock``)."""

    con: duckdb.DuckDBPyConnection
    read_only: bool
    _write_lock: threading.Lock
    _documents: bool  # the tables exist (a file written before them, opened read-only, lacks them)
    _counted: bool  # document_version exists (a file written before it, opened read-only, lacks it)

    def _reader(self) -> Any:
        """This thread's connection: DuckDB's, or one that speaks DuckDB's dialect (``?`` parameters,
        ``register``, ``.df()``) to another engine."""
        raise NotImplementedError

    def _create_document_tables(self) -> None:
        self.con.execute(DOCUMENT_SCHEMA)

    def _find_document_tables(self) -> None:
        tables = {t for (t,) in self.con.execute("SELECT table_name FROM information_schema.tables WHERE table_name "
                                                 "IN ('library_record', 'document_version')").fetchall()}
        self._documents, self._counted = "library_record" in tables, "document_version" in tables

    def is_read_only(self) -> bool:
        return self.read_only

    def _begin_read(self, con) -> None:
        """Start a transaction whose queries all see one state of the store."""
        con.execute("BEGIN TRANSACTION")

    def _begin_write(self, con) -> None:
        """Start a write transaction (DuckDB: one writing process, serialised in it by ``_write_lock``)."""
        con.execute("BEGIN TRANSACTION")

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        """This thread's cursor, in a transaction: the queries of one read see one state of the store."""
        con = self._reader()
        self._begin_read(con)
        try:
            yield con
        finally:
            con.execute("COMMIT")

    def _transaction(self, write, *, counted: bool = True):
        """``write(con)`` in one transaction of this thread's cursor, one write at a time; ``counted``: a
        change of what is answered (:meth:`version` changes), not an audit row alone."""
        if self.read_only:
            raise StoreError("the store is open read-only, so the library and the registry cannot change: open it "
                             "with imdx.store.connect(target, read_only=False) (`imdx serve --registry-edits` does)")
        with self._write_lock:
            con = self._reader()
            self._begin_write(con)
            try:
                result = write(con)
                if counted:
                    con.execute("UPDATE document_version SET n = n + 1")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return result

    # -- library -------------------------------------------------------------------------------
    def write_library(self, records: list[StoredRecord], import_: LibraryImport, report: Report) -> int:
        twice = sorted(i for i, n in Counter(r.record_id for r in records).items() if n > 1)
        if twice:
            raise ValueError(f"a library write names record(s) {twice[:5]} twice: merge them before writing")

        def write(con) -> int:
            import_id = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM library_import").fetchall()[0][0]
            now = _now()
            con.execute("INSERT INTO library_import VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [import_id, import_.format, import_.file, import_.sha256, import_.size, now, import_.actor,
                         import_.n_read, import_.n_new, import_.n_merged])
            if records:
                ids = pd.DataFrame({"record_id": [r.record_id for r in records]})
                con.register("_ids", ids)
                con.execute("DELETE FROM library_link WHERE record_id IN (SELECT record_id FROM _ids)")
                con.execute("DELETE FROM library_record WHERE record_id IN (SELECT record_id FROM _ids)")
                con.unregister("_ids")
                bodies = pd.DataFrame({"record_id": [r.record_id for r in records],
                                       "body": [_dumps(r.body) for r in records], "updated_at": now})
                links = pd.DataFrame([(r.record_id, rel, target) for r in records for rel, target in r.links],
                                     columns=["record_id", "rel", "target"])
                sources = pd.DataFrame([(r.record_id, import_id, s.source, s.source_key, s.file, s.sha256, s.location)
                                        for r in records for s in r.sources],
                                       columns=["record_id", "import_id", "source", "source_key", "file", "sha256",
                                                "location"])
                for name, frame, table in (("_bodies", bodies, "library_record"), ("_links", links, "library_link"),
                                           ("_sources", sources, "library_source")):
                    if len(frame):
                        con.register(name, frame)
                        con.execute(f"INSERT INTO {table} SELECT * FROM {name}")
                        con.unregister(name)
            issues = report.to_frame()
            if len(issues):
                issues.insert(0, "import_id", import_id)
                con.register("_issues", issues)
                con.execute('INSERT INTO library_issue SELECT import_id, type, severity, source, dataflow, file, '
                            'sheet, "row", "column", area, message, n_obs FROM _issues')
                con.unregister("_issues")
            return import_id

        return self._transaction(write)

    def library_records(self, record_ids: list[str] | None = None) -> list[StoredRecord]:
        if record_ids is not None:
            record_ids = [i for i in record_ids if _held(i)]
        if not self._documents:
            return []
        where, params = "", []
        if record_ids is not None:
            if not record_ids:
                return []
            where = f"WHERE record_id IN ({', '.join('?' for _ in record_ids)})"
            params = list(record_ids)
        with self._snapshot() as con:
            rows = con.execute(f"SELECT record_id, body, updated_at FROM library_record {where} ORDER BY record_id",
                               params).fetchall()
            link_rows = con.execute(f"SELECT record_id, rel, target FROM library_link {where} "
                                    "ORDER BY record_id, rel, target", params).fetchall()
            source_rows = con.execute("SELECT record_id, import_id, source, source_key, file, sha256, location "
                                      f"FROM library_source {where} ORDER BY record_id, import_id", params).fetchall()
        links: dict[str, list] = {}
        for rid, rel, target in link_rows:
            links.setdefault(rid, []).append((rel, target))
        sources: dict[str, list] = {}
        for rid, imp, src, key, file, sha, loc in source_rows:
            sources.setdefault(rid, []).append(RecordSource(src, key, file, sha, loc, imp))
        return [StoredRecord(rid, json.loads(body), links.get(rid, []), sources.get(rid, []), at)
                for rid, body, at in rows]

    def library_linked(self, rel: str, targets: list[str]) -> pd.DataFrame:
        targets = [t for t in targets if _held(t)]
        if not self._documents or not targets or not _held(rel):
            return pd.DataFrame(columns=["record_id", "target"])
        marks = ", ".join("?" for _ in targets)
        return self._reader().execute(f"SELECT DISTINCT record_id, target FROM library_link WHERE rel = ? AND "
                                      f"target IN ({marks}) ORDER BY record_id, target", [rel, *targets]).df()

    def library_link_counts(self, rel: str) -> pd.DataFrame:
        if not self._documents or not _held(rel):
            return pd.DataFrame(columns=["target", "n"])
        return self._reader().execute("SELECT target, count(DISTINCT record_id) AS n FROM library_link WHERE rel = ? "
                                "GROUP BY target ORDER BY target", [rel]).df()

    def library_imports(self) -> pd.DataFrame:
        if not self._documents:
            return pd.DataFrame()
        return self._reader().execute("SELECT * FROM library_import ORDER BY import_id").df()

    def library_issues(self, import_id: int | None = None) -> pd.DataFrame:
        if not self._documents:
            return pd.DataFrame()
        where = "WHERE import_id = ?" if import_id is not None else ""
        return self._reader().execute(f'SELECT * FROM library_issue {where} ORDER BY import_id, "row", type',
                                [] if import_id is None else [import_id]).df()

    def library_generation(self) -> str:
        if not self._documents:
            return "0:0"
        n, last = self._reader().execute("SELECT count(*), (SELECT coalesce(max(import_id), 0) FROM library_import) "
                                   "FROM library_record").fetchall()[0]
        return f"{last}:{n}"

    # -- registry ------------------------------------------------------------------------------
    def write_registry(self, changes: list[RegistryChange], audit: list[AuditRow]) -> None:
        if changes and not audit:
            raise ValueError("every registry change is audited: give write_registry its audit rows")

        def write(con) -> None:
            now = _now()
            actor = audit[0].actor if audit else None
            keys = pd.DataFrame({"kind": [c.kind for c in changes], "entry_id": [c.entry_id for c in changes]})
            if len(keys) != len(keys.drop_duplicates()):
                raise ValueError("a registry write names one entry twice")
            con.register("_keys", keys)
            versions = {(k, e): v for k, e, v in con.execute(
                "SELECT r.kind, r.entry_id, r.version FROM registry_entry r JOIN _keys k USING (kind, entry_id)"
            ).fetchall()}
            for change in changes:
                version = versions.get((change.kind, change.entry_id))
                if change.check_version and version != change.expected_version:
                    raise VersionConflict(change.kind, change.entry_id, change.expected_version, version)
            con.execute("DELETE FROM registry_link WHERE (kind, entry_id) IN (SELECT kind, entry_id FROM _keys)")
            con.execute("DELETE FROM registry_entry WHERE (kind, entry_id) IN (SELECT kind, entry_id FROM _keys)")
            con.unregister("_keys")
            kept = [c for c in changes if c.body is not None]
            entries = pd.DataFrame({
                "kind": [c.kind for c in kept], "entry_id": [c.entry_id for c in kept],
                "owner": pd.array([c.owner for c in kept], dtype=object), "body": [_dumps(c.body) for c in kept],
                "version": [versions.get((c.kind, c.entry_id), 0) + 1 for c in kept], "updated_at": now,
                "updated_by": actor})
            links = pd.DataFrame([(c.kind, c.entry_id, rel, target) for c in kept
                                  for rel, target in dict.fromkeys(c.links)],
                                 columns=["kind", "entry_id", "rel", "target"])
            for name, frame, table in (("_entries", entries, "registry_entry"), ("_links", links, "registry_link")):
                if len(frame):
                    con.register(name, frame)
                    con.execute(f"INSERT INTO {table} SELECT * FROM {name}")
                    con.unregister(name)
            self._append_audit(con, audit, now)

        self._transaction(write)

    def _append_audit(self, con, audit: list[AuditRow], now: datetime) -> None:
        if not audit:
            return
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM registry_audit").fetchall()[0][0]
        rows = [(seq + i + 1, now, a.actor, a.organisation, a.action, a.kind, a.entry_id, a.outcome,
                 _dumps(a.before), _dumps(a.after), _dumps(a.detail)) for i, a in enumerate(audit)]
        con.executemany("INSERT INTO registry_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def audit_registry(self, audit: list[AuditRow]) -> None:
        self._transaction(lambda con: self._append_audit(con, audit, _now()), counted=False)

    def registry_entries(self, kind: str | None = None, *, entry_ids: list[str] | None = None,
                         owner: str | None = None, rel: str | None = None,
                         target: str | None = None) -> list[StoredEntry]:
        if entry_ids is not None:
            entry_ids = [i for i in entry_ids if _held(i)]
        if not self._documents or not _held(kind, owner, rel, target):
            return []
        where, params = [], []
        for column, value in (("e.kind", kind), ("e.owner", owner)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if entry_ids is not None:
            if not entry_ids:
                return []
            where.append(f"e.entry_id IN ({', '.join('?' for _ in entry_ids)})")
            params.extend(entry_ids)
        if rel is not None:
            where.append("EXISTS (SELECT 1 FROM registry_link l WHERE l.kind = e.kind AND l.entry_id = e.entry_id "
                         "AND l.rel = ?" + (" AND l.target = ?)" if target is not None else ")"))
            params.extend([rel] + ([target] if target is not None else []))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._snapshot() as con:
            rows = con.execute("SELECT e.kind, e.entry_id, e.owner, e.body, e.version, e.updated_at, e.updated_by "
                               f"FROM registry_entry e {clause} ORDER BY e.kind, e.entry_id", params).fetchall()
            link_rows = con.execute(
                "SELECT l.kind, l.entry_id, l.rel, l.target FROM registry_link l JOIN registry_entry e "
                f"ON l.kind = e.kind AND l.entry_id = e.entry_id {clause} ORDER BY l.rel, l.target", params).fetchall()
        links: dict[tuple[str, str], list] = {}
        for k, eid, r, t in link_rows:
            links.setdefault((k, eid), []).append((r, t))
        return [StoredEntry(k, eid, own, json.loads(body), links.get((k, eid), []), ver, at, by)
                for k, eid, own, body, ver, at, by in rows]

    def registry_links(self, rel: str | None = None) -> pd.DataFrame:
        if not self._documents or not _held(rel):
            return pd.DataFrame(columns=["kind", "entry_id", "rel", "target"])
        where, params = ("WHERE rel = ?", [rel]) if rel else ("", [])
        return self._reader().execute(f"SELECT kind, entry_id, rel, target FROM registry_link {where} "
                                "ORDER BY kind, entry_id, rel, target", params).df()

    def registry_audit(self, kind: str | None = None, entry_id: str | None = None,
                       limit: int = 1000) -> pd.DataFrame:
        if not self._documents or not _held(kind, entry_id):
            return pd.DataFrame(columns=AUDIT_COLUMNS)
        where, params = [], []
        for column, value in (("kind", kind), ("entry_id", entry_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self._reader().execute(f"SELECT * FROM registry_audit {clause} ORDER BY seq DESC LIMIT ?",
                                [*params, int(limit)]).df()
