"""A crowd takes turns: every answer that is not cached is computed in the server's compute slots
(:class:`imdx.api.limits.ComputeSlots`); with none free within the queue wait, the answer is 503 ``busy`` with
``Retry-After``, in the API's envelope under ``/api`` and on the portal's error page elsewhere.

Deterministic, not timed: one compute slot and no queue wait (``IMDX_HTTP_COMPUTE_SLOTS=1``,
``IMDX_HTTP_QUEUE_SECONDS=0``, read by the app factory of ``imdx serve``'s workers), one page held inside its
slot by an event the test sets, the other requests answered while it is held, then after.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.api.conftest import assert_envelope, serving
from tests.api.test_hostile import assert_page


@pytest.fixture()
def one_slot(small_store, monkeypatch):
    """``imdx serve``'s app over ``small_store`` with one compute slot and no queue wait, served in a thread; and
    ``hold``: a context in which a request for /sources is computing in that slot."""
    from imdx.cli.serve import CACHE_ENV, CURRENT_ENV, DB_ENV, app_from_env
    from imdx.portal import pages

    for name, value in ((DB_ENV, str(small_store)), (CACHE_ENV, "256"), (CURRENT_ENV, "512"),
                        ("IMDX_HTTP_COMPUTE_SLOTS", "1"), ("IMDX_HTTP_QUEUE_SECONDS", "0")):
        monkeypatch.setenv(name, value)
    entered, release = threading.Event(), threading.Event()
    sources_page = pages.sources_page

    def held(reader):  # the page's own computation, held until the test lets it go
        entered.set()
        assert release.wait(60), "the test never released the page"
        return sources_page(reader)

    monkeypatch.setattr(pages, "sources_page", held)
    app = app_from_env()
    assert app.state.imdx.slots.size == 1 and app.state.imdx.slots.wait == 0
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        answers: list[httpx.Response] = []

        class Hold:
            def __enter__(self):
                self.thread = threading.Thread(target=lambda: answers.append(client.get("/sources")))
                self.thread.start()
                assert entered.wait(60), "the held page never started"
                return self

            def __exit__(self, *exc):
                release.set()
                self.thread.join(60)

        yield client, Hold, answers


def assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert re.fullmatch(r"[1-9][0-9]*", r.headers["retry-after"]), r.headers["retry-after"]  # delay-seconds
    assert r.headers["cache-control"] == "no-store"


def test_a_full_server_answers_busy_then_serves_again(one_slot):
    client, hold, answers = one_slot
    assert client.get("/country/DEU").status_code == 200  # computed, and kept
    with hold():
        page = client.get("/country/FRA")  # a portal page: the portal's error page
        assert_busy(page)
        text = assert_page(page, 503)
        assert "IMDX_HTTP_QUEUE_SECONDS" in text and page.headers["x-error-type"] == "busy"
        for url in ("/api/v1/diff/migrant_stock?from=2019&to=2020",  # revisions
                    "/api/v1/library?q=migration",  # the library's search
                    "/api/v1/data/migrant_stock?edition=2020&destination=FRA",  # observations not held in memory
                    "/api/v1/areas?q=france",  # any API route computed by respond()
                    "/sdmx/dataflow/IMDX"):  # SDMX
            r = client.get(url)
            assert_busy(r)
            assert assert_envelope(r, 503, "busy", None)["message"].startswith("the server is computing 1 answer")
        assert_busy(client.get("/library?q=migration"))  # the library's and the registry's pages
        assert_busy(client.get("/registry"))
        cached = client.get("/country/DEU")  # a kept page does not wait for a slot
        assert cached.status_code == 200 and "<h1>Germany</h1>" in cached.text
        assert client.get("/static/portal.css").status_code == 200  # nor do the site's files
    assert [r.status_code for r in answers] == [200] and "<h1>Sources" in answers[0].text
    # released: the slot is free again for every route
    assert client.get("/country/FRA").status_code == 200
    assert client.get("/api/v1/data/migrant_stock?edition=2020&destination=FRA").status_code == 200
    assert client.get("/api/v1/areas?q=france").status_code == 200
    assert client.get("/sdmx/dataflow/IMDX").status_code == 200
    assert client.get("/library?q=migration").status_code == 200


def test_slots_bound_what_runs_and_free_a_slot_whose_caller_left():
    """At most ``size`` computations at once; a caller cancelled while its computation runs (a client that left)
    keeps the slot taken until the computation ends, then frees it."""
    from imdx.api.limits import Busy, ComputeSlots, Limits

    async def scenario():
        slots = ComputeSlots(Limits(compute_slots=2, queue_seconds=0))
        started, go = threading.Event(), threading.Event()
        running, most = [0], [0]
        lock = threading.Lock()

        def work(n):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            started.set()
            go.wait(30)
            with lock:
                running[0] -= 1
            return n

        first = asyncio.create_task(slots.run(work, 1))
        second = asyncio.create_task(slots.run(work, 2))
        await asyncio.sleep(0)
        while not started.is_set():
            await asyncio.sleep(0.01)
        with pytest.raises(Busy):
            await slots.run(work, 3)  # both taken, no queue wait
        first.cancel()  # its caller left; its computation still runs
        with pytest.raises(asyncio.CancelledError):
            await first
        with pytest.raises(Busy):
            await slots.run(work, 4)  # so its slot is still taken
        go.set()
        assert await second == 2
        assert await slots.run(work, 5) == 5  # both freed once the computations ended
        slots.close()
        return most[0]

    with ThreadPoolExecutor(1) as thread:  # a loop of its own (a browser test may have left one running here)
        assert thread.submit(asyncio.run, scenario()).result(60) == 2
