"""Migration flows estimated from changes in bilateral migrant stocks.

Notation (as in the migest reference, ``../shared/oracles/migest/README.md``): ``S0[k, j]``,
``S1[k, j]`` are stock tables at t and t+1 with rows = place of birth k and columns = place of
residence j (the diagonal holds the native-born); ``B[j]``, ``D[j]`` births and deaths during the
period by region of residence. A flow array is ``f[i, j, k]`` = people born in k who lived in i at t
and in j at t+1; ``i == j`` are the stayers. ``od`` = ``sum_k f`` with a zero diagonal.

Methods (Abel & Cohen 2019 compare all of them):

* :func:`stock_differencing` -- drop-negative (Bertoli & Fernandez-Huertas Moraga 2015) and
  reverse-negative (Beine & Parsons 2015);
* :func:`migration_rates` -- Dennett (2016) rates, Rogers & von Rabenau (1971);
* :func:`demographic_accounting` -- Abel (2013), Abel & Sander (2014), Abel (2018), Abel & Cohen
  (2019): closed ("rescale") and open systems, with or without the stayer (minimum-migration)
  assumption; the default path is closed form (no iteration) and vectorised;
* Azose & Raftery (2019), the minimum-migration estimate smoothed towards the independence estimate
  of the same account, has its own module: :mod:`imdx.methods.azose_raftery`.

Tables are numpy arrays; names and ordering are the caller's business (keep one order for all
inputs). Nothing here mutates its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from imdx.methods import MethodInputError
from imdx.methods.accounts import (
    Allocation,
    FlowEstimate,
    birthplace_totals_step,
    global_balance_after,
    global_balance_before,
    negative_native_born,
    vital_matrices,
)
from imdx.methods.ipf import _ik_margin, _ipf3_factors, _jk_margin, _nonneg, _ratio

__all__ = [
    "FlowEstimate",
    "FlowTable",
    "demographic_accounting",
    "migration_rates",
    "stock_differencing",
]


@dataclass(frozen=True)
class FlowTable:
    """An origin x destination flow table (diagonal 0) with the method and options that made it."""

    flows: np.ndarray
    method: str
    options: dict[str, Any]
    iterations: int = 0
    inputs: tuple[str, ...] = ()


def _square(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise MethodInputError(f"{name} must be a square birthplace x residence table, got shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise MethodInputError(f"{name} has NaN or infinite cells; fill missing stocks (e.g. with 0) first.")
    return a


def _pair(s0, s1) -> tuple[np.ndarray, np.ndarray]:
    a, b = _square("stock_start", s0), _square("stock_end", s1)
    if a.shape != b.shape:
        raise MethodInputError(f"stock_start {a.shape} and stock_end {b.shape} must have the same shape "
                               "and the same region order.")
    return a, b


def stock_differencing(stock_start, stock_end, decrease: str = "return",
                       include_native_born: bool = False) -> FlowTable:
    """Flows as differences of bilateral stocks, as migest ``ffs_diff``.

    ``y = S1 - S0`` (birthplace x residence read as origin x destination; diagonals set to 0 unless
    ``include_native_born``).

    * ``decrease="zero"`` (drop negative; Bertoli & Fernandez-Huertas Moraga 2015):
      ``flow = max(y, 0)``;
    * ``decrease="return"`` (reverse negative; Beine & Parsons 2015): ``flow = max(y, 0) +
      max(-y, 0).T`` -- a fall in the stock of k-born in j is read as a return flow j -> k.

    >>> s0 = np.array([[100., 10], [5, 50]]); s1 = np.array([[90., 20], [3, 45]])
    >>> stock_differencing(s0, s1).flows.tolist()
    [[0.0, 12.0], [0.0, 0.0]]
    >>> stock_differencing(s0, s1, decrease="zero").flows.tolist()
    [[0.0, 10.0], [0.0, 0.0]]
    """
    s0, s1 = _pair(stock_start, stock_end)
    if decrease not in ("return", "zero"):
        raise MethodInputError(f"decrease must be 'return' or 'zero', not {decrease!r}.")
    y = s1 - s0
    if not include_native_born:
        np.fill_diagonal(y, 0.0)
    flow = np.maximum(y, 0.0)
    if decrease == "return":
        flow = flow + np.maximum(-y, 0.0).T
    return FlowTable(flow, "stock_differencing",
                     {"decrease": decrease, "include_native_born": include_native_born})


def migration_rates(stock_start, stock_end=None, total_flow: float | None = None,
                    method: str = "dennett") -> FlowTable:
    """Flows from stocks and rates, as migest ``ffs_rates``.

    * ``"dennett"`` (Dennett 2016): distribute a known global flow total ``M`` in proportion to the
      start stocks: ``P = S0`` with zero diagonal, ``flow = M * P / sum(P)``.
    * ``"rogers_von_rabenau"`` (Rogers & von Rabenau 1971): transition matrix ``G`` with
      ``S0 @ G = S1`` (``G = solve(S0, S1)``), ``flow[i, j] = G[i, j] * sum_k S0[k, i]`` (row i times
      the population of i), diagonal 0. The result can be negative.

    >>> s0 = np.array([[100., 10], [30, 50]])
    >>> migration_rates(s0, total_flow=8).flows.tolist()
    [[0.0, 2.0], [6.0, 0.0]]
    """
    s0 = _square("stock_start", stock_start)
    if method == "dennett":
        if total_flow is None:
            raise MethodInputError("method='dennett' needs total_flow, the global number of migrants.")
        p = s0.copy()
        np.fill_diagonal(p, 0.0)
        flow = float(total_flow) * p / p.sum()
        return FlowTable(flow, "migration_rates", {"method": method, "total_flow": float(total_flow)})
    if method in ("rogers_von_rabenau", "rogers-von-rabenau"):
        s0, s1 = _pair(s0, stock_end)
        try:
            g = np.linalg.solve(s0, s1)
        except np.linalg.LinAlgError as e:
            raise MethodInputError("stock_start is singular, so the Rogers-von Rabenau transition matrix "
                                   "does not exist; drop regions with all-zero rows/columns.") from e
        flow = g * s0.sum(axis=0)[:, None]
        np.fill_diagonal(flow, 0.0)
        return FlowTable(flow, "migration_rates", {"method": "rogers_von_rabenau"})
    raise MethodInputError(f"method must be 'dennett' or 'rogers_von_rabenau', not {method!r}.")


# --- demographic accounting -------------------------------------------------------------------

_MATCH_GLOBAL = ("before-demo-adjust", "after-demo-adjust", "none")
_BIRTHPLACE = ("rescale", "open", "open-dr")


def _vitals(name: str, x, n: int, allow_missing: bool, notes: list[str]) -> np.ndarray:
    if x is None:
        x = np.full(n, np.nan)
    v = np.asarray(x, dtype=float).reshape(-1)
    if v.shape != (n,):
        raise MethodInputError(f"{name} must have one value per region ({n}), got {v.shape[0]}.")
    missing = ~np.isfinite(v)
    if missing.any():
        if not allow_missing:
            raise MethodInputError(
                f"{name} are missing for {int(missing.sum())} region(s) (first at index "
                f"{int(np.argmax(missing))}); supply them, or pass allow_missing_vitals=True to run "
                "without them (the result then records which regions had none).")
        notes.append(f"{name} missing for regions {np.flatnonzero(missing).tolist()}: taken as 0")
        v = np.where(missing, 0.0, v)
    if np.any(v < 0):
        raise MethodInputError(f"{name} must be non-negative.")
    return v


def _prepare(stock_start, stock_end, births, deaths, *, match_global, birthplace_totals, birth_method,
             birth_non_negative, death_method, allow_missing_vitals, tol):
    s0, s1 = _pair(stock_start, stock_end)
    n = s0.shape[0]
    if match_global not in _MATCH_GLOBAL:
        raise MethodInputError(f"match_global must be one of {_MATCH_GLOBAL}, not {match_global!r}.")
    if birthplace_totals not in _BIRTHPLACE:
        raise MethodInputError(f"birthplace_totals must be one of {_BIRTHPLACE}, not {birthplace_totals!r} "
                               "(migest's 'rescale-adjust-zero-fb' returns all zeros and is not offered).")
    notes: list[str] = []
    b = _vitals("births", births, n, allow_missing_vitals, notes)
    d = _vitals("deaths", deaths, n, allow_missing_vitals, notes)
    s0 = negative_native_born(s0, "stock_start", notes)
    s1 = negative_native_born(s1, "stock_end", notes)
    closed = birthplace_totals == "rescale"
    if closed and match_global == "before-demo-adjust":
        s0, s1 = global_balance_before(s0, s1, b, d, notes)
    bm, dm, it_vital = vital_matrices(s0, s1, b, d, birth_method, birth_non_negative, death_method, tol, notes)
    s0, s1 = s0 - dm, s1 - bm
    if closed and match_global == "after-demo-adjust":
        s0, s1 = global_balance_after(s0, s1)
    a, z, out, inn, it_bp = birthplace_totals_step(s0, s1, birthplace_totals, tol, notes)
    opts = {"match_global": match_global, "birthplace_totals": birthplace_totals,
            "birth_method": birth_method, "birth_non_negative": birth_non_negative,
            "death_method": death_method, "allow_missing_vitals": allow_missing_vitals, "tol": tol}
    return a, z, bm, dm, out, inn, notes, opts, it_vital + it_bp


def _minimum_migration(a: np.ndarray, z: np.ndarray) -> Allocation:
    """Stayer (quasi-independence) closed form: ``f[i, i, k] = min(A[k, i], Z[k, i])``;
    ``f[i, j, k] = x0[i, k] x1[j, k] / sum_j x1[j, k]`` for i != j, with ``x0 = max(A - Z, 0).T``
    (losses) and ``x1 = max(Z - A, 0).T`` (gains). For each (i, k) at most one of ``x0``, ``x1`` is
    positive, so ``sum_k f[i, j, k] = (x0 @ share.T)[i, j]`` off the diagonal: the OD table and the
    margins cost O(n^3) flops in one matrix product and O(n^2) memory."""
    n = a.shape[0]
    x0, x1 = np.maximum(a - z, 0.0).T, np.maximum(z - a, 0.0).T
    share = x1 * _ratio(np.ones(n), x1.sum(axis=0))[None, :]
    stay = np.minimum(a, z).T
    idx = np.arange(n)

    def make_flows() -> np.ndarray:
        f = np.empty((n, n, n))
        np.multiply(x0[:, None, :], share[None, :, :], out=f)
        f[idx, idx, :] = stay
        return f

    od_full = x0 @ share.T
    od_full[idx, idx] = stay.sum(axis=1)
    rows = stay + x0 * share.sum(axis=0)[None, :]
    cols = stay + share * x0.sum(axis=0)[None, :]
    return Allocation(make_flows, od_full, stay, rows, cols, 1)


def _independence(a: np.ndarray, z: np.ndarray, seed, tol: float, maxit: int) -> Allocation:
    """Independence fit per birthplace: ``f[i, j, k] = A[k, i] Z[k, j] / sum_i A[k, i]`` for a uniform
    seed (closed form); otherwise the 3-way IPF of the seed to margins ``A.T`` and ``Z.T``, solved on
    the factors ``f = fa[i, k] fb[j, k] m[i, j(, k)]``."""
    n = a.shape[0]
    idx = np.arange(n)
    if seed is None:
        fa = a.T
        fb = (z * _ratio(np.ones(n), a.sum(axis=1))[:, None]).T      # Z[k, j] / sum_i A[k, i]
        m, it = None, 1
    else:
        m = _nonneg("seed", seed)
        if m.shape not in ((n,) * 2, (n,) * 3):
            raise MethodInputError(f"seed must be n x n (or n x n x n), got {m.shape}.")
        if np.any(a < 0) or np.any(z < 0):
            raise MethodInputError("adjusted stocks have negative cells, so a seeded fit is impossible; "
                                   "check the inputs (more births or deaths than people?).")
        fa, fb, it, _ = _ipf3_factors(m, a.T, z.T, tol, maxit)

    def make_flows() -> np.ndarray:
        f = np.empty((n, n, n))
        np.multiply(fa[:, None, :], fb[None, :, :], out=f)
        if m is not None:
            f *= m[:, :, None] if m.ndim == 2 else m
        return f

    if m is None:
        od_full, stay = fa @ fb.T, fa * fb
        rows, cols = fa * fb.sum(axis=0)[None, :], fb * fa.sum(axis=0)[None, :]
    elif m.ndim == 2:
        od_full, stay = m * (fa @ fb.T), fa * fb * np.diag(m)[:, None]
        rows, cols = fa * _ik_margin(m, fb), fb * _jk_margin(m, fa)
    else:
        od_full = np.einsum("ik,jk,ijk->ij", fa, fb, m)
        stay = fa * fb * m[idx, idx, :]
        rows, cols = fa * _ik_margin(m, fb), fb * _jk_margin(m, fa)
    return Allocation(make_flows, od_full, stay, rows, cols, it)


def demographic_accounting(stock_start, stock_end, births=None, deaths=None, seed=None, *,
                           stayer_assumption: bool = True, match_global: str = "before-demo-adjust",
                           birthplace_totals: str = "rescale", birth_method: str = "native",
                           birth_non_negative: bool = True, death_method: str = "proportion",
                           allow_missing_vitals: bool = False, tol: float = 1e-6,
                           maxit: int = 10_000) -> FlowEstimate:
    """Flows by birthplace from two stock tables and births and deaths (demographic accounting), as
    migest ``ffs_demo`` (Abel 2013; Abel & Sander 2014; Abel 2018; Abel & Cohen 2019).

    Steps (details in ``docs/methods.md``): (1) negative native-born set to 0, keeping each
    population; (2) with ``match_global="before-demo-adjust"`` (closed system only) the native-born
    diagonals are rescaled (integers) so that the world stock change equals births minus deaths;
    (3) births ``B`` and deaths ``D`` split by birthplace (``birth_method`` "native": all births are
    native-born; "proportion": like the end stocks; ``death_method`` "proportion": like the start
    stocks; "accounting": 2-way fit to the deaths by birthplace implied by the account), and
    removed: ``S0 - Dm``, ``S1 - Bm``; (4) ``"after-demo-adjust"``: the remaining world gap is split
    proportionally over the native-born; (5) birthplace totals made equal: "rescale" (closed: both
    tables fitted to the mid-point totals), "open" (Abel 2013: the gap leaves/enters from outside,
    distributed like ``S1``/``S0``) or "open-dr" (seeds swapped); (6) per birthplace k the flows
    between the adjusted tables ``A`` (t) and ``Z`` (t+1):

    * ``stayer_assumption=True`` (minimum migration): ``f[i,i,k] = min(A[k,i], Z[k,i])`` and
      ``f[i,j,k] = max(A[k,i]-Z[k,i], 0) * max(Z[k,j]-A[k,j], 0) / sum_j max(Z[k,j]-A[k,j], 0)``;
    * ``stayer_assumption=False`` (independence): ``f[i,j,k] = A[k,i] Z[k,j] / sum_i A[k,i]``, or the
      3-way IPF of ``seed`` to those margins.

    Differences from migest 2.0.5 (deliberate): the remainder of the integer rescaling in step 2
    goes to the region with the largest native-born population (migest draws a random region among
    the first m through ``sample()``, so its results depend on ``set.seed``); ``seed`` with
    ``stayer_assumption=True`` raises an error instead of being silently ignored; all fits are solved
    to ``tol`` persons on the margins (migest stops when cells change by < 1e-3, leaving margin errors
    up to ~0.1); inconsistent totals raise :class:`MethodInputError` instead of becoming proportions;
    ``death_method="accounting"`` uses births by birthplace (``Bm`` row sums) in the identity;
    ``"rescale-adjust-zero-fb"`` (all zeros in migest) is not offered; the account array has a
    consistent layout (see :meth:`FlowEstimate.account`).

    Example (two regions, closed system):

    >>> s0 = np.array([[100., 10], [5, 50]]); s1 = np.array([[95., 12], [8, 52]])
    >>> r = demographic_accounting(s0, s1, births=[5, 3], deaths=[4, 2])
    >>> r.od.round(3).tolist()
    [[0.0, 4.64], [1.64, 0.0]]
    """
    if seed is not None and stayer_assumption:
        raise MethodInputError("seed is only used with stayer_assumption=False (the minimum-migration "
                               "estimate has no free interaction term); drop seed or set "
                               "stayer_assumption=False.")
    a, z, bm, dm, out, inn, notes, opts, it = _prepare(
        stock_start, stock_end, births, deaths, match_global=match_global,
        birthplace_totals=birthplace_totals, birth_method=birth_method,
        birth_non_negative=birth_non_negative, death_method=death_method,
        allow_missing_vitals=allow_missing_vitals, tol=tol)
    alloc = _minimum_migration(a, z) if stayer_assumption else _independence(a, z, seed, tol, maxit)
    opts.update(stayer_assumption=stayer_assumption, seed="given" if seed is not None else None)
    return FlowEstimate.build(alloc, a, z, bm, dm, out, inn, "demographic_accounting", opts, it, tol, notes)
