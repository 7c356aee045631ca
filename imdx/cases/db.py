"""Storage of the case database: an embedded DuckDB file of its own (``cases.duckdb``).

All writes go through :meth:`CaseStore.transaction`, which is all or nothing: an exception inside
it rolls the whole write back. Every query is parameterised; no value from a user is ever pasted
into SQL. One connection is shared by the threads of a process, guarded by a lock.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdx.cases.errors import CaseError
from imdx.cases.schema import FIELDS, FLAG_FIELDS, RECORD_FIELDS


class CaseStoreError(CaseError):
    """The case database cannot be opened or written."""


def _sql_type(field) -> str:
    return {"flag": "BOOLEAN", "year": "INTEGER"}.get(field.kind, "VARCHAR")


_RECORD_COLUMNS = ",\n  ".join(f"{f.name} {_sql_type(f)}" for f in FIELDS if not f.identifying)

SCHEMA = "2"
DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS organisations (name VARCHAR PRIMARY KEY, created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS users (
  username VARCHAR PRIMARY KEY, organisation VARCHAR NOT NULL, role VARCHAR NOT NULL,
  password_hash VARCHAR NOT NULL, active BOOLEAN NOT NULL, created_at TIMESTAMP, locked_until TIMESTAMP);
CREATE TABLE IF NOT EXISTS tokens (
  token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, expires_at TIMESTAMP NOT NULL,
  revoked BOOLEAN NOT NULL, kind VARCHAR, family VARCHAR, issued_at TIMESTAMP);
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
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq BIGINT, hash VARCHAR, signed_at VARCHAR, reason VARCHAR, database_id VARCHAR, mac VARCHAR);
CREATE TABLE IF NOT EXISTS releases (
  release_id VARCHAR PRIMARY KEY, kind VARCHAR, dataset VARCHAR, status VARCHAR, audience VARCHAR,
  requested_by VARCHAR, requested_at TIMESTAMP, approved_by VARCHAR, approved_at TIMESTAMP,
  parameters VARCHAR, secret BLOB, epsilon DOUBLE, delta DOUBLE, files VARCHAR, report VARCHAR);
CREATE TABLE IF NOT EXISTS release_shares (
  release_id VARCHAR, organisation VARCHAR, granted_by VARCHAR, granted_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS budget_ledger (
  dataset VARCHAR, release_id VARCHAR, epsilon DOUBLE, delta DOUBLE, charged_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS dataset_policies (
  dataset VARCHAR PRIMARY KEY, policy VARCHAR NOT NULL, set_by VARCHAR, set_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS idempotency (
  username VARCHAR, key VARCHAR, request_hash VARCHAR, status INTEGER, body BLOB, created_at TIMESTAMP,
  PRIMARY KEY (username, key));
"""
#: what a version 1 file lacks (the tables it lacks are created by the DDL above)
_MIGRATE_V1 = """
ALTER TABLE users ADD COLUMN IF NOT EXISTS locked_until TIMESTAMP;
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS kind VARCHAR;
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS family VARCHAR;
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS issued_at TIMESTAMP;
UPDATE tokens SET revoked = TRUE;
ALTER TABLE releases ADD COLUMN IF NOT EXISTS secret BLOB;
ALTER TABLE release_shares ADD COLUMN IF NOT EXISTS granted_by VARCHAR;
ALTER TABLE release_shares ADD COLUMN IF NOT EXISTS granted_at TIMESTAMP;
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
            version = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if version and version[0] not in ("1", SCHEMA):
                raise CaseStoreError(f"the case database {self.path} has schema {version[0]}, newer than this imdx "
                                     f"reads ({SCHEMA}): upgrade imdx")
            self.needs_migration = bool(version) and version[0] == "1"
            if version is None:
                con.execute("INSERT INTO meta VALUES ('schema', ?), ('database_id', ?)",
                            [SCHEMA, uuid.uuid4().hex])

    def migrate_v1(self, seal) -> None:
        """Bring a version 1 file to version 2: sign-in state, token kinds, share grants, and release seeds
        sealed with ``seal`` (bytes -> ciphertext) instead of kept in clear. Old tokens are revoked."""
        with self.transaction() as con:
            con.execute(_MIGRATE_V1)
            columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'releases'").fetchall()}
            if "seed" in columns:
                for release_id, seed in con.execute("SELECT release_id, seed FROM releases").fetchall():
                    if seed is not None:
                        con.execute("UPDATE releases SET secret = ? WHERE release_id = ?",
                                    [seal(str(seed).encode()), release_id])
                con.execute("ALTER TABLE releases DROP COLUMN seed")
            con.execute("INSERT OR IGNORE INTO meta VALUES ('database_id', ?)", [uuid.uuid4().hex])
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema'", [SCHEMA])
        self.needs_migration = False

    def database_id(self) -> str:
        return self.query("SELECT value FROM meta WHERE key = 'database_id'")[0][0]

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

    def records(self, organisation: str | None = None, columns: tuple[str, ...] = RECORD_FIELDS, *,
                categorical: bool = False) -> pd.DataFrame:
        """Non-identifying columns of the cases (of one organisation, or all), in intake order: text as
        objects (None when missing), or as categoricals with ``categorical=True`` (what releases read:
        through Arrow, several times faster than text objects), flags nullable booleans, years ``Int64``."""
        where, params = ("WHERE organisation = $1", [organisation]) if organisation is not None else ("", [])
        with self._lock:
            table = self.con.sql(f"SELECT {', '.join(columns)} FROM cases {where} ORDER BY created_at, case_id",
                                 params=params).to_arrow_table()
        table = pa.table({name: pc.dictionary_encode(column) if pa.types.is_string(column.type)
                          or pa.types.is_large_string(column.type) else column
                          for name, column in zip(table.column_names, table.columns)})
        frame = _typed(table.to_pandas())
        if not categorical:
            for col in frame.columns:
                if isinstance(frame[col].dtype, pd.CategoricalDtype):
                    values = frame[col].to_numpy(dtype=object)
                    values[frame[col].isna().to_numpy()] = None
                    frame[col] = pd.Series(values, index=frame.index, dtype=object)
        return frame

    def records_digest(self, organisation: str) -> str:
        """A digest of every non-identifying field of the organisation's records (any change changes it;
        the order of rows does not)."""
        cols = ", ".join(RECORD_FIELDS)
        n, h = self.query(f"SELECT count(*), bit_xor(hash(case_id, {cols})) FROM cases WHERE organisation = ?",
                          [organisation])[0]
        return f"{n}:{h or 0:016x}"


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for col in df.columns:
        if col in FLAG_FIELDS:
            df[col] = df[col].astype("boolean").where(df[col].astype("boolean").fillna(False), pd.NA)
        elif col == "year_of_registration":
            df[col] = df[col].astype("Int64")
        elif df[col].dtype != object and str(df[col].dtype) in ("str", "string"):
            missing = df[col].isna().to_numpy()
            values = df[col].to_numpy(dtype=object, na_value=None)
            values[missing] = None
            df[col] = pd.Series(values, index=df.index, dtype=object)
    return df
