"""The portal in a real browser (Debian's Chromium, headless, driven by Playwright): every page type
opens without console errors and without a request leaving the machine; map → country → corridor by
clicking; the explorer's CSV download equals the API's answer; axe-core finds no serious or critical
accessibility violation; and the README's screenshot of a country profile is made here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "country-profile.png"

PAGE_TYPES = {"home": "/", "home-refugees": "/?indicator=refugees&year=2015", "country": "/country/DEU",
              "country-sparse": "/country/TUV", "corridor": "/corridor/TUR/DEU", "flows": "/flows",
              "explore": "/explore", "sources": "/sources", "search": "/search?q=Mexico+to+United+States",
              "not-found": "/country/ZZZ"}


def open_page(page, url: str, charts: bool = True):
    response = page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    if charts:
        for fig in page.locator("figure.chart").all():
            fig.locator("svg").first.wait_for(state="attached", timeout=15000)
    return response


@pytest.mark.parametrize("name", list(PAGE_TYPES))
def test_page_opens_without_errors_or_foreign_requests(page, base_url, name):
    url = PAGE_TYPES[name]
    response = open_page(page, url)
    assert response.status == (404 if name == "not-found" else 200)
    assert page.locator("h1").count() == 1
    errors = page.watch.errors
    if name == "not-found":  # Chromium logs the page's own 404 status; nothing else may fail
        errors = [e for e in errors if "status of 404" not in e] + [e for e in errors if "status of 404" in e][1:]
    assert not errors, errors
    assert page.watch.requests, "no request recorded"
    assert not page.watch.foreign(base_url), f"requests left the machine: {page.watch.foreign(base_url)}"
    failed = page.locator("figure.chart.failed").count()
    assert failed == 0, "a chart could not be drawn"
    drawn = page.locator("figure.chart.drawn").count()
    assert drawn == page.locator("figure.chart").count()


def test_map_to_country_to_corridor_by_clicking(page, base_url):
    open_page(page, "/")
    country = page.locator('#chart-map path[aria-label*="Germany"]').first
    country.wait_for(state="attached", timeout=15000)
    country.click()
    page.wait_for_url(f"{base_url}/country/DEU", timeout=15000)
    assert page.locator("h1").inner_text() == "Germany"
    link = page.locator('#immigrants a[href^="/corridor/"]').first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"{base_url}{href}", timeout=15000)
    assert "→ Germany" in page.locator("h1").inner_text()
    assert page.locator("table").count() >= 2
    assert not page.watch.errors and not page.watch.foreign(base_url)


def test_map_year_slider_and_indicator_change_the_map(page, base_url):
    open_page(page, "/?indicator=migrant_share&year=2020")
    with page.expect_navigation(url="**year=2000**"):
        page.locator("#year").fill("2000")  # keyboard-operable range input; `change` submits the form
        page.locator("#year").dispatch_event("change")
    page.wait_for_load_state("load")
    assert "2000" in page.locator("#map-h").inner_text()
    with page.expect_navigation(url="**indicator=refugees**"):
        page.locator("input[name=indicator][value=refugees]").click()
    page.wait_for_load_state("load")
    assert "Refugees hosted" in page.locator("#map-h").inner_text()
    assert not page.watch.errors


def test_explorer_filters_and_csv_download_equal_the_api(page, base_url, http, server):
    assert server["with_api"]
    open_page(page, "/explore")
    page.select_option("#x-flow", "remittances")
    page.locator("#explore-form button[type=submit]").click()
    page.wait_for_url("**dataflow=remittances**")
    page.fill("#x-area", "Mexico, IND")
    page.select_option("#x-flow", "remittances")
    page.select_option("select[name=flow]", "received")
    page.fill("#x-year", "2010:2020")
    page.locator("#explore-form button[type=submit]").click()
    page.wait_for_url("**year=2010**")
    state = dict(parse_qsl(urlparse(page.url).query))
    assert state["dataflow"] == "remittances" and state["area"] == "Mexico, IND" and state["flow"] == "received"
    assert "22 observation" in page.locator("#results caption").inner_text()
    with page.expect_download() as info:
        page.locator('a[data-format="CSV"]').click()
    downloaded = Path(info.value.path()).read_bytes()
    api = http.get("/api/v1/data/remittances", params={"area": "Mexico,IND", "flow": "received", "year": "2010:2020",
                                                       "format": "csv"})
    assert api.status_code == 200
    assert downloaded == api.content
    assert downloaded.count(b"\n") == 23  # header + 22 rows
    # the page state is in the URL: opening it again shows the same view
    again = page.context.new_page()
    again.goto(page.url)
    assert again.locator("#results caption").inner_text() == page.locator("#results caption").inner_text()
    assert not page.watch.errors and not page.watch.foreign(base_url)


@pytest.mark.parametrize("name", list(PAGE_TYPES))
def test_accessibility_axe_core(browser, base_url, vendor, name):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # to inject axe
    page = context.new_page()
    try:
        open_page(page, base_url + PAGE_TYPES[name])
        page.add_script_tag(path=str(vendor / "axe.min.js"))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""")
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not bad, bad
    finally:
        context.close()


def test_keyboard_reaches_the_content_and_the_search(page):
    open_page(page, "/country/MEX", charts=False)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.locator("#site-q").focus()
    page.keyboard.type("MEX-USA")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=MEX-USA")
    assert page.locator('a[href="/corridor/MEX/USA"]').count() == 1


def test_pages_work_without_scripts(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(base_url + "/country/MEX")
        assert page.locator("#immigrants table tbody tr").count() > 3
        page.goto(base_url + "/?indicator=refugees")
        assert page.locator("#map-table tbody tr").count() > 100
    finally:
        context.close()


def test_screenshot_of_a_country_profile(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 1500}, device_scale_factor=1)
    page = context.new_page()
    try:
        open_page(page, base_url + "/country/MEX")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        assert SCREENSHOT.stat().st_size > 20_000
    finally:
        context.close()
