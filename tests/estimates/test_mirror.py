"""Mirror flows on the real pairs both sides report (the MigMod EU-27 table), stored and served with intervals."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import numpy as np
import pytest

from imdx.estimates import mirror


@pytest.fixture(scope="module")
def harmonised(est_store):
    return mirror.harmonise_all(est_store, replicates=20)


def test_every_year_is_harmonised_with_the_reference_at_one(harmonised):
    years, issues, _ = harmonised
    assert [h.year for h in years] == list(range(2010, 2020))
    for h in years:
        ref = h.countries.index("SWE")
        assert h.result.sending_factors[ref] == 1 and h.result.receiving_factors[ref] == 1
        assert h.replicates >= 10
        both = ~np.isnan(h.result.sender_reported) & ~np.isnan(h.result.receiver_reported)
        assert h.result.pairs_used == int((both & (np.nan_to_num(h.result.sender_reported) > 0)
                                           & (np.nan_to_num(h.result.receiver_reported) > 0)).sum())
    # countries without a pair reported by both sides are named, not silently dropped
    assert any("DEU" in i.message for i in issues)


def test_spain_to_belgium_2010_sits_between_its_reports(harmonised):
    h = next(x for x in harmonised[0] if x.year == 2010)
    f = h.frame().set_index(["origin", "destination"])
    row = f.loc[("ESP", "BEL")]
    assert (row["sender_reported"], row["receiver_reported"]) == (5_835, 6_067)
    assert row["lower"] <= row["harmonised"] <= row["upper"]
    assert 0.5 * 5_835 < row["harmonised"] < 1.5 * 6_067  # corrected, not invented
    # no systematic pull: the harmonised flows are about as large as the reports (median ratio near 1)
    both = f.dropna(subset=["sender_reported", "receiver_reported"])
    ratio = np.nanmedian(both["harmonised"] / both["receiver_reported"].where(both["receiver_reported"] > 0))
    assert 0.7 < ratio < 1.4


def test_every_interval_contains_its_estimate(harmonised):
    for h in harmonised[0]:
        ok = ~np.isnan(h.result.harmonised)
        assert np.all(h.lower[ok] <= h.result.harmonised[ok] + 1e-9)
        assert np.all(h.result.harmonised[ok] <= h.upper[ok] + 1e-9)


def test_stored_and_served_with_lower_and_upper(est_store, harmonised, tmp_path):
    years, issues, pairs = harmonised
    release = mirror.store_harmonised(est_store, years, pairs, issues, 20)
    assert release is not None and mirror.store_harmonised(est_store, years, pairs, issues, 20) is None
    rows = est_store.select("harmonised_flows", {"origin": ["ESP"], "destination": ["BEL"]}).to_pandas()
    assert list(rows.columns[:8]) == ["origin", "destination", "method", "year", "origin_name", "destination_name",
                                      "value", "lower"] and "upper" in rows
    assert (rows["lower"] <= rows["value"]).all() and (rows["value"] <= rows["upper"]).all()
    assert "reported by origin 5,835" in rows[rows["year"] == 2010]["note"].iloc[0]
    # and through the REST API, as a user gets it
    import uvicorn

    from imdx.api import create_app
    from tests.api.conftest import free_port

    est_store.con.execute("CHECKPOINT")
    copy = tmp_path / "imdx.duckdb"
    shutil.copyfile(est_store.path, copy)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(copy, portal=False, sdmx=False), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        body = httpx.get(f"http://127.0.0.1:{port}/api/v1/data/harmonised_flows",
                         params={"origin": "ESP", "destination": "BEL", "year": 2010}, timeout=30).json()
        record = body["data"][0]
        assert {"lower", "upper", "value"} <= set(record) and record["lower"] <= record["value"] <= record["upper"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
