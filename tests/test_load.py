"""The load pipeline: releases prepared by worker processes give exactly the store one process gives,
and a release that fails in a worker is reported like one that fails here."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pandas as pd
import pytest

import imdx.load as loading
from imdx.codes.areas import AreaChanges
from imdx.config import settings
from imdx.errors import ConfigError, ImdxError
from imdx.load import load
from imdx.model.report import Report
from imdx.store.duckdb_store import DuckDBStore

#: sources that teach the areas their own names and codes (WDI aggregates and income groups, WPP's
#: locations, KNOMAD's spellings): what the workers learn must come back
SOURCES = ["wdi", "knomad", "wpp"]


def _contents(path) -> dict:
    """Every table's row count and an order-free hash of its rows (the times of fetch and load left out)."""
    with DuckDBStore(path, read_only=True) as store:
        con = store.con
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        times = {"release": " EXCLUDE (loaded_at)", "release_file": " EXCLUDE (retrieved_at)"}
        return {t: con.execute(f"SELECT count(*), coalesce(sum(hash(COLUMNS(*{times.get(t, '')}))), 0) "
                               f"FROM {t}").fetchall() for t in tables}


def _decoded(path) -> dict:
    """What the store holds, by release key and text rather than by id: stores that wrote the same
    releases in another order compare equal."""
    with DuckDBStore(path, read_only=True) as store:
        con = store.con
        by_release = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' AND "
            "starts_with(table_name, 'obs_') UNION ALL SELECT 'issue' UNION ALL SELECT 'release_dataflow'").fetchall()]
        out = {t: con.execute(f"SELECT count(*), sum(hash(x)) FROM (SELECT r.key, t.* EXCLUDE (release_id) FROM {t} t "
                              "JOIN release r USING (release_id)) x").fetchall() for t in by_release}
        for name, sql in {"area": "SELECT * FROM area", "area_alias": "SELECT * FROM area_alias",
                          "label": "SELECT text FROM label"}.items():
            out[name] = con.execute(f"SELECT count(*), sum(hash(x)) FROM ({sql}) x").fetchall()
        out["release"] = sorted(con.execute("SELECT source, key, edition, fingerprint FROM release").fetchall())
        return out


def _load(db, mirror, workers: int, sources=SOURCES, progress=None):
    with DuckDBStore(db) as store:
        return load(store, settings(mirror=str(mirror), db=str(db), workers=workers), sources, progress)


def test_workers_give_the_same_store_as_one_process(tmp_path, mirror):
    one = _load(tmp_path / "one.duckdb", mirror, workers=1)
    many = _load(tmp_path / "many.duckdb", mirror, workers=2)
    assert not one.failed and not many.failed
    assert [(o.key, o.status, o.n_obs, len(o.report)) for o in many.outcomes] == \
        [(o.key, o.status, o.n_obs, len(o.report)) for o in one.outcomes]
    a, b = _contents(tmp_path / "one.duckdb"), _contents(tmp_path / "many.duckdb")
    assert a["obs_remittances"][0][0] > 30_000 and a["area_alias"][0][0] > 1_000
    assert a == b


def test_a_release_that_fails_in_a_worker_is_reported_and_the_others_load(tmp_path, mirror):
    bad = tmp_path / "mirror"
    for folder in mirror.iterdir():
        if folder.is_dir() and folder.name != "wpp":
            (bad / folder.name).parent.mkdir(exist_ok=True)
            (bad / folder.name).symlink_to(folder)
    wpp = bad / "wpp" / "wpp2024"
    wpp.mkdir(parents=True)
    for f in (mirror / "wpp" / "wpp2024").iterdir():
        (wpp / f.name).symlink_to(f)
    births = wpp / "births.txt"
    births.unlink()
    births.write_bytes((mirror / "wpp" / "wpp2024" / "births.txt").read_bytes()[:3000].replace(b"\t", b";"))

    summary = _load(tmp_path / "store.duckdb", bad, workers=2, sources=["knomad", "wpp"])
    failed = {o.key: o.error for o in summary.failed}
    assert list(failed) == ["wpp2024"]
    assert "births.txt" in failed["wpp2024"] and "unexpected" not in failed["wpp2024"]
    assert {o.key for o in summary.outcomes if o.status == "loaded"} == {"m49", "brm2021", "bmm2021"}
    with DuckDBStore(tmp_path / "store.duckdb", read_only=True) as store:
        assert set(store.releases().key) == {"m49", "brm2021", "bmm2021"}


