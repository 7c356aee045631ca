"""Azose & Raftery (2019) against their published global figures, on the real inputs (1990-2015).

What is published (sources in ``PUBLISHED["sources"]``, docs/methods.md): the number of migrants per five-year
period "oscillated between 1.13 and 1.29%" of the world population (abstract); "between 67 million and 87
million migrants over each five-year period", against "34 to 46 million" by the minimum-migration method
(UW press release); "roughly one of four migration events is a return to an individual's country of birth"
(abstract). imdx's prior weight (0.10) was set on synthetic cases with known flows, not on these figures
(docs/methods.md), so all of them are out-of-sample checks.

Tolerances, and why. Our inputs are not the paper's: UN DESA's 2020 edition and WPP 2024 instead of the 2015
editions, 230 regions. Editions revise history (the 2024 edition moved the world stock of 2020 by 1.9 %), and
our minimum-migration totals are 40-55 million against the paper's 34-46 million, 10-20 % higher. So: the share
of the world population must lie in the published band widened by 0.05 percentage points (measured:
1.14-1.31 %); the totals in the published range widened by 10 % (measured 65-91 million); the ratio to our own
minimum-migration total between 1.4 and 2.2 (the paper: about 2; measured 1.5-1.65); our minimum-migration
totals within 90 % of the paper's lowest and 125 % of its highest (measured 40-55 million). "Roughly one of four" is
read as one in five to three in ten over all periods pooled (measured 26 %), and one in five to one in three in
each period (measured 23-29 %). The minimum-migration estimate fails the return check (7-19 %: it has no
returns by construction except where a birthplace's stock at home grows), which is what the smoothing is for.
"""

from __future__ import annotations

import numpy as np
import pytest

from imdx.methods import flows_from_stocks as ffs
from imdx.methods.azose_raftery import PUBLISHED, azose_raftery, flow_types


@pytest.fixture(scope="module")
def periods(inputs):
    out = {}
    for start, end in PUBLISHED["periods"]:
        inp = inputs.flow_inputs(start, end)
        ar = azose_raftery(inp.stock_start, inp.stock_end, inp.births, inp.deaths, bounds=None)
        low = ffs.demographic_accounting(inp.stock_start, inp.stock_end, inp.births, inp.deaths)
        returns = {name: flow_types(est)["return"].sum() for name, est in (("ar", ar), ("min", low))}
        out[start, end] = {"total": ar.od.sum(), "minimum": low.od.sum(), "population": inp.population_start.sum(),
                           "returns": returns["ar"], "minimum_returns": returns["min"]}
        del ar, low  # each holds an n^3 array
    return out


def test_share_of_world_population_per_period_is_the_published_one(periods):
    lo, hi = PUBLISHED["share_of_world_population"]
    for period, p in periods.items():
        assert lo - 0.0005 <= p["total"] / p["population"] <= hi + 0.0005, (period, p["total"] / p["population"])


def test_totals_per_period_are_in_the_published_range_and_above_minimum_migration(periods):
    lo, hi = PUBLISHED["migrants_millions"]
    for period, p in periods.items():
        assert 0.9 * lo <= p["total"] / 1e6 <= 1.1 * hi, (period, p["total"] / 1e6)
        assert 1.4 < p["total"] / p["minimum"] < 2.2, period  # the paper: 67-87 M against 34-46 M
        mlo, mhi = PUBLISHED["minimum_migration_millions"]
        assert 0.9 * mlo <= p["minimum"] / 1e6 <= 1.25 * mhi, (period, p["minimum"] / 1e6)


def test_about_one_in_four_moves_is_a_return_to_the_country_of_birth(periods):
    pooled = sum(p["returns"] for p in periods.values()) / sum(p["total"] for p in periods.values())
    assert 0.20 <= pooled <= 0.30, pooled
    assert abs(pooled - PUBLISHED["return_share"]) < 0.05
    for period, p in periods.items():
        assert 0.20 <= p["returns"] / p["total"] <= 1 / 3, (period, p["returns"] / p["total"])
    minimum = sum(p["minimum_returns"] for p in periods.values()) / sum(p["minimum"] for p in periods.values())
    assert minimum < 0.20 < pooled, minimum  # minimum migration has too few returns: the smoothing adds them


def test_most_eu_flows_are_within_a_factor_of_three_of_the_reported_ones(inputs, mirror):
    """The paper calibrated its smoothing against IMEM's European flows and reports estimates "typically
    accurate to within a factor of three" (press release). imdx has no IMEM; the nearest it holds are the flows
    EU-27 countries report to Eurostat (MigMod ``mig_data``; receiving side where reported, else sending side).
    Five annual reports are summed to compare with a five-year period, so the reports count moves that a
    five-year transition does not (returns and repeated moves within the period): the level is not asserted,
    only that most pairs are within a factor of three (measured 58 % and 61 % for the two windows, against
    24-26 % for minimum migration)."""
    from imdx.sources.migmod import read_rda

    frame = read_rda(mirror / "eurostat" / "derived" / "migmod_mig_data.rda")
    frame = frame.assign(reported=frame["Immi"].where(frame["Immi"].notna(), frame["Emig"]))
    inp = inputs.flow_inputs(2010, 2015)
    ar = azose_raftery(inp.stock_start, inp.stock_end, inp.births, inp.deaths, bounds=None).od
    low = ffs.demographic_accounting(inp.stock_start, inp.stock_end, inp.births, inp.deaths).od
    where = {code: n for n, code in enumerate(inp.regions)}
    for first, last in ((2010, 2014), (2011, 2015)):
        years = frame[frame["Year"].between(first, last)]
        pairs = years.groupby(["Sending_iso3", "Receiving_iso3"])["reported"].agg(["sum", "count"]).reset_index()
        pairs = pairs[(pairs["count"] == 5) & pairs["Sending_iso3"].isin(where) & pairs["Receiving_iso3"].isin(where)]
        assert len(pairs) > 400, len(pairs)  # of the 702 EU-27 pairs
        i, j = pairs["Sending_iso3"].map(where).to_numpy(), pairs["Receiving_iso3"].map(where).to_numpy()
        reported = np.log1p(pairs["sum"].to_numpy(float))
        share = {name: float(np.mean(np.abs(np.log1p(od[i, j]) - reported) < np.log(3)))
                 for name, od in (("azose_raftery", ar), ("minimum", low))}
        assert share["azose_raftery"] > 0.5, (first, share)
        assert share["minimum"] < 0.3, (first, share)
