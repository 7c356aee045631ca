"""The flows page over real estimates (``store_test_estimates``: real inputs, real methods): one sex at a time,
totals equal to the store's, estimates with incomplete inputs only when asked, methods explained, regions as
the area table places them; and the estimated-flow tables of the profile and corridor pages."""

from __future__ import annotations

import math
import re
from html import unescape

import pytest

from imdx.estimates.regions import region_of
from imdx.portal import explain
from tests.portal.conftest import INCOMPLETE, TEST_METHODS, TEST_PERIODS

RECOMMENDED = explain.recommended_method()[0]


def world_total(html: str) -> float:
    return float(re.search(r'data-world-total="([^"]+)"', html).group(1))


def store_total(store, method: str, period: tuple[int, int], sex: str = "_T") -> float:
    table = store.select("estimated_flows", {"method": [method], "sex": [sex], "year": [period[1]],
                                             "period_start": [str(period[0])]})
    return float(sum(v for v in table["value"].to_pylist() if v is not None))


@pytest.mark.parametrize("level", ["geographic", "sdg", "subregion", "country"])
def test_totals_equal_the_stores_both_sexes_totals(http, store, level):
    """For every method and period, the page's world total is the sum of the store's both-sexes flows."""
    for period in TEST_PERIODS:
        for method in TEST_METHODS:
            html = http.get("/flows", params={"level": level, "method": method, "year": period[1]}).text
            assert f'<option value="{method}" selected>' in html, (level, method)
            assert 'value="_T" selected>Both sexes' in html
            expected = store_total(store, method, period)
            assert expected > 1e6
            assert math.isclose(world_total(html), expected, rel_tol=1e-9), (level, method, period)


def test_the_default_is_both_sexes_latest_period_and_the_recommended_method_explained(http):
    html = http.get("/flows").text
    assert 'value="_T" selected>Both sexes' in html and f'value="{TEST_PERIODS[-1][1]}" selected' in html
    assert f'<option value="{RECOMMENDED}" selected>{explain.method(RECOMMENDED)["label"]} (recommended)' in html
    assert "Why it is the default" in html and "Abel &amp; Cohen (2019)" in html
    # no raw method code is a label: each option reads as words
    labels = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', html)
    assert {code for code, _ in labels} >= set(TEST_METHODS) - {INCOMPLETE[0]}
    assert all("_" not in label for _, label in labels)


def test_one_sex_at_a_time_europe_to_africa(http, store):
    """Europe -> Africa on the page is the sum of the both-sexes flows from European to African countries, not
    both sexes + men + women (the bug this page had: 37.8 M where both sexes alone was 0.68 M)."""
    areas = store.areas()
    period = TEST_PERIODS[-1]
    html = http.get("/flows", params={"year": period[1]}).text
    shown = {(o, d): v for o, d, v in re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\"><span class=\"v\">([\d,]+)</span>", html)}
    page_value = float(shown[("Europe", "Africa")].replace(",", ""))

    def expected(sexes):
        table = store.select("estimated_flows", {"method": [RECOMMENDED], "sex": sexes, "year": [period[1]]})
        return sum(v for o, d, v in zip(table["origin"].to_pylist(), table["destination"].to_pylist(),
                                        table["value"].to_pylist())
                   if region_of(areas, o, "geographic") == "150" and region_of(areas, d, "geographic") == "002")
    assert abs(page_value - expected(["_T"])) <= 0.5
    assert expected(["_T", "M", "F"]) > 1.5 * page_value
    men = http.get("/flows", params={"year": period[1], "sex": "M", "incomplete": "1"}).text
    assert 'value="M" selected>Male' in men


def test_estimates_with_incomplete_inputs_only_when_asked(http):
    method, period, sex, _ = INCOMPLETE
    params = {"year": period[1], "sex": sex}
    default = http.get("/flows", params=params).text
    assert f'<option value="{method}"' not in default
    assert "Not offered for this period and sex" in default and "Open demographic accounting" in default
    asked = http.get("/flows", params={**params, "method": method}).text
    assert "is not shown for this period and sex" in asked and f'<option value="{RECOMMENDED}" selected>' in asked
    shown = http.get("/flows", params={**params, "method": method, "incomplete": "1"}).text
    assert f'<option value="{method}" selected>' in shown
    assert "Incomplete inputs:" in shown and "taken as 0" in shown and 'name="incomplete" value="1" checked' in shown


