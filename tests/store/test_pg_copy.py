"""The binary COPY the PostgreSQL store writes observations with (imdx/store/pg_copy.py), read back by a real
server: every layout of missing values, the extremes of each type, NaN and -0.0, the rows of a year together,
any block size; a value that does not fit its column is refused rather than cut."""

from __future__ import annotations

import math

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from imdx.store import pg_copy

TYPES = ["integer", "smallint", "double precision", "boolean", "integer"]


def _round_trip(url, table: pa.Table, **options) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE TEMP TABLE t (i integer, y smallint, v double precision, b boolean, n integer)")
        with con.cursor().copy("COPY t FROM STDIN (FORMAT binary)") as copy:
            for block in pg_copy.blocks(table, TYPES, **options):
                copy.write(block)
        return con.execute("SELECT * FROM t").fetchall()


def _key(row):
    return tuple((v is None, "" if v is None else str(v)) for v in row)


@pytest.mark.parametrize("rows_per_block", [1, 3, 4096])
def test_every_layout_of_missing_values_comes_back(pg_database, rows_per_block):
    rng = np.random.default_rng(15)
    n = 500
    ints = rng.integers(-2**31, 2**31, n)
    ints[:2] = [-2**31, 2**31 - 1]
    table = pa.table({
        "i": pa.array(ints.astype(np.int32), mask=rng.random(n) < 0.3),
        "y": pa.array(rng.integers(-2**15, 2**15, n), mask=rng.random(n) < 0.2),  # int64, cast to smallint
        "v": pa.array(np.r_[[math.nan, -0.0, math.inf, 1e308], rng.normal(size=n - 4)], mask=rng.random(n) < 0.25),
        "b": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.1),
        "n": pa.nulls(n, pa.int32()),
    })
    back = _round_trip(pg_database(), table, rows_per_block=rows_per_block)
    assert sorted(map(_key, back)) == sorted(_key(tuple(r.values())) for r in table.to_pylist())


def test_the_rows_of_a_year_come_together(pg_database):
    years = [2020, 1990, 2020, 2005, 1990, 2020]
    table = pa.table({"i": pa.array(range(6), pa.int32()), "y": pa.array(years, pa.int16()),
                      "v": pa.array([1.0] * 6), "b": pa.array([True] * 6), "n": pa.array([1, None] * 3, pa.int32())})
    back = _round_trip(pg_database(), table, order_by="y")
    assert [y for _, y, *_ in back] == sorted(years)  # in the order of the year, whatever their missing values
    for layout in (1, None):  # and within each layout of missing values, stable
        rows = [(i, y) for i, y, _, _, n in back if n == layout]
        assert rows == sorted(rows, key=lambda r: r[1])


def test_a_value_that_does_not_fit_is_refused(pg_database):
    table = pa.table({"i": pa.array([1], pa.int32()), "y": pa.array([40_000]), "v": pa.array([1.0]),
                      "b": pa.array([True]), "n": pa.array([1], pa.int32())})
    with pytest.raises(pa.ArrowInvalid):
        _round_trip(pg_database(), table)
