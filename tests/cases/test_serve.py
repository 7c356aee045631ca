"""``imdx serve`` (a real server process, real HTTP) mounts the case API when a case database is configured,
says how when it is not, refuses settings it cannot serve, holds against brute force, and keeps its memory
bounded when 40 clients sign in at once.

Attacks of issue 12: ``imdx serve`` did not mount /api/v1/cases at all; hundreds of wrong passwords, then
the right one worked; 40 parallel login clients took the server from 345 MB to 2.4 GB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from imdx.cases.crypto import new_key
from imdx.cases.routes import PREFIX
from imdx.cases.service import CaseService
from imdx.cases.settings import write_config
from tests.api.conftest import free_port

PASSWORD = "the-officers-password-01"
#: what the login flood may add to the server's memory: the hashing slots (2 x argon2id's 64 MiB) and
#: 96 MiB for everything else (threads, buffers, answers)
SLOTS, ARGON2_MIB, SLACK_MIB = 2, 64, 96


def _serve(stats_store: Path, env: dict, *extra) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "imdx.cli", "serve", "--db", str(stats_store), "--port", str(port),
                             *extra], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def _wait(proc, url, timeout=90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.communicate())
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _stop(proc) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return err.decode()


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def case_config(tmp_path):
    """A configuration file (fresh keys) and a database with an officer; passwords hashed with RFC 9106's
    memory (64 MiB) but one pass instead of three, to keep the test short."""
    config = write_config(tmp_path / "cases.toml", db=str(tmp_path / "cases.duckdb"))
    env = {"IMDX_CASES_CONFIG": str(config), "IMDX_CASES_ARGON2_COST": "1,65536"}   # 64 MiB a hash, one pass
    svc = CaseService.from_env(env)
    svc.bootstrap("admin", "the-admins-password-01", "Platform")
    admin = svc.principal(svc.login("admin", "the-admins-password-01").access_token)
    svc.add_organisation(admin, "OrgA")
    svc.add_user(admin, "officer", PASSWORD, "OrgA", "field_officer")
    svc.close()
    return env


def test_without_a_case_database_the_server_says_how_to_mount_one(stats_store):
    proc, url = _serve(stats_store, {})
    try:
        _wait(proc, f"{url}/api/v1/dataflows")
        response = httpx.get(f"{url}{PREFIX}/releases")
        assert response.status_code == 404 and set(response.json()) == {"error"}
    finally:
        err = _stop(proc)
    assert "case API not mounted" in err and "IMDX_CASES_CONFIG" in err


@pytest.mark.parametrize("change,expected", [
    ({"IMDX_CASES_AUDIT_KEY": "audit-" + "x" * 32}, "IMDX_CASES_AUDIT_KEY is too weak"),
    ({"IMDX_CASES_KEYS": ""}, "IMDX_CASES_KEYS not set"),
    ({"IMDX_CASES_EPSILON_BUDGET": "100"}, "IMDX_CASES_EPSILON_BUDGET is no longer read"),
    ({"IMDX_CASES_DB": "/nonexistent/dir/cases.duckdb"}, "does not exist"),
])
def test_settings_the_server_cannot_use_are_refused_at_start(stats_store, tmp_path, change, expected):
    env = {"IMDX_CASES_DB": str(tmp_path / "cases.duckdb"), "IMDX_CASES_KEYS": new_key(),
           "IMDX_CASES_AUDIT_KEY": new_key(), "IMDX_CASES_FINGERPRINT_KEY": new_key()}
    proc, _ = _serve(stats_store, {**env, **change})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and expected in err.decode()


def test_several_workers_are_refused_with_a_case_database(stats_store, case_config):
    proc, _ = _serve(stats_store, case_config, "--workers", "2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "--workers 1" in err.decode()


def test_the_served_case_api_holds_against_brute_force_and_a_login_flood(stats_store, case_config):
    proc, url = _serve(stats_store, case_config)
    try:
        _wait(proc, f"{url}/api/v1/dataflows")
        base = f"{url}{PREFIX}"
        first = httpx.post(f"{base}/token", json={"username": "officer", "password": PASSWORD}, timeout=30)
        assert first.status_code == 200, first.text
        headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
        created = httpx.post(f"{base}/records", headers={**headers, "Idempotency-Key": "k1"},
                             json={"data_source": "hotline", "gender": "Man"})
        assert created.status_code == 201
        assert httpx.get(f"{base}/records/{created.json()['case_id']}", headers=headers).json()["gender"] == "Man"

        # 40 clients sign in at once, with argon2id taking 64 MiB a hash
        baseline, peak, done = _rss_mib(proc.pid), [0.0], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _rss_mib(proc.pid))
                time.sleep(0.01)
        sampler = threading.Thread(target=sample)
        sampler.start()

        finished = []

        def client(_):
            with httpx.Client(timeout=120) as http:
                answers = [http.post(f"{base}/token", json={"username": "officer", "password": PASSWORD}).status_code
                           for _ in range(1)]
            finished.append(1)
            return answers
        with ThreadPoolExecutor(40) as pool:
            runs = pool.map(client, range(40))
            time.sleep(0.5)          # the flood waits for the hashing slots without holding the server's threads:
            assert httpx.get(f"{url}/api/v1/dataflows", timeout=60).status_code == 200
            assert len(finished) < 40, "the statistics answered only after the flood"
            statuses = [s for run in runs for s in run]
        done.set()
        sampler.join()
        assert set(statuses) <= {200, 503} and statuses.count(200) >= 20, statuses
        bound = baseline + SLOTS * ARGON2_MIB + SLACK_MIB
        print(f"server RSS {baseline:.0f} MiB before the flood, peak {peak[0]:.0f} MiB during it (bound "
              f"{bound:.0f}); {statuses.count(200)} sign-ins, {statuses.count(503)} told to retry")
        assert peak[0] < bound

        # 200 wrong passwords from one address lock the account and the address
        with httpx.Client(timeout=30) as http:
            wrong = [http.post(f"{base}/token", json={"username": "officer", "password": f"guess-{i:05d}-x"}
                               ).status_code for i in range(200)]
            assert wrong.count(401) <= 4 and wrong[-150:] == [429] * 150
            right = http.post(f"{base}/token", json={"username": "officer", "password": PASSWORD})
            assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
            assert http.get(f"{base}/releases").status_code == 429          # the address, whatever it asks
    finally:
        err = _stop(proc)
    assert "case API at /api/v1/cases" in err

    svc = CaseService.from_env(case_config)
    try:
        lockouts = svc.store.query("SELECT target FROM audit_log WHERE action = 'login:lockout' ORDER BY seq")
        assert lockouts == [("account:officer",), ("address:127.0.0.1",)]
        assert svc.checkpoints.from_table()[-1]["reason"] == "close"     # the server signed its last head
        admin = svc.principal(svc.login("admin", "the-admins-password-01").access_token)
        report, _ = svc.verify_audit(admin)
        assert report.count("error") == 0
    finally:
        svc.close()
