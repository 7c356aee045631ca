"""The library's and the registry's pages in a real browser (Debian's Chromium, headless, via Playwright): search
and filter with the keyboard alone, open a record, no console errors, no request leaving the machine, and no
sideways scrolling of the page at a phone's 390 px."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.portal.conftest import CHROMIUM, CHROMIUM_ARGS, Watch, free_port

PAGES = ["/library", "/library?q=trafficking", "/library?q=irregular+migration&country=LBY",
         "/library/records/iom-eval-9992310969aa2f428bc8aba29f865cf3", "/registry", "/registry?kind=activity",
         "/registry/organisation/iom", "/registry/gcm_objective/10", "/registry/gaps",
         "/registry/gaps?country=Kenya,Nigeria,Germany,Bangladesh,Libya,Sudan,Haiti,Ukraine,Colombia,Mexico",
         "/registry/gaps/KEN", "/registry/sign-in", "/registry/data_product/undesa_ims"]


@pytest.fixture(scope="module")
def base_url(library_db):
    import uvicorn

    from imdx.api.app import create_app

    app = create_app(library_db, sdmx=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (never download a browser)"
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser, base_url, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
    page = context.new_page()
    page.watch = Watch(page)
    return context, page


def test_pages_open_without_errors_or_foreign_requests(browser, base_url):
    context, page = new_page(browser, base_url)
    try:
        for url in PAGES:
            response = page.goto(url, wait_until="load")
            assert response.status == 200, url
            assert page.locator("h1").count() == 1, url
        assert not page.watch.errors, page.watch.errors
        assert not page.watch.foreign(base_url), page.watch.foreign(base_url)
    finally:
        context.close()


def test_search_filter_and_open_a_record_with_the_keyboard_alone(browser, base_url):
    context, page = new_page(browser, base_url)
    try:
        page.goto("/library", wait_until="load")
        page.keyboard.press("Tab")  # the skip link comes first
        assert page.evaluate("document.activeElement.className") == "skip"
        page.locator("#lib-q").focus()
        page.keyboard.type("trafficking")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        total = int(page.locator("#summary strong").inner_text().replace(",", ""))
        assert total > 100
        box = page.locator('input[name="country"][value="BGD"]')
        box.focus()
        page.keyboard.press("Space")
        assert box.is_checked()
        page.locator("button", has_text="Apply filters").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "country=BGD" in page.url
        filtered = int(page.locator("#summary strong").inner_text().replace(",", ""))
        assert 0 < filtered < total
        first = page.locator("ul.hits a.t").first
        title = first.inner_text()
        first.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == title
        assert page.locator("#data-h").count() == 1 and page.locator("text=Bangladesh").count() > 0
        focused = page.evaluate("""() => { const a = document.querySelector('a[href^="/country/"]');
            a.focus(); return getComputedStyle(a).outlineStyle; }""")
        assert focused != "none"  # a visible focus ring
        assert not page.watch.errors
    finally:
        context.close()


def test_gaps_matrix_scrolls_inside_its_own_box_by_keyboard(browser, base_url):
    context, page = new_page(browser, base_url, width=390, height=844)
    try:
        page.goto(PAGES[9], wait_until="load")
        box = page.locator("div.scroll")
        assert box.get_attribute("tabindex") == "0" and box.get_attribute("role") == "region"
        assert box.evaluate("e => e.scrollWidth > e.clientWidth")  # the matrix is wider than the phone
        box.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("() => document.querySelector('div.scroll').scrollLeft > 0", timeout=5000)
        assert page.locator("table.gaps tbody tr").count() == 23
    finally:
        context.close()


@pytest.mark.parametrize("url", PAGES)
def test_no_sideways_scrolling_at_phone_width(browser, base_url, url):
    context, page = new_page(browser, base_url, width=390, height=844)
    try:
        page.goto(url, wait_until="load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide at a 390 px viewport"
    finally:
        context.close()
