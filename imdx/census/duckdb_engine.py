"""The DuckDB engine (the default): one in-process connection, out-of-core over Parquet.

DuckDB streams the Parquet files and spills to ``temp_directory`` past ``memory_limit``, so a file
larger than memory is tabulated on one machine; ``threads`` defaults to every CPU.
"""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa

from imdx.census.engine import Dialect, Engine
from imdx.census.errors import CensusError
from imdx.census.read import PersonFiles

DIALECT = Dialect('"')


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = DIALECT
    location = "{'f': filename, 'r': file_row_number}"

    @staticmethod
    def param(name: str) -> str:
        return "$" + name

    def __init__(self, *, threads: int | None = None, memory_limit: str = "3GB", temp_directory: str | None = None):
        self.con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1, "memory_limit": memory_limit,
                                          "preserve_insertion_order": False})
        if temp_directory:
            self.con.execute(f"SET temp_directory = {_literal(str(temp_directory))}")

    def close(self) -> None:
        self.con.close()

    def source(self, files: PersonFiles, located: bool = False) -> str:
        paths = "[" + ", ".join(_literal(p) for p in files.paths) + "]"
        extra = ", filename = true, file_row_number = true" if located else ""
        return f"read_parquet({paths}{extra})"

    def execute(self, sql: str, params: dict | None) -> pa.Table:
        try:
            return self.con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as err:
            raise CensusError(f"DuckDB could not tabulate the files: {err}") from None

    def fraction(self) -> float | None:
        try:
            value = self.con.query_progress()
        except duckdb.Error:
            return None
        return None if value is None or value < 0 else value / 100.0
