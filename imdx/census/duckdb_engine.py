"""The DuckDB engine (the default): one in-process connection, out-of-core over Parquet.

DuckDB streams the Parquet files and spills to ``temp_directory`` past ``memory_limit``, so a file
larger than memory is tabulated on one machine; ``threads`` defaults to every CPU.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from imdx.census.engine import Dialect, Engine, Location, cube_sql, locate_sql, poll
from imdx.census.errors import CensusError
from imdx.census.read import PersonFiles

DIALECT = Dialect('"')


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, *, threads: int | None = None, memory_limit: str = "3GB", temp_directory: str | None = None):
        self.con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1, "memory_limit": memory_limit,
                                          "preserve_insertion_order": False})
        if temp_directory:
            self.con.execute(f"SET temp_directory = {_literal(str(temp_directory))}")

    def close(self) -> None:
        self.con.close()

    def _source(self, files: PersonFiles, located: bool = False) -> str:
        paths = "[" + ", ".join(_literal(p) for p in files.paths) + "]"
        extra = ", filename = true, file_row_number = true" if located else ""
        return f"read_parquet({paths}{extra})"

    def _run(self, sql: str, params: dict | None = None, progress=None) -> pa.Table:
        stop = threading.Event()
        watcher = poll(lambda: _fraction(self.con), progress, stop)
        try:
            return self.con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as err:
            raise CensusError(f"DuckDB could not tabulate the files: {err}") from None
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()

    def cube(self, files: PersonFiles, sets: Sequence[Sequence[str]], *, check_weight: bool = True,
             max_rows: int | None = None, progress: Callable[[float], None] | None = None) -> pa.Table:
        return self._run(cube_sql(files, sets, self._source(files), DIALECT, check_weight, max_rows), progress=progress)

    def locate(self, files: PersonFiles, conditions: list[dict]) -> list[Location | None]:
        if not conditions:
            return []
        params: dict = {}
        if files.staged:
            sql = locate_sql(files, conditions, self._source(files), DIALECT.ident(files.line), DIALECT, params,
                             lambda n: "$" + n)
            row = self._run(sql, params).to_pylist()[0]
            return [None if row[f"r{i}"] is None else Location(files.display, int(row[f"r{i}"]))
                    for i in range(len(conditions))]
        sql = locate_sql(files, conditions, self._source(files, located=True),
                         "{'f': filename, 'r': file_row_number}", DIALECT, params, lambda n: "$" + n)
        row = self._run(sql, params).to_pylist()[0]
        return [None if row[f"r{i}"] is None else Location(Path(row[f"r{i}"]["f"]).name, int(row[f"r{i}"]["r"]) + 1)
                for i in range(len(conditions))]


def _fraction(con) -> float | None:
    try:
        value = con.query_progress()
    except duckdb.Error:
        return None
    return None if value is None or value < 0 else value / 100.0
