"""Property tests (hypothesis): fitted margins equal their targets, flows are non-negative where the
method promises it, and the demographic account balances for every region and birthplace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imdx.methods import MethodInputError
from imdx.methods.azose_raftery import azose_raftery, flow_types
from imdx.methods.flows_from_stocks import demographic_accounting, stock_differencing
from imdx.methods.ipf import fit_table, ipf2, ipf3, ipf3_qi

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def stock_pair(draw, min_n=2, max_n=7):
    """A start table, a consistent world (births, deaths) and an end table with noise."""
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    fb = np.round(rng.gamma(0.8, 2000, (n, n)) * (rng.random((n, n)) > 0.3))
    np.fill_diagonal(fb, 0)
    native = np.round(rng.uniform(1e4, 1e6, n))
    s0 = fb + np.diag(native)
    noise = rng.lognormal(0, 0.3, (n, n))
    s1 = np.round(s0 * noise)
    np.fill_diagonal(s1, np.round(native * rng.uniform(0.95, 1.1, n)))
    births = np.round(native * rng.uniform(0.01, 0.05, n))
    deaths = np.round(s0.sum(axis=0) * rng.uniform(0.01, 0.04, n))
    return s0, s1, births, deaths


def _balances(r):
    """stock_t + births - deaths + in - out == stock_t+1 for every region and birthplace, where in/out
    count moves between regions and to/from outside (open systems)."""
    f = r.flows
    n = f.shape[0]
    moves = f.copy()
    moves[np.arange(n), np.arange(n), :] = 0
    inflow = moves.sum(axis=0).T          # k x j
    outflow = moves.sum(axis=1).T         # k x i
    lhs = (r.stock_start_accounted + r.births_by_birthplace - r.deaths_by_birthplace + inflow
           + r.immigration_outside - outflow - r.emigration_outside)
    return lhs, r.stock_end_accounted


@SETTINGS
@given(stock_pair(), st.sampled_from(["before-demo-adjust", "after-demo-adjust"]),
       st.sampled_from(["native", "proportion"]), st.booleans())
def test_closed_account_balances_and_flows_non_negative(data, match_global, birth_method, stayer):
    s0, s1, b, d = data
    r = demographic_accounting(s0, s1, b, d, match_global=match_global, birth_method=birth_method,
                               stayer_assumption=stayer)
    lhs, rhs = _balances(r)
    scale = max(1.0, float(np.abs(rhs).max()))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-6 * scale)
    assert np.all(r.flows >= 0)
    # the margins the estimate claims are the margins it has
    np.testing.assert_allclose(r.flows.sum(axis=1).T, r.stock_start_adjusted, atol=1e-6 * scale)
    np.testing.assert_allclose(r.flows.sum(axis=0).T, r.stock_end_adjusted, atol=1e-6 * scale)
    # a closed world: the account's stocks add up to births - deaths exactly
    assert abs((r.stock_end_accounted.sum() - r.stock_start_accounted.sum()) - (b.sum() - d.sum())) < 1e-6 * scale
    assert np.all(np.diagonal(r.od) == 0)
    _summaries_match_the_array(r, scale)


def _summaries_match_the_array(r, scale):
    """The O(n^2) summaries (computed without the n^3 array) agree with the array itself."""
    n = r.stayers.shape[0]
    np.testing.assert_allclose(r.od_with_stayers, r.flows.sum(axis=2), rtol=1e-12, atol=1e-9 * scale)
    np.testing.assert_allclose(r.stayers, r.flows[np.arange(n), np.arange(n), :], rtol=1e-12, atol=0)
    od = r.flows.sum(axis=2)
    np.fill_diagonal(od, 0)
    np.testing.assert_allclose(r.od, od, rtol=1e-12, atol=1e-9 * scale)


@SETTINGS
@given(stock_pair(), st.sampled_from(["open", "open-dr"]))
def test_open_account_balances_against_the_input_stocks(data, method):
    s0, s1, b, d = data
    r = demographic_accounting(s0, s1, b, d, birthplace_totals=method)
    lhs, rhs = _balances(r)
    scale = max(1.0, float(np.abs(rhs).max()))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-6 * scale)
    # open systems do not touch the stocks: the account uses the inputs as given
    np.testing.assert_allclose(r.stock_start_accounted, s0, atol=1e-6 * scale)
    np.testing.assert_allclose(r.stock_end_accounted, s1, atol=1e-6 * scale)
    assert np.all(r.emigration_outside >= 0) and np.all(r.immigration_outside >= 0)


@SETTINGS
@given(stock_pair(), st.floats(0, 1))
def test_pseudo_bayes_keeps_margins_between_its_two_ingredients(data, weight):
    s0, s1, b, d = data
    r = azose_raftery(s0, s1, b, d, prior_weight=weight, bounds=None)
    lo = demographic_accounting(s0, s1, b, d)
    hi = demographic_accounting(s0, s1, b, d, stayer_assumption=False)
    scale = max(1.0, float(s0.max()))
    np.testing.assert_allclose(r.flows.sum(axis=1).T, lo.stock_start_adjusted, atol=1e-6 * scale)
    np.testing.assert_allclose(r.flows.sum(axis=0).T, lo.stock_end_adjusted, atol=1e-6 * scale)
    assert np.all(r.flows >= -1e-9)
    # the summaries (built without the n^3 array) agree with the array, and the OD table is the blend
    np.testing.assert_allclose(r.od_with_stayers, r.flows.sum(axis=2), atol=1e-6 * scale)
    np.testing.assert_allclose(r.od, (1 - weight) * lo.od + weight * hi.od, atol=1e-6 * scale)
    # total migration lies between the minimum-migration and the independence totals
    assert lo.od.sum() - 1e-6 * scale <= r.od.sum() <= hi.od.sum() + 1e-6 * scale
    # emigration, return and transit add up to the flows, none negative
    types = flow_types(r)
    np.testing.assert_allclose(sum(types.values()), r.od, atol=1e-6 * scale)
    assert all(np.all(t >= -1e-6 * scale) for t in types.values())


@st.composite
def table_and_margins(draw):
    n, m = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    seed = rng.uniform(0.1, 10, (n, m))
    truth = seed * rng.lognormal(0, 1, (n, m)) * 100
    return seed, truth.sum(axis=1), truth.sum(axis=0)


@SETTINGS
@given(table_and_margins())
def test_ipf2_and_fit_table_fitted_margins_equal_targets(data):
    seed, r, c = data
    for res in (ipf2(r, c, seed, tol=1e-8, maxit=100_000), fit_table(seed, r, c, tol=1e-8)):
        np.testing.assert_allclose(res.fitted.sum(axis=1), r, rtol=1e-9, atol=1e-7)
        np.testing.assert_allclose(res.fitted.sum(axis=0), c, rtol=1e-9, atol=1e-7)
        assert res.margin_error <= 1e-7 and res.converged
        # the fit keeps the seed's odds ratios (log-linear form a_i b_j m_ij)
        ratio = res.fitted / seed
        np.testing.assert_allclose(ratio * ratio[0, 0], np.outer(ratio[:, 0], ratio[0, :]), rtol=1e-6)


@SETTINGS
@given(stock_pair(max_n=6), st.booleans())
def test_ipf3_margins_equal_targets(data, qi):
    s0, s1, _, _ = data
    # make every birthplace total equal (a closed pair), as ipf3 requires
    s1 = s1 * (s0.sum(axis=1) / s1.sum(axis=1))[:, None]
    fit = ipf3_qi if qi else ipf3
    r = fit(s0.T, s1, tol=1e-7, maxit=10_000)
    np.testing.assert_allclose(r.fitted.sum(axis=1), s0.T, rtol=1e-9, atol=1e-5)
    np.testing.assert_allclose(r.fitted.sum(axis=0), s1.T, rtol=1e-9, atol=1e-5)
    assert np.all(r.fitted >= 0)


@SETTINGS
@given(stock_pair(), st.sampled_from(["return", "zero"]))
def test_stock_differencing_is_non_negative_with_empty_diagonal(data, decrease):
    s0, s1, _, _ = data
    f = stock_differencing(s0, s1, decrease).flows
    assert np.all(f >= 0) and np.all(np.diagonal(f) == 0)
    y = s1 - s0
    np.fill_diagonal(y, 0)
    # every increase appears as a flow; with "return" every decrease too (transposed)
    expected = np.maximum(y, 0).sum() + (np.maximum(-y, 0).sum() if decrease == "return" else 0)
    assert f.sum() == pytest.approx(expected)


def test_inconsistent_margins_are_refused_not_turned_into_proportions():
    with pytest.raises(MethodInputError, match="same total"):
        ipf2([10, 20], [10, 25])
    with pytest.raises(MethodInputError, match="same total"):
        fit_table(np.ones((2, 2)), [10, 20], [10, 25])
    with pytest.raises(MethodInputError, match="per birthplace"):
        ipf3(np.array([[5.0, 1], [1, 5]]), np.array([[5.0, 2], [1, 5]]))


def test_negative_inputs_are_refused():
    with pytest.raises(MethodInputError, match="negative"):
        ipf2([10, 20], [15, 15], seed=[[1, -1], [1, 1]])
    with pytest.raises(MethodInputError, match="negative"):
        ipf2([10, -20], [-5, -5])
    with pytest.raises(MethodInputError, match="negative foreign-born"):
        demographic_accounting([[10, -1], [1, 10]], [[10, 1], [1, 10]], [0, 0], [0, 0])


def test_missing_vitals_need_permission_and_are_recorded():
    s0 = np.array([[100.0, 10], [5, 50]])
    s1 = np.array([[100.0, 12], [4, 49]])
    with pytest.raises(MethodInputError, match="allow_missing_vitals"):
        demographic_accounting(s0, s1, [np.nan, 0], [0, 0])
    r = demographic_accounting(s0, s1, None, None, allow_missing_vitals=True)
    assert any("births missing" in n for n in r.notes) and r.options["allow_missing_vitals"]


def test_unbalanced_world_without_global_matching_is_refused():
    s0 = np.array([[100.0, 10], [5, 50]])
    s1 = np.array([[120.0, 12], [4, 49]])
    with pytest.raises(MethodInputError, match="match_global"):
        demographic_accounting(s0, s1, [0, 0], [0, 0], match_global="none")


def test_accounting_deaths_that_would_be_negative_give_a_clear_error():
    s0 = np.array([[100.0, 10], [5, 50]])
    s1 = np.array([[100.0, 30], [5, 30]])
    with pytest.raises(MethodInputError, match="death_method='proportion'"):
        demographic_accounting(s0, s1, [0, 0], [0, 0], death_method="accounting")


def test_three_d_seed_equals_replicated_two_d_seed():
    rng = np.random.default_rng(5)
    n = 5
    s0 = rng.uniform(10, 100, (n, n))
    s1 = s0 * rng.uniform(0.8, 1.2, (n, n))
    s1 *= (s0.sum(axis=1) / s1.sum(axis=1))[:, None]
    seed2 = rng.uniform(0.1, 2, (n, n))
    seed3 = np.repeat(seed2[:, :, None], n, axis=2)
    a, b = ipf3(s0.T, s1, seed=seed2, tol=1e-9), ipf3(s0.T, s1, seed=seed3, tol=1e-9)
    np.testing.assert_allclose(a.fitted, b.fitted, rtol=1e-12)
    assert a.iterations == b.iterations > 2
    # the seed's interaction is kept within each birthplace: odds ratios of fitted / seed are 1
    k = 0
    ratio = a.fitted[:, :, k] / seed2
    np.testing.assert_allclose(ratio * ratio[0, 0], np.outer(ratio[:, 0], ratio[0, :]), rtol=1e-9)
    b_ = np.zeros(n)
    r = demographic_accounting(s0, s1, b_, b_, seed=seed3, stayer_assumption=False)
    q = demographic_accounting(s0, s1, b_, b_, seed=seed2, stayer_assumption=False)
    np.testing.assert_allclose(r.flows, q.flows, rtol=1e-9)
    assert r.margin_error < 1e-5
    for est in (r, q):
        _summaries_match_the_array(est, 100.0)
