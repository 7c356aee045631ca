"""A country profile shows the checks that concern it, and never says "the checks found no issue" beside
men and women that add up to more than both sexes (issue 13). On UN DESA's releases, loaded with `imdx
load` from the mirror and served by the app `imdx serve` runs."""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest

from imdx.checks import declared_tolerance
from imdx.checks.shown import sexes_exceed_total
from imdx.store.duckdb_store import DuckDBStore
from tests.bombs import REPO
from tests.served import served

NO_ISSUE = "The checks found no issue"
#: a row of the immigrants table: the year, both sexes, men, women (and the share, where the edition gives it)
ROW = re.compile(r'<tr><th scope="row">(\d{4})</th>((?:<td class="num[^"]*">.*?</td>){3,4})</tr>')


@pytest.fixture(scope="module")
def store(tmp_path_factory, mirror):
    folder = tmp_path_factory.mktemp("profiles")
    db = folder / "store.duckdb"
    done = subprocess.run([sys.executable, "-m", "imdx.cli", "load", "undesa_ims", "--mirror", str(mirror), "--db",
                           str(db)], capture_output=True, text=True, timeout=600, check=False,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "IMDX_CACHE": str(folder / "c")})
    assert done.returncode == 0, done.stderr[-3000:]
    return db


@pytest.fixture(scope="module")
def http(store):
    with served(store) as client:
        yield client


def _trend(page: str) -> dict[int, tuple[float | None, ...]]:
    """Year -> (both sexes, men, women) as the profile's table shows them."""
    out: dict[int, tuple[float | None, ...]] = {}
    start = page.find('id="immigrants-table"')
    if start < 0:
        return out
    table = page[start:page.index("</table>", start)]
    for year, cells in ROW.findall(table):
        values = re.findall(r'<span class="v"[^>]*>([^<]*)</span>', cells)
        numbers = [float(v.replace(",", "")) if v[:1].isdigit() else None for v in values]
        out[int(year)] = tuple(numbers[:3])
    return out


def test_bonaire_shows_the_gap_and_its_missing_split(http):
    page = http.get("/country/BES", params={"edition": "2020"}).text
    assert NO_ISSUE not in page
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "total-without-parts" in text and "males and females are all published as missing" in text
    trend = _trend(page)
    assert trend[2020] == (26_221, None, None)
    assert trend[1990] == (13_010, None, None)  # the 2020 edition publishes no split: none is borrowed from 2019


def test_no_profile_shows_men_and_women_above_both_sexes_without_an_issue(http, store):
    with DuckDBStore(store, read_only=True) as db:
        codes = sorted(db.areas().frame.query("kind == 'country'").index)
    tolerance = declared_tolerance("undesa_ims", "migrant_stock")
    checked = 0
    for code in codes:
        page = http.get(f"/country/{code}")
        assert page.status_code == 200, code
        for year, (total, men, women) in _trend(page.text).items():
            if None in (total, men, women):
                continue
            checked += 1
            if tolerance.exceeded(men + women - total, total) and men + women > total:
                assert NO_ISSUE not in page.text, (code, year, total, men, women)
    assert checked > 1_500  # every country's years were looked at


def test_figures_of_two_editions_side_by_side_are_reported(store):
    """What the profile showed for Bonaire before: both sexes from the 2020 edition, men and women from
    the 2019 edition (its figures for the place differ)."""
    with DuckDBStore(store, read_only=True) as db:
        rows = db.con.execute("SELECT sex, edition, value FROM obs_migrant_stock JOIN release USING (release_id) "
                              "WHERE destination = 'BES' AND origin = '_T' AND age = '_T' AND year = 1990").fetchall()
    value = {(sex, edition): v for sex, edition, v in rows}
    shown = [{"year": 1990, "_T": value[("_T", "2020")], "M": value[("M", "2019")], "F": value[("F", "2019")],
              "editions": {"_T": "2020", "M": "2019", "F": "2019"}}]
    issues = sexes_exceed_total(shown, area="BES", area_name="Bonaire, Sint Eustatius and Saba",
                                tolerance=declared_tolerance("undesa_ims", "migrant_stock"), source="undesa_ims",
                                dataflow="migrant_stock")
    assert len(issues) == 1 and issues[0].type == "parts-exceed-total" and issues[0].area == "BES"
    assert "men (17,257) and women (21,153) shown add up to 38,410, more than both sexes shown (13,010)" \
        in issues[0].message and "different editions (both sexes 2020, men 2019, women 2019)" in issues[0].message
    same = [{**shown[0], "M": value[("M", "2019")] / 4, "F": value[("F", "2019")] / 4}]
    assert not sexes_exceed_total(same, area="BES", area_name="BES", tolerance=declared_tolerance(
        "undesa_ims", "migrant_stock"), source="undesa_ims", dataflow="migrant_stock")
