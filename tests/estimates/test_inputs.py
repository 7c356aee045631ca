"""Inputs of the flows-from-stocks methods, read from the real store, and the account on them."""

from __future__ import annotations

import numpy as np
import pytest

from imdx.estimates.inputs import InputsError
from imdx.estimates.run import estimate
from imdx.methods.flows_from_stocks import demographic_accounting


def _value(store, dataflow, source, edition=None, **filters):
    frame = store.select(dataflow, {k: [v] for k, v in filters.items()}, source=source, edition=edition).to_pandas()
    assert len(frame) == 1, (dataflow, filters, len(frame))
    return float(frame["value"].iloc[0])


def test_regions_are_the_countries_with_residents_in_the_account(inputs):
    inp = inputs.flow_inputs(2005, 2010)
    assert len(inputs.countries) == 232
    assert inputs.left_out() == ("BES", "VAT")  # all their residents are of other origin _O
    assert len(inp.regions) == 230 and "BES" not in inp.regions and "USA" in inp.regions
    assert any(i.type == "region-outside-account" for i in inp.issues)


def test_stock_tables_add_up_to_the_population(est_store, inputs):
    inp = inputs.flow_inputs(2005, 2010)
    usa, mex = inp.regions.index("USA"), inp.regions.index("MEX")
    # a bilateral cell as stored
    assert inp.stock_end[mex, usa] == _value(est_store, "migrant_stock", "undesa_ims", "2020", destination="USA",
                                             origin="MEX", sex="_T", age="_T", year=2010)
    # columns (residence) + other origin = Table 2 population, for every region and both years
    for table, pop, other, year in ((inp.stock_start, inp.population_start, inp.other_origin_start, 2005),
                                    (inp.stock_end, inp.population_end, inp.other_origin_end, 2010)):
        np.testing.assert_allclose(table.sum(axis=0) + other, pop, rtol=0, atol=1e-6)
        assert pop[usa] == _value(est_store, "population", "undesa_ims", area="USA", year=year)
    assert inp.other_origin_end.sum() > 1e6  # _O is real and handled outside the account
    assert inp.negative_natives == ()


def test_births_and_deaths_are_wpp_calendar_years_summed(est_store, inputs):
    inp = inputs.flow_inputs(2005, 2010)
    mex = inp.regions.index("MEX")
    expected = sum(_value(est_store, "births", "wpp", area="MEX", year=y) for y in range(2005, 2010))
    assert inp.births[mex] == pytest.approx(expected, rel=1e-12)
    chi = inp.regions.index("CHI")  # WPP has Guernsey and Jersey, UN DESA the Channel Islands
    parts = sum(_value(est_store, "deaths", "wpp", area=a, year=y) for a in ("GGY", "JEY") for y in range(2005, 2010))
    assert inp.deaths[chi] == pytest.approx(parts, rel=1e-12)
    assert inp.missing_vitals == ()
    assert [r.key for r in inp.releases] == ["ims2020-origin-destination-gdiviz", "ims2020-destination", "wpp2024"]


def test_sex_specific_inputs(inputs):
    m, f, t = (inputs.flow_inputs(2010, 2015, s) for s in ("M", "F", "_T"))
    assert m.missing_vitals == () == f.missing_vitals  # derived from WPP's both sexes, never zero
    np.testing.assert_allclose(m.births + f.births, t.births)
    np.testing.assert_allclose(m.deaths + f.deaths, t.deaths)
    np.testing.assert_allclose(m.births / t.births, 1.05 / 2.05)  # the stated sex ratio at birth
    usa = t.regions.index("USA")
    assert 0.45 < m.deaths[usa] / t.deaths[usa] < 0.55  # deaths split like the population by sex
    assert any("sex ratio at birth" in n and "equal crude death rates" in n for n in m.notes)
    # populations by sex (stock / share) add up to both sexes where UN DESA publishes the shares
    usa = t.regions.index("USA")
    assert m.population_start[usa] + f.population_start[usa] == pytest.approx(t.population_start[usa], abs=2)
    total = m.population_end.sum() + f.population_end.sum()
    assert total == pytest.approx(t.population_end.sum(), rel=1e-6)
    assert any(i.type == "population-by-sex-imputed" for i in m.issues)


def test_unknown_years_are_refused(inputs):
    with pytest.raises(InputsError, match="stock years"):
        inputs.flow_inputs(2003, 2008)


def test_the_demographic_account_balances_on_the_real_inputs(inputs):
    inp = inputs.flow_inputs(2010, 2015)
    res = demographic_accounting(inp.stock_start, inp.stock_end, inp.births, inp.deaths)
    n = len(inp.regions)
    acc = res.account()
    flows, idx = acc[:n, :n], np.arange(n)
    assert flows.min() >= 0
    start, end = acc[:n].sum(axis=1), acc[:, :n].sum(axis=0)  # [region, birthplace]
    np.testing.assert_allclose(start, res.stock_start_accounted.T, atol=1e-3)
    np.testing.assert_allclose(end, res.stock_end_accounted.T, atol=1e-3)
    stay = flows[idx, idx]
    inflow = flows.sum(axis=0) - stay + acc[n + 1, :n]
    outflow = flows.sum(axis=1) - stay + acc[:n, n + 1]
    balance = start + acc[n, :n] - acc[:n, n] + inflow - outflow
    np.testing.assert_allclose(balance, end, atol=1e-2)  # every region and birthplace
    # the account is about the real populations: residence totals moved only by the global balance
    # (UN DESA 2020 and WPP 2024 disagree by about 0.3% of the world population over 2010-2015)
    np.testing.assert_allclose(res.stock_start_accounted.sum(axis=0), inp.stock_start.sum(axis=0), rtol=0.01)
    gap = abs((inp.births.sum() - inp.deaths.sum()) - (inp.stock_end.sum() - inp.stock_start.sum()))
    assert 1e6 < gap < 0.01 * inp.stock_start.sum()
    assert abs(res.stock_start_accounted.sum() - inp.stock_start.sum()) <= gap / 2 + 1
    # the migrants: tens of millions of moves, not hundreds
    assert 3e7 < res.od.sum() < 1e8


def test_sex_specific_accounting_runs_on_derived_vitals_and_says_so(inputs):
    inp = inputs.flow_inputs(2010, 2015, "F")
    est = estimate(inp, "demographic_accounting_closed", replicates=0)
    assert est.options["allow_missing_vitals"] is False and "sex ratio at birth" in est.note()
    assert est.result.inputs == inp.provenance and "wpp/wpp2024" in est.result.inputs[2]
    both = estimate(inputs.flow_inputs(2010, 2015), "demographic_accounting_closed", replicates=0)
    assert 0.3 * both.total < est.total < both.total  # women's moves: a part of all moves, not a multiple
    assert estimate(inp, "stock_differencing_reverse", replicates=0).total > 0


def test_precision_follows_the_type_of_data(inputs):
    inp = inputs.flow_inputs(2010, 2015)
    assert set(np.unique(inp.stock_cv)) <= {0.05, 0.25} and (inp.stock_cv == 0.25).sum() >= 1
    assert any(n.startswith("precision assumed") for n in inp.notes)
