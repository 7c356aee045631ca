"""Fixtures of the estimate tests: a store with the sources the estimates read, loaded from the mirror.

The full store (``full_store`` in tests/conftest.py) also loads UNHCR (millions of rows the estimates
never read); this one loads m49, undesa_ims, wdi, knomad, wpp and eurostat only, once per session.
The mirror is given as a folder of links, one per source, so that sources whose files live in another
source's folder (knomad's are in ``wdi/knomad/``) are found whether or not the fetcher honours
``ReleaseSpec.folder``.
"""

from __future__ import annotations

import pytest

SOURCES = ["m49", "undesa_ims", "wdi", "knomad", "wpp", "eurostat"]


@pytest.fixture(scope="session")
def linked_mirror(tmp_path_factory, mirror):
    from imdx.sources import registry

    root = tmp_path_factory.mktemp("mirror")
    for folder in mirror.iterdir():
        if folder.is_dir():
            (root / folder.name).symlink_to(folder)
    for source in registry().values():
        for spec in source.releases:
            link = root / spec.source
            if not link.exists():
                link.symlink_to(mirror / spec.mirror_folder)
    return root


@pytest.fixture(scope="session")
def est_store_path(tmp_path_factory, linked_mirror):
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    db = tmp_path_factory.mktemp("est") / "imdx.duckdb"
    with DuckDBStore(db) as store:
        summary = load(store, settings(mirror=str(linked_mirror), db=str(db)), sources=SOURCES)
    assert not summary.failed, [(o.key, o.error) for o in summary.failed]
    return db


@pytest.fixture(scope="session")
def est_store(est_store_path):
    from imdx.store.duckdb_store import DuckDBStore

    store = DuckDBStore(est_store_path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def inputs(est_store):
    from imdx.estimates.inputs import StoreInputs

    return StoreInputs(est_store)
