"""What only the PostgreSQL backend has: a versioned schema. A new database is brought to the schema this
imdx writes, every migration recorded once; opening it again applies nothing; a read-only store that
needs migrating says which command migrates it."""

from __future__ import annotations

import psycopg
import pytest

from imdx.errors import StoreError
from imdx.store import connect, pg_schema


def test_migrations_are_applied_once_and_recorded(pg_database):
    url = pg_database()
    with psycopg.connect(url, autocommit=True) as con:
        assert pg_schema.version(con) is None  # no imdx store yet
    with connect(url):
        pass
    with psycopg.connect(url, autocommit=True) as con:
        rows = con.execute("SELECT version, description FROM imdx_schema ORDER BY version").fetchall()
        assert [v for v, _ in rows] == [n for n, _, _ in pg_schema.MIGRATIONS] and pg_schema.version(con) == \
            pg_schema.VERSION
        assert pg_schema.migrate(con) == []  # nothing left to apply
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'public'").fetchall()}
        assert {"release", "release_file", "release_dataflow", "area", "area_alias", "issue", "label",
                "coded_births", "coded_migrant_stock"} <= tables


def test_a_read_only_server_refuses_a_store_that_needs_migrating(pg_database):
    url = pg_database()
    with connect(url):
        pass
    with psycopg.connect(url, autocommit=True) as con:  # as a store written by an older imdx would be
        con.execute("DELETE FROM imdx_schema WHERE version = %s", [pg_schema.VERSION])
        con.execute("INSERT INTO imdx_schema (version, description) VALUES (0, 'older')")
    with pytest.raises(StoreError, match=r"has schema \d+, this imdx needs \d+: run `imdx load --db .*` once "
                                         "to migrate it"):
        connect(url, read_only=True)


def test_a_wrong_url_says_what_to_check(pg_server):
    from urllib.parse import urlsplit, urlunsplit

    wrong = urlunsplit(urlsplit(pg_server)._replace(path="/no_such_database_here"))
    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL database no_such_database_here.*Check"):
        connect(wrong, read_only=True)
