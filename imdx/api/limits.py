"""The bounds of what one request may ask of ``imdx serve``, and of what a server holds at once.

Every parameter of every route is checked against them before anything is read (:mod:`imdx.api.guard`
for the URL, the query and the body; :mod:`imdx.api.params` for numbers, lists and pages); past a bound
the answer is a 4xx in the route's error format that names the bound, the value and how to ask within it.
The defaults fit a public server on 2 cores and 24 GB. Each can be changed with an environment variable,
``IMDX_HTTP_`` and its name in capitals (``IMDX_HTTP_MAX_PAGE_SIZE_JSON=20000``), read by :func:`limits`
when ``imdx serve`` starts (never at import), or given to ``create_app(..., limits=Limits(...))``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from imdx.errors import ConfigError

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
                                    "Retry-After, in seconds")

    def page_size_max(self, fmt: str) -> int:
        return self.max_page_size_json if fmt == "json" else self.max_page_size_file

    def slots(self) -> int:
        return self.compute_slots or os.cpu_count() or 1

    @staticmethod
    def env_name(name: str) -> str:
        return ENV_PREFIX + name.upper()


def limits(env: Mapping[str, str] | None = None, **overrides: int) -> Limits:
    """The limits set by ``IMDX_HTTP_*`` environment variables (of ``env``, by default the process's), with
    ``overrides`` on top; a value that is not a whole number of 1 or more (0 for ``compute_slots``) is a
    :class:`~imdx.errors.ConfigError` naming the variable."""
    env = os.environ if env is None else env
    values: dict[str, int] = {}
    for f in fields(Limits):
        raw = env.get(Limits.env_name(f.name))
        if raw is None:
            continue
        text = raw.strip()
        low = 0 if f.name == "compute_slots" else 1
        if not (text.isascii() and text.isdigit() and len(text) <= 12 and int(text) >= low):
            raise ConfigError(f"{Limits.env_name(f.name)}={raw!r} is not a whole number of {low} or more; "
                              f"unset it for the default ({f.default})")
        values[f.name] = int(text)
    return replace(Limits(), **values, **overrides)


def documented() -> list[tuple[str, int, str]]:
    """(environment variable, default, what it bounds) for every limit (``imdx serve --help``, docs/api.md)."""
    return [(Limits.env_name(f.name), f.default, f.metadata["help"]) for f in fields(Limits)]  # type: ignore[misc]
