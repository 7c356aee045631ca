"""The API tests talk HTTP to a real uvicorn server (in a thread, on a free loopback port) serving
the store every source was loaded into (the ``full_store`` fixture); the hostile-input and fuzz tests, to
``imdx serve`` itself (a process of its own) serving the UN DESA releases, the research library and the
registry (the ``library_db`` fixture, shared with tests/library and tests/registry)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.library.fixtures import library_db, stats_db  # noqa: F401 -- the store ``served`` serves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", params=BACKENDS)
def api_db(request):
    """The store under test, once per backend: ``full_store`` (DuckDB) and ``full_store_pg`` (PostgreSQL), or
    (to iterate quickly on the API alone) the already loaded store named by ``IMDX_API_TEST_DB``."""
    override = os.environ.get("IMDX_API_TEST_DB")
    if override:
        return override
    return request.getfixturevalue("full_store" if request.param == "duckdb" else "full_store_pg")


@contextmanager
def serving(app):
    """``app`` served by uvicorn in a thread on a free loopback port: its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def base_url(api_db):
    from imdx.api import create_app

    with serving(create_app(api_db)) as url:
        yield url


@pytest.fixture(scope="session")
def served(library_db, tmp_path_factory):  # noqa: F811 -- the fixture imported above
    """``imdx serve`` (a process of its own, one worker, default limits) over ``library_db``: its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("served") / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMDX_HTTP_", "IMDX_CASES"))}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "imdx.cli", "serve", "--db", str(library_db), "--port",
                                 str(port)], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"imdx serve stopped: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"imdx serve did not answer: {log.read_text()[-2000:]}"
        try:
            if httpx.get(f"{url}/api/v1", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]  # no request made the server fail


@pytest.fixture(scope="session")
def http(base_url):
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def app_routes(api_db):
    """(path, methods) of every route of the app, as FastAPI registers them."""
    from imdx.api import create_app

    app = create_app(api_db)
    out = [(r.path, sorted(r.methods or [])) for r in app.routes if getattr(r, "include_in_schema", False)
           and r.path.startswith("/api/")]  # SDMX (tests/sdmx) and the portal (tests/portal) are tested there
    app.state.imdx.close()
    return out


def assert_envelope(response: httpx.Response, status: int | None = None, type: str | None = None,
                    parameter: str | None = "unset") -> dict:
    """The response is an error in the one envelope, with a 4xx (or the given) status."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"status", "type", "message", "parameter"}, error
    assert error["status"] == response.status_code
    assert 400 <= response.status_code < 500 if status is None else response.status_code == status, body
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and len(error["message"]) > 20
    if type is not None:
        assert error["type"] == type, error
    if parameter != "unset":
        assert error["parameter"] == parameter, error
    return error
