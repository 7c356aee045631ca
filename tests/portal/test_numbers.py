"""Every number on a country profile (and a corridor page, and the home page) equals the store's value.

The page is fetched with ``?checks=1``, which adds to every number cell the check that reproduces it
(dataflow, source, filters as stored codes, and what is summed); each check is answered here through
the store's own ``Store.select`` (not the portal's SQL) and compared with the
number shown, formatted by the portal's one formatter. The page without ``checks`` shows the same
numbers in the same order.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from imdx.portal.data import fmt

# several countries: large ones, footnote marks (CHN '*', SDN '3'), a missing value with a footnote (TWN),
# missing data (MCO: no migrant share; TUV, XKX: few series), and an area with nothing loaded (ATA)
ESTIMATES = ("estimated_flows", "estimated_region_flows")
COUNTRIES = ["DEU", "MEX", "CHN", "SDN", "TWN", "MCO", "TUV", "XKX", "ATA"]


class Cells(HTMLParser):
    """The number cells of a page: (check, data-value, shown text, footnote mark)."""

    def __init__(self):
        super().__init__()
        self.cells: list[dict] = []
        self._cell = None
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "num" in (a.get("class") or "").split() and tag in ("td", "span", "th"):
            self._cell = {"tag": tag, "check": a.get("data-check"), "value": a.get("data-value"), "text": "",
                          "note": None}
            return
        if self._cell is not None and tag == "span" and a.get("class") == "v":
            self._in = "text"
        elif self._cell is not None and tag == "sup":
            self._in = "note"

    def handle_endtag(self, tag):
        if self._in and tag in ("span", "sup"):
            self._in = None
            return
        if self._cell is not None and tag == self._cell["tag"]:
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None and self._in == "text":
            self._cell["text"] += data
        elif self._cell is not None and self._in == "note":
            self._cell["note"] = (self._cell["note"] or "") + data


def cells_of(html: str) -> list[dict]:
    parser = Cells()
    parser.feed(html)
    return [c for c in parser.cells if c["text"] or c["check"]]


class Oracle:
    """Answers checks through the store's select, one query per (dataflow, source, filters but year)."""

    def __init__(self, store):
        self.store = store
        self.areas = store.areas()
        self._frames: dict = {}

    def frame(self, check: dict) -> pd.DataFrame:
        filters = dict(check["filters"])
        year = filters.pop("year", None)
        key = (check["flow"], check["source"], check.get("edition"), tuple(sorted(filters.items())))
        if key not in self._frames:
            resolved = {dim: [code] for dim, code in filters.items()}  # codes as stored: no resolution needed
            self._frames[key] = self.store.select(check["flow"], resolved, source=check["source"] or None,
                                                  edition=check.get("edition")).to_pandas()
        frame = self._frames[key]
        if year is not None:
            frame = frame[frame["year"] == int(year)]
        for dim in check.get("countries_only", []):
            frame = frame[frame[dim].map(lambda c: self.areas.kind(c) == "country").astype(bool)]
        for dim, value in check.get("exclude", {}).items():
            frame = frame[frame[dim] != value]
        return frame

    def value(self, check: dict) -> tuple[float | None, str | None]:
        """(value, note) the store gives for ``check``; None when it holds no value."""
        if check["agg"] == "ratio":
            num, _ = self.value(check["num"])
            den, _ = self.value(check["den"])
            return (None if num is None or den in (None, 0) else num / den * check["scale"]), None
        frame = self.frame(check)
        if check["agg"] == "one":
            assert len(frame) <= 1, f"{check} matches {len(frame)} observations, not one"
            if frame.empty or pd.isna(frame["value"].iloc[0]):
                note = None if frame.empty else frame["note"].iloc[0]
                return None, note if isinstance(note, str) and note.strip() else None
            note = frame["note"].iloc[0]
            return float(frame["value"].iloc[0]), note if isinstance(note, str) and note.strip() else None
        values = frame["value"].dropna()
        return (float(values.sum()) if len(values) else None), None


def verify(html: str, oracle: Oracle, allow_empty: bool = False) -> int:
    cells = [c for c in cells_of(html) if c["check"]]
    assert cells or allow_empty, "no number cells with checks on the page"
    for cell in cells:
        check = json.loads(cell["check"])
        expected, note = oracle.value(check)
        kind = "usd" if check.get("flow") in ("remittances", "fdi_inflows", "oda_received", "gdp",
                                               "bilateral_remittances") else None
        if expected is None:
            assert cell["value"] == "" and cell["text"] == "–", (check, cell)
        else:
            shown = float(cell["value"])
            assert math.isclose(shown, expected, rel_tol=1e-9, abs_tol=1e-9), (check, shown, expected)
            kinds = [k for k in ("persons", "percent", "usd") if fmt(expected, k) == cell["text"]]
            assert kinds and (kind is None or kind in kinds or check["agg"] == "ratio"), (check, cell["text"], expected)
        if note and check.get("flow") not in ESTIMATES:  # an estimate's note is its inputs, shown once per page
            assert (cell["note"] or "").strip() == note.strip(), (check, cell, note)
    return len(cells)


@pytest.fixture(scope="module")
def oracle(store):
    return Oracle(store)


@pytest.mark.parametrize("code", COUNTRIES)
def test_every_number_on_a_country_profile_is_the_stores(http, oracle, code):
    checked = http.get(f"/country/{code}?checks=1")
    plain = http.get(f"/country/{code}")
    assert checked.status_code == plain.status_code == 200
    n = verify(checked.text, oracle, allow_empty=code == "ATA")
    if code == "ATA":  # nothing loaded: every section says so instead of showing a blank
        assert "No migrant stock is loaded for Antarctica" in plain.text
        assert "No remittances, FDI or ODA are loaded for Antarctica" in plain.text
    assert [c["text"] for c in cells_of(plain.text)] == [c["text"] for c in cells_of(checked.text)]
    if code in ("DEU", "MEX", "CHN"):
        assert n > 100, f"only {n} numbers on {code}'s profile"


