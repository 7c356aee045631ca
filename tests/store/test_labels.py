"""The DuckDB store keeps each text value of an observation once, in the table ``label``, and its
integer id in the observation tables. Checked on the real UN WPP 2024 release: what is read back
is what was written, a failed write leaves no label behind, and a file written by an older imdx
(text columns) is refused with what to do."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from imdx.config import settings
from imdx.errors import StoreError
from imdx.load import load
from imdx.model.report import Report
from imdx.query import query
from imdx.store.base import ReleaseRecord
from imdx.store.duckdb_store import DuckDBStore
from imdx.store.labels import Labels, code_in, decoded


@pytest.fixture(scope="module")
def wpp_store(mirror, tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "store.duckdb"
    with DuckDBStore(path) as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
    return path


def test_observations_hold_label_ids_and_read_back_as_text(wpp_store):
    with DuckDBStore(wpp_store, read_only=True) as store:
        types = dict(store.con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                       "WHERE table_name = 'coded_births'").fetchall())
        assert types["area"] == types["obs_status"] == types["cell_file"] == "INTEGER"
        assert types["year"] == "SMALLINT" and types["value"] == "DOUBLE"
        texts = [t for (t,) in store.con.execute("SELECT text FROM label").fetchall()]
        assert len(texts) == len(set(texts)) and {"USA", "wpp2024/births.txt", "A"} <= set(texts)
        # the view reads as text, the same rows the query API returns
        view = store.con.execute("SELECT area, year, value, cell_file, cell_row FROM obs_births "
                                 "WHERE area = 'USA' AND current ORDER BY year").df()
        api = query(store, "births", area="USA")
        assert view["value"].tolist() == api["value"].tolist() and set(view["cell_file"]) == {"wpp2024/births.txt"}
        assert view["year"].tolist() == api["year"].tolist() and view["cell_row"].tolist() == api["cell_row"].tolist()
        # SQL users compare codes with code('...'): the same rows, without decoding the table
        n = store.con.execute("SELECT count(*) FROM coded_births WHERE area = code('USA') AND current").fetchall()
        assert n == [(len(api),)]


def test_a_failed_write_leaves_no_label_behind(wpp_store, tmp_path):
    path = tmp_path / "copy.duckdb"
    path.write_bytes(wpp_store.read_bytes())
    with DuckDBStore(path) as store:
        labels_before = store.con.execute("SELECT count(*) FROM label").fetchall()
        good = query(store, "births", area="USA").iloc[:2].assign(note="a note no release had before")
        record = ReleaseRecord("wpp", "test", "test", "x", pd.Timestamp("2030-01-01").date(), "none")
        with pytest.raises(KeyError):  # the second table lacks its value column: the release is refused whole
            store.write_release(record, {"births": good, "deaths": good.drop(columns=["value"])}, Report(),
                                store.areas())
        assert store.con.execute("SELECT count(*) FROM label").fetchall() == labels_before
        # the next write gets dense ids again, and its new text reads back
        store.write_release(record, {"births": good}, Report(), store.areas())
        ids = [i for (i,) in store.con.execute("SELECT id FROM label ORDER BY id").fetchall()]
        assert ids == list(range(len(ids)))
        notes = store.select("births", {"area": ["USA"]}, edition="x").to_pandas()["note"]
        assert set(notes) == {"a note no release had before"}


def test_a_store_written_by_an_older_imdx_is_refused(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE obs_births (release_id INTEGER, area VARCHAR, year SMALLINT, value DOUBLE)")
    con.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="older imdx.*load the sources again into a new file"):
            DuckDBStore(path, read_only=read_only)


def test_labels_encode_commit_and_roll_back():
    labels = Labels(["A", "DEU"])
    ids = labels.encode(pd.Series(pd.Categorical(["DEU", None, "FRA", "DEU"])))
    assert ids.to_pylist() == [1, None, 2, 1]
    assert labels.encode(pd.Series([2020, 2021, 2020])).to_pylist() == [3, 4, 3]  # non-text codes as text
    assert labels.added().to_pydict() == {"id": [2, 3, 4], "text": ["FRA", "2020", "2021"]}
    labels.rollback()
    assert labels.texts == ["A", "DEU"] and "FRA" not in labels.ids and labels.added().num_rows == 0
    assert labels.encode(pd.Series(["FRA"])).to_pylist() == [2]
    labels.commit()
    assert labels.added().num_rows == 0 and labels.committed == 3


def test_code_in_and_decoded_on_duckdb():
    con = duckdb.connect()
    con.execute("CREATE TABLE label (id INTEGER, text VARCHAR); INSERT INTO label VALUES (0, 'DEU'), (1, 'FRA')")
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (0, 1.0), (1, 2.0), (NULL, 3.0)) v(area, value)")
    rows = con.execute(decoded(f"SELECT * FROM t WHERE {code_in('area', 2)}", ["area"]) + " ORDER BY value",
                       ["DEU", "ZZZ"]).fetchall()
    assert rows == [("DEU", 1.0)]
    rows = con.execute(decoded("SELECT * FROM t", ["area"]) + " ORDER BY value").fetchall()
    assert rows == [("DEU", 1.0), ("FRA", 2.0), (None, 3.0)]
    assert np.array_equal(con.execute(decoded("SELECT * FROM t", [])).df()["value"], [1.0, 2.0, 3.0])


def test_cursors_read_labels_concurrently(wpp_store):
    """Served stores read in many threads, each through its own cursor, sharing one copy of the labels."""
    from concurrent.futures import ThreadPoolExecutor

    with DuckDBStore(wpp_store, read_only=True) as store:
        store.areas()
        expected = store.select("births", {"area": ["USA", "MEX"], "year": [2020]}).to_pylist()

        def read(_):
            return store.select("births", {"area": ["USA", "MEX"], "year": [2020]}).to_pylist()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(read, range(64)))
        assert len(expected) == 2 and all(r == expected for r in results)
        assert len(store._cursors) == 8  # one cursor per thread that read, closed with the store
