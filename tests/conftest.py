"""Shared fixtures. Tests read the real published files from the mirror folder (IMDX_MIRROR, or
../shared/data beside the repository); nothing is copied into the project.

Two stores: ``small_store`` (a few real releases, loaded in seconds) for tests that need a store but
not the real totals of everything, and ``full_store`` (every source, the real totals) for the rest.
Tests that need the full store, a browser, or whole loads of the biggest releases are marked ``slow``
(here, by the fixtures they use, or by their modules): ``pytest -m "not slow"`` is the fast loop.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mirror_path() -> Path:
    return Path(os.environ.get("IMDX_MIRROR") or REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_path()
    assert path.is_dir(), f"the mirror folder {path} is missing: set IMDX_MIRROR to the folder of published files"
    return path


@pytest.fixture(scope="session")
def areas(mirror):
    from imdx.codes.build import build_areas

    return build_areas(mirror / "m49")


#: fixtures whose tests are slow: the full store (every source; the API and portal suites serve it), the
#: estimates' store, a browser
SLOW_FIXTURES = {"full_store", "full_store_pg", "full_store_pg_template", "api_db", "portal_db", "est_store_path",
                 "browser"}
#: tests that are slow on their own (node id prefixes), with the reason
SLOW_TESTS = {
    "tests/test_kill.py": "kills loads of every source",
    "tests/test_load.py::test_workers_give_the_same_store_as_one_process": "loads every source twice",
    "tests/test_load.py::test_a_release_that_registers_only_its_own_codes_is_written_when_ready": "loads twice",
    "tests/sources/test_rfiles.py::test_every_real_file_reads_as_pyreadr_reads_it": "reads every R file twice",
    "tests/sources/test_rfiles.py::test_a_truncated_uncompressed_stream_is_refused": "decompresses UNHCR's files",
    "tests/sources/test_unhcr.py::test_load_both_releases": "loads 2.2 million UNHCR observations",
    "tests/sources/test_unhcr.py::test_full_demographics_history": "the same store",
    "tests/sources/test_unhcr.py::test_2025_demographics_come_from_the_later_release": "the same store",
    "tests/sources/test_unhcr.py::test_the_portal_picks_the_same_release_as_the_store": "the same store",
    "tests/sources/test_unhcr.py::test_loading_again_changes_nothing": "the same store",
    "tests/sources/test_unhcr.py::test_the_store_answers_by_iso_code": "the same store",
    "tests/sources/test_undesa_ims.py::test_load_into_a_store": "loads every UN DESA edition",
    "tests/cases/test_releases.py::test_no_identifying_value_appears_in_any_release_file": "many releases",
    "tests/sources/test_rfiles.py::test_a_truncated_file_is_refused_by_every_reader": "reads UNHCR's files 3 ways",
    "tests/sources/test_unhcr.py::test_the_string_NA_is_a_code_not_a_missing_value": "reads UNHCR's files",
    "tests/sources/test_unhcr.py::test_unhcr_codes_are_aliases_for_reference": "reads UNHCR's files",
    "tests/methods/test_properties.py::test_pseudo_bayes_keeps_margins_between_its_two_ingredients": "many cases",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.nodeid.startswith(tuple(SLOW_TESTS)):
            item.add_marker(pytest.mark.slow)


#: the releases of ``small_store``: the areas, one UN DESA edition, UN WPP 2024, one WDI vintage
SMALL_RELEASES = [("m49", None), ("undesa_ims", "ims2020-destination"), ("wpp", "wpp2024"),
                  ("wdi", "BX.TRF.PWKR.CD.DT-2025-07-01")]


def load_small(store, mirror: Path, cache: Path, areas) -> None:
    """Load the releases of :data:`SMALL_RELEASES` into ``store``."""
    from imdx.load import load_release
    from imdx.sources import registry
    from imdx.sources.fetch import fetch_release

    known = registry()
    for source, key in SMALL_RELEASES:
        spec = next(s for s in known[source].releases if key is None or s.key == key)
        paths, files = fetch_release(spec, mirror=mirror, cache=cache)
        assert load_release(store, spec, paths, files, areas.copy()).status == "loaded", (source, key)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, mirror, areas):
    """A store with a few real releases (:data:`SMALL_RELEASES`), once per test session (path to the file)."""
    from imdx.store import connect

    db = tmp_path_factory.mktemp("small") / "imdx.duckdb"
    with connect(db) as store:
        load_small(store, mirror, tmp_path_factory.mktemp("small-cache"), areas)
    return db


@pytest.fixture(scope="session")
def full_store(tmp_path_factory, mirror):
    """A store with every source loaded from the mirror, once per test session (path to the file)."""
    from imdx.config import settings
    from imdx.load import load
    from imdx.store import connect

    db = tmp_path_factory.mktemp("store") / "imdx.duckdb"
    with connect(db) as store:
        summary = load(store, settings(mirror=str(mirror), db=str(db)))
    assert not summary.failed, [(o.key, o.error) for o in summary.failed]
    return db


@pytest.fixture(scope="session")
def full_store_pg_template(mirror, pg_database):
    """The same as ``full_store``, in a PostgreSQL database that nothing connects to once loaded: the
    databases of the tests are copies of it (``pg_database(template=...)``)."""
    from imdx.config import settings
    from imdx.load import load
    from imdx.store import connect

    url = pg_database()
    with connect(url) as store:
        summary = load(store, settings(mirror=str(mirror), db=url))
    assert not summary.failed, [(o.key, o.error) for o in summary.failed]
    return url


@pytest.fixture(scope="session")
def full_store_pg(full_store_pg_template, pg_database):
    """The same as ``full_store``, in a PostgreSQL database (its URL)."""
    return pg_database(template=full_store_pg_template)


#: the backends the API and portal suites run on (each suite once per backend): DuckDB, unless
#: ``IMDX_TEST_BACKENDS=duckdb,postgres`` asks for both. On PostgreSQL they run whole in that case only;
#: tests/test_backends_agree.py asks every route family the same questions of both backends in every run, and
#: tests/store (the conformance suite), tests/sdmx and the load-while-serving test always run on both.
BACKENDS = os.environ.get("IMDX_TEST_BACKENDS", "duckdb").split(",")
#: the backends every run tests (the conformance suite, SDMX)
ALL_BACKENDS = ["duckdb", "postgres"]


@pytest.fixture(scope="session")
def pg_server():
    """The URL of a PostgreSQL server the tests may create databases on: ``IMDX_TEST_PG`` when set (as
    ``.ci/run`` sets it), else a throwaway server started here and stopped at the end (tests/pgserver.py)."""
    given = os.environ.get("IMDX_TEST_PG")
    if given:
        yield given
        return
    from tests import pgserver

    folder = Path(tempfile.mkdtemp(prefix="imdx-pg-"))
    try:
        yield pgserver.start(folder)
    finally:
        pgserver.stop(folder)


@pytest.fixture(scope="session")
def pg_database(pg_server):
    """``make(template=None)``: the URL of a new database on the test server (dropped at the end): empty, or a
    copy of the database at the URL ``template`` (which no one may be connected to)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    made = []

    def make(template: str | None = None) -> str:
        name = f"imdx_test_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}" STRATEGY FILE_COPY' if template else ""
        with psycopg.connect(pg_server, autocommit=True) as con:
            for wait in range(50):  # a server process of a connection just closed may not have ended yet
                try:
                    con.execute(f'CREATE DATABASE "{name}"{copy}')
                    break
                except psycopg.errors.ObjectInUse:
                    if wait == 49:
                        raise
                    time.sleep(0.1)
        made.append(name)
        return urlunsplit(urlsplit(pg_server)._replace(path=f"/{name}"))

    yield make
    with psycopg.connect(pg_server, autocommit=True) as con:
        for name in made:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
