"""imdx: the International Migration Data eXchange.

>>> import imdx
>>> db = imdx.open("imdx.duckdb")
>>> db.query("migrant_stock", destination="DEU", year=2020)          # a pandas DataFrame
>>> db.query("remittances", area="India", flow="received", output="polars")
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Handle", "open"]


class Handle:
    """An open store. ``query`` takes the same filters as ``imdx query``."""

    def __init__(self, store):
        self.store = store

    def query(self, dataflow: str, *, edition=None, source=None, as_of=None, output="pandas", **filters):
        from imdx.query import query

        return query(self.store, dataflow, edition=edition, source=source, as_of=as_of, output=output, **filters)

    def releases(self):
        return self.store.releases()

    def report(self, *, source=None, area=None):
        return self.store.issues(source=source, area=area)

    def areas(self):
        return self.store.areas().table()

    def dataflows(self):
        from imdx.model.dataflows import DATAFLOWS

        return DATAFLOWS

    def close(self):
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open(path: str | Path = "imdx.duckdb", *, read_only: bool = True) -> Handle:
    """Open a store made by ``imdx load``: a DuckDB file, or a PostgreSQL database given as a URL
    (``postgresql://user@host/imdx``)."""
    from imdx.store import connect

    return Handle(connect(path, read_only=read_only))
