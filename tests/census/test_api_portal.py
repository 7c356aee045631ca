"""The census tables through `imdx serve`'s app, over real HTTP: the API's census routes, the data route,
and the census section of the portal's country profile (every number checked against the store)."""

from __future__ import annotations

import io
import re
import threading
import time

import httpx
import pandas as pd
import pytest

from imdx.census.mapping import load_mapping
from imdx.census.tabulate import store_tabulation, tabulate
from tests.api.conftest import assert_envelope, free_port
from tests.portal.conftest import CHROMIUM, CHROMIUM_ARGS, vendor  # noqa: F401  (vendor: a fixture)

FILES = {"uci_adult/adult.data": "uci_adult",
         "eph_argentina_toybase/toybase_individual_2016_04.rda": "eph_toybase_individual",
         "ons_2011_teaching_file_subset/2011-census-microdata-small.csv": "ons_2011_teaching"}


@pytest.fixture(scope="module")
def census_db(tmp_path_factory, microdata, areas, duckdb_engine):
    from imdx.store import connect

    db = tmp_path_factory.mktemp("census-store") / "imdx.duckdb"
    with connect(db) as store:
        for name, mapping in FILES.items():
            tab = tabulate(microdata / name, load_mapping(mapping), areas, engine=duckdb_engine)
            assert store_tabulation(store, tab, areas) is not None
    return db


@pytest.fixture(scope="module")
def browser():
    """A browser for this module only (as tests/library has): the portal's is session-wide, and imported here it
    would keep Playwright's loop running while the library's and the portal's browser tests start their own."""
    from pathlib import Path

    from playwright import sync_api

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (never download a browser)"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def census_url(census_db):
    import uvicorn

    from imdx.api import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(census_db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def http(census_url):
    with httpx.Client(base_url=census_url, timeout=60) as client:
        yield client


def test_census_samples(http):
    body = http.get("/api/v1/census").json()
    by_sample = {s["sample"]: s for s in body["samples"]}
    eph = by_sample["eph_toybase_individual/toybase_individual_2016_04.rda"]
    assert (eph["area"], eph["year"], eph["persons"], eph["foreign_born_persons"], eph["foreign_born_records"]) == \
        ("ARG", 2016, 929_754, 50_410, 72)
    ons = by_sample["ons_2011_teaching/2011-census-microdata-small.csv"]
    assert (ons["area"], ons["records"], ons["foreign_born_records"]) == ("GBR", 50_000, 5_020)
    assert by_sample["uci_adult/adult.data"]["tables"] == "/api/v1/census/USA"


def test_census_tables_of_a_country(http):
    body = http.get("/api/v1/census/Argentina").json()
    assert body["area"] == "ARG" and len(body["samples"]) == 1
    tables = {t["id"]: t for t in body["samples"][0]["tables"]}
    assert set(tables) == {"nativity_sex", "birthplace_sex", "age_sex", "region_nativity"}
    births = tables["birthplace_sex"]
    chile = next(r for r in births["rows"] if r["code"] == "CHL")
    assert chile["label"] == "Chile" and chile["cells"][0]["records"] == 28
    haiti = next(r for r in births["rows"] if r["code"] == "HTI")
    assert haiti["cells"][0] == {**haiti["cells"][0], "persons": None, "records": None, "suppressed": True}
    total = next(r for r in tables["nativity_sex"]["rows"] if r["code"] == "FOR")
    assert (total["cells"][0]["persons"], total["cells"][0]["records"]) == (50_410, 72)
    csv = http.get("/api/v1/census/ARG", params={"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    rows = pd.read_csv(io.StringIO(csv.text), keep_default_na=False)
    chile_csv = rows[(rows["table"] == "birthplace_sex") & (rows["row"] == "CHL") & (rows["column"] == "_T")]
    assert list(chile_csv["records"]) == ["28"] and list(chile_csv["row_label"]) == ["Chile"]
    assert http.get("/api/v1/census/DEU").json()["samples"] == []


def test_census_route_errors(http):
    assert_envelope(http.get("/api/v1/census/Atlantis"), 404, "unknown-area", "area")
    assert_envelope(http.get("/api/v1/census/" + "x" * 900), 404)
    assert_envelope(http.get("/api/v1/census/" + "x" * 5000), 414, "uri-too-long")  # the server's path limit
    assert_envelope(http.get("/api/v1/census/ARG", params={"format": "xlsx"}), 400)
    assert_envelope(http.get("/api/v1/census/ARG", params={"colour": "red"}), 400)


def test_data_route_serves_the_cells(http):
    response = http.get("/api/v1/data/foreign_born_population", params={
        "area": "USA", "birthplace": "MEX", "nativity": "FOR", "sex": "_T", "age": "_T", "measure": "RECORDS"})
    assert response.status_code == 200
    [row] = response.json()["data"]
    assert row["value"] == 643 and row["sample"] == "uci_adult/adult.data" and row["cell_file"] == "adult.data"


def test_country_profile_shows_census_tables(http, census_db):
    page = http.get("/country/ARG", params={"checks": "1"})
    assert page.status_code == 200
    html = page.text
    assert 'id="census"' in html and "Foreign-born by country of birth and sex" in html and "Chile" in html
    assert 'href="#census"' in html
    checks = re.findall(r'data-check="([^"]+)" data-value="([^"]*)"', html)
    census = [(c, v) for c, v in checks if "foreign_born_population" in c]
    assert len(census) > 20
    import html as h
    import json

    from imdx.store import connect

    with connect(census_db, read_only=True) as store:
        for check, value in census:
            spec = json.loads(h.unescape(check))
            filters = {k: [v] if k != "year" else [int(v)] for k, v in spec["filters"].items()}
            found = store.select(spec["flow"], filters, source="census").to_pylist()
            assert len(found) == 1, sorted(filters.items())
            [stored] = found
            assert stored["value"] == float(value)
    assert "50,410" in html
    deu = http.get("/country/DEU").text
    assert 'id="census"' not in deu


def test_census_section_is_accessible(browser, vendor, census_url):  # noqa: F811 (vendor)
    """axe-core finds no serious or critical problem in a profile with census tables (as tests/portal does for
    the other pages)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # to inject axe
    page = context.new_page()
    try:
        page.goto(census_url + "/country/GBR")
        assert page.locator("#census table").count() >= 2
        page.add_script_tag(path=str(vendor / "axe.min.js"))
        result = page.evaluate("""async () => {
            const r = await axe.run(document.querySelector('#census'), {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""")
        assert not [v for v in result if v["impact"] in ("serious", "critical")], result
    finally:
        context.close()
