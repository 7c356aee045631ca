"""The remittance report reproduced from the real stored data."""

from __future__ import annotations

import pytest

from imdx.estimates import remittances


@pytest.fixture(scope="module")
def answer(est_store):
    return remittances.volatility(est_store)


@pytest.fixture(scope="module")
def ratha_shaw(est_store):
    return remittances.ratha_shaw_comparison(est_store)


def test_remittances_are_less_volatile_than_fdi_in_lmics(answer):
    g = answer.by_group
    assert set(g.index) == {"LIC", "LMC", "UMC", "all LMIC"}
    assert g.loc["all LMIC", "countries"] >= 110
    # measured: median detrended-log sd 0.53 (remittances) against 0.90 (FDI); 81% of countries
    assert g.loc["all LMIC", "remittances_detrended_sd"] < 0.75 * g.loc["all LMIC", "fdi_detrended_sd"]
    assert (g["share_remittances_less_volatile"] > 0.7).all()
    assert answer.share_less_volatile > 0.75
    # ODA (to 2018) is the least volatile by the detrended measure
    assert answer.by_group_oda.loc["all LMIC", "oda_detrended_sd"] < g.loc["all LMIC", "remittances_detrended_sd"]
    assert any(r.startswith("wdi/BX.TRF.PWKR.CD.DT") for r in answer.releases)


def test_report_reproduces(answer, est_store):
    text = remittances.volatility_report(answer)
    assert "**Answer from the data: yes.**" in text
    assert text == remittances.volatility_report(remittances.volatility(est_store))
    top = answer.shares.iloc[0]
    assert top["share"] > 20 and top["group"] in ("LIC", "LMC", "UMC")  # e.g. Tonga, Lebanon, Tajikistan


def test_ratha_shaw_comes_close_to_knomad(ratha_shaw):
    t = ratha_shaw.table.set_index(["stocks", "received", "rule"])
    best = t.loc["KNOMAD 2021 migration matrix", "KNOMAD receiver totals", "stock"]
    # measured: 97% of cells of >= US$1m within 2x, corr of logs 0.93
    assert best["within_2x"] > 0.9 and best["corr_log"] > 0.85
    assert best["total_ours_bn"] == pytest.approx(best["total_knomad_bn"], rel=1e-6)
    # weighting by host income moves away from KNOMAD's matrix
    assert t.loc["KNOMAD 2021 migration matrix", "KNOMAD receiver totals", "host_income"]["within_2x"] < 0.6
    # independent inputs (UN DESA stocks, WDI totals) still correlate
    un = t.loc["UN DESA 2020 stocks (2020)", "WDI received 2021", "stock"]
    assert un["corr"] > 0.9 and un["within_2x"] > 0.7
    assert ratha_shaw.countries > 180
    text = remittances.ratha_shaw_report(ratha_shaw)
    assert "Why it differs" in text and "| KNOMAD 2021 migration matrix |" in text
