"""Shared fixtures. Tests read the real published files from the mirror folder (IMDX_MIRROR, or
../shared/data beside the repository); nothing is copied into the project."""

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


@pytest.fixture(scope="session")
def full_store(tmp_path_factory, mirror):
    """A store with every source loaded from the mirror, once per test session (path to the file)."""
    from imdx.config import settings
    from imdx.load import load
    from imdx.store.duckdb_store import DuckDBStore

    db = tmp_path_factory.mktemp("store") / "imdx.duckdb"
    with DuckDBStore(db) as store:
        summary = load(store, settings(mirror=str(mirror), db=str(db)))
    assert not summary.failed, [(o.key, o.error) for o in summary.failed]
    return db