def test_footnote_marks_and_missing_values_are_shown_as_published(http, oracle):
    # the 2020 edition's workbook carries the marks (a later edition read from a derived file may not)
    chn = cells_of(http.get("/country/CHN?edition=2020&checks=1").text)
    assert any(c["note"] == "*" for c in chn), "China's footnote mark '*' (UN DESA) is not shown"
    twn = cells_of(http.get("/country/TWN?edition=2020&checks=1").text)
    assert any(c["text"] == "–" and c["note"] for c in twn), "a missing value with its footnote mark is not shown"
    mco = http.get("/country/MCO").text
    assert "–" in mco


@pytest.mark.parametrize("url", ["/country/USA?edition=2020", "/country/CHN?edition=2020", "/country/SDN?edition=2020",
                                 "/country/BES?edition=2020", "/country/TWN?edition=2020", "/country/BES?edition=2019",
                                 "/country/CHN?edition=2019", "/?indicator=migrant_share&year=2019"])
def test_every_footnote_mark_resolves_to_its_text(http, url):
    """Each footnote mark on a page links to a note of the page that gives its text as the release publishes it
    (UN DESA's notes sheets), or says why there is none."""
    html = http.get(url).text
    links = re.findall(r'<a href="#(fn-\d+-[^"]+)" aria-label="note ([^"]+)">', html)
    assert links, f"no footnote mark on {url}"
    notes = dict(re.findall(r'<li id="(fn-\d+-[^"]+)"><span class="mark">[^<]+</span> ([^<]+)<', html))
    for target, mark in links:
        assert target in notes, (url, mark, target)
        assert len(notes[target].strip()) > 5, (url, mark, notes[target])
    if url.startswith("/country/USA"):  # note 33 of the 2020 workbook, as published
        assert "Puerto Rico, Guam, Northern Mariana Islands" in notes["fn-2-33"] or any(
            "Puerto Rico, Guam, Northern Mariana Islands" in t for t in notes.values())


def test_every_number_on_a_corridor_and_the_home_page_is_the_stores(http, oracle):
    for url in ("/corridor/MEX/USA?checks=1", "/corridor/SYR/DEU?checks=1", "/?checks=1", "/flows?checks=1",
                "/flows?checks=1&level=subregion&sex=F&incomplete=1", "/flows?checks=1&level=country",
                "/?indicator=refugees&year=2015&checks=1", "/?indicator=remittances_gdp&year=2019&checks=1",
                "/?indicator=refugees_per_100k&year=2020&checks=1"):
        response = http.get(url)
        assert response.status_code == 200, url
        verify(response.text, oracle)


def test_a_profile_is_complete(http):
    html = http.get("/country/MEX").text
    for heading in ("Immigrants", "Emigrants", "Refugees and asylum", "Asylum decisions",
                    "Remittances, foreign direct investment and development assistance", "Estimated flows",
                    "Data issues", "Downloads"):
        assert heading in html, heading
    assert re.search(r'href="/api/v1/data/remittances\?area=MEX&amp;format=csv"', html)
    assert "People who moved to and from Mexico, by five-year period" in html


def latest_edition(store, filters: dict) -> tuple[str, dict[str, list[int]]]:
    """The latest UN DESA edition holding a series (the store's rank order), and every edition's years of it."""
    releases = store.releases()
    order = releases.sort_values(["published", "edition", "release_id"])
    years: dict[str, set] = {}
    for edition in dict.fromkeys(order.loc[order["source"] == "undesa_ims", "edition"]):
        table = store.select("migrant_stock", {k: [v] for k, v in filters.items()}, edition=edition,
                             source="undesa_ims")
        if table.num_rows:
            years[edition] = sorted(set(table["year"].to_pylist()))
    return list(years)[-1], {e: sorted(y) for e, y in years.items()}


@pytest.mark.parametrize(("url", "series", "pinned"), [
    ("/country/DEU", {"destination": "DEU", "origin": "_T", "sex": "_T", "age": "_T"}, None),
    ("/country/DEU?edition=2019", {"destination": "DEU", "origin": "_T", "sex": "_T", "age": "_T"}, "2019"),
    ("/corridor/TUR/DEU", {"destination": "DEU", "origin": "TUR", "sex": "_T", "age": "_T"}, None)])
def test_a_profile_series_has_one_edition(http, oracle, store, url, series, pinned):
    """Every UN DESA number of the immigrants and emigrants sections (the corridor's stock) is from one edition
    (the latest that holds the series, or the one asked for), with the other editions' values apart, as
    revisions: the 2019 edition's 2019 point is never inside the 2020 edition's line."""
    latest, years = latest_edition(store, series)
    edition = pinned or latest
    assert len(years) > 1, "the store holds one UN DESA edition only: nothing to keep apart"
    html = http.get(url + ("&" if "?" in url else "?") + "checks=1").text
    stock = [json.loads(c["check"]) for c in cells_of(html) if c["check"] and '"undesa_ims"' in c["check"]]
    assert stock and {c.get("edition") for c in stock} == {edition}, {c.get("edition") for c in stock}
    first = html.index('id="immigrants-table"' if "country" in url else "<tbody>")
    shown = [int(y) for y in re.findall(r'<tr><th scope="row">(\d{4})</th>', html[first:first + 20000])]
    assert shown[:len(years[edition])] == years[edition]
    assert "Revisions:" in html and all(f">{e} edition<" in html for e in years if len(years[e]) > 1)
    verify(html, oracle)
