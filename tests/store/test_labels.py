"""Every store keeps each text value of an observation once, in the table ``label``, and its integer id in
the observation tables. Checked on the real UN WPP 2024 release, on every backend: what is read back is
what was written, and a failed write leaves no label behind."""

from __future__ import annotations

import pandas as pd
import pytest

from imdx.config import settings
from imdx.load import load
from imdx.model.report import Report
from imdx.query import query
from imdx.store.base import ReleaseRecord
from imdx.store.labels import Labels


def _wpp(backend, mirror):
    store = backend.open()
    load(store, settings(mirror=str(mirror)), ["wpp"])
    return store


def test_observations_hold_label_ids_and_read_back_as_text(backend, mirror):
    with _wpp(backend, mirror) as store:
        types = dict(backend.raw(store, "SELECT column_name, data_type FROM information_schema.columns "
                                        "WHERE table_name = 'coded_births'"))
        assert {types["area"], types["obs_status"], types["cell_file"]} == {"INTEGER" if backend.name == "duckdb"
                                                                           else "integer"}
        texts = [t for (t,) in backend.raw(store, "SELECT text FROM label")]
        assert len(texts) == len(set(texts)) and {"USA", "wpp2024/births.txt", "A"} <= set(texts)
        api = query(store, "births", area="USA")
        (usa,) = backend.raw(store, "SELECT id FROM label WHERE text = 'USA'")[0]
        stored = backend.raw(store, f"SELECT count(*) FROM coded_births WHERE area = {usa} AND current")
        assert stored == [(len(api),)] and set(api["cell_file"]) == {"wpp2024/births.txt"}


def test_a_failed_write_leaves_no_label_behind(backend, mirror):
    with _wpp(backend, mirror) as store:
        labels_before = backend.raw(store, "SELECT count(*) FROM label")
        good = query(store, "births", area="USA").iloc[:2].assign(note="a note no release had before")
        record = ReleaseRecord("wpp", "test", "test", "x", pd.Timestamp("2030-01-01").date(), "none")
        with pytest.raises(KeyError):  # the second table lacks its value column: the release is refused whole
            store.write_release(record, {"births": good, "deaths": good.drop(columns=["value"])}, Report(),
                                store.areas())
        assert backend.raw(store, "SELECT count(*) FROM label") == labels_before
        # the next write gets dense ids again, and its new text reads back
        store.write_release(record, {"births": good}, Report(), store.areas())
        ids = [i for (i,) in backend.raw(store, "SELECT id FROM label ORDER BY id")]
        assert ids == list(range(len(ids)))
        notes = store.select("births", {"area": ["USA"]}, edition="x").to_pandas()["note"]
        assert set(notes) == {"a note no release had before"}


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
