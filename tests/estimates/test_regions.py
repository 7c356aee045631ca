"""Estimated flows summed to regions when they are stored (``estimated_region_flows``): for each grouping an
estimate's sums add up to its world total, every country is placed, and the sums are in the same release."""

from __future__ import annotations

import pytest

from imdx.estimates.regions import DATAFLOW, GROUPINGS, UNPLACED, regional_frame
from imdx.estimates.run import run_all


@pytest.fixture(scope="module")
def estimates(inputs):
    return run_all(inputs, methods=["demographic_accounting_closed", "stock_differencing_drop"],
                   periods=[(2015, 2020)], sexes=["_T"])


def test_each_grouping_adds_up_to_the_world_total(estimates, est_store):
    frame = regional_frame(estimates, est_store.areas())
    assert set(frame["grouping"]) == set(GROUPINGS)
    sums = frame.groupby(["grouping", "method"], observed=True)["value"].sum()
    for e in estimates:
        for grouping in GROUPINGS:
            assert sums[grouping, e.method] == pytest.approx(e.total, rel=1e-9)
    counts = frame.groupby("grouping", observed=True)["origin"].nunique()
    assert counts["geographic"] == 6 and counts["sdg"] == 8 and counts["subregion"] == 22
    assert UNPLACED not in set(frame["origin"]) | set(frame["destination"])  # Channel Islands is in Europe now


def test_europe_to_africa_is_the_sum_of_its_country_flows(estimates, est_store):
    areas = est_store.areas()
    closed = next(e for e in estimates if e.method == "demographic_accounting_closed")
    europe = [i for i, c in enumerate(closed.regions) if areas.frame.at[c, "region"] == "150"]
    africa = [i for i, c in enumerate(closed.regions) if areas.frame.at[c, "region"] == "002"]
    expected = sum(closed.od[i, j] for i in europe for j in africa)
    frame = regional_frame([closed], areas)
    row = frame[(frame["grouping"] == "geographic") & (frame["origin"] == "150") & (frame["destination"] == "002")]
    assert len(row) == 1 and row["value"].iloc[0] == pytest.approx(expected, rel=1e-12)
    assert "sum of the estimated flows" in row["note"].iloc[0] and "inputs:" in row["note"].iloc[0]


def test_stored_in_the_same_release(estimates, est_store, inputs, tmp_path):
    import shutil

    from imdx.estimates.inputs import StoreInputs
    from imdx.estimates.run import store_estimates
    from imdx.store.duckdb_store import DuckDBStore

    est_store.con.execute("CHECKPOINT")
    copy = tmp_path / "imdx.duckdb"
    shutil.copyfile(est_store.path, copy)
    with DuckDBStore(copy) as store:
        release = store_estimates(store, estimates, StoreInputs(store))
        stored = store.select(DATAFLOW, {"grouping": ["geographic"], "origin": ["150"], "destination": ["002"]})
        assert set(stored["release_id"].to_pylist()) == {release}
        assert sorted(stored["method"].to_pylist()) == ["demographic_accounting_closed", "stock_differencing_drop"]
        # the sums are of the rows stored: cells too small to be stored are not summed either
        for method in ("demographic_accounting_closed", "stock_differencing_drop"):
            country = store.select("estimated_flows", {"method": [method]}, columns=["value"])["value"]
            regional = store.select(DATAFLOW, {"grouping": ["geographic"], "method": [method]}, columns=["value"])
            assert sum(regional["value"].to_pylist()) == pytest.approx(sum(country.to_pylist()), rel=1e-12)
