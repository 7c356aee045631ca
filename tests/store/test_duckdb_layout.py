"""The DuckDB backend's own layout rules: a file written by an imdx whose dataflow had no measures yet."""

from __future__ import annotations

import duckdb

from imdx.store import connect


def test_a_table_without_its_measures_is_served_once_the_store_is_opened_for_writing(tmp_path):
    """A store written before ``harmonised_flows`` had ``lower``/``upper`` lacks those columns: read-only it does
    not serve the dataflow (select would fail on the missing columns); opened for writing, the columns are
    added (null) and it is served again."""
    db = tmp_path / "old.duckdb"
    connect(db).close()
    with duckdb.connect(str(db)) as con:  # as an older imdx left it
        con.execute("ALTER TABLE coded_harmonised_flows DROP COLUMN lower")
        con.execute("ALTER TABLE coded_harmonised_flows DROP COLUMN upper")
    with connect(db, read_only=True) as store:
        assert "harmonised_flows" not in store.servable_dataflows()
        assert "migrant_stock" in store.servable_dataflows()
    connect(db).close()
    with connect(db, read_only=True) as store:
        assert "harmonised_flows" in store.servable_dataflows()
        assert store.select("harmonised_flows", {}).num_rows == 0
