"""`imdx serve` (the click command ``serve_cmd``) starts a server that answers over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from imdx.cli.serve import serve_cmd
from tests.api.conftest import free_port


def _serve(db, *extra) -> tuple[subprocess.Popen, str]:
    port = free_port()
    code = f"from imdx.cli.serve import serve_cmd; serve_cmd({['--db', str(db), '--port', str(port), *extra]!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def _wait(proc, url, timeout=60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            return httpx.get(url, timeout=5)
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve(api_db, workers):
    proc, url = _serve(api_db, "--workers", workers)
    try:
        r = _wait(proc, f"{url}/api/v1/data/migrant_stock?destination=DEU&origin=_T&sex=_T&age=_T&year=2020"
                             "&edition=2020")
        assert r.status_code == 200 and r.json()["data"][0]["value"] == 15_762_457
        assert _wait(proc, f"{url}/api/v1/openapi.json").json()["info"]["title"] == "imdx API"
    finally:
        _stop(proc)
    assert proc.returncode is not None


def test_serve_loads_an_empty_store_first_and_stops_when_nothing_loads(tmp_path):
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    runner = CliRunner(env={"IMDX_MIRROR": str(empty_mirror)})
    result = runner.invoke(serve_cmd, ["--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code != 0
    assert "is empty: loading every source first" in result.output
    assert "nothing could be loaded" in str(result.exception)


def test_workers_listen_each_on_their_own_socket(api_db):
    """With --workers 2 each worker listens on a socket of its own (SO_REUSEPORT): the kernel spreads new
    connections over both (a shared socket gave one worker most of a crowd); a second server on the port is
    refused with the port named, before it starts."""
    import socket

    import psutil

    proc, url = _serve(api_db, "--workers", "2")
    port = int(url.rsplit(":", 1)[1])
    try:
        _wait(proc, f"{url}/api/v1")
        workers = psutil.Process(proc.pid).children(recursive=True)
        listening = {p.pid for p in workers for c in p.net_connections() if c.status == "LISTEN"
                     and c.laddr.port == port}
        assert len(listening) == 2
        clients = []
        for _ in range(40):  # open connections, each answered once and kept open
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(12).startswith(b"HTTP/1.1 200")
            clients.append(s)
        held = [sum(1 for c in psutil.Process(pid).net_connections() if c.status == "ESTABLISHED"
                    and c.laddr.port == port) for pid in listening]
        assert sum(held) == 40 and min(held) >= 5, held  # both took a share (binomial: below 5 of 40 is ~1e-7)
        for s in clients:
            s.close()
        second = subprocess.run([sys.executable, "-m", "imdx.cli", "serve", "--db", str(api_db), "--port", str(port),
                                 "--workers", "2"], capture_output=True, text=True, timeout=120)
        assert second.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert _wait(proc, f"{url}/api/v1").status_code == 200  # the first one still serves
    finally:
        _stop(proc)
