"""One suite for every store backend: whatever the engine, a release lands whole or not at all,
loading the same files twice changes nothing, and queries return the current value of each
observation. Runs on real releases (UN WPP 2024, UN M49) loaded from the mirror."""

from __future__ import annotations

import shutil
from datetime import date

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


# -- measures: numeric columns beside the value (imdx/store/base.py, "Measures") ----------------------------------
def _flows_release(key: str, published: str, rows: list[dict]) -> tuple:
    from imdx.store.base import ReleaseRecord

    record = ReleaseRecord("imdx-estimates", key, f"harmonised flows {key}", published, date.fromisoformat(published),
                           "test")
    return record, {"harmonised_flows": pd.DataFrame(rows)}


# Spain -> Belgium 2010 as Spain (5,835) and Belgium (6,067) report it (eurostat/PROVENANCE.md)
ESP_BEL = {"origin": "ESP", "destination": "BEL", "method": "de_beer_2010", "year": 2010}


def test_measures_are_stored_beside_the_value(make_store, areas):
    """A dataflow's measures (harmonised_flows: lower, upper) are written with each observation through the one
    door, come back right after ``value``, are null where a release gives none, and move with the value when a
    later release supersedes it; an edition pinned gives that edition's bounds."""
    from imdx.ingest import ingest

    first = _flows_release("a", "2025-01-01", [
        {**ESP_BEL, "value": 5951.0, "lower": 5835.0, "upper": 6067.0},
        {**ESP_BEL, "origin": "BEL", "destination": "ESP", "value": 4000.0}])  # no interval given
    later = _flows_release("b", "2025-06-01", [{**ESP_BEL, "value": 6000.0, "lower": 5900.0, "upper": 6100.0}])
    with make_store() as store:
        ingest(store, *first, areas=areas.copy())
        table = store.select("harmonised_flows", {})
        names = table.column_names
        assert names[names.index("value"):names.index("value") + 4] == ["value", "lower", "upper", "unit"]
        rows = table.to_pandas().set_index("origin")
        assert rows.loc["ESP", ["value", "lower", "upper"]].tolist() == [5951.0, 5835.0, 6067.0]
        assert rows.loc["BEL", ["lower", "upper"]].isna().all() and rows.loc["BEL", "value"] == 4000.0
        only = store.select("harmonised_flows", {"origin": ["ESP"]}, columns=["upper"])
        assert only.column_names == ["origin", "destination", "method", "year", "upper"]
        assert only["upper"].to_pylist() == [6067.0]
        ingest(store, *later, areas=store.areas())
        now = store.select("harmonised_flows", {"origin": ["ESP"]}).to_pandas()
        assert now[["value", "lower", "upper", "edition"]].values.tolist() == [[6000.0, 5900.0, 6100.0, "2025-06-01"]]
        pinned = store.select("harmonised_flows", {"origin": ["ESP"]}, edition="2025-01-01").to_pandas()
        assert pinned[["value", "lower", "upper"]].values.tolist() == [[5951.0, 5835.0, 6067.0]]


def test_a_brought_dataflow_keeps_its_measures(make_store, areas):
    """A dataflow a release brings (as an SDMX message does) may declare measures: they are stored with its
    definition and its observations; a measure named like a column the store keeps is refused, and the
    store is left as it was."""
    from imdx.errors import StoreError
    from imdx.ingest import ingest
    from imdx.model.dataflows import Dataflow, Dimension
    from imdx.store.base import ReleaseRecord

    def flow(measures):
        return Dataflow("sdmx_test_interval", "A dataflow with an interval", (Dimension("area", "Country"),),
                        "persons", "Test", measures=measures)

    def release(key):
        return ReleaseRecord("sdmx", key, key, "1", date(2025, 1, 1), "test")

    frame = pd.DataFrame({"area": ["DEU", "FRA"], "year": [2020, 2020], "value": [10.0, 20.0],
                          "lower": [9.0, None], "upper": [11.0, None]})
    with make_store() as store:
        ingest(store, release("good"), {"sdmx_test_interval": frame}, areas=areas.copy(),
               definitions=(flow(("lower", "upper")),))
        assert store.dataflow("sdmx_test_interval").measures == ("lower", "upper")
        got = store.select("sdmx_test_interval", {}).to_pandas().set_index("area")
        assert got.loc["DEU", ["value", "lower", "upper"]].tolist() == [10.0, 9.0, 11.0]
        assert got.loc["FRA", ["lower", "upper"]].isna().all()
        before = store.releases()["release_id"].tolist()
        clash = Dataflow("sdmx_test_clash", "Clash", (Dimension("area", "Country"),), "persons", "Test",
                         measures=("note",))
        with pytest.raises(StoreError, match="measure"):
            ingest(store, release("bad"), {"sdmx_test_clash": frame.drop(columns=["lower", "upper"])},
                   areas=store.areas(), definitions=(clash,))
        assert store.releases()["release_id"].tolist() == before
        assert "sdmx_test_clash" not in store.dataflow_ids()
