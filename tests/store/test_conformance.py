"""One suite for every store backend (tests/store/conftest.py): whatever the engine, a release lands whole or
not at all, loading the same files twice changes nothing, and queries return the current value of each
observation. Runs on real releases (UN WPP 2024, UN M49) loaded from the mirror."""

from __future__ import annotations

import shutil
from datetime import date

import pandas as pd
import pytest

from imdx.config import settings
from imdx.load import load
from imdx.query import query


@pytest.fixture
def make_store(backend):
    return backend.open


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
        # a text no store can hold (a NUL character) matches nothing, on every backend
        assert store.select("net_migration", {"area": ["DEU\x00", "DEU"], "year": [2020]}).num_rows == 1
        assert store.select("net_migration", {"area": ["DEU\x00"]}).num_rows == 0
        assert store.issues(source="wpp\x00").empty and store.issues(area="\x00").empty


def _load_releases(store, mirror, tmp_path, keys: list[tuple[str, str | None]]):
    from imdx.codes.build import build_areas
    from imdx.load import load_release
    from imdx.sources import registry
    from imdx.sources.fetch import fetch_release

    areas, known = build_areas(mirror / "m49"), registry()
    for source, key in keys:
        spec = next(s for s in known[source].releases if key is None or s.key == key)
        paths, files = fetch_release(spec, mirror=mirror, cache=tmp_path / "cache")
        assert load_release(store, spec, paths, files, areas).status == "loaded"


FDI = [("m49", None), ("wdi", "BX.KLT.DINV.CD.WD-2023-10-26"), ("wdi", "BX.KLT.DINV.CD.WD-2018-06-28")]


def test_editions_as_of_and_the_current_rule(make_store, mirror, tmp_path):
    """Two vintages of one World Bank file, the newer loaded first: the newer is current, each edition
    stays queryable, and as_of gives what was published on a date."""
    with make_store() as store:
        version = store.version()
        _load_releases(store, mirror, tmp_path, FDI)
        assert store.version() != version
        editions = store.editions("fdi_inflows")
        assert list(editions.columns) == ["dataflow", "source", "key", "edition", "published", "release_id", "n_obs"]
        assert editions["edition"].tolist() == ["2018-06-28", "2023-10-26"]  # rank order, not load order
        assert [type(d).__name__ for d in editions["published"]] == ["date", "date"]
        latest = store.latest_release("fdi_inflows", "wdi")
        assert latest["edition"] == "2023-10-26" and latest["key"] == "BX.KLT.DINV.CD.WD-2023-10-26"
        current = query(store, "fdi_inflows", area="IRL", year="2015:2016")
        new = query(store, "fdi_inflows", area="IRL", year="2015:2016", edition="2023-10-26")
        old = query(store, "fdi_inflows", area="IRL", year="2015:2016", edition="2018-06-28")
        assert current["value"].tolist() == new["value"].tolist() != old["value"].tolist()
        assert set(current["edition"]) == {"2023-10-26"}
        then = query(store, "fdi_inflows", area="IRL", year="2015:2016", as_of="2020-01-01")
        assert then["value"].tolist() == old["value"].tolist() and set(then["edition"]) == {"2018-06-28"}
        assert query(store, "fdi_inflows", area="IRL", as_of="2000-01-01").empty


def test_what_the_interface_reads(make_store, mirror):
    with make_store() as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
        assert "births" in store.servable_dataflows() and "births" in store.dataflow_ids()
        years = store.distinct("births", "year")
        assert years == sorted(years) and years[0] == 1950 and isinstance(years[0], int)
        assert "USA" in store.distinct("births", "area")
        assert store.areas().resolve("Germany").code == "DEU"
        files = store.release_files()
        assert {"release_id", "name", "url", "sha256", "size", "retrieved_from", "retrieved_at"} <= set(files.columns)
        releases = store.releases()
        assert {"fingerprint", "n_obs", "dataflows", "files"} <= set(releases.columns)
        assert str(releases["published"].dtype).startswith("datetime64")
        issues = store.issues(source="wpp")
        assert len(issues) and set(issues["source"]) == {"wpp"} and "release_id" in issues.columns
        some = store.select("births", {"area": ["USA"], "year": [2020]}, columns=["value", "edition"])
        assert some.column_names == ["area", "year", "value", "edition"] and some.num_rows == 1
        assert store.select("births", {"area": ["NOWHERE"]}).num_rows == 0


def test_reads_from_many_threads(make_store, mirror):
    """Served stores are read by many threads at once, each through its own cursor or connection."""
    from concurrent.futures import ThreadPoolExecutor

    with make_store() as store:
        load(store, settings(mirror=str(mirror)), ["wpp"])
        expected = store.select("births", {"area": ["USA", "MEX"], "year": [2020]}).to_pylist()

        def read(_):
            return store.select("births", {"area": ["USA", "MEX"], "year": [2020]}).to_pylist()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(read, range(64)))
        assert len(expected) == 2 and all(r == expected for r in results)


