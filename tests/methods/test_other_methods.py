"""Interpolation, balancing, mirror flows, remittances and indices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdx.methods import MethodInputError
from imdx.methods.balancing import balance_net_migration
from imdx.methods.indices import (
    emigration_rate,
    emigration_rates_from_stocks,
    migration_intensity,
    net_migration,
)
from imdx.methods.interpolation import decimal_year, interpolate_stocks, mid_year
from imdx.methods.mirror import harmonise_mirror_flows
from imdx.methods.remittances import (
    compare_volatility,
    detrended_log_sd,
    growth_cv,
    ratha_shaw_allocation,
    share_of_gdp,
)

# --- interpolation -------------------------------------------------------------------------------


def test_decimal_year_and_mid_year():
    assert decimal_year("2020-01-01") == 2020.0
    assert decimal_year(dt.date(2021, 7, 1)) == pytest.approx(2021 + 181 / 365)
    assert mid_year(2020) == pytest.approx(2020 + 182 / 366)        # leap year
    assert decimal_year(np.datetime64("2019-07-02")) == pytest.approx(2019 + 182 / 365)


def test_exponential_interpolation_and_flags():
    dates = ["2000-04-01", "2010-10-01"]
    r = interpolate_stocks(dates, [100.0, 400.0], [mid_year(2005), "2000-04-01", mid_year(2012), mid_year(1999)])
    t0, t1 = decimal_year(dates[0]), decimal_year(dates[1])
    rate = np.log(4) / (t1 - t0)
    expected = [100 * np.exp(rate * (mid_year(2005) - t0)), 100.0,
                400 * np.exp(rate * (mid_year(2012) - t1)), 100 * np.exp(rate * (mid_year(1999) - t0))]
    np.testing.assert_allclose(r.values, expected, rtol=1e-12)
    assert r.how == ("interpolated", "observed", "extrapolated", "extrapolated")
    assert r.estimated.tolist() == [True, False, True, True]


def test_interpolation_of_whole_tables_uses_each_cell_rate_and_linear_for_zeros():
    a, b = np.array([[100.0, 0.0], [50.0, 10.0]]), np.array([[200.0, 30.0], [50.0, 0.0]])
    r = interpolate_stocks([2000.0, 2010.0], [a, b], [2005.0])
    np.testing.assert_allclose(r.values[0], [[100 * np.sqrt(2), 15.0], [50.0, 5.0]])
    assert r.how == ("interpolated-linear",)


def test_default_targets_are_mid_years_inside_the_range_and_limits_are_enforced():
    r = interpolate_stocks(["2001-03-01", "2004-11-01"], [10.0, 20.0])
    np.testing.assert_allclose(r.dates, [mid_year(y) for y in (2001, 2002, 2003, 2004)])
    with pytest.raises(MethodInputError, match="outside"):
        interpolate_stocks([2000.0, 2001.0], [1.0, 2.0], [2005.0], extrapolate=False)
    with pytest.raises(MethodInputError, match="years from the nearest"):
        interpolate_stocks([2000.0, 2001.0], [1.0, 2.0], [2010.0], max_extrapolation=5)
    with pytest.raises(MethodInputError, match="share a date"):
        interpolate_stocks([2000.0, 2000.0], [1.0, 2.0], [2000.5])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1, 1e7), min_size=2, max_size=6), st.floats(0, 1))
def test_interpolated_values_lie_between_neighbours(values, frac):
    dates = np.arange(len(values), dtype=float) * 5 + 1990
    x = dates[0] + frac * (dates[-1] - dates[0])
    r = interpolate_stocks(dates, values, [x])
    i = min(int(np.searchsorted(dates, x, side="right")) - 1, len(values) - 2)
    lo, hi = sorted(values[i:i + 2])
    assert lo * (1 - 1e-12) <= r.values[0] <= hi * (1 + 1e-12)


# --- balancing -----------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=20).filter(
    lambda v: any(x > 1 for x in v) and any(x < -1 for x in v)))
def test_split_balancing_sums_to_zero_and_keeps_signs(net):
    r = balance_net_migration(net)
    assert abs(r.balanced.sum()) <= 1e-9 * np.abs(net).sum()
    x = np.asarray(net)
    assert np.all(np.sign(r.balanced[x != 0]) == np.sign(x[x != 0]))
    np.testing.assert_allclose(r.adjustment, r.balanced - x)


def test_weighted_balancing_and_errors():
    r = balance_net_migration([10.0, -4.0, 0.0], "weights", weights=[1, 1, 4])
    np.testing.assert_allclose(r.balanced, [9.0, -5.0, -4.0])
    with pytest.raises(MethodInputError, match="one sign"):
        balance_net_migration([1.0, 2.0])
    with pytest.raises(MethodInputError, match="needs weights"):
        balance_net_migration([1.0, -2.0], "weights")


# --- mirror flows --------------------------------------------------------------------------------


def _distorted(n=6, seed=3, missing=0.15):
    rng = np.random.default_rng(seed)
    true = rng.uniform(100, 5000, (n, n))
    np.fill_diagonal(true, np.nan)
    r_true = rng.uniform(0.5, 2.0, n)   # receiving-side factor: true = r * reported
    s_true = rng.uniform(0.5, 3.0, n)   # sending-side factor: true = s * reported
    r_true[0] = s_true[0] = 1.0         # the reference country reports correctly
    receiver = true / r_true[None, :]
    sender = true / s_true[:, None]
    holes = rng.random((n, n)) < missing
    receiver[holes] = np.nan
    sender[holes.T & ~holes] = np.nan
    return true, sender, receiver, r_true, s_true


def test_mirror_recovers_known_correction_factors():
    true, sender, receiver, r_true, s_true = _distorted()
    res = harmonise_mirror_flows(sender, receiver, reference=0)
    np.testing.assert_allclose(res.receiving_factors, r_true, rtol=1e-9)
    np.testing.assert_allclose(res.sending_factors, s_true, rtol=1e-9)
    ok = ~np.isnan(res.harmonised)
    np.testing.assert_allclose(res.harmonised[ok], true[ok], rtol=1e-9)
    assert res.residual < 1e-6
    table = res.side_by_side([f"R{i}" for i in range(6)])
    assert {"sender_reported", "receiver_reported", "harmonised"} <= set(table.columns)
    assert len(table) == ok.sum()


def test_mirror_with_noise_is_close_and_distortion_is_detected():
    _, sender, receiver, r_true, s_true = _distorted(n=8, seed=11, missing=0.0)
    rng = np.random.default_rng(0)
    res = harmonise_mirror_flows(sender * rng.lognormal(0, 0.02, sender.shape),
                                 receiver * rng.lognormal(0, 0.02, receiver.shape), reference=0)
    np.testing.assert_allclose(res.sending_factors, s_true, rtol=0.05)
    np.testing.assert_allclose(res.receiving_factors, r_true, rtol=0.05)
    assert res.residual > 0


def test_mirror_refuses_countries_without_any_mirror_pair():
    sender = np.array([[np.nan, 1.0, np.nan], [1.0, np.nan, np.nan], [np.nan, np.nan, np.nan]])
    receiver = sender.copy()
    with pytest.raises(MethodInputError, match="no pair reported by both sides"):
        harmonise_mirror_flows(sender, receiver, reference=0)


# --- remittances ---------------------------------------------------------------------------------


def test_growth_cv_and_detrended_sd_by_hand():
    x = [100.0, 110.0, 99.0, 118.8]          # growth +10 %, -10 %, +20 %
    g = np.array([0.1, -0.1, 0.2])
    assert growth_cv(x) == pytest.approx(g.std(ddof=1) / g.mean())
    y = np.log(x)
    t = np.arange(4)
    resid = y - np.polyval(np.polyfit(t, y, 1), t)
    assert detrended_log_sd(x) == pytest.approx(np.sqrt((resid ** 2).sum() / 2))


def test_smooth_series_is_less_volatile_than_a_jumpy_one():
    years = np.arange(1990, 2011)
    rem = 100 * 1.08 ** (years - 1990)
    fdi = rem * np.where(np.arange(len(years)) % 2 == 0, 1.5, 0.6)
    oda = rem * 0.9
    v = compare_volatility(rem, fdi, oda, years)
    assert v["remittances"].growth_cv < v["fdi"].growth_cv
    assert v["remittances"].detrended_log_sd < 1e-12 < v["fdi"].detrended_log_sd
    with pytest.raises(MethodInputError, match="positive"):
        growth_cv([1.0, -2.0, 3.0])


def test_share_of_gdp():
    np.testing.assert_allclose(share_of_gdp([1.0, 3.0], [50.0, np.nan]), [2.0, np.nan])


def test_ratha_shaw_rules():
    stock = np.array([[0, 100, 300], [50, 0, 50], [0, 0, 0]], dtype=float)
    income = np.array([1000.0, 10000.0, 2000.0])
    received = np.array([90.0, 10.0, 7.0])
    by_stock = ratha_shaw_allocation(received, stock, income, "stock").flows
    np.testing.assert_allclose(by_stock[0], [0, 22.5, 67.5])
    host = ratha_shaw_allocation(received, stock, income).flows
    np.testing.assert_allclose(host[0], 90 * np.array([0, 1e6, 6e5]) / 1.6e6)
    gap = ratha_shaw_allocation(received, stock, income, "income_gap")
    np.testing.assert_allclose(gap.flows[0], 90 * np.array([0, 100 * 9000, 300 * 1000]) / 1.2e6)
    # country 1 earns more than its hosts: no positive gap, falls back to host income
    np.testing.assert_allclose(gap.flows[1], host[1])
    # country 2 has no emigrants: its remittances stay unallocated
    assert gap.unallocated.tolist() == [0.0, 0.0, 7.0]
    np.testing.assert_allclose(gap.flows.sum(axis=1) + gap.unallocated, received)


# --- indices -------------------------------------------------------------------------------------


def test_indices():
    f = np.array([[99, 10, 5], [2, 99, 0], [3, 4, 99]], dtype=float)
    net = net_migration(f)
    np.testing.assert_allclose(net, [5 - 15, 14 - 2, 5 - 7])
    assert net.sum() == 0
    assert migration_intensity(f, population=2400, period_years=5) == pytest.approx(100 * 24 / 2400 / 5)
    np.testing.assert_allclose(emigration_rate([25.0], [75.0]), [0.25])
    s = np.array([[900, 100], [50, 450]], dtype=float)
    np.testing.assert_allclose(emigration_rates_from_stocks(s), [0.1, 0.1])
    with pytest.raises(MethodInputError):
        migration_intensity(f, population=0)


def test_volatility_table_by_country_and_group():
    import pandas as pd

    from imdx.methods.remittances import volatility_table

    years = np.arange(2000, 2010)
    smooth = 100 * 1.06 ** (years - 2000)
    jumpy = smooth * np.where(years % 2 == 0, 2.0, 0.5)
    frames = [
        pd.DataFrame({"country": "A", "year": years, "group": "LMIC", "remittances": smooth, "fdi": jumpy}),
        pd.DataFrame({"country": "B", "year": years, "group": "LMIC", "remittances": jumpy, "fdi": smooth * 1.01}),
        pd.DataFrame({"country": "C", "year": years, "group": "HIC", "remittances": smooth, "fdi": jumpy}),
        pd.DataFrame({"country": "D", "year": years[:3], "group": "HIC", "remittances": smooth[:3],
                      "fdi": jumpy[:3]}),                       # too short: skipped
    ]
    by_country, by_group = volatility_table(pd.concat(frames))
    assert list(by_country.index) == ["A", "B", "C"]
    assert by_country["remittances_less_volatile"].tolist() == [True, False, True]
    assert by_group.loc["LMIC", "countries"] == 2 and by_group.loc["HIC", "countries"] == 1
    assert by_group.loc["LMIC", "share_remittances_less_volatile"] == 0.5
    with pytest.raises(MethodInputError, match="columns"):
        volatility_table(pd.DataFrame({"country": ["A"]}))
