"""The tabulation engines: one interface, two backends (DuckDB by default, Apache Spark).

An engine does the one pass over the person records that needs to scale: it counts the records and
sums the weights for every combination of the published values of the variables a table needs
(the *cube*), over one or more grouping sets, in a single scan. Everything after (mapping codes to
areas, age groups, margins, suppression) works on that small cube in Python, identically for both
engines, so the two give the same tables to the unit: weights are summed as whole units (exact
integer arithmetic in both), never as floating point.

The cube has, per row: the published value of each variable (``v_<role>``; null where the role is
not in that row's grouping set, or where the record's value is missing), ``g_<role>`` (1 when the
role is *not* grouped in that row, SQL's ``GROUPING()``), ``records``, ``weight_units`` (the sum of
valid weights) and ``bad_weight`` (records whose weight is missing or negative).

Both engines take the same SQL (:func:`cube_sql`), quoted for their dialect; :meth:`Engine.locate`
finds the first line or row of given values, to say where a problem is.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from imdx.census.errors import CensusError
from imdx.census.read import PersonFiles

ENGINES = ("duckdb", "spark")
BAD_WEIGHT = "__bad_weight__"


@dataclass(frozen=True)
class Location:
    file: str
    row: int


@dataclass(frozen=True)
class Dialect:
    quote: str  # identifier quote character

    def ident(self, name: str) -> str:
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote


def weight_expr(files: PersonFiles, d: Dialect) -> str | None:
    if files.weight is None:
        return None
    w = d.ident(files.weight)
    if files.weight_scale is None:
        return f"CAST({w} AS BIGINT)"
    x = f"CAST({w} AS DOUBLE)"  # NaN counts as a missing weight
    return f"CAST(round(CASE WHEN isnan({x}) THEN NULL ELSE {x} END * {10 ** files.weight_scale}) AS BIGINT)"


def cube_sql(files: PersonFiles, sets: Sequence[Sequence[str]], source: str, d: Dialect,
             check_weight: bool = True, max_rows: int | None = None) -> str:
    """One scan: counts and weight sums over the grouping ``sets`` (tuples of roles); at most
    ``max_rows + 1`` rows come back (one more than allowed says the limit was passed)."""
    roles = [r for r in files.columns if any(r in s for s in sets)]
    cols = [f"{d.ident(files.columns[r])} AS {d.ident('v_' + r)}" for r in roles]
    if len(sets) == 1:
        flags = [f"0 AS {d.ident('g_' + r)}" for r in roles]
        group = "GROUP BY " + ", ".join(d.ident(files.columns[r]) for r in roles) if roles else ""
    else:
        flags = [f"GROUPING({d.ident(files.columns[r])}) AS {d.ident('g_' + r)}" for r in roles]
        group = "GROUP BY GROUPING SETS (" + ", ".join(
            "(" + ", ".join(d.ident(files.columns[r]) for r in s) + ")" for s in sets) + ")"
    aggs = ["count(*) AS records"]
    w = weight_expr(files, d)
    if w is None:
        aggs += ["count(*) AS weight_units", "0 AS bad_weight"]
    elif check_weight:
        aggs += [f"CAST(sum(CASE WHEN {w} >= 0 THEN {w} END) AS BIGINT) AS weight_units",
                 f"CAST(sum(CASE WHEN {w} IS NULL OR {w} < 0 THEN 1 ELSE 0 END) AS BIGINT) AS bad_weight"]
    else:
        aggs += [f"CAST(sum({w}) AS BIGINT) AS weight_units", "0 AS bad_weight"]
    limit = f" LIMIT {int(max_rows) + 1}" if max_rows else ""
    return f"SELECT {', '.join(cols + flags + aggs)} FROM {source} {group}{limit}"


def condition_sql(files: PersonFiles, condition: dict, d: Dialect, params: dict, param: Callable[[str], str]) -> str:
    """SQL for "each role equals its value" (``None``: the value is missing); ``BAD_WEIGHT``: an invalid weight."""
    parts = []
    for role, value in condition.items():
        if role == BAD_WEIGHT:
            w = weight_expr(files, d)
            parts.append(f"({w} IS NULL OR {w} < 0)")
            continue
        col = d.ident(files.columns[role])
        if value is None:
            parts.append(f"{col} IS NULL")
        else:
            name = f"p{len(params)}"
            params[name] = value
            parts.append(f"{col} = {param(name)}")
    return " AND ".join(parts) or "TRUE"


def locate_sql(files: PersonFiles, conditions: list[dict], source: str, location: str, d: Dialect, params: dict,
               param: Callable[[str], str]) -> str:
    """One scan: for each condition, the least ``location`` (a line, or a (file, row) struct) matching it."""
    picks = [f"min({location}) FILTER (WHERE {condition_sql(files, c, d, params, param)}) AS {d.ident(f'r{i}')}"
             for i, c in enumerate(conditions)]
    return f"SELECT {', '.join(picks)} FROM {source}"


class Engine(ABC):
    """A tabulation backend: it runs :func:`cube_sql` and :func:`locate_sql` (see the module docstring) in its
    dialect over its view of the person files; a backend supplies how to name the files in SQL, how to run a
    query and how far a running query is."""

    name: str
    dialect: Dialect
    #: the dialect's placeholder for the query parameter ``name``
    param: Callable[[str], str]
    #: an expression of a record's (file, row) as a struct of fields ``f`` and ``r``, in :meth:`source` located
    location: str

    @abstractmethod
    def source(self, files: PersonFiles, located: bool = False) -> str:
        """The person files as a SQL source; ``located``: with the file and row of each record."""

    @abstractmethod
    def execute(self, sql: str, params: dict | None) -> pa.Table:
        """Run one query (raise :class:`CensusError` saying what failed)."""

    def fraction(self) -> float | None:
        """How far the running query is (0..1), or None when the backend cannot say."""
        return None

    def cube(self, files: PersonFiles, sets: Sequence[Sequence[str]], *, check_weight: bool = True,
             max_rows: int | None = None, progress: Callable[[float], None] | None = None) -> pa.Table:
        """The cube (see the module docstring), at most ``max_rows + 1`` rows of it."""
        sql = cube_sql(files, sets, self.source(files), self.dialect, check_weight, max_rows)
        return self._run(sql, progress=progress)

    def locate(self, files: PersonFiles, conditions: list[dict]) -> list[Location | None]:
        """The first record (file, line or row) matching each condition, or None."""
        if not conditions:
            return []
        params: dict = {}
        d = self.dialect
        if files.staged:
            sql = locate_sql(files, conditions, self.source(files), d.ident(files.line), d, params, self.param)
            row = self._run(sql, params).to_pylist()[0]
            return [None if row[f"r{i}"] is None else Location(files.display, int(row[f"r{i}"]))
                    for i in range(len(conditions))]
        inner = locate_sql(files, conditions, self.source(files, located=True), self.location, d, params, self.param)
        # the structs' fields one by one: PySpark cannot hand a null struct of non-null fields to Arrow
        fields = ", ".join(f"{d.ident(f'r{i}')}.f AS {d.ident(f'f{i}')}, {d.ident(f'r{i}')}.r AS {d.ident(f'n{i}')}"
                           for i in range(len(conditions)))
        row = self._run(f"SELECT {fields} FROM ({inner})", params).to_pylist()[0]
        return [None if row[f"f{i}"] is None else Location(Path(row[f"f{i}"]).name, int(row[f"n{i}"]) + 1)
                for i in range(len(conditions))]

    def _run(self, sql: str, params: dict | None = None, progress=None) -> pa.Table:
        stop = threading.Event()
        watcher = poll(self.fraction, progress, stop)
        try:
            return self.execute(sql, params)
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()

    def close(self) -> None:  # noqa: B027 -- optional: an engine that holds nothing needs no close
        """Release what the engine holds (a DuckDB connection; a Spark session it started)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def poll(fraction: Callable[[], float | None], progress: Callable[[float], None] | None, stop: threading.Event,
         every: float = 0.25) -> threading.Thread | None:
    """A thread that reports ``fraction()`` (0..1) to ``progress`` until ``stop`` is set."""
    if progress is None:
        return None

    def run():
        while not stop.wait(every):
            value = fraction()
            if value is not None:
                progress(max(0.0, min(1.0, value)))

    thread = threading.Thread(target=run, name="imdx-census-progress", daemon=True)
    thread.start()
    return thread


def make_engine(name: str = "duckdb", **options) -> Engine:
    """``duckdb`` (default; options: threads, memory_limit, temp_directory) or ``spark`` (options: master
    (``local[N]`` or a cluster URL such as ``spark://host:7077``), shuffle_partitions, conf)."""
    if name == "duckdb":
        from imdx.census.duckdb_engine import DuckDBEngine

        return DuckDBEngine(**options)
    if name == "spark":
        try:
            from imdx.census.spark_engine import SparkEngine
        except ImportError:  # pragma: no cover - pyspark is a dependency of imdx
            raise CensusError("the Spark engine needs PySpark: pip install pyspark (and Java 17 or later)") from None

        return SparkEngine(**options)
    raise CensusError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