def test_a_store_this_imdx_cannot_read_is_refused(backend):
    from imdx.errors import StoreError

    target, message = backend.outdated()
    for read_only in (False, True):
        with pytest.raises(StoreError, match=message):
            backend.open(target, read_only=read_only)


def test_an_empty_place_is_not_a_store_to_serve(backend):
    from imdx.errors import StoreError

    with pytest.raises(StoreError, match="load one first with `imdx load --db"):
        backend.open(backend.target(), read_only=True)


#: the methods :class:`~imdx.store.base.Store` implements itself, for every backend
SHARED = {"latest_release"}
#: hints with a default that does nothing (a backend may ignore them): every backend still keeps current values
#: in memory (the other one, CPUs shared with the load's workers, only DuckDB uses)
HINTS = {"share_cpus", "keep_current", "current"}


@pytest.mark.parametrize("module, name", [("imdx.store.duckdb_store", "DuckDBStore"),
                                          ("imdx.store.postgres", "PostgresStore")])
def test_every_backend_implements_the_whole_interface(module, name):
    """A method added to the interface is abstract (or shared, above), so a backend that lacks it fails here
    (and cannot be opened) instead of answering wrongly or not at all."""
    import importlib
    import inspect

    from imdx.store.base import Store

    public = {n for n, v in vars(Store).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert Store.__abstractmethods__ == public - SHARED - HINTS
    backend = getattr(importlib.import_module(module), name)
    assert not backend.__abstractmethods__, f"{name} lacks {sorted(backend.__abstractmethods__)}"
    assert all(getattr(backend, n) is not getattr(Store, n) for n in public - SHARED - {"share_cpus"})


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


@pytest.mark.parametrize("reopened", [False, True], ids=["same-store", "reopened"])
def test_an_older_edition_loaded_late_does_not_become_current(backend, areas, reopened):
    """The current rule whatever the order of loading: an edition published earlier but loaded after a later
    one gives the current value only for the keys the later one lacks (a missing method counts as a key too),
    and keeps its own values for an edition pinned; a third, latest edition supersedes both. The same whether
    the store that writes the older edition wrote the later one (PostgreSQL: it remembers its keys) or not
    (it reads them)."""
    from imdx.ingest import ingest

    no_method = {**ESP_BEL, "origin": "FRA", "method": None}
    later = _flows_release("b", "2025-06-01", [{**ESP_BEL, "value": 6000.0}, {**no_method, "value": 7.0}])
    older = _flows_release("a", "2025-01-01", [
        {**ESP_BEL, "value": 5951.0}, {**no_method, "value": 5.0}, {**ESP_BEL, "year": 2011, "value": 5100.0}])
    latest = _flows_release("c", "2025-09-01", [{**ESP_BEL, "year": 2011, "value": 5200.0}])
    target = backend.target()
    store = backend.open(target)
    try:
        ingest(store, *later, areas=areas.copy())
        if reopened:
            store.close()
            store = backend.open(target)
        ingest(store, *older, areas=store.areas())
        now = store.select("harmonised_flows", {}, columns=["value", "edition"]).to_pandas()
        rows = sorted(tuple(map(str, r)) for r in now[["origin", "method", "year", "value", "edition"]].values)
        assert rows == [("ESP", "de_beer_2010", "2010", "6000.0", "2025-06-01"),
                        ("ESP", "de_beer_2010", "2011", "5100.0", "2025-01-01"),
                        ("FRA", "nan", "2010", "7.0", "2025-06-01")]
        pinned = store.select("harmonised_flows", {}, edition="2025-01-01").to_pandas()
        assert sorted(pinned["value"].tolist()) == [5.0, 5100.0, 5951.0]
        ingest(store, *latest, areas=store.areas())
        now = store.select("harmonised_flows", {"year": [2011]}).to_pandas()
        assert now[["value", "edition"]].values.tolist() == [[5200.0, "2025-09-01"]]
        assert store.select("harmonised_flows", {}).num_rows == 3
    finally:
        store.close()


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


def test_a_release_keeps_its_footnotes(make_store, areas):
    """A release's footnotes (what the marks of a value's ``note`` mean) are stored with it and read by
    ``notes()``, in release and mark order; a store without any answers an empty table of the same columns."""
    from imdx.ingest import ingest

    with make_store() as store:
        empty = store.notes()
        assert list(empty.columns) == ["release_id", "mark", "text"] and empty.empty
        record, observations = _flows_release("n", "2025-01-01", [{**ESP_BEL, "value": 5951.0, "note": "* 3"}])
        record.notes = {"3": "Including Crimea.", "*": "Estimated by imdx."}
        release_id = ingest(store, record, observations, areas=areas.copy())
        ingest(store, *_flows_release("m", "2025-02-01", [{**ESP_BEL, "value": 1.0}]), areas=store.areas())
        notes = store.notes()
        assert notes.values.tolist() == [[release_id, "*", "Estimated by imdx."],
                                         [release_id, "3", "Including Crimea."]]
        assert str(notes["release_id"].dtype) == "int64"
        assert store.select("harmonised_flows", {}, edition="2025-01-01")["note"].to_pylist() == ["* 3"]
