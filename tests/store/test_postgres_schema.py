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


def test_readers_do_not_wait_for_a_release_being_written(pg_database, mirror, tmp_path, monkeypatch):
    """Each release's rows go into a partition of their own, attached without locking readers out: while a
    release's transaction is open (paused here after its partition is attached), a reader of the same
    dataflow gets its answer, the state before the release, and sees the release once it commits."""
    import threading

    from imdx.store.pg_write import ReleaseWriter
    from tests.store.test_conformance import _load_releases

    url = pg_database()
    with connect(url) as store:
        _load_releases(store, mirror, tmp_path, [("wpp", "wpp2024")])
        before = store.select("births", {"area": ["USA"]}).num_rows
    paused, resume, answers, flows = threading.Event(), threading.Event(), [], []
    mark_current = ReleaseWriter._mark_current

    def pausing(self, con, flow, release_id, source):
        flows.append(flow.id)
        paused.set()
        resume.wait(60)
        return mark_current(self, con, flow, release_id, source)

    monkeypatch.setattr(ReleaseWriter, "_mark_current", pausing)
    with connect(url) as writer, connect(url, read_only=True) as reader:
        new = [("undesa_ims", "ims2020-destination")]
        load = threading.Thread(target=_load_releases, args=(writer, mirror, tmp_path, new))
        load.start()
        try:
            assert paused.wait(120), "the load did not reach its first partition"
            read = threading.Thread(target=lambda: answers.append(reader.select(flows[0], {})))
            read.start()
            read.join(60)  # the writer stays paused: a reader that waited for its lock would not come back
            assert not read.is_alive() and answers[0].num_rows == 0
            assert reader.select("births", {"area": ["USA"]}).num_rows == before
        finally:
            resume.set()
            load.join()
        assert flows[0] == "migrant_stock" and reader.select(flows[0], {}).num_rows > 0


def test_a_table_without_its_measures_is_served_once_the_store_is_opened_for_writing(pg_database):
    """As the DuckDB file (tests/store/test_duckdb_layout.py): a table written before ``harmonised_flows`` had
    ``lower``/``upper`` is not served read-only; opened for writing, the columns are added and it is."""
    url = pg_database()
    connect(url).close()
    with psycopg.connect(url, autocommit=True) as con:  # as an older imdx left it
        con.execute("ALTER TABLE coded_harmonised_flows DROP COLUMN lower, DROP COLUMN upper")
    with connect(url, read_only=True) as store:
        assert "harmonised_flows" not in store.servable_dataflows() and "migrant_stock" in store.servable_dataflows()
    connect(url).close()
    with connect(url, read_only=True) as store:
        assert "harmonised_flows" in store.servable_dataflows()
        assert store.select("harmonised_flows", {}).num_rows == 0


def _indexes(url) -> list[tuple[str, str, str]]:
    """(table, index, its definition) of migrant_stock's table and partitions."""
    with psycopg.connect(url, autocommit=True) as con:
        return con.execute("""
            SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
            WHERE t.relname = 'coded_migrant_stock'
               OR t.relnamespace = 'imdx_release'::regnamespace AND t.relname ~ '^migrant_stock_[0-9]+$'
            ORDER BY 1, 2""").fetchall()


def test_the_partitions_indexes_hold_current_values_and_migrations_make_them_so(pg_database, mirror, tmp_path):
    """Each release's partition has its own indexes, a BRIN of the year and one GIN of the area dimensions,
    holding the current values only, built after the release committed and there when the load's store is
    closed; the table itself has none. Each query of current values by year or by any one area finds its rows
    by them. A store written before (indexes of the table, whole; schema 3) gets them when opened for writing
    (through migration 4's B-trees of each partition, which migration 5 replaces), and answers the same; a
    partition a stopped load left without its indexes, or one of them, gets them too."""
    from tests.store.test_conformance import _load_releases

    url = pg_database()
    with connect(url) as store:
        _load_releases(store, mirror, tmp_path, [("undesa_ims", "ims2020-destination")])
        before = store.select("migrant_stock", {"year": [2020]})
    found = _indexes(url)
    (part,) = {t for t, _, _ in found}
    assert [(i, d.split(" USING ")[1]) for _, i, d in found] == [
        (f"{part}_areas", "gin (destination, origin) WHERE current"), (f"{part}_year", "brin (year) WHERE current")]
    with psycopg.connect(url, autocommit=True) as con:  # the planner finds the rows by them, when told not to scan
        con.execute("SET enable_seqscan = off")
        for where in ("year = 2020", "destination = 1", "origin = 1", "origin = 1 AND destination = 2"):
            plan = "\n".join(r[0] for r in con.execute(f"EXPLAIN SELECT value FROM coded_migrant_stock "
                                                       f"WHERE current AND {where}").fetchall())
            assert "Index Scan" in plan and ("_year" if where.startswith("year") else "_areas") in plan, plan
    with psycopg.connect(url, autocommit=True) as con:  # as schema 3 left it: the table's indexes, whole
        for _, index, _ in found:
            con.execute(f'DROP INDEX imdx_release."{index}"')
        for column in ("year", "origin", "destination"):
            con.execute(f'CREATE INDEX "coded_migrant_stock_{column}" ON coded_migrant_stock ("{column}")')
        con.execute("DELETE FROM imdx_schema WHERE version >= 4")
        assert len(_indexes(url)) == 6 and not any("WHERE current" in d for _, _, d in _indexes(url))
    connect(url).close()
    assert _indexes(url) == found
    for dropped in ([f"{part}_year", f"{part}_areas"], [f"{part}_areas"]):  # a load stopped before, or between
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DROP INDEX " + ", ".join(f'imdx_release."{name}"' for name in dropped))
        connect(url).close()
        assert _indexes(url) == found
    with connect(url, read_only=True) as store:
        assert store.select("migrant_stock", {"year": [2020]}).equals(before)
