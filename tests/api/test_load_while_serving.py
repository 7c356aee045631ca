"""A release loads into PostgreSQL while 16 clients query the API: every answer is the state before the
load or the state after it, never a mix, and no request fails. Real releases: the World Bank's FDI file
in its 2018 vintage is served, and its 2023 vintage is loaded meanwhile."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn

from tests.api.conftest import free_port

OLD, NEW = "BX.KLT.DINV.CD.WD-2018-06-28", "BX.KLT.DINV.CD.WD-2023-10-26"
QUERIES = ["/api/v1/data/fdi_inflows?year=2010:2016&page_size=10000",
           "/api/v1/data/fdi_inflows?area=IRL,LUX,NLD,USA,CHN&format=csv",
           "/api/v1/dataflows/fdi_inflows"]
CLIENTS = 16


def _load(url, mirror, cache, areas, key):
    from imdx.load import load_release
    from imdx.sources import registry
    from imdx.sources.fetch import fetch_release
    from imdx.store import connect

    with connect(url) as store:
        for source, k in (("m49", None), ("wdi", key)):
            spec = next(s for s in registry()[source].releases if k is None or s.key == k)
            paths, files = fetch_release(spec, mirror=mirror, cache=cache)
            outcome = load_release(store, spec, paths, files, areas.copy())
            assert outcome.status in ("loaded", "unchanged"), outcome.error


def _answer(response: httpx.Response):
    """What a client sees of the state: the rows (JSON data, or the CSV body), or the dataflow's editions."""
    if response.headers["content-type"].startswith("text/csv"):
        return response.text
    body = response.json()
    return body["data"] if "data" in body else [e["edition"] for e in body["editions"]]


@pytest.fixture
def served(pg_database, mirror, areas, tmp_path):
    from imdx.api import create_app

    url = pg_database()
    _load(url, mirror, tmp_path / "cache", areas, OLD)
    app = create_app(url, sdmx=False, portal=False, freshness=0.05)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    yield url, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_answers_are_the_old_or_the_new_state_never_a_mix(served, mirror, areas, tmp_path):
    url, base = served
    with httpx.Client(base_url=base, timeout=60) as client:
        before = {q: _answer(client.get(q)) for q in QUERIES}
    assert len(before[QUERIES[0]]) > 1000 and before[QUERIES[2]] == ["2018-06-28"]

    seen: list[tuple[str, int, object]] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def client_loop(n: int) -> None:
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                i = n
                while not done.is_set():
                    q = QUERIES[i % len(QUERIES)]
                    r = client.get(q)
                    seen.append((q, r.status_code, _answer(r) if r.status_code == 200 else r.text))
                    i += 1
        except BaseException as err:  # noqa: BLE001 -- reported by the test
            errors.append(err)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(seen) < 2 * CLIENTS and time.monotonic() < deadline:  # every client is querying
        time.sleep(0.05)
    during = len(seen)
    _load(url, mirror, tmp_path / "cache", areas, NEW)  # while the clients query
    loaded = len(seen)
    time.sleep(1.0)  # the answers after the commit (the API looks at the store's version every 0.05 s)
    done.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors

    with httpx.Client(base_url=base, timeout=60) as client:
        after = {q: _answer(client.get(q)) for q in QUERIES}
    assert after[QUERIES[2]] == ["2018-06-28", "2023-10-26"]
    for q in QUERIES[:2]:
        assert after[q] != before[q]  # the newer vintage changed what is current
    assert all(status == 200 for _, status, _ in seen), [s for s in seen if s[1] != 200][:3]
    mixed = [q for q, _, answer in seen if answer not in (before[q], after[q])]
    assert not mixed, f"{len(mixed)} answers were neither the old nor the new state: {mixed[:3]}"
    old = sum(answer == before[q] != after[q] for q, _, answer in seen)
    new = sum(answer == after[q] != before[q] for q, _, answer in seen)
    assert during >= 2 * CLIENTS and loaded > during and old > 0 and new > 0, (during, loaded, old, new)
