"""One conformance suite, every backend (as ibis's backend tests): each test of tests/store/ takes the
``backend`` fixture and runs once per backend. A backend class says how to make a new empty store, how to
look inside one (for tests that check what is stored, never for imdx itself), and how to make a store
this imdx must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest


class Backend:
    name = ""

    def target(self) -> str | Path:
        """Where a new, empty store goes."""
        raise NotImplementedError

    def raw(self, store, text: str) -> list[tuple]:
        """Rows of ``text`` run on the store's own connection (inspection by the tests only)."""
        raise NotImplementedError

    def outdated(self) -> tuple[str | Path, str]:
        """A store this imdx must refuse, and a pattern of the message that says what to do."""
        raise NotImplementedError

    def open(self, target=None, read_only: bool = False):
        from imdx.store import connect

        return connect(target if target is not None else self.target(), read_only=read_only)


class DuckDBBackend(Backend):
    name = "duckdb"

    def __init__(self, tmp_path: Path):
        self.tmp, self.n = tmp_path, 0

    def target(self) -> Path:
        self.n += 1
        return self.tmp / f"store{self.n}.duckdb"

    def raw(self, store, text):
        return store.con.execute(text).fetchall()

    def outdated(self):
        import duckdb

        path = self.tmp / "old.duckdb"
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE obs_births (release_id INTEGER, area VARCHAR, year SMALLINT, value DOUBLE)")
        con.close()
        return path, "older imdx.*load the sources again into a new file"


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, make_database):
        self.make = make_database

    def target(self) -> str:
        return self.make()

    def raw(self, store, text):
        return store._admin.execute(text).fetchall()

    def outdated(self):
        import psycopg

        url = self.make()
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE TABLE imdx_schema (version integer PRIMARY KEY, description text NOT NULL, "
                        "applied_at timestamptz NOT NULL DEFAULT now())")
            con.execute("INSERT INTO imdx_schema VALUES (999, 'from the future')")
        return url, "newer imdx.*upgrade imdx"


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request, tmp_path) -> Backend:
    if request.param == "duckdb":
        return DuckDBBackend(tmp_path)
    return PostgresBackend(request.getfixturevalue("pg_database"))
