"""One suite for every store backend: whatever the engine, a release lands whole or not at all,
loading the same files twice changes nothing, and queries return the current value of each
observation. Runs on real releases (UN WPP 2024, UN M49) loaded from the mirror."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from imdx.config import settings
from imdx.load import load
from imdx.query import query
from imdx.store.duckdb_store import DuckDBStore

BACKENDS = {"duckdb": lambda tmp: DuckDBStore(tmp / "store.duckdb")}


@pytest.fixture(params=sorted(BACKENDS))
def make_store(request, tmp_path):
    return lambda: BACKENDS[request.param](tmp_path)


def _snapshot(store) -> dict:
    releases = store.releases()[["release_id", "source", "key", "n_obs"]].fillna({"n_obs": 0})
    births = query(store, "births", area="USA")
    return {"releases": releases.to_dict("list"), "births": births["value"].tolist(),
            "issues": len(store.issues())}


def test_load_records_release_with_provenance(make_store, mirror):
    with make_store() as store:
        summary = load(store, settings(mirror=str(mirror)), ["wpp"])
        assert [o.status for o in summary.outcomes] == ["loaded", "loaded"]
        releases = store.releases().set_index("source")
        assert releases.loc["wpp", "edition"] == "2024"
        files = store.release_files()
        births = files[files.name.str.endswith("births.txt")].iloc[0]
        assert births.sha256 == "da35ad49f417c9240ca7e6a63ca975943a1a00320863ce12e27bcb753844a883"
        assert births.retrieved_from.endswith("wpp/wpp2024/births.txt")


def test_loading_the_same_release_twice_changes_nothing(make_store, mirror):
    with make_store() as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
        before = _snapshot(store)
        again = load(store, settings(mirror=str(mirror)), ["wpp"])
        assert {o.status for o in again.outcomes} == {"unchanged"}
        assert _snapshot(store) == before


def test_failed_write_leaves_store_as_it_was(make_store, mirror):
    with make_store() as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
        before = _snapshot(store)
        from imdx.model.report import Report
        from imdx.store.base import ReleaseRecord

        good = query(store, "births", area="USA").iloc[:3]
        broken = {"births": good, "deaths": good.drop(columns=["value"])}  # second table cannot be written
        record = ReleaseRecord("wpp", "broken", "broken", "x", pd.Timestamp("2030-01-01").date(), "none")
        with pytest.raises(KeyError):  # the second table lacks its value column
            store.write_release(record, broken, Report(), store.areas())
        assert _snapshot(store) == before


def test_new_vintage_is_current_and_old_edition_stays_queryable(make_store, mirror, tmp_path):
    copy = tmp_path / "mirror"
    for name in ("m49", "wpp"):
        shutil.copytree(mirror / name, copy / name)
    births = copy / "wpp" / "wpp2024" / "births.txt"
    with make_store() as store:
        load(store, settings(mirror=str(copy)), ["wpp"])
        original = query(store, "births", area="USA", year=2020)["value"].item()
        text = births.read_text("utf-8").replace("\t3641.99\t", "\t3700.5\t", 1)
        assert "3700.5" in text
        births.write_text(text, "utf-8")
        summary = load(store, settings(mirror=str(copy)), ["wpp"])
        assert [o.status for o in summary.outcomes] == ["unchanged", "loaded"]
        assert any(i.type == "file-changed" for i in summary.report)
        current = query(store, "births", area="USA", year=2020)
        assert len(current) == 1 and current["value"].item() == 3_700_500
        first = store.releases().query("source == 'wpp'").release_id.min()
        assert original == 3_641_990
        assert first < current["release_id"].item()


def test_query_filters_and_stable_order(make_store, mirror):
    with make_store() as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
        frame = query(store, "net_migration", area=["World", "DEU", "Türkiye"], year="2019:2021")
        assert sorted(frame["area"].unique()) == ["001", "DEU", "TUR"]
        assert list(frame[["area", "year"]].itertuples(index=False, name=None)) == sorted(
            frame[["area", "year"]].itertuples(index=False, name=None))
        assert (frame.loc[frame.area == "001", "value"] == 0).all()
        assert frame.loc[frame.area == "DEU", "area_name"].iloc[0] == "Germany"
        assert set(frame["unit"]) == {"persons"}
