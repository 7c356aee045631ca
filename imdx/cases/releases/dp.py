"""Differentially private count tables (Laplace or Gaussian), calibrated and accounted with OpenDP.

Each table counts victims over the *full* cross-product of public code lists (never over the values
that happen to occur, which would leak which cells are empty), so every victim falls in exactly
one cell of each table: adding or removing one victim changes a table by 1 in one cell (L1 and L2
sensitivity 1). The privacy loss ``epsilon`` of a release is split evenly across its tables
(sequential composition); OpenDP finds the noise scale for each table's share and its privacy map
confirms the loss, which is what the ledger is charged.

Noise is integer: the two-sided geometric (discrete Laplace) for ``laplace``, and rounded Gaussian
for ``gaussian`` (its loss is that of the Gaussian with the same scale, rounding being
post-processing). It is drawn from a cryptographic stream keyed by the release's secret
(:mod:`imdx.cases.releases.randomness`), so that the server can reproduce a release exactly; the
secret is kept sealed in the database and never leaves the server, because whoever knows it could
remove the noise. Negative noisy counts are published as 0 (post-processing, no extra privacy cost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import opendp.prelude as dp
import pandas as pd

from imdx.cases.errors import ReleaseError
from imdx.cases.releases.randomness import NoiseStream
from imdx.cases.schema import AGE_BANDS, COUNTRIES, EXPLOITATION_TYPES, GENDERS

UNKNOWN = "_U"
DEFAULT_TABLES = (("country", "year"), ("country", "sex"), ("sex", "age_band"),
                  ("country", "exploitation_type"), ("year", "exploitation_type"))
DEFAULT_YEARS = (2002, dt.date.today().year)


def dimensions(years: tuple[int, int] = DEFAULT_YEARS) -> dict[str, tuple[str, ...]]:
    """The public code list of each dimension (``_U`` = not known)."""
    return {"country": COUNTRIES + (UNKNOWN,), "citizenship": COUNTRIES + (UNKNOWN,),
            "year": tuple(str(y) for y in range(years[0], years[1] + 1)) + (UNKNOWN,),
            "sex": GENDERS + (UNKNOWN,), "age_band": AGE_BANDS + (UNKNOWN,),
            "exploitation_type": EXPLOITATION_TYPES + (UNKNOWN,)}


def dimension_codes(records: pd.DataFrame, years: tuple[int, int] = DEFAULT_YEARS) -> pd.DataFrame:
    """Each record's value on every dimension, as integer positions in :func:`dimensions`."""
    dims = dimensions(years)
    out = {}
    for name, column in (("country", "country_of_exploitation"), ("citizenship", "citizenship"),
                         ("sex", "gender"), ("age_band", "age_band")):
        codes = pd.Index(dims[name][:-1]).get_indexer(records[column].to_numpy(dtype=object))
        out[name] = np.where(codes < 0, len(dims[name]) - 1, codes)     # missing or undeclared -> unknown
    year = records["year_of_registration"].to_numpy(dtype="float64", na_value=np.nan)
    inside = (year >= years[0]) & (year <= years[1])
    out["year"] = np.where(inside, np.nan_to_num(year - years[0]), len(dims["year"]) - 1).astype(np.int64)
    forced, sexual, other = (records[c].fillna(False).to_numpy(dtype=bool) for c in
                             ("is_forced_labour", "is_sexual_exploitation", "is_other_exploitation"))
    out["exploitation_type"] = np.select([forced.astype(int) + sexual + other > 1, forced, sexual, other],
                                         [3, 0, 1, 2], default=len(EXPLOITATION_TYPES))
    return pd.DataFrame(out, index=records.index)