def test_regions_are_regions_and_every_flow_has_its_spread(http, store):
    names = store.areas().frame["name"]
    for level, count in (("geographic", 6), ("sdg", 8)):
        html = http.get("/flows", params={"level": level}).text
        legend = re.findall(r'<tr><th scope="row"><span class="swatch"[^>]*></span>([^<]+)</th>', html)
        assert len(legend) == count, (level, legend)
        assert "Channel Islands" not in legend and "Unknown" not in legend
        assert set(map(unescape, legend)) <= set(names)
        ranges = re.findall(r"([\d,]+) – ([\d,]+) <span class=\"kind\">\((\d)\)</span>", html)
        assert ranges and all(int(n) == len(TEST_METHODS) - 1 for *_, n in ranges)  # the upper bound left out
        for low, high, _ in ranges:
            assert float(low.replace(",", "")) <= float(high.replace(",", ""))


def test_profile_and_corridor_tables_are_compact_and_labelled(http):
    for url, anchor in (("/country/MEX", 'id="estimates-h"'), ("/corridor/MEX/USA", 'id="est-h"')):
        html = http.get(url).text
        section = html[html.index(anchor):]
        section = section[:section.index("</section>")]
        tables = re.findall(r"<table>.*?</table>", section, re.DOTALL)
        assert tables, url
        for table in tables:
            assert "(persons)" in table or "Persons" in table, table[:200]  # every value column says its unit
            head = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', table)
            assert len(head) <= 5 and all(h.strip() for h in head), head
            assert "inputs:" not in table and "births/deaths" not in table  # no method note in every row
            assert "demographic_accounting" not in table  # methods by name, once, above the tables
            assert len(re.findall(r"<tr>", table)) <= 12
        assert explain.method(RECOMMENDED)["label"].lower() in section


def test_country_flows_show_the_estimates_own_interval(http, store):
    """Between countries, each flow of the recommended method comes with the 90 % interval stored with it
    (``lower``/``upper`` of estimated_flows); between regions, whose sums have none, the page says why."""
    period = TEST_PERIODS[-1]
    html = http.get("/flows", params={"level": "country", "year": period[1]}).text
    assert '<th scope="col" class="num">90 % interval</th>' in html
    table = store.select("estimated_flows", {"method": [RECOMMENDED], "sex": ["_T"], "year": [period[1]],
                                             "period_start": [str(period[0])]}).to_pandas()
    names = {v: k for k, v in store.areas().frame["name"].items()}
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\"><span class=\"v\">([\d,]+)</span>"
                      r"(?:<abbr[^>]*>e</abbr>)?</td><td class=\"num\">([\d,]+) – ([\d,]+)</td>", html)
    assert len(rows) >= 5
    for origin, destination, value, low, high in rows[:5]:
        o, d = names[unescape(origin)], names[unescape(destination)]
        stored = table[(table["origin"] == o) & (table["destination"] == d)].iloc[0]
        assert float(low.replace(",", "")) == pytest.approx(stored["lower"], abs=0.5)
        assert float(high.replace(",", "")) == pytest.approx(stored["upper"], abs=0.5)
        assert stored["lower"] <= float(value.replace(",", "")) + 0.5 <= stored["upper"] + 1
    regions = http.get("/flows", params={"year": period[1]}).text
    assert "90 % interval</th>" not in regions and "have no interval of their own" in regions


def test_profile_and_corridor_show_the_interval(http):
    profile = http.get("/country/MEX").text
    section = profile[profile.index('id="estimates-h"'):]
    assert "90 % interval</th>" in section[:section.index("</section>")]
    corridor = http.get("/corridor/MEX/USA").text
    section = corridor[corridor.index('id="est-h"'):]
    intervals = re.findall(r'<span class="ci"[^>]*>([\d,]+) – ([\d,]+)</span>', section[:section.index("</section>")])
    assert intervals and all(float(a.replace(",", "")) <= float(b.replace(",", "")) for a, b in intervals)


@pytest.mark.parametrize("year", ["²", "٢٠٢٠", "9" * 1999, "-1"])
def test_a_year_that_is_not_one_gives_the_default_page(http, year):
    """Digits of other scripts and numbers of thousands of digits are not years (``int('²')`` raised: 500)."""
    r = http.get("/flows", params={"year": year})
    assert r.status_code == 200 and f'value="{TEST_PERIODS[-1][1]}" selected' in r.text  # the latest period
