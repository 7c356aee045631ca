"""Every page type over HTTP (no browser): status, server-side tables, local assets only, search,
the estimated-flows empty state, errors; and the chord layout."""

from __future__ import annotations

import re

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
    r = http.get("/search", params={"q": q})
    assert r.status_code == 200
    assert f'href="{href}"' in r.text, f"{q!r} does not find {href}"


def test_search_for_nothing_says_so(http):
    r = http.get("/search", params={"q": "zzzqqq"})
    assert r.status_code == 200 and "Nothing matches" in r.text


def test_unknown_country_is_a_404_page_and_names_redirect(http):
    assert http.get("/country/ZZZ").status_code == 404
    r = http.get("/country/Germany", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/country/DEU"
    r = http.get("/corridor/Mexico/United%20States", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/corridor/MEX/USA"


def test_estimated_flows_show_an_honest_empty_state(http, server):
    from imdx.portal.router import reader_for

    assert not reader_for(server["store"]).has("estimated_flows"), "the test store must hold no estimates"
    for url in ("/flows", "/country/DEU", "/corridor/MEX/USA"):
        html = http.get(url).text
        assert "No estimates loaded yet" in html and "imdx estimate flows" in html, url


def test_explorer_state_is_in_the_url_and_errors_say_what_to_change(http):
    r = http.get("/explore", params={"dataflow": "migrant_stock", "destination": "FRA", "sex": "_T", "age": "_T",
                                     "year": "2020"})
    assert r.status_code == 200
    assert "/api/v1/data/migrant_stock?destination=FRA&amp;sex=_T&amp;age=_T&amp;year=2020" in r.text
    assert 'db.query(&#39;migrant_stock&#39;, destination=&#39;FRA&#39;' in r.text
    total = http.get("/explore", params={"dataflow": "migrant_stock", "destination": "DEU", "origin": "_T", "sex": "_T",
                                         "age": "_T", "year": "2020"})
    assert total.status_code == 200 and "1 observation(s)" in total.text and "15,762,457" in total.text
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


def test_flows_page_and_panels_light_up_when_estimates_are_loaded(server):
    """With observations of ``estimated_flows`` (faked here: issue 4 stores them), the flows page
    aggregates them to regions for a period and method, and the profile panel lists them."""
    import pandas as pd

    from imdx.portal import pages, profile
    from imdx.portal.data import Reader
    from imdx.portal.router import ENV

    frame = pd.DataFrame({"origin": ["MEX", "DEU", "IND", "USA", "MEX"],
                          "destination": ["DEU", "USA", "FRA", "IND", "DEU"],
                          "sex": "_T", "method": ["pseudo_bayesian", "pseudo_bayesian", "pseudo_bayesian",
                                                  "pseudo_bayesian", "stock_difference"],
                          "period_start": "2015", "year": 2020, "value": [500.0, 80.0, 900.0, 40.0, 300.0],
                          "obs_status": "E", "note": None, "release_id": 99, "edition": "test",
                          "source": "imdx-estimates"})

    class Faked(Reader):
        def has(self, flow_id):
            return flow_id == "estimated_flows" or super().has(flow_id)

        def current(self, flow_id, where, **kw):
            if flow_id != "estimated_flows":
                return super().current(flow_id, where, **kw)
            out = frame
            for k, v in where.items():
                out = out[out[k] == v]
            if kw.get("extra_params"):  # (origin = ? OR destination = ?)
                code = kw["extra_params"][0]
                out = out[(out["origin"] == code) | (out["destination"] == code)]
            return out

    reader = Faked(server["store"])
    data = pages.flows_page(reader, None, "pseudo_bayesian", "region")
    assert data["loaded"] and data["year"] == 2020 and data["methods"] == ["pseudo_bayesian", "stock_difference"]
    assert {(r["origin"], r["destination"], r["value"]) for r in data["rows"]} == {
        ("Americas", "Europe", 500.0), ("Europe", "Americas", 80.0), ("Asia", "Europe", 900.0),
        ("Americas", "Asia", 40.0)}
    assert sorted(data["names"]) == ["Americas", "Asia", "Europe"] and len(data["matrix"]) == 3
    countries = pages.flows_page(reader, "2020", "pseudo_bayesian", "country")
    assert sorted(r["value"] for r in countries["rows"]) == [40.0, 80.0, 500.0, 900.0]
    html = ENV.get_template("flows.html").render(title="t", f=countries, svg="<svg></svg>")
    assert "India" in html and "900" in html
    panel = profile.estimated_flows(reader, either="MEX")
    assert panel["loaded"] and len(panel["rows"]) == 2 and panel["rows"][0]["period"] == "2015–2020"
    assert {r["method"] for r in panel["rows"]} == {"pseudo_bayesian", "stock_difference"}


@pytest.mark.parametrize("url", ["/country/MEX", "/corridor/MEX/USA",
                                 "/explore?dataflow=remittances&area=MEX&flow=received&year=2010:2020", "/sources"])
def test_every_download_and_api_link_answers(http, server, url):
    """The CSV, Parquet, Excel, SDMX, diff and report links a page offers all work."""
    import html as html_lib

    assert server["with_api"]
    links = [html_lib.unescape(x) for x in re.findall(r'href="(/(?:api|sdmx|explore\.xlsx)[^"]*)"', http.get(url).text)]
    assert links
    for link in links:
        r = http.get(link)
        assert r.status_code == 200, (link, r.text[:300])
