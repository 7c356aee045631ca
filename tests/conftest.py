"""Shared fixtures. Tests read the real published files from the mirror folder (IMDX_MIRROR, or
../shared/data beside the repository); nothing is copied into the project.

Two stores: ``small_store`` (a few real releases, loaded in seconds) for tests that need a store but
not the real totals of everything, and ``full_store`` (every source, the real totals) for the rest.
Tests that need the full store, a browser, or whole loads of the biggest releases are marked ``slow``
(here, by the fixtures they use, or by their modules): ``pytest -m "not slow"`` is the fast loop.
"""

from __future__ import annotations

import os
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
SLOW_FIXTURES = {"full_store", "api_db", "portal_db", "est_store_path", "browser"}
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


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, mirror, areas):
    """A store with a few real releases (:data:`SMALL_RELEASES`), once per test session (path to the file)."""
    from imdx.load import load_release
    from imdx.sources import registry
    from imdx.sources.fetch import fetch_release
    from imdx.store import connect

    db = tmp_path_factory.mktemp("small") / "imdx.duckdb"
    cache = tmp_path_factory.mktemp("small-cache")
    known = registry()
    with connect(db) as store:
        for source, key in SMALL_RELEASES:
            spec = next(s for s in known[source].releases if key is None or s.key == key)
            paths, files = fetch_release(spec, mirror=mirror, cache=cache)
            assert load_release(store, spec, paths, files, areas.copy()).status == "loaded", (source, key)
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
