"""Synthetic microdata generated only from differentially private marginals.

In the spirit of CTDC's synthetic data (Microsoft Research): the confidential records are touched
once, to measure noisy two-way count tables along a fixed tree of attributes::

    country -> citizenship, country -> year, country -> exploitation_type,
    exploitation_type -> sex, sex -> age_band

Synthetic records are then drawn from those noisy tables alone: the root (country) from the noisy
margin of the country x exploitation_type table, each child from its noisy conditional distribution given its parent.
Since sampling is
post-processing of the DP tables, the synthetic file carries exactly the privacy guarantee of the
tables (``epsilon`` charged once to the ledger). Noisy cells below a threshold of about
``scale * ln(cells)`` are set to zero before sampling so noise in empty cells does not create
phantom victims in rare combinations.

The utility report (how well one- and two-way distributions are preserved) and the disclosure-risk
report compare against the confidential records: they are for the data protection officer, not for
publication.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from imdx.cases.releases.dp import (
    DEFAULT_YEARS,
    UNKNOWN,
    calibrate,
    dimension_codes,
    dimensions,
    noise,
    true_counts,
)
from imdx.cases.releases.randomness import NoiseStream, generator

TREE = (("country", "citizenship"), ("country", "year"), ("country", "exploitation_type"),
        ("exploitation_type", "sex"), ("sex", "age_band"))
ROOT_TABLE = ("country", "exploitation_type")
ATTRIBUTES = ("country", "citizenship", "year", "sex", "age_band", "exploitation_type")


@dataclass
class SyntheticRelease:
    frame: pd.DataFrame
    epsilon: float
    delta: float
    parameters: dict
    utility: dict
    disclosure_risk: dict


def synthesise(records: pd.DataFrame, *, epsilon: float, mechanism: str = "laplace", delta: float = 0.0,
               years: tuple[int, int] = DEFAULT_YEARS, secret: bytes) -> SyntheticRelease:
    dims = dimensions(tuple(years))
    codes = dimension_codes(records, tuple(years))
    scale, eps_used, delta_used = calibrate(mechanism, epsilon / len(TREE), delta / len(TREE))
    stream, rng = NoiseStream(secret, "synthetic/noise"), generator(secret, "synthetic/sampling")
    noisy, raw = {}, {}
    for parent, child in TREE:
        counts = true_counts(codes, (parent, child), dims)
        values = counts + noise(mechanism, scale, counts.size, stream)
        raw[(parent, child)] = values.reshape(len(dims[parent]), len(dims[child]))
        threshold = scale * np.log(max(counts.size, 2))
        values = np.where(values >= threshold, values, 0).astype(float)
        noisy[(parent, child)] = values.reshape(len(dims[parent]), len(dims[child]))
    # the number of records comes from the unthresholded sum of the smallest table (least noise), the
    # root margin from unthresholded row sums; margins too small to tell from noise are dropped
    smallest = min(raw.values(), key=lambda t: t.size)
    n = round(max(float(smallest.sum()), 0.0))
    rows = np.clip(raw[ROOT_TABLE].sum(axis=1).astype(float), 0, None)
    root_margin = np.where(rows >= scale * np.log(len(rows)) * np.sqrt(raw[ROOT_TABLE].shape[1]), rows, 0.0)
    if root_margin.sum() == 0:
        root_margin = rows
    if rows.sum() == 0:
        n = 0
    out = {"country": _draw(root_margin, n, rng)}
    for parent, child in TREE:
        out[child] = _draw_children(noisy[(parent, child)], out[parent], rng)
    frame = pd.DataFrame({a: pd.Categorical.from_codes(out[a], categories=pd.Index(
        ["" if v == UNKNOWN else v for v in dims[a]], dtype=object)) for a in ATTRIBUTES})
    synthetic_codes = pd.DataFrame({a: out[a] for a in ATTRIBUTES})
    sizes = {a: len(dims[a]) for a in ATTRIBUTES}
    params = {"epsilon": epsilon, "delta": delta, "mechanism": mechanism, "years": list(years),
              "tree": [list(e) for e in TREE], "noise_scale_per_table": scale}
    return SyntheticRelease(frame, eps_used * len(TREE), delta_used * len(TREE), params,
                            utility_report(codes, synthetic_codes, sizes),
                            disclosure_risk_report(codes, synthetic_codes, sizes))


def _draw(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    total = weights.sum()
    p = weights / total if total > 0 else np.full(len(weights), 1 / len(weights))
    return rng.choice(len(weights), size=n, p=p)


def _draw_children(table: np.ndarray, parents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    child = np.empty(len(parents), dtype=np.int64)
    fallback = table.sum(axis=0)
    order = np.argsort(parents, kind="stable")
    ends = np.cumsum(np.bincount(parents, minlength=table.shape[0]))
    for value in np.flatnonzero(np.bincount(parents, minlength=table.shape[0])):
        where = order[(ends[value - 1] if value else 0):ends[value]]
        row = table[value] if table[value].sum() > 0 else fallback
        child[where] = _draw(row, len(where), rng)
    return child


def _joint(codes: pd.DataFrame, cols: tuple[str, ...], sizes: dict[str, int]) -> np.ndarray:
    """Share of records in each cell of the full cross-product of ``cols``."""
    shape = [sizes[c] for c in cols]
    if len(codes) == 0:
        return np.zeros(int(np.prod(shape)))
    flat = np.ravel_multi_index([codes[c].to_numpy() for c in cols], shape)
    return np.bincount(flat, minlength=int(np.prod(shape))) / len(codes)


def _tvd(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(p - q).sum())


def utility_report(original: pd.DataFrame, synthetic: pd.DataFrame, sizes: dict[str, int]) -> dict:
    """Total variation distance (0 = identical, 1 = disjoint) of every one- and two-way distribution,
    and the record counts. Computed on confidential data: for the data protection officer only."""
    one = {a: round(_tvd(_joint(original, (a,), sizes), _joint(synthetic, (a,), sizes)), 4) for a in ATTRIBUTES}
    two = {f"{a}|{b}": round(_tvd(_joint(original, (a, b), sizes), _joint(synthetic, (a, b), sizes)), 4)
           for a, b in itertools.combinations(ATTRIBUTES, 2)}
    return {"records_original": len(original), "records_synthetic": len(synthetic),
            "one_way_tvd": one, "two_way_tvd": two,
            "two_way_tvd_mean": round(float(np.mean(list(two.values()))), 4),
            "two_way_tvd_max": round(float(max(two.values())), 4),
            "pairs_in_tree": [f"{a}|{b}" for a, b in TREE]}


def disclosure_risk_report(original: pd.DataFrame, synthetic: pd.DataFrame, sizes: dict[str, int]) -> dict:
    """How many synthetic records coincide with a real person's full combination of attributes,
    in particular with a combination that is unique among the real records (a 'sample unique')."""
    shape = [sizes[c] for c in ATTRIBUTES]

    def keys(codes):
        if len(codes) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.ravel_multi_index([codes[c].to_numpy() for c in ATTRIBUTES], shape)
    real, counts = np.unique(keys(original), return_counts=True)
    synth = keys(synthetic)
    n = max(len(synth), 1)
    return {"synthetic_records": len(synth),
            "share_matching_a_real_combination": round(float(np.isin(synth, real).sum()) / n, 4),
            "share_matching_a_real_unique": round(float(np.isin(synth, real[counts == 1]).sum()) / n, 4),
            "real_unique_combinations": int((counts == 1).sum()),
            "note": "matches are expected by chance for common combinations; the guarantee is the epsilon of "
                    "the DP tables, which bounds what any record's presence can change"}
