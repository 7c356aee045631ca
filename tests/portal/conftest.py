"""The portal tests talk HTTP to a real uvicorn server on a free loopback port, serving the store every
source was loaded into (``full_store``), and drive Debian's Chromium (``/usr/bin/chromium``, headless,
no browser download) through Playwright.

The server is the app ``imdx serve`` runs (``imdx.api.app.create_app``: the API, SDMX and the portal).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS

CHROMIUM = os.environ.get("IMDX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: the estimates the portal's test store holds: five methods (the recommended one, the other closed account,
#: a lower and an upper bound, and Dennett, whose total is the closed account's), two periods, each sex
TEST_METHODS = ("demographic_accounting_closed", "pseudo_bayesian", "stock_differencing_drop",
                "demographic_accounting_closed_no_stayer", "migration_rates_dennett")
TEST_PERIODS = ((2010, 2015), (2015, 2020))
#: one estimate made although births and deaths were missing for a few areas (taken as 0, as a user may ask)
INCOMPLETE = ("demographic_accounting_open", (2015, 2020), "_T", ("IND", "CHN", "NGA"))
#: perturbed runs per interval: 4, not the 20 of ``imdx estimate flows`` (that took 5 minutes of the suite); the
#: pages' intervals are the same kind (percentiles widened to contain the estimate), only less precise
TEST_REPLICATES = 4


def store_test_estimates(db: str | Path) -> None:
    """Estimate flows in the store at ``db`` as ``imdx estimate flows`` does (real inputs, real methods), and
    one estimate with incomplete inputs."""
    import dataclasses

    import numpy as np

    from imdx.estimates.inputs import StoreInputs
    from imdx.estimates.run import estimate, run_all, store_estimates
    from imdx.store import connect

    with connect(db) as store:
        inputs = StoreInputs(store)
        estimates = run_all(inputs, methods=TEST_METHODS, periods=TEST_PERIODS, sexes=("_T", "M", "F"),
                            allow_missing_vitals=True, replicates=TEST_REPLICATES)
        method, (start, end), sex, holes = INCOMPLETE
        inp = inputs.flow_inputs(start, end, sex)
        births = inp.births.copy()
        births[[inp.regions.index(c) for c in holes]] = np.nan
        estimates.append(estimate(dataclasses.replace(inp, births=births), method, allow_missing_vitals=True,
                                  replicates=TEST_REPLICATES))
        assert store_estimates(store, estimates, inputs) is not None


@pytest.fixture(scope="session")
def portal_duckdb(request, tmp_path_factory) -> str | Path:
    """A copy of ``full_store`` with estimated flows (:func:`store_test_estimates`), or (to iterate quickly)
    the already prepared store named by ``IMDX_PORTAL_TEST_DB``."""
    override = os.environ.get("IMDX_PORTAL_TEST_DB")
    if override:
        return override if override.startswith("postgresql://") else Path(override)
    db = tmp_path_factory.mktemp("portal") / "imdx.duckdb"
    shutil.copyfile(request.getfixturevalue("full_store"), db)
    store_test_estimates(db)
    return db


@pytest.fixture(scope="session")
def portal_postgres(request) -> str:
    """The same in PostgreSQL: a copy of ``full_store_pg``'s database with the same estimates, or the
    already prepared one ``IMDX_PORTAL_TEST_PG_DB`` names."""
    if os.environ.get("IMDX_PORTAL_TEST_PG_DB"):
        return os.environ["IMDX_PORTAL_TEST_PG_DB"]
    db = request.getfixturevalue("pg_database")(template=request.getfixturevalue("full_store_pg_template"))
    store_test_estimates(db)
    return db


@pytest.fixture(scope="session", params=BACKENDS)
def portal_db(request) -> str | Path:
    """The portal's test store on each backend the suite runs on (tests/conftest.py, ``BACKENDS``)."""
    return request.getfixturevalue(f"portal_{request.param}")


@pytest.fixture(scope="session")
def bare_db(request):
    """A store without estimates: ``full_store``, or the one ``IMDX_PORTAL_TEST_BARE_DB`` names."""
    override = os.environ.get("IMDX_PORTAL_TEST_BARE_DB")
    return Path(override) if override else request.getfixturevalue("full_store")


@pytest.fixture(scope="session")
def vendor():
    """The front-end libraries, built from npm if they are not yet (``imdx/portal/build_assets.sh``)."""
    from imdx.portal import assets

    if assets.missing():
        if shutil.which("npm") is None:
            pytest.fail("the portal assets are not built and npm is missing: run `sh imdx/portal/build_assets.sh`")
        assets.build()
    return assets.VENDOR


def build_app(db: Path):
    """(app, store, with_api): the app ``imdx serve`` runs, with the API, SDMX and the portal mounted."""
    from imdx.api.app import create_app

    app = create_app(db)
    return app, app.state.imdx.store, True


def serving(db: Path):
    """Serve the app ``imdx serve`` runs over ``db`` on a free loopback port (a context manager; the app's
    start-up builds the portal's indexes, as ``imdx serve`` does)."""
    import contextlib

    import uvicorn

    @contextlib.contextmanager
    def run():
        app, store, with_api = build_app(db)
        port = free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not srv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the portal server did not start"
            time.sleep(0.02)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "store": store, "with_api": with_api, "app": app}
        finally:
            srv.should_exit = True
            thread.join(timeout=10)
    return run()


@pytest.fixture(scope="session")
def server(portal_db, vendor):
    with serving(portal_db) as srv:
        yield srv


@pytest.fixture(scope="session")
def bare_server(bare_db, vendor):
    """The portal over a store without estimates."""
    with serving(bare_db) as srv:
        yield srv


@pytest.fixture(scope="session")
def base_url(server):
    return server["url"]


@pytest.fixture(scope="session")
def http(base_url):
    with httpx.Client(base_url=base_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def store(server):
    """The served store (its reads are safe from any thread)."""
    return server["store"]


@pytest.fixture(scope="session")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium (never download a browser)"
    from playwright import sync_api
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watch:
    """Every request URL a page makes and every console error or page error it reports."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def foreign(self, base_url: str) -> list[str]:
        return [u for u in self.requests if not (u.startswith((base_url + "/", "data:", "blob:")) or u == base_url)]


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  base_url=base_url)
    pg = context.new_page()
    pg.watch = Watch(pg)
    yield pg
    context.close()
