"""Synthetic person files of any size, fitted to a real one, written as partitioned Parquet.

:func:`fit` reads a real person file through its mapping and keeps (a) the joint distribution of its
harmonised variables (country of birth, nativity, sex, age, region: every combination that occurs,
with its share of the records) and (b) the distribution of its weights. :func:`generate` draws
persons from that model: each record's combination from (a), its weight independently from (b).
So the synthetic file has the real file's mix of countries of birth, its age pyramid by nativity and
sex, its skew (one country of birth for most records) and its weights' spread, at any size, and no
record is a real person's (beyond the combinations a real file already publishes in its tables).

The output is a folder of ``part-NNNNN.parquet`` files (dictionary-encoded codes) and
``_imdx_mapping.toml``, the mapping that reads them: ``imdx census tabulate DIR --mapping
DIR/_imdx_mapping.toml``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdx.census.duckdb_engine import DIALECT, DuckDBEngine
from imdx.census.engine import make_engine, weight_expr
from imdx.census.errors import CensusError
from imdx.census.harmonise import harmonise
from imdx.census.mapping import Mapping
from imdx.census.read import stage
from imdx.codes.areas import Areas

ROLES = ("birthplace", "nativity", "sex", "age", "region")
MAPPING_FILE = "_imdx_mapping.toml"


@dataclass
class Model:
    """What a synthetic file is drawn from."""

    source: str  # "<mapping>/<file>" the model was fitted to
    country: str
    year: int
    cells: pd.DataFrame  # one row per combination of the harmonised variables, with ``p`` (its share)
    weights: np.ndarray  # weight units of the real records (empty: unweighted)
    decimals: int

    @property
    def columns(self) -> list[str]:
        return [c for c in self.cells.columns if c != "p"]


def fit(path: Path, mapping: Mapping, areas: Areas) -> Model:
    """The model of the real file ``path`` read through ``mapping`` (see the module docstring)."""
    roles = [r for r in ROLES if mapping.role(r) is not None]
    with tempfile.TemporaryDirectory(prefix="imdx-census-fit-") as work:
        files = stage(Path(path), mapping, roles, Path(work))
        with make_engine("duckdb") as engine:
            cube = engine.cube(files, [tuple(roles)])
            weights = _weights(engine, files) if files.weight else np.zeros(0, np.int64)
        coded = harmonise(cube, mapping, roles, files.codebook, areas).frame
    columns = [c for c in ("birthplace", "nativity", "sex", "age", "region") if c in coded and coded[c].notna().any()]
    keys = [coded[c].fillna("_U").astype(str) for c in columns]
    cells = coded.groupby(keys, sort=True)["records"].sum().reset_index()
    cells["p"] = cells["records"] / cells["records"].sum()
    return Model(f"{mapping.id}/{Path(path).name}", mapping.country, mapping.year, cells.drop(columns="records"),
                 weights, files.weight_decimals)


def _weights(engine: DuckDBEngine, files) -> np.ndarray:
    w = weight_expr(files, DIALECT)
    sql = f"SELECT {w} AS w FROM {engine.source(files)} WHERE {w} >= 0"
    return engine.con.sql(sql).to_arrow_table()["w"].to_numpy().astype(np.int64)


def generate(model: Model, rows: int, out: Path, *, partitions: int | None = None, seed: int = 2024,
             progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write ``rows`` synthetic persons to ``out`` (a new or empty folder) as Parquet part files."""
    if rows < 1:
        raise CensusError("the number of rows must be at least 1")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise CensusError(f"{out} is not empty; give a new folder for the synthetic files")
    out.mkdir(parents=True, exist_ok=True)
    partitions = partitions or max(1, -(-rows // 5_000_000))
    per = -(-rows // partitions)
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(model.cells["p"].to_numpy())
    cumulative /= cumulative[-1]
    dictionaries = {c: pa.array(model.cells[c].astype(str).unique()) for c in model.columns if c != "age"}
    codes = {c: pd.Index(dictionaries[c].to_pylist()).get_indexer(model.cells[c].astype(str)).astype(np.int32)
             for c in dictionaries}
    ages = _ages(model.cells["age"]) if "age" in model.columns else None
    written, done = [], 0
    for part in range(partitions):
        n = min(per, rows - done)
        if n <= 0:
            break
        pick = np.searchsorted(cumulative, rng.random(n), side="right").clip(0, len(cumulative) - 1)
        columns = {c: pa.DictionaryArray.from_arrays(pa.array(codes[c][pick]), dictionaries[c]) for c in codes}
        if ages is not None:
            columns["age"] = ages.take(pa.array(pick))
        if len(model.weights):
            drawn = model.weights[rng.integers(0, len(model.weights), n)]
            columns["weight"] = pa.array(drawn.astype(np.int32) if model.weights.max() < 2**31 else drawn)
        path = out / f"part-{part:05d}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=1_048_576, compression="zstd")
        written.append(path)
        done += n
        if progress is not None:
            progress(done, rows)
    banded = ages is not None and not pa.types.is_integer(ages.type)
    (out / MAPPING_FILE).write_text(mapping_toml(model, banded), "utf-8")
    return written


def _ages(column: pd.Series) -> pa.Array:
    """Ages in years as int16 (unknown: missing), or the file's age bands as text."""
    numeric = pd.to_numeric(column, errors="coerce")
    bands = column.astype(str)
    if numeric.notna().sum() >= (bands != "_U").sum():
        return pa.array(numeric.astype("Int16"), pa.int16())
    return pa.array(bands)


def mapping_toml(model: Model, banded_age: bool) -> str:
    """The mapping of a synthetic folder: its columns hold imdx's codes already."""
    cols = set(model.columns)
    lines = ['id = "synthetic"', f'title = "Synthetic persons fitted to {model.source} (imdx census synth)"',
             f'country = "{model.country}"', f"year = {model.year}", 'format = "parquet"',
             'licence = "synthetic data generated by imdx; no record is a real person"', ""]
    if "birthplace" in cols:
        lines += ["[birthplace]", 'column = "birthplace"', 'systems = ["code"]', ""]
    if "nativity" in cols:
        lines += ["[nativity]", 'column = "nativity"', 'codes = { NAT = "NAT", FOR = "FOR", _U = "_U", _Z = "_Z" }', ""]
    if "sex" in cols:
        lines += ["[sex]", 'column = "sex"', 'codes = { M = "M", F = "F", _U = "_U" }', ""]
    if "age" in cols:
        lines += ["[age]", 'column = "age"']
        if banded_age:
            bands = sorted(b for b in model.cells["age"].astype(str).unique() if b != "_U")
            lines += ["bands = { " + ", ".join(f'{b} = "{b}"' for b in bands) + " }"]
        lines += [""]
    if "region" in cols:
        lines += ["[region]", 'column = "region"', ""]
    if len(model.weights):
        lines += ["[weight]", 'column = "weight"', f"decimals = {model.decimals}", "implied = true", ""]
    return "\n".join(lines)
