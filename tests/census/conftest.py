"""Fixtures of the census tests: the real person files of ``$IMDX_MIRROR/census_microdata``, the area
table, and the two engines (one DuckDB connection and one local Spark session for the whole test
session: Spark's start-up is the slow part, ~10 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINES = ("duckdb", "spark")


@pytest.fixture(scope="session")
def microdata(mirror) -> Path:
    path = mirror / "census_microdata"
    assert path.is_dir(), f"{path} is missing: the census tests read the real person files there"
    return path


@pytest.fixture(scope="session")
def duckdb_engine():
    from imdx.census.duckdb_engine import DuckDBEngine

    with DuckDBEngine(threads=2, memory_limit="1GB") as engine:
        yield engine


@pytest.fixture(scope="session")
def spark_engine():
    from imdx.census.spark_engine import SparkEngine

    engine = SparkEngine(master="local[2]", shuffle_partitions=4, driver_memory="1g")
    yield engine
    engine.close()


@pytest.fixture(params=ENGINES)
def engine(request):
    """Each test that takes ``engine`` runs once on DuckDB and once on Spark."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture(scope="session")
def tabulated(microdata, areas, duckdb_engine, spark_engine):
    """Every real person file with birthplace, tabulated by both engines (computed once)."""
    from imdx.census.mapping import load_mapping
    from imdx.census.sources import MIRROR_FILES
    from imdx.census.tabulate import tabulate

    out = {}
    for name, mapping in MIRROR_FILES.items():
        if mapping == "ipums_cps":
            continue  # no place of birth: tested apart
        for engine in (duckdb_engine, spark_engine):
            out[name, engine.name] = tabulate(microdata / name, load_mapping(mapping), areas, engine=engine)
    return out
