"""The load pipeline: releases prepared by worker processes give exactly the store one process gives,
and a release that fails in a worker is reported like one that fails here."""

from __future__ import annotations

import pytest

from imdx.config import settings
from imdx.errors import ConfigError
from imdx.load import load
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


def _load(db, mirror, workers: int, sources=SOURCES):
    with DuckDBStore(db) as store:
        return load(store, settings(mirror=str(mirror), db=str(db), workers=workers), sources)


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


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_wrong_number_of_workers_is_refused(value):
    with pytest.raises(ConfigError, match="IMDX_WORKERS"):
        settings(env={"IMDX_WORKERS": value})
