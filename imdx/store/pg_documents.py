"""The research library's and the registry's tables on PostgreSQL: their statements
(:class:`~imdx.store.library_tables.DocumentTables`, written in DuckDB's dialect) spoken to a psycopg
connection, so that both backends share one implementation of them."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import psycopg
from psycopg import sql


def missing(value) -> bool:
    """None, NaN or NaT (pandas' missing values), for a COPY row."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


class DuckLike:
    """A psycopg connection spoken to as the research library's and the registry's tables
    (:class:`~imdx.store.library_tables.DocumentTables`) speak to DuckDB: ``?`` parameters, ``register``
    of a frame as a table, results as frames. One per thread (:meth:`~imdx.store.postgres.PostgresStore._reader`)."""

    def __init__(self, con: psycopg.Connection):
        self.con = con

    def execute(self, query: str, params=None) -> Result:
        return Result(self.con.execute(query.replace("?", "%s") if params else query, params or None))

    def executemany(self, query: str, rows) -> None:
        with self.con.cursor() as cur:
            cur.executemany(query.replace("?", "%s"), rows)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(column_type(frame[c])))
                                     for c in frame.columns)
        self.con.execute(sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(name), columns))
        with self.con.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
            for row in frame.itertuples(index=False):
                copy.write_row([None if missing(v) else v.item() if hasattr(v, "item") else v for v in row])

    def unregister(self, name: str) -> None:
        self.con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def column_type(column: pd.Series) -> str:
    """The type of a registered frame's column: by its dtype, or (objects) by its first value; a column of
    missing values only is a bigint, which PostgreSQL assigns to an integer or a text column alike."""
    kinds = {"i": "bigint", "u": "bigint", "f": "double precision", "b": "boolean", "M": "timestamp"}
    if column.dtype.kind in kinds:
        return kinds[column.dtype.kind]
    values = column.dropna()
    if values.empty:
        return "bigint"
    first = values.iloc[0]
    for kind, name in ((bool, "boolean"), (int, "bigint"), (float, "double precision"), (datetime, "timestamp")):
        if isinstance(first, kind):
            return name
    return "text"


class Result:
    def __init__(self, cur):
        self.cur = cur

    def fetchall(self) -> list[tuple]:
        return self.cur.fetchall()

    def df(self) -> pd.DataFrame:
        return pd.DataFrame(self.cur.fetchall(), columns=[c.name for c in self.cur.description or []])
