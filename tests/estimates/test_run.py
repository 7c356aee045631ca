"""Every method on the real inputs, stored as one estimate release and queried back."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from imdx.estimates.run import METHODS, run_all, store_estimates, to_frame
from imdx.query import query


@pytest.fixture(scope="module")
def estimates(inputs):
    return run_all(inputs, periods=[(2005, 2010)], sexes=["_T", "M"], replicates=3)


@pytest.fixture(scope="module")
def release_id(est_store, inputs, estimates):
    return store_estimates(est_store, estimates, inputs)


def test_every_method_runs_for_both_sexes(estimates):
    assert sorted({(e.method, e.sex) for e in estimates}) == sorted((m, s) for m in METHODS for s in ("_T", "M"))
    by = {(e.method, e.sex): e for e in estimates}
    closed = by["demographic_accounting_closed", "_T"]
    # Dennett's stated global total is the closed account's
    assert by["migration_rates_dennett", "_T"].options["total_flow"] == pytest.approx(closed.total)
    assert "demographic_accounting_closed" in by["migration_rates_dennett", "_T"].options["total_flow_from"]
    # the orders of magnitude the methods are known for (Abel & Cohen 2019): differencing below the
    # closed account, the independence (no-stayer) estimate several times larger
    assert by["stock_differencing_drop", "_T"].total < by["stock_differencing_reverse", "_T"].total < closed.total
    assert by["demographic_accounting_closed_no_stayer", "_T"].total > 4 * closed.total
    assert np.nanmin(by["rogers_von_rabenau", "_T"].od) < 0  # documented: can be negative
    for e in estimates:
        if e.method != "rogers_von_rabenau":
            assert np.nanmin(e.od) >= 0, e.method
    # no allowance needed: CHI from Guernsey + Jersey, BES and VAT outside the account, vitals by sex derived
    assert closed.options["allow_missing_vitals"] is False
    assert by["demographic_accounting_closed", "M"].options["allow_missing_vitals"] is False
    assert any("sex ratio at birth" in n for n in by["demographic_accounting_closed", "M"].notes)
    pattern = re.compile(r"who moves: outward (\d+)%, return (\d+)%, transit (\d+)%")
    who = next(m for m in map(pattern.search, by["pseudo_bayesian", "_T"].notes) if m)
    shares = [int(x) for x in who.groups()]
    assert 98 <= sum(shares) <= 102 and 15 <= shares[1] <= 35  # returns: the paper's "roughly one of four"
    assert "sex ratio at birth 1.05" in by["demographic_accounting_closed", "M"].definition()
    # men move less than both sexes together, now that their births and deaths are not zero
    assert by["demographic_accounting_closed", "M"].total < closed.total
    # the default method, Azose & Raftery: between minimum migration and independence
    pb = by["pseudo_bayesian", "_T"]
    assert closed.total < pb.total < by["demographic_accounting_closed_no_stayer", "_T"].total
    assert pb.options["prior_weight"] == 0.1 and "interval" in pb.definition()
    for e in estimates:  # every interval contains its estimate
        ok = np.isfinite(e.od) & np.isfinite(e.lower)
        assert np.all(e.lower[ok] <= e.od[ok]) and np.all(e.od[ok] <= e.upper[ok]), e.method


def test_observations_are_the_cells_of_half_a_person_or_more(estimates):
    frame = to_frame(estimates)
    off = [np.nan_to_num(e.od) - np.diag(np.diag(np.nan_to_num(e.od))) for e in estimates]
    assert len(frame) == sum(int((np.abs(o) >= 0.5).sum()) for o in off)
    sums = frame.groupby(["method", "sex"], observed=True)["value"].sum()
    for e, o in zip(estimates, off):
        dropped = o[(np.abs(o) < 0.5)].sum()
        assert sums[e.method, e.sex] == pytest.approx(e.total - dropped, rel=1e-9)
        if (np.abs(o[o != 0]) < 0.5).any():  # the rounding is recorded in the estimate's note
            assert "rounded away" in e.note()
    assert (frame["lower"] <= frame["value"]).all() and (frame["value"] <= frame["upper"]).all()


def test_the_release_is_queryable_with_method_options_and_inputs(est_store, release_id, estimates):
    assert release_id is not None
    rows = query(est_store, "estimated_flows", origin="MEX", destination="USA", sex="total")
    assert set(rows["method"]) == set(METHODS)
    assert set(rows["release_id"]) == {release_id}
    assert (rows["period_start"] == "2005").all() and (rows["year"] == 2010).all()
    assert (rows["obs_status"] == "E").all() and (rows["unit"] == "persons").all()
    closed = rows[rows["method"] == "demographic_accounting_closed"].iloc[0]
    mine = next(e for e in estimates if e.method == "demographic_accounting_closed" and e.sex == "_T")
    assert closed["value"] == pytest.approx(mine.od[mine.regions.index("MEX"), mine.regions.index("USA")])
    assert closed["value"] > 1e5  # Mexico -> United States is a major corridor
    assert "stayer_assumption=True" in closed["definition"] and "birthplace_totals=rescale" in closed["definition"]
    assert "undesa_ims/ims2020-origin-destination-gdiviz" in closed["note"] and "wpp/wpp2024" in closed["note"]
    release = est_store.releases().set_index("release_id").loc[release_id]
    assert release["source"] == "imdx-estimates" and release["key"].startswith("flows-")
    assert release["edition"] == date.today().isoformat()
    files = release["files"]
    for key in ("undesa_ims/ims2020-origin-destination-gdiviz", "undesa_ims/ims2020-destination", "wpp/wpp2024"):
        assert f"release:{key} sha256:" in files
    fingerprint = est_store.releases().set_index("key").loc["wpp2024", "fingerprint"]
    assert fingerprint in files
    # recorded adjustments are issues of the release
    issues = est_store.issues(source="imdx-estimates")
    assert {"region-outside-account", "estimate-adjustment"} <= set(issues["type"])


def test_storing_the_same_estimates_again_changes_nothing(est_store, release_id, estimates, inputs):
    assert store_estimates(est_store, estimates, inputs) is None
