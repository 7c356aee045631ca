"""What only the DuckDB file has: views ``obs_<dataflow>`` that read as text and ``code('...')`` for people
and tools that open the file with SQL (imdx itself reads the coded tables through the Store interface)."""

from __future__ import annotations

import duckdb
import numpy as np

from imdx.config import settings
from imdx.load import load
from imdx.query import query
from imdx.store.duckdb_store import DuckDBStore
from imdx.store.labels import decoded


def test_the_file_reads_as_text_for_people(mirror, tmp_path):
    with DuckDBStore(tmp_path / "store.duckdb") as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
        view = store.con.execute("SELECT area, year, value, cell_file, cell_row FROM obs_births "
                                 "WHERE area = 'USA' AND current ORDER BY year").df()
        api = query(store, "births", area="USA")
        assert view["value"].tolist() == api["value"].tolist() and set(view["cell_file"]) == {"wpp2024/births.txt"}
        assert view["year"].tolist() == api["year"].tolist() and view["cell_row"].tolist() == api["cell_row"].tolist()
        n = store.con.execute("SELECT count(*) FROM coded_births WHERE area = code('USA') AND current").fetchall()
        assert n == [(len(api),)]


def test_decoded():
    con = duckdb.connect()
    con.execute("CREATE TABLE label (id INTEGER, text VARCHAR); INSERT INTO label VALUES (0, 'DEU'), (1, 'FRA')")
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (0, 1.0), (1, 2.0), (NULL, 3.0)) v(area, value)")
    rows = con.execute(decoded("SELECT * FROM t", ["area"]) + " ORDER BY value").fetchall()
    assert rows == [("DEU", 1.0), ("FRA", 2.0), (None, 3.0)]
    assert np.array_equal(con.execute(decoded("SELECT * FROM t", [])).df()["value"], [1.0, 2.0, 3.0])
