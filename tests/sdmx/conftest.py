"""A real store for the SDMX tests, once per backend (DuckDB, PostgreSQL): UN World Population Prospects 2024
(from the mirror), every SDMX data message of ``<mirror>/sdmx`` imported, and flows with intervals (the
EU-27 pairs both sides report, from the MigMod table, harmonised by ``imdx estimate mirror``'s code for
two years); served over HTTP by uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ALL_BACKENDS

SDMX_STRUCTURES = {"ESTAT/demography-xs.xml": "ESTAT/demography-structure.xml",
                   "ISTAT/IT1_47_850_data_generic.xml": "ISTAT/IT1_47_850_dataflow_with_datastructure.xml"}

HARMONISED_YEARS = [2018, 2019]


def sdmx_files(mirror: Path) -> list[Path]:
    return sorted(p for p in (mirror / "sdmx").rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".csv"))


@pytest.fixture(scope="session", params=ALL_BACKENDS)
def sdmx_db(request, tmp_path_factory, mirror, areas):
    """A store (DuckDB path or PostgreSQL URL) with WPP 2024 and the SDMX data messages loaded."""
    from imdx.errors import ImdxError
    from imdx.estimates import mirror as mirror_flows
    from imdx.load import load_release
    from imdx.sources import eurostat, wpp
    from imdx.sources.fetch import fetch_release
    from imdx.sources.sdmx import load_sdmx
    from imdx.store import connect

    if request.param == "duckdb":
        db = tmp_path_factory.mktemp("sdmx") / "imdx.duckdb"
    else:
        db = request.getfixturevalue("pg_database")()
    with connect(db) as store:
        migmod = [s for s in eurostat.SOURCE.releases if s.key == "migmod-eu27-pairs"]
        for spec in [*wpp.SOURCE.releases, *migmod]:
            paths, files = fetch_release(spec, mirror=mirror, cache=tmp_path_factory.mktemp("cache"))
            assert load_release(store, spec, paths, files, areas).status == "loaded"
        for path in sdmx_files(mirror):
            rel = path.relative_to(mirror / "sdmx").as_posix()
            structure = mirror / "sdmx" / SDMX_STRUCTURES[rel] if rel in SDMX_STRUCTURES else None
            try:
                load_sdmx(store, file=path, structure=structure, areas=areas)
            except ImdxError:
                pass  # the footer-only message; tested on its own
        harmonised, issues, pairs = mirror_flows.harmonise_all(store, years=HARMONISED_YEARS, replicates=10)
        assert mirror_flows.store_harmonised(store, harmonised, pairs, issues, 10) is not None
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sdmx_server(sdmx_db):
    """Base URL of a uvicorn server with the SDMX router over the store (read-only)."""
    import uvicorn
    from fastapi import FastAPI

    from imdx.api.sdmx import sdmx_router
    from imdx.store import connect

    store = connect(sdmx_db, read_only=True)
    app = FastAPI()
    app.include_router(sdmx_router(lambda: store))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)
    store.close()


@pytest.fixture(scope="session")
def http(sdmx_server):
    import httpx

    with httpx.Client(base_url=sdmx_server, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def store_ro(sdmx_db, sdmx_server):
    """A second read-only handle on the same store, to compare answers with."""
    from imdx.store import connect

    with connect(sdmx_db, read_only=True) as store:
        yield store