def test_a_release_that_registers_only_its_own_codes_is_written_when_ready(tmp_path, mirror, monkeypatch):
    """UNHCR's releases add nothing to the areas but UNHCR's own codes: with workers, one may be written
    ahead of another source's releases still being prepared, and the store is the one the sources'
    order gives."""
    sources = ["knomad", "unhcr"]
    one = _load(tmp_path / "one.duckdb", mirror, workers=1, sources=sources)
    ready, prepare = tmp_path / "refugees-prepared", loading.prepare

    def knomad_waits_for_unhcr(spec, *args):  # inherited by the forked workers
        if spec.source == "knomad":
            deadline = time.monotonic() + 300
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1)  # and for its result to come back from the worker
        prepared = prepare(spec, *args)
        if spec.key == "refugees-2025.12.1":
            ready.touch()
        return prepared

    monkeypatch.setattr(loading, "prepare", knomad_waits_for_unhcr)
    written = []
    many = _load(tmp_path / "many.duckdb", mirror, workers=2, sources=sources,
                 progress=lambda event, spec: written.append(spec.key) if event == "start" else None)
    assert not one.failed and not many.failed
    assert written.index("refugees-2025.12.1") < written.index("bmm2021")  # it overtook KNOMAD
    assert written.index("refugees-2025.12.1") < written.index("demographics-2025.12.0")  # not its own source
    assert [(o.key, o.n_obs) for o in many.outcomes] == [(o.key, o.n_obs) for o in one.outcomes]  # in order
    a, b = _decoded(tmp_path / "one.duckdb"), _decoded(tmp_path / "many.duckdb")
    assert a["obs_refugees"][0][0] > 1_000_000 and a["area_alias"][0][0] > 1_000
    assert a == b


def _changes(areas=(), aliases=(), income=None) -> SimpleNamespace:
    frame = pd.DataFrame([{"code": c, "name": c, "kind": "aggregate"} for c in areas])
    return SimpleNamespace(areas=AreaChanges(frame, list(aliases), pd.Series(income or {}, dtype=object)),
                           observations={}, report=Report())


def test_which_releases_may_overtake(areas):
    spec = SimpleNamespace(source="unhcr", key="k")
    owners = {"unhcr": "unhcr", "unhcr_iso": "unhcr"}
    income = areas.frame["wb_income"].dropna().to_dict()
    assert loading._independent(spec, _changes(aliases=[("AUT", "unhcr", "AUS")], income=income), owners, areas)
    assert loading._independent(spec, _changes(), owners, areas)
    assert not loading._independent(spec, _changes(areas=["XXY"]), owners, areas)  # a new area
    assert not loading._independent(spec, _changes(aliases=[("AUT", "name", "Österreich")]), owners, areas)
    assert not loading._independent(spec, _changes(income={"AUT": "LIC"}), owners, areas)  # another income group
    wdi = SimpleNamespace(source="wdi", key="k")
    assert not loading._independent(wdi, _changes(aliases=[("AUT", "unhcr", "AUS")]), owners, areas)
    with pytest.raises(ImdxError, match="wdi k registers aliases of the system 'unhcr', which only the source "
                                        "unhcr may register"):
        loading._check_owners(wdi, _changes(aliases=[("AUT", "unhcr", "AUS")]), owners)
    loading._check_owners(spec, _changes(aliases=[("AUT", "unhcr", "AUS")]), owners)


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_wrong_number_of_workers_is_refused(value):
    with pytest.raises(ConfigError, match="IMDX_WORKERS"):
        settings(env={"IMDX_WORKERS": value})
