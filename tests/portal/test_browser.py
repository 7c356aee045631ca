"""The portal in a real browser (Debian's Chromium, headless, driven by Playwright): every page type
opens without console errors and without a request leaving the machine; map → country → corridor by
clicking; the explorer's CSV download equals the API's answer; axe-core finds no serious or critical
accessibility violation; no page scrolls sideways at 1366 or 390 pixels; and the README's screenshots are made here."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
#: the two screens every page must fit: a laptop and a phone (CSS pixels)
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}

PAGE_TYPES = {"home": "/", "home-refugees": "/?indicator=refugees_per_100k&year=2015", "country": "/country/DEU",
              "country-sparse": "/country/TUV", "corridor": "/corridor/TUR/DEU", "flows": "/flows",
              "flows-countries": "/flows?level=country", "chart": "/chart?countries=DEU,TUR,USA,IND,CHN,MEX,ARE",
              "chart-map": "/chart?indicator=remittances_gdp&tab=map", "explore": "/explore", "sources": "/sources",
              "search": "/search?q=Mexico+to+United+States", "library": "/library", "registry": "/registry/gaps",
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


@pytest.mark.parametrize("screen", list(VIEWPORTS))
def test_no_page_scrolls_sideways_and_wide_tables_scroll_in_their_box(browser, base_url, screen):
    """At 1366 and at 390 CSS pixels wide, no page is wider than the screen; a table wider than its box
    scrolls inside it (the box is focusable, so a keyboard can scroll it)."""
    context = browser.new_context(viewport=VIEWPORTS[screen])
    page = context.new_page()
    try:
        for name, url in PAGE_TYPES.items():
            open_page(page, base_url + url)
            width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width[0] <= width[1], (screen, name, width)
            boxes = page.evaluate("""() => [...document.querySelectorAll('table')].map(t => {
                const box = t.closest('.table-wrap');
                return {wrapped: !!box, wide: t.scrollWidth > (box || t.parentElement).clientWidth + 1,
                        focusable: !!box && box.tabIndex === 0};
            })""")
            assert all(b["wrapped"] for b in boxes), (screen, name)
            assert all(b["focusable"] for b in boxes if b["wide"]), (screen, name, boxes)
    finally:
        context.close()


def test_flow_labels_fit_and_name_only_regions(browser, base_url):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    try:
        for url in ("/flows", "/flows?level=sdg", "/flows?level=country"):
            open_page(page, base_url + url)
            inside = page.evaluate("""() => { const svg = document.querySelector('.chord-svg').getBoundingClientRect();
                return [...document.querySelectorAll('.chord-svg text')].map(t => { const r = t.getBoundingClientRect();
                  return r.width > 0 && r.left >= svg.left - 1 && r.right <= svg.right + 1 && r.top >= svg.top - 1
                         && r.bottom <= svg.bottom + 1; }); }""")
            assert inside and all(inside), (url, inside)
        legend = page.locator(".legend-table tbody th").all_inner_texts()
        assert "All other countries" in legend
        open_page(page, base_url + "/flows")
        regions = page.locator(".legend-table tbody th").all_inner_texts()
        assert len(regions) == 6 and "Channel Islands" not in regions and "Europe" in regions
    finally:
        context.close()


def test_search_finds_the_united_kingdom_for_uk(page, base_url):
    open_page(page, "/", charts=False)
    page.locator("#site-q").fill("UK")
    page.keyboard.press("Enter")
    page.wait_for_url("**/country/GBR?q=UK")
    assert "United Kingdom" in page.locator("h1").inner_text()
    page.get_by_role("link", name="Every result for “UK”").click()
    page.wait_for_url("**all=1**")
    first = page.locator("ul.results").first.locator("a").first
    assert first.get_attribute("href") == "/country/GBR"


def test_chart_images_download_and_the_page_state_is_in_the_url(page, base_url):
    open_page(page, "/chart")
    page.fill("#c-countries", "Germany, LBN, Uganda")
    page.select_option("#c-indicator", "refugees_per_100k")
    page.fill("#c-from", "2005")
    page.locator("#chart-form button[type=submit]").click()
    page.wait_for_url("**countries=**")
    state = dict(parse_qsl(urlparse(page.url).query))
    assert state["indicator"] == "refugees_per_100k" and state["from"] == "2005"
    page.locator("figure.chart svg").first.wait_for(state="attached", timeout=15000)
    assert page.locator("#chart-table thead th").all_inner_texts()[1:] == ["Germany", "Lebanon", "Uganda"]
    with page.expect_download() as info:
        page.get_by_role("link", name="Image (PNG)").click()
    assert Path(info.value.path()).read_bytes()[:4] == b"\x89PNG"
    page.locator("nav.tabs").get_by_role("link", name="Table", exact=True).click()
    page.wait_for_url("**tab=table**")
    assert "countries=DEU%2CLBN%2CUGA" in page.url and page.locator("figure.chart").count() == 0
    assert not page.watch.errors and not page.watch.foreign(base_url)


@pytest.mark.parametrize("screen", list(VIEWPORTS))
def test_screenshots_of_a_profile_and_the_flows_page(browser, base_url, screen):
    """The README's screenshots, made here at both sizes (docs/screenshots/)."""
    context = browser.new_context(viewport=VIEWPORTS[screen], device_scale_factor=1)
    page = context.new_page()
    suffix = "" if screen == "desktop" else "-phone"
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for name, url in (("country-profile", "/country/MEX"), ("flows", "/flows")):
            open_page(page, base_url + url)
            if name == "flows" and screen == "phone":  # on a phone the diagram is below the form: show it
                page.evaluate("document.querySelector('#flows-totals').scrollIntoView()")
            path = SHOTS / f"{name}{suffix}.png"
            page.screenshot(path=str(path), full_page=False)
            assert path.stat().st_size > 20_000
    finally:
        context.close()