@lru_cache(maxsize=256)
def calibrate(mechanism: str, epsilon: float, delta: float) -> tuple[float, float, float]:
    """``(scale, epsilon_used, delta_used)`` for one table of sensitivity 1, found and checked by OpenDP."""
    dp.enable_features("contrib")
    if epsilon <= 0:
        raise ReleaseError("epsilon must be positive")
    if mechanism == "laplace":
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
        scale = dp.binary_search_param(lambda s: space >> dp.m.then_laplace(scale=s), d_in=1, d_out=epsilon)
        used = (space >> dp.m.then_laplace(scale=scale)).map(1)
        return float(scale), float(used), 0.0
    if mechanism == "gaussian":
        if not 0 < delta < 1:
            raise ReleaseError("the Gaussian mechanism needs 0 < delta < 1 (e.g. 1e-6)")
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int)

        def make(s):
            return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(space >> dp.m.then_gaussian(scale=s)), delta)
        scale = dp.binary_search_param(make, d_in=1, d_out=(epsilon, delta))
        eps_used, delta_used = make(scale).map(1)
        return float(scale), float(eps_used), float(delta_used)
    raise ReleaseError(f"unknown mechanism {mechanism!r}: use 'laplace' or 'gaussian'")


def noise(mechanism: str, scale: float, size: int, stream: NoiseStream) -> np.ndarray:
    if mechanism == "laplace":
        p = 1.0 - np.exp(-1.0 / scale)
        return stream.geometric(p, size) - stream.geometric(p, size)
    return np.rint(scale * stream.normal(size)).astype(np.int64)


def true_counts(codes: pd.DataFrame, table: tuple[str, ...], dims: dict) -> np.ndarray:
    sizes = [len(dims[d]) for d in table]
    flat = np.ravel_multi_index([codes[d].to_numpy() for d in table], sizes) if len(codes) else np.zeros(0, int)
    return np.bincount(flat, minlength=int(np.prod(sizes))).astype(np.int64)


def table_frame(values: np.ndarray, table: tuple[str, ...], dims: dict) -> pd.DataFrame:
    grids = np.meshgrid(*[np.arange(len(dims[d])) for d in table], indexing="ij")
    frame = {d: np.asarray(dims[d], dtype=object)[g.ravel()] for d, g in zip(table, grids)}
    frame["value"] = values
    return pd.DataFrame(frame)


@dataclass
class DPTables:
    tables: dict[str, pd.DataFrame]
    epsilon: float
    delta: float
    mechanism: str
    scale: float
    parameters: dict


def table_name(table: tuple[str, ...]) -> str:
    return "victims_by_" + "_".join(table)


#: the most cells all tables of one release may have together (memory and file size stay bounded)
MAX_CELLS = 1_000_000


def check_tables(tables, years=DEFAULT_YEARS) -> list[tuple[str, ...]]:
    """The tables as tuples, after checking their dimensions and their number of cells."""
    tables = [tuple(t) for t in tables]
    dims = dimensions(tuple(years))
    bad = [d for t in tables for d in t if d not in dims]
    if bad or not tables:
        raise ReleaseError(f"unknown dimensions {bad}; choose among {', '.join(dims)}")
    repeated = [t for t in tables if len(set(t)) != len(t)]
    if repeated:
        raise ReleaseError(f"a table names a dimension twice: {list(repeated[0])}")
    cells = sum(int(np.prod([len(dims[d]) for d in t])) for t in tables)
    if cells > MAX_CELLS:
        raise ReleaseError(f"these tables have {cells:,} cells together, more than {MAX_CELLS:,}: ask for fewer or "
                           "smaller tables")
    return tables


def dp_tables(records: pd.DataFrame, *, epsilon: float, tables=DEFAULT_TABLES, mechanism: str = "laplace",
              delta: float = 0.0, years: tuple[int, int] = DEFAULT_YEARS, secret: bytes) -> DPTables:
    """Noisy counts of ``records`` for each table (a tuple of dimension names)."""
    tables = check_tables(tables, years)
    dims = dimensions(tuple(years))
    eps_each, delta_each = epsilon / len(tables), delta / len(tables)
    scale, eps_used, delta_used = calibrate(mechanism, eps_each, delta_each)
    codes = dimension_codes(records, tuple(years))
    stream = NoiseStream(secret, "dp-aggregates/noise")
    out = {}
    for t in tables:
        counts = true_counts(codes, t, dims)
        noisy = np.maximum(counts + noise(mechanism, scale, counts.size, stream), 0)
        out[table_name(t)] = table_frame(noisy, t, dims)
    params = {"epsilon": epsilon, "delta": delta, "mechanism": mechanism, "tables": [list(t) for t in tables],
              "years": list(years), "noise_scale_per_table": scale}
    return DPTables(out, eps_used * len(tables), delta_used * len(tables), mechanism, scale, params)
