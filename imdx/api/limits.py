"""The bounds of what one request may ask of ``imdx serve``, and of what a server holds at once.

Every parameter of every route is checked against them before anything is read (:mod:`imdx.api.guard`
for the URL, the query and the body; :mod:`imdx.api.params` for numbers, lists and pages); past a bound
the answer is a 4xx in the route's error format that names the bound, the value and how to ask within it.
The defaults fit a public server on 2 cores and 24 GB. Each can be changed with an environment variable,
``IMDX_HTTP_`` and its name in capitals (``IMDX_HTTP_MAX_PAGE_SIZE_JSON=20000``), read by :func:`limits`
when ``imdx serve`` starts (never at import), or given to ``create_app(..., limits=Limits(...))``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from typing import TypeVar

from imdx.api.errors import ApiError
from imdx.errors import ConfigError

T = TypeVar("T")

ENV_PREFIX = "IMDX_HTTP_"


def _bound(default: int, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Limits:
    max_path_chars: int = _bound(1024, "the longest path, in characters once percent-decoded")
    max_query_bytes: int = _bound(8192, "the longest query string, in bytes as sent")
    max_query_params: int = _bound(64, "the most query parameters one request may give (repeats count)")
    max_value_chars: int = _bound(2000, "the longest value of one query parameter, in characters")
    max_codes: int = _bound(300, "the most codes one filter may list (repeated, or separated by commas)")
    max_page: int = _bound(1_000_000, "the highest page number a request may ask for")
    max_page_size_json: int = _bound(10_000, "the largest page of a JSON answer, in rows (built in memory as "
                                             "objects)")
    max_page_size_file: int = _bound(100_000, "the largest page of a CSV or Parquet answer, in rows")
    max_unfiltered_rows: int = _bound(1_000_000, "the most observations a data query without any filter may "
                                                 "select (its pages are sliced from them)")
    max_sdmx_observations: int = _bound(200_000, "the most observations one SDMX data message may hold")
    max_body_kib: int = _bound(16 * 1024, "the largest request body any route reads, in KiB (routes that take "
                                          "bodies have smaller bounds of their own)")
    compute_slots: int = _bound(0, "answers computed at the same time per worker process (0: one per CPU); "
                                   "the other requests wait their turn")
    queue_seconds: int = _bound(15, "how long a request waits for a free slot before it is answered 503 with "
                                    "Retry-After, in seconds (0: at once when none is free)")

    def page_size_max(self, fmt: str) -> int:
        return self.max_page_size_json if fmt == "json" else self.max_page_size_file

    def slots(self) -> int:
        return self.compute_slots or os.cpu_count() or 1

    @staticmethod
    def env_name(name: str) -> str:
        return ENV_PREFIX + name.upper()


def limits(env: Mapping[str, str] | None = None, **overrides: int) -> Limits:
    """The limits set by ``IMDX_HTTP_*`` environment variables (of ``env``, by default the process's), with
    ``overrides`` on top; a value that is not a whole number of 1 or more (0 for ``compute_slots`` and
    ``queue_seconds``) is a
    :class:`~imdx.errors.ConfigError` naming the variable."""
    env = os.environ if env is None else env
    values: dict[str, int] = {}
    for f in fields(Limits):
        raw = env.get(Limits.env_name(f.name))
        if raw is None:
            continue
        text = raw.strip()
        low = 0 if f.name in ("compute_slots", "queue_seconds") else 1
        if not (text.isascii() and text.isdigit() and len(text) <= 12 and int(text) >= low):
            raise ConfigError(f"{Limits.env_name(f.name)}={raw!r} is not a whole number of {low} or more; "
                              f"unset it for the default ({f.default})")
        values[f.name] = int(text)
    return replace(Limits(), **values, **overrides)


def documented() -> list[tuple[str, int, str]]:
    """(environment variable, default, what it bounds) for every limit (``imdx serve --help``, docs/api.md)."""
    return [(Limits.env_name(f.name), f.default, f.metadata["help"]) for f in fields(Limits)]  # type: ignore[misc]


class Busy(ApiError):
    """No compute slot was free within the queue wait: answered 503 ``busy`` with ``Retry-After`` (in the API's
    envelope under ``/api`` and ``/sdmx``, the portal's error page elsewhere)."""

    RETRY_AFTER = 5

    def __init__(self, slots: int, seconds: int):
        super().__init__(503, "busy", f"the server is computing {slots} answer(s) and more are waiting; none was "
                         f"free within {seconds} s ({Limits.env_name('queue_seconds')}). Try again in a few seconds.",
                         None, {"Retry-After": str(self.RETRY_AFTER)})


class ComputeSlots:
    """Where a server computes its answers: at most :meth:`Limits.slots` at once per process, each in a thread of
    its own pool (not the event loop's, not Starlette's shared pool of 40), FIFO; a request waits at most
    ``queue_seconds`` for a slot, then :class:`Busy`. So a crowd on any route (data, pages, revisions, searches)
    takes turns with the others, the CPU is not split among more answers than it has cores, and the memory of
    answers being computed is that of a few at a time.

    A slot is freed when its computation ends, also when the request that asked for it has gone (a client that
    disconnected does not let more computations run than there are slots)."""

    def __init__(self, limits: Limits):
        self.size, self.wait = limits.slots(), limits.queue_seconds
        self._free: asyncio.Semaphore | None = None  # made on first use, in the server's event loop
        self._threads: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """``fn(*args, **kwargs)`` in a slot, with the caller's context variables; :class:`Busy` when no slot was
        free in time."""
        if self._free is None:
            self._free = asyncio.Semaphore(self.size)
            self._threads = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="imdx-compute")
        free = self._free
        if not free.locked():
            await free.acquire()  # one is free: no suspension, no timer
        elif self.wait <= 0:
            raise Busy(self.size, self.wait)
        else:
            try:
                await asyncio.wait_for(free.acquire(), self.wait)
            except TimeoutError:
                raise Busy(self.size, self.wait) from None
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        try:
            done = asyncio.get_running_loop().run_in_executor(self._threads, call)
        except BaseException:
            free.release()
            raise
        done.add_done_callback(lambda _: free.release())
        return await asyncio.shield(done)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
