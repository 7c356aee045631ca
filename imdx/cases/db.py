"""Storage of the case database: an embedded DuckDB file of its own (``cases.duckdb``).

All writes go through :meth:`CaseStore.transaction`, which is all or nothing: an exception inside
it rolls the whole write back. Every query is parameterised; no value from a user is ever pasted
into SQL. One connection is shared by the threads of a process, guarded by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from imdx.cases.errors import CaseError
from imdx.cases.schema import FIELDS, FLAG_FIELDS, RECORD_FIELDS


class CaseStoreError(CaseError):
    """The case database cannot be opened or written."""


def _sql_type(field) -> str:
    return {"flag": "BOOLEAN", "year": "INTEGER"}.get(field.kind, "VARCHAR")


_RECORD_COLUMNS = ",\n  ".join(f"{f.name} {_sql_type(f)}" for f in FIELDS if not f.identifying)

DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS organisations (name VARCHAR PRIMARY KEY, created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS users (
  username VARCHAR PRIMARY KEY, organisation VARCHAR NOT NULL, role VARCHAR NOT NULL,
  password_hash VARCHAR NOT NULL, active BOOLEAN NOT NULL, created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS tokens (
  token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, expires_at TIMESTAMP NOT NULL,
  revoked BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
  submission_id VARCHAR PRIMARY KEY, organisation VARCHAR, submitted_by VARCHAR, file_name VARCHAR,
  received_at TIMESTAMP, schema_version VARCHAR, n_records INTEGER, n_accepted INTEGER,
  n_rejected INTEGER, n_possible_duplicates INTEGER);
CREATE TABLE IF NOT EXISTS cases (
  case_id VARCHAR PRIMARY KEY, submission_id VARCHAR NOT NULL,
  {_RECORD_COLUMNS},
  identifying BLOB, fingerprint VARCHAR, duplicate_of VARCHAR, review_status VARCHAR,
  created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS audit_log (
  seq BIGINT PRIMARY KEY, logged_at VARCHAR, actor VARCHAR, action VARCHAR, target VARCHAR, outcome VARCHAR,
  detail VARCHAR, prev_hash VARCHAR, hash VARCHAR);
CREATE TABLE IF NOT EXISTS releases (
  release_id VARCHAR PRIMARY KEY, kind VARCHAR, dataset VARCHAR, status VARCHAR, audience VARCHAR,
  requested_by VARCHAR, requested_at TIMESTAMP, approved_by VARCHAR, approved_at TIMESTAMP,
  parameters VARCHAR, seed BIGINT, epsilon DOUBLE, delta DOUBLE, files VARCHAR, report VARCHAR);
CREATE TABLE IF NOT EXISTS release_shares (release_id VARCHAR, organisation VARCHAR);
CREATE TABLE IF NOT EXISTS budget_ledger (
  dataset VARCHAR, release_id VARCHAR, epsilon DOUBLE, delta DOUBLE, charged_at TIMESTAMP);
"""


class CaseStore:
    """The DuckDB file holding cases, users, tokens, audit log, releases and the budget ledger."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(self.path))
        except (duckdb.Error, OSError) as err:
            raise CaseStoreError(f"cannot open the case database {self.path}: {err}. Check the path in "
                                 "IMDX_CASES_DB and that no other process holds the file open.") from None
        self._lock = threading.RLock()
        with self.transaction() as con:
            con.execute(DDL)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', '1')")

    def close(self) -> None:
        with self._lock:
            self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing write; yields the connection. Nested use joins the outer transaction."""
        with self._lock:
            if getattr(self, "_in_tx", False):
                yield self.con
                return
            self._in_tx = True
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            else:
                self.con.execute("COMMIT")
            finally:
                self._in_tx = False

    def query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        with self._lock:
            return self.con.execute(sql, list(params)).fetchall()

    def frame(self, sql: str, params: list | tuple = ()) -> pd.DataFrame:
        with self._lock:
            df = self.con.execute(sql, list(params)).df()
        return _typed(df)

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Insert the rows of ``frame`` (columns named as the table's); call inside a transaction."""
        if table not in {"cases", "submissions"}:
            raise CaseStoreError(f"insert_frame cannot write table {table!r}")
        cols = ", ".join(frame.columns)
        with self._lock:
            self.con.register("_incoming", frame)
            try:
                self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
            finally:
                self.con.unregister("_incoming")

    def records(self, organisation: str | None = None, columns: tuple[str, ...] = RECORD_FIELDS) -> pd.DataFrame:
        """Non-identifying columns of the cases (of one organisation, or all)."""
        cols = ", ".join(columns)
        if organisation is None:
            return self.frame(f"SELECT {cols} FROM cases ORDER BY created_at, case_id")
        return self.frame(f"SELECT {cols} FROM cases WHERE organisation = ? ORDER BY created_at, case_id",
                          [organisation])


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for col in df.columns:
        if col in FLAG_FIELDS:
            df[col] = df[col].astype("boolean").where(df[col].astype("boolean").fillna(False), pd.NA)
        elif col == "year_of_registration":
            df[col] = df[col].astype("Int64")
        elif df[col].dtype != object and str(df[col].dtype) in ("str", "string"):
            df[col] = pd.Series([None if pd.isna(v) else v for v in df[col]], index=df.index, dtype=object)
    return df
