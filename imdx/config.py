"""Settings as data: each has a name, an environment variable, a default and a help text.

Nothing is read at import: call :func:`settings` (the CLI does, once per command).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imdx import limits
from imdx.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str | None
    help: str


SETTINGS = [
    Setting("mirror", "IMDX_MIRROR", None,
            "A folder laid out like the publishers' files: one folder per source (undesa_ims, wdi, unhcr, wpp, "
            "m49, ...), each file under its published name. When set, files are read from it instead of "
            "being downloaded."),
    Setting("db", "IMDX_DB", "imdx.duckdb",
            "The store: a DuckDB file (the embedded default), or a PostgreSQL database as a URL "
            "(postgresql://user@host:5432/imdx) for a server that loads while it answers."),
    Setting("cache", "IMDX_CACHE", str(Path.home() / ".cache" / "imdx"),
            "Where files downloaded from the publishers are kept, by checksum."),
    Setting("workers", "IMDX_WORKERS", None,
            "How many processes read, harmonise and check releases at the same time during a load "
            "(default: one per CPU; 1 does everything in the loading process). The store is always "
            "written by the loading process, one release at a time."),
]
#: the limits on what a reader trusts in a file (IMDX_MAX_FILE, IMDX_MAX_CELLS, ...): see imdx.limits.LIMITS
LIMITS = limits.LIMITS


@dataclass(frozen=True)
class Settings:
    mirror: Path | None
    db: Path | str  # a DuckDB file, or a postgresql:// URL (imdx.store.is_url)
    cache: Path
    workers: int = 1
    limits: limits.Limits = field(default_factory=limits.Limits)


def settings(env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """The settings from the environment and ``overrides`` (e.g. ``mirror=``, ``db=``, and ``limits=``, a
    mapping of limit name to value such as ``{"max_cells": "1e8"}`` from ``imdx load --limit``)."""
    env = os.environ if env is None else env
    limit_overrides = overrides.pop("limits", None)
    values = {s.name: _text(overrides.get(s.name)) or env.get(s.env) or s.default for s in SETTINGS}
    mirror = Path(values["mirror"]).expanduser() if values["mirror"] else None
    if mirror is not None and not mirror.is_dir():
        raise ConfigError(f"the mirror folder {mirror} does not exist; set IMDX_MIRROR (or --mirror) to a folder "
                          "laid out like the publishers' files, e.g. ../shared/data")
    return Settings(mirror=mirror, db=_store(values["db"]), cache=Path(values["cache"]).expanduser(),
                    workers=_workers(values["workers"]), limits=limits.from_env(env, limit_overrides))


def _store(value: str) -> Path | str:
    from imdx.store import is_url

    return value if is_url(value) else Path(value).expanduser()


def _text(value) -> str | None:
    return None if value is None else str(value)


def _workers(value: str | None) -> int:
    if value is None:
        return os.cpu_count() or 1
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigError(f"IMDX_WORKERS must be a whole number of processes, 1 or more (got {value!r})")
    return workers
