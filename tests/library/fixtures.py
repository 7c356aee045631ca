"""Stores shared by the library and registry tests (imported by both conftest files).

``stats_db``: the real UN DESA migrant-stock releases loaded from the mirror (with the area table), once per
session; ``library_db``: that store with IOM's 734 evaluations, the glossary and the registry seed; the
``*_copy`` fixtures give a test its own copy of the file to change.
"""

from __future__ import annotations

import shutil

import pytest

EVALUATIONS = "research_library/iom_evaluations/evaluations.json"
GLOSSARY = "research_library/iom_evaluations/glossary_migration.json"


@pytest.fixture(scope="session")
def stats_db(tmp_path_factory, mirror):
    from imdx.config import settings
    from imdx.load import load
    from imdx.store import connect

    db = tmp_path_factory.mktemp("stats") / "imdx.duckdb"
    with connect(db) as store:
        summary = load(store, settings(mirror=str(mirror), db=str(db), env={"IMDX_WORKERS": "1"}), ["undesa_ims"])
    assert not summary.failed, [(o.key, o.error) for o in summary.failed]
    return db


@pytest.fixture(scope="session")
def library_db(tmp_path_factory, stats_db, mirror):
    from imdx.library.service import Library
    from imdx.registry.seed import seed_all
    from imdx.store import connect

    db = tmp_path_factory.mktemp("library") / "imdx.duckdb"
    shutil.copy(stats_db, db)
    with connect(db) as store:
        results = Library(store).add_from_mirror(mirror, actor="test")
        assert [r.status for r in results] == ["imported", "imported"]
        seed_all(store, mirror, actor="test")
    return db


def _copy(src, tmp_path):
    from imdx.library import index

    dst = tmp_path / "store.duckdb"
    shutil.copy(src, dst)
    index_dir = src.with_suffix(".library-index")
    if index_dir.exists():
        shutil.copytree(index_dir, dst.with_suffix(".library-index"))
    index._OPEN.pop(str(dst.resolve()), None)
    return dst


@pytest.fixture
def stats_copy(stats_db, tmp_path):
    return _copy(stats_db, tmp_path)


@pytest.fixture
def library_copy(library_db, tmp_path):
    return _copy(library_db, tmp_path)


@pytest.fixture
def library_store(library_db):
    """The shared library store, read-only."""
    from imdx.store import connect

    with connect(library_db, read_only=True) as store:
        yield store
