"""Every page type over HTTP (no browser): status, server-side tables, local assets only, search,
the estimated-flows empty state, errors; and the chord layout."""

from __future__ import annotations

import re

import httpx
import pytest

from imdx.portal import chord

PAGES = ["/", "/?indicator=refugees&year=2010", "/?indicator=remittances_gdp", "/country/DEU", "/country/MEX",
         "/corridor/MEX/USA", "/flows", "/explore",
         "/explore?dataflow=remittances&area=IND&flow=received&year=2015:2020",
         "/sources", "/search?q=Mexico+to+United+States"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_type_renders_on_the_server(http, url):
    r = http.get(url)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert '<html lang="en">' in html and "<h1>" in html and '<main id="main"' in html
    # nothing is fetched from elsewhere: every src and href is local
    for attr, value in re.findall(r'\b(src|href|action)="([^"]*)"', html):
        assert value.startswith(("/", "#", "?", "data:")), f"{attr}={value!r} on {url} is not local"
    if url.startswith(("/country", "/corridor", "/sources", "/explore")):
        assert "<table" in html and "<caption>" in html  # tables are in the HTML: the page works without scripts


def test_a_profile_is_rendered_once_then_answered_from_the_answer_cache(http):
    """A page only the store decides is kept rendered (per store version): the same address is answered again
    with the same bytes and headers without computing it (no Server-Timing), and with 304 to its ETag."""
    url = "/country/NAM?q=kept+once"  # an address no other test asks for
    first, again = http.get(url), http.get(url)
    assert first.status_code == again.status_code == 200
    assert "server-timing" in first.headers and "server-timing" not in again.headers
    assert again.content == first.content and "<h1>Namibia</h1>" in again.text
    for name in ("content-type", "content-security-policy", "cache-control", "x-content-type-options"):
        assert again.headers[name] == first.headers[name], name
    assert http.get(url, headers={"if-none-match": again.headers["etag"]}).status_code == 304
    checked = http.get(url + "&checks=1")  # another address: rendered with its checks
    assert "server-timing" in checked.headers and "data-check=" in checked.text and "data-check=" not in first.text


def test_static_assets_are_served_locally(http):
    for path in ("/static/portal.css", "/static/portal.js", "/static/vendor/vega.min.js",
                 "/static/vendor/vega-lite.min.js", "/static/vendor/vega-embed.min.js",
                 "/static/vendor/countries-110m.json"):
        r = http.get(path)
        assert r.status_code == 200 and len(r.content) > 1000, path
    first = http.get("/static/vendor/vega.min.js")
    assert "max-age=86400" in first.headers["cache-control"]
    again = http.get("/static/vendor/vega.min.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert http.get("/static/../router.py").status_code == 404
    assert http.get("/static/vendor/nothing.js").status_code == 404


@pytest.mark.parametrize("q, href", [
    ("Mexico to United States", "/corridor/MEX/USA"), ("MEX-USA", "/corridor/MEX/USA"),
    ("from India to United Arab Emirates", "/corridor/IND/ARE"), ("Syria → Germany", "/corridor/SYR/DEU"),
    ("Korea, Rep.", "/country/KOR"), ("Republic of Korea", "/country/KOR"), ("Viet Nam", "/country/VNM"),
    ("Côte d'Ivoire", "/country/CIV"), ("Cote d'Ivoire", "/country/CIV"), ("484", "/country/MEX"),
    ("remittances", "/explore?dataflow=remittances"), ("asylum decisions", "/explore?dataflow=asylum_decisions"),
    ("migrant stock", "/explore?dataflow=migrant_stock"),
])
def test_search_finds_countries_corridors_and_dataflows_in_any_spelling(http, q, href):
    r = http.get("/search", params={"q": q, "all": "1"})
    assert r.status_code == 200
    assert f'href="{href}"' in r.text, f"{q!r} does not find {href}"


@pytest.mark.parametrize("q, code", [("UK", "GBR"), ("USA", "USA"), ("UAE", "ARE"), ("DRC", "COD"),
                                     ("Germany", "DEU"), ("Turkey", "TUR"), ("Guinea-Bissau", "GNB")])
def test_search_ranks_exact_names_and_abbreviations_first_and_jumps_to_them(http, q, code):
    listed = http.get("/search", params={"q": q, "all": "1"}).text
    first = re.search(r'<h2>Countries and areas</h2><ul class="results"><li><a href="/country/([^"]+)"', listed)
    assert first and first.group(1) == code, (q, first and first.group(1))
    jump = http.get("/search", params={"q": q})
    assert jump.status_code == 303 and jump.headers["location"].startswith(f"/country/{code}?q=")
    page = http.get(jump.headers["location"]).text
    assert "Every result for" in page and "all=1" in page
    # a text that names no area exactly lists its results
    assert http.get("/search", params={"q": "Guin"}).status_code == 200


def test_search_for_nothing_says_so(http):
    r = http.get("/search", params={"q": "zzzqqq"})
    assert r.status_code == 200 and "Nothing matches" in r.text


def test_unknown_country_is_a_404_page_and_names_redirect(http):
    assert http.get("/country/ZZZ").status_code == 404
    r = http.get("/country/Germany", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/country/DEU"
    r = http.get("/corridor/Mexico/United%20States", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/corridor/MEX/USA"


def test_estimated_flows_show_an_honest_empty_state(bare_server):
    from imdx.portal.router import reader_for

    assert not reader_for(bare_server["store"]).has("estimated_flows"), "the bare store must hold no estimates"
    with httpx.Client(base_url=bare_server["url"], timeout=60) as client:
        for url in ("/flows", "/country/DEU", "/corridor/MEX/USA"):
            html = client.get(url).text
            assert "No estimates loaded yet" in html and "imdx estimate flows" in html, url


def test_explorer_state_is_in_the_url_and_errors_say_what_to_change(http):
    r = http.get("/explore", params={"dataflow": "migrant_stock", "destination": "FRA", "sex": "_T", "age": "_T",
                                     "year": "2020"})
    assert r.status_code == 200
    assert "/api/v1/data/migrant_stock?destination=FRA&amp;sex=_T&amp;age=_T&amp;year=2020" in r.text
    assert 'db.query(&#39;migrant_stock&#39;, destination=&#39;FRA&#39;' in r.text
    total = http.get("/explore", params={"dataflow": "migrant_stock", "destination": "DEU", "origin": "_T", "sex": "_T",
                                         "age": "_T", "year": "2020"})
    # the current value: the 2024 edition's revision of 2020 (the 2020 edition said 15,762,457)
    assert total.status_code == 200 and "1 observation(s)" in total.text and "15,021,300" in total.text
    bad = http.get("/explore", params={"dataflow": "migrant_stock", "destination": "Atlantis"})
    assert bad.status_code == 400 and "not a known country" in bad.text
    assert http.get("/explore", params={"dataflow": "nope"}).status_code == 400


def test_explorer_excel_download(http):
    r = http.get("/explore.xlsx", params={"dataflow": "remittances", "area": "MEX", "flow": "received",
                                                    "year": "2015:2020"})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    import io

    import pandas as pd

    frame = pd.read_excel(io.BytesIO(r.content), sheet_name="data", engine="openpyxl")
    assert set(frame["area"]) == {"MEX"} and set(frame["flow"]) == {"received"}
    assert set(frame["year"]) == set(range(2015, 2021))


def test_sources_page_lists_every_release_with_provenance(http, store):
    html = http.get("/sources").text
    releases = store.releases()
    for r in releases.itertuples(index=False):
        assert f'id="release-{r.release_id}"' in html
        assert r.key in html
    assert "sha256" in html and "/api/v1/diff/" in html and "Data-issue report" in html


def test_chord_layout_conserves_flows():
    names = ["A", "B", "C"]
    matrix = [[0, 10, 5], [2, 0, 0], [0, 3, 0]]
    arcs, ribbons = chord.layout(names, matrix)
    assert len(arcs) == 3 and len(ribbons) == 4
    span = sum(a.end - a.start for a in arcs)
    for r in ribbons:  # each ribbon's two ends are as wide as its flow
        w = span * r.value / 40
        assert abs((r.source_span[1] - r.source_span[0]) - w) < 1e-9
        assert abs((r.target_span[1] - r.target_span[0]) - w) < 1e-9
    svg = chord.svg(names, matrix)
    assert svg.startswith("<svg") and "<title" in svg and svg.count("<path") == 7
    assert chord.layout(names, [[0] * 3] * 3) == ([], [])


@pytest.mark.parametrize("url", ["/country/MEX", "/corridor/MEX/USA",
                                 "/explore?dataflow=remittances&area=MEX&flow=received&year=2010:2020", "/sources"])
def test_every_download_and_api_link_answers(http, server, url):
    """The CSV, Parquet, Excel, SDMX, diff and report links a page offers all work."""
    import html as html_lib

    assert server["with_api"]
    links = [html_lib.unescape(x) for x in re.findall(r'href="(/(?:api|sdmx|explore\.xlsx)[^"]*)"', http.get(url).text)]
    assert links
    diffs = {}  # one revision diff per dataflow: the others are the same route with other editions (and slow)
    links = [x for x in links if not x.startswith("/api/v1/diff/") or diffs.setdefault(x.split("?")[0], x) == x]
    for link in links:
        r = http.get(link)
        assert r.status_code == 200, (link, r.text[:300])


def test_the_map_names_the_release_it_draws_and_marks_incomplete_years(http, store):
    """A year's migrant shares come from the edition that holds it (2019: the 2019 edition), and the map's source
    line says which; the world remittance card keeps to the last complete year and says why."""
    shares = store.select("migrant_stock_share", {"sex": ["_T"], "year": [2019, 2020]}, source="undesa_ims")
    for year in (2019, 2020):  # each year from the edition that holds it (the latest, where several do)
        editions = {e for e, y in zip(shares["edition"].to_pylist(), shares["year"].to_pylist()) if y == year}
        html = http.get("/", params={"indicator": "migrant_share", "year": str(year)}).text
        drawn = re.search(r'<p class="source">Drawn from (.*?)</p>', html, re.DOTALL).group(1)
        named = set(re.findall(r"edition (\d{4})", drawn))
        assert named == editions and len(named) == 1, (year, drawn, editions)
    home = http.get("/").text
    card = re.search(r"Remittances received worldwide, (\d{4})", home)
    assert card and int(card.group(1)) < 2024
    assert re.search(r"2024: only \d+ of \d+ countries have reported so far", home)
    chart = http.get("/chart", params={"indicator": "remittances_received", "countries": "IND,MEX",
                                       "from": "2020", "tab": "table"}).text
    assert re.search(r'<th scope="row">2024 <abbr class="flag" title="incomplete year[^"]*">incomplete</abbr>', chart)
    assert '<th scope="row">2023</th>' in chart


def test_colour_classes_follow_the_distribution():
    import math
    import random

    from imdx.portal.home import colour_scale

    skewed = [0.5] * 50 + [1, 2, 3, 5, 8, 13, 21, 40, 70, 100] * 3
    scale = colour_scale(skewed)
    assert scale["type"] == "threshold" and scale["breaks"] == sorted(set(scale["breaks"]))
    assert all(round(b / 10 ** math.floor(math.log10(b)), 9) in (1, 2, 5) for b in scale["breaks"])  # 1, 2, 5 x 10^n
    assert sum(scale["counts"]) == len(skewed) and max(scale["counts"]) < len(skewed)
    random.seed(1)
    lognormal = colour_scale([random.lognormvariate(1, 1.5) for _ in range(200)])
    assert len(lognormal["breaks"]) >= 4 and max(lognormal["counts"]) < 0.3 * 200  # no class holds most countries
    even = list(range(100))
    assert colour_scale(even)["type"] == "linear"
