"""The store: where releases, observations, areas and the issue report live (see :mod:`imdx.store.base`).

Open one with :func:`connect`; a target is a DuckDB file path (the embedded default) or a
``postgresql://`` URL (a shared server).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imdx.store.base import Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_url(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL server (else it is a DuckDB file path)."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def display(target: str | Path) -> str:
    """``target`` for messages and logs: a server URL without its password."""
    if not is_url(target):
        return str(target)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(target))
    if parts.password is None:
        return str(target)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def exists(target: str | Path) -> bool:
    """Whether a store may be at ``target`` already: a DuckDB file that exists, or any server URL (whether
    the server holds a store is known once connected)."""
    return is_url(target) or Path(target).exists()


def connect(target: str | Path, *, read_only: bool = False) -> Store:
    """The store at ``target``: a DuckDB file (created when missing, unless ``read_only``) or a PostgreSQL
    database given as ``postgresql://user@host:port/dbname`` (the schema is created or migrated when
    missing, unless ``read_only``)."""
    if is_url(target):
        try:
            from imdx.store.postgres import PostgresStore
        except ImportError as err:
            from imdx.errors import StoreError

            raise StoreError(f"a PostgreSQL store needs psycopg ({err.name} is missing): pip install "
                             "'psycopg[binary]' psycopg-pool") from err
        return PostgresStore(str(target), read_only=read_only)
    from imdx.store.duckdb_store import DuckDBStore

    return DuckDBStore(Path(target), read_only=read_only)
