"""What only the DuckDB file has: views ``obs_<dataflow>`` that read as text and ``code('...')`` for people
and tools that open the file with SQL (imdx itself reads the coded tables through the Store interface), and
files written by an earlier imdx."""

from __future__ import annotations

import duckdb
import numpy as np

from imdx.config import settings
from imdx.load import load
from imdx.model.report import Report
from imdx.query import query
from imdx.store import connect
from imdx.store.documents import LibraryImport, StoredRecord
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


_LIBRARY_IMPORT = LibraryImport("bibtex", "refs.bib", "ab" * 32, 100, "test", 1, 1, 0)


def test_a_file_written_before_the_write_counter_still_reads(tmp_path):
    """A store written by the first library release has the documents but no ``document_version``; opened
    read-only (it cannot change) it reads as before."""
    target = tmp_path / "store.duckdb"
    with connect(target) as store:
        store.write_library([StoredRecord("a", {"id": "a"})], _LIBRARY_IMPORT, Report())
    con = duckdb.connect(str(target))
    con.execute("DROP TABLE document_version")
    con.close()
    with connect(target, read_only=True) as store:
        assert [r.record_id for r in store.library_records()] == ["a"] and isinstance(store.version(), int)
    with connect(target) as store:  # opened for writing, the counter is created
        before = store.version()
        store.write_library([StoredRecord("b", {"id": "b"})], _LIBRARY_IMPORT, Report())
        assert store.version() != before
