"""The chart page: any indicator for several countries and years, its state in the URL, every number the
store's (one edition per line), tabs, downloads (CSV, metadata, SVG, PNG), the embed snippet and bad input."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.portal.test_numbers import Oracle, cells_of, verify


@pytest.fixture(scope="module")
def oracle(store):
    return Oracle(store)


URL = "/chart?indicator=refugees_per_100k&countries=DEU,Türkiye,LBN&from=2000&to=2020"


def test_state_is_in_the_url_and_every_number_is_the_stores(http, oracle):
    html = http.get(URL + "&checks=1").text
    assert '<option value="refugees_per_100k" selected>' in html
    assert 'value="DEU,TUR,LBN"' in html  # names resolved to codes
    heads = re.findall(r'<th scope="col" class="num">([^<]+)</th>', html)
    assert heads == ["Germany", "Türkiye", "Lebanon"]
    years = [int(y) for y in re.findall(r'<tr><th scope="row">(\d{4})', html)]
    assert years == list(range(2020, 1999, -1))
    assert verify(html, oracle) == 3 * 21  # refugees / (births / crude birth rate x 1,000) x 100,000, each cell
    assert "Each line comes from one edition" in html and "/sources#release-" in html


def test_a_line_never_mixes_editions(http, oracle, store):
    """Germany's migrant share comes whole from the latest edition that holds it (the 2019 edition's 2019 point
    is not in the 2020 edition's line)."""
    html = http.get("/chart?indicator=migrant_share&countries=DEU&checks=1").text
    checks = [json.loads(c["check"]) for c in cells_of(html) if c["check"]]
    editions = {c["edition"] for c in checks}
    assert len(editions) == 1
    latest = store.select("migrant_stock_share", {"destination": ["DEU"], "sex": ["_T"]}, source="undesa_ims",
                          edition=editions.pop())
    assert sorted(int(c["filters"]["year"]) for c in checks) == sorted(latest["year"].to_pylist())
    current = store.select("migrant_stock_share", {"destination": ["DEU"], "sex": ["_T"]}, source="undesa_ims")
    assert len(checks) < len(set(current["year"].to_pylist()))  # the store's current values mix editions
    verify(html, oracle)


def test_tabs_are_links_and_the_map_tab_draws_the_year(http, oracle):
    html = http.get(URL).text
    for tab in ("chart", "table", "map", "sources"):
        assert f"tab={tab}" in html
    mapped = http.get(URL.replace("&to=2020", "&to=2020&tab=map&year=2015") + "&checks=1").text
    assert 'aria-current="page">Map<' in mapped and "<option selected>2015</option>" in mapped
    assert verify(mapped, oracle) > 100
    sources = http.get(URL + "&tab=sources").text
    assert "What it measures" in sources and "Releases the chart" in sources and "crude_birth_rate" in sources


def test_downloads_are_the_charts_numbers(http):
    query = URL.split("?", 1)[1]
    page = http.get(URL).text
    rows = list(csv.DictReader(io.StringIO(http.get(f"/chart.csv?{query}").text)))
    assert len(rows) == 63 and {r["area"] for r in rows} == {"DEU", "TUR", "LBN"}
    shown = {(m[0], m[1]) for m in re.findall(r'<th scope="row">(\d{4})</th>(.*?)</tr>', page)}
    assert len(shown) == 21
    from imdx.portal.data import fmt

    for r in rows:
        assert fmt(float(r["value"]), "rate") in page
    meta = http.get(f"/chart.json?{query}").json()
    assert meta["indicator"]["id"] == "refugees_per_100k" and meta["indicator"]["definition"]
    assert {r["source"] for r in meta["releases"]} == {"unhcr", "wpp"}
    assert all(r["licence"] for r in meta["releases"])
    svg = http.get(f"/chart.svg?{query}")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg") and "Refugees hosted per 100,000 people" in svg.text
    png = http.get(f"/chart.png?{query}")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n" and len(png.content) > 10_000


def test_embed_snippet_and_embedded_chart(http):
    page = http.get(URL).text
    snippet = re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>', page, re.DOTALL).group(1)
    assert "&lt;iframe" in snippet and "embed=1" in snippet
    embedded = http.get(URL + "&embed=1")
    assert embedded.status_code == 200 and "frame-ancestors *" in embedded.headers["content-security-policy"]
    assert 'class="embed"' in embedded.text and '<nav aria-label="Main">' not in embedded.text
    assert "frame-ancestors 'self'" in http.get(URL).headers["content-security-policy"]


@pytest.mark.parametrize(("query", "message"), [
    ("countries=DEU,Atlantis", "no country or area is called 'Atlantis'"),
    ("indicator=nope", "unknown indicator 'nope'"),
    ("from=19x", "from='19x' is not a year"),
    ("from=2020&to=1990", "swapped"),
    ("countries=" + ",".join(["DEU"] * 3 + ["FRA", "ITA", "ESP", "PRT", "POL", "AUT", "CHE", "BEL", "NLD", "DNK",
                                 "SWE"]), "at most 12"),
    ("countries=" + "x" * 1999, "no country or area is called"),  # longer than 2,000: refused before (below)
])
def test_bad_input_is_said_and_the_rest_still_works(http, query, message):
    r = http.get(f"/chart?{query}")
    assert r.status_code == 400 and message in r.text.replace("&#39;", "'"), r.text[:300]
    assert "<table" in r.text or "No values" in r.text
    files = http.get(f"/chart.csv?{query}")
    assert files.status_code == 400
    assert http.get("/chart.exe").status_code == 404


def test_a_value_past_the_servers_limit_is_refused_by_the_portals_page(http):
    """A parameter value longer than IMDX_HTTP_MAX_VALUE_CHARS (2,000) never reaches the chart: a 400 page."""
    r = http.get("/chart?countries=" + "x" * 5000)
    assert r.status_code == 400 and "<title>Bad request" in r.text and "2000" in r.text.replace(",", "")


def test_the_releases_drawn_are_in_the_same_order_whatever_the_order_of_loading(store):
    """A map's source line lists the releases most values first, and releases that gave as many values by
    source and key: never by release id, which follows the order of loading (it differs from one load to
    another, and the two backends' pages must agree)."""
    import pandas as pd

    from imdx.portal.data import Reader
    from imdx.portal.indicators import releases_drawn

    releases = store.releases()
    wdi = releases[releases["source"] == "wdi"].sort_values("key")
    first, second, third = (int(r) for r in wdi["release_id"][:3])
    names = {int(r.release_id): r.key for r in wdi.itertuples()}
    for rows in ([(first,), (second,), (third,), (third,)], [(second,), (first,), (third,), (third,)]):
        drawn = releases_drawn(Reader(store), pd.DataFrame({"releases": rows}))
        assert [(names[d["release_id"]], d["n"]) for d in drawn] == [
            (names[third], 2), (names[first], 1), (names[second], 1)]
