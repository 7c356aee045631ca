"""The demographic-account steps behind :func:`imdx.methods.flows_from_stocks.demographic_accounting`,
and the :class:`FlowEstimate` result object.

Each step is a small pure function on birthplace x residence tables ``S[k, j]`` (see
``flows_from_stocks`` for the notation), so each can be tested on its own against the adjusted
margins migest saves (``*_margin_start_pob_por``, ``*_margin_end_pob_por``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from imdx.methods import MethodInputError
from imdx.methods.ipf import _fit_table, _ratio, check_margins

__all__ = [
    "Allocation",
    "FlowEstimate",
    "birthplace_totals_step",
    "global_balance_after",
    "global_balance_before",
    "negative_native_born",
    "rescale_integer_sum",
    "vital_matrices",
]


class Allocation(NamedTuple):
    """Flows of one allocation rule, described by cheap O(n^2) summaries plus a way to build the
    n x n x n array: ``od_full[i, j] = sum_k f[i, j, k]`` (stayers on the diagonal),
    ``stayers[i, k] = f[i, i, k]``, ``rows[i, k] = sum_j f``, ``cols[j, k] = sum_i f``."""

    make_flows: Callable[[], np.ndarray]
    od_full: np.ndarray
    stayers: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    iterations: int

    @classmethod
    def from_array(cls, f: np.ndarray, iterations: int) -> Allocation:
        n = f.shape[0]
        return cls(lambda: f, f.sum(axis=2), f[np.arange(n), np.arange(n), :].copy(), f.sum(axis=1),
                   f.sum(axis=0), iterations)


@dataclass(frozen=True)
class FlowEstimate:
    """Flows by origin, destination and birthplace, with the account they come from.

    ``flows[i, j, k]``: born in k, in region i at t and j at t+1 (``i == j``: stayers). It is built on
    first access (n^3 numbers: 78 MB for 214 regions); ``od``, ``od_with_stayers``, ``stayers`` and the
    margins are computed without it. ``stock_start_adjusted`` / ``stock_end_adjusted`` (``A``,
    ``Z``, birthplace x residence): the tables that enter the final allocation (migest's
    ``margin_start_pob_por`` / ``margin_end``). ``births_by_birthplace``, ``deaths_by_birthplace``,
    ``emigration_outside`` (left the set of regions, by birthplace x region at t) and
    ``immigration_outside`` (came from outside, by birthplace x region at t+1) complete the account.
    ``notes`` record data adjustments (negative native-born, too many births, missing vitals).
    """

    od_with_stayers: np.ndarray
    stayers: np.ndarray
    stock_start_adjusted: np.ndarray
    stock_end_adjusted: np.ndarray
    births_by_birthplace: np.ndarray
    deaths_by_birthplace: np.ndarray
    emigration_outside: np.ndarray
    immigration_outside: np.ndarray
    method: str
    options: dict[str, Any]
    iterations: int
    margin_error: float
    tolerance: float
    make_flows: Callable[[], np.ndarray] = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()

    @classmethod
    def build(cls, alloc: Allocation, a, z, bm, dm, out, inn, method, options, iterations, tol,
              notes) -> FlowEstimate:
        err = max(float(np.max(np.abs(alloc.rows - a.T))), float(np.max(np.abs(alloc.cols - z.T))))
        return cls(alloc.od_full, alloc.stayers, a, z, bm, dm, out, inn, method, options,
                   int(iterations + alloc.iterations), err, tol, alloc.make_flows, tuple(notes))

    @cached_property
    def flows(self) -> np.ndarray:
        """The origin x destination x birthplace array (built once, on first access)."""
        return self.make_flows()

    @property
    def od(self) -> np.ndarray:
        """Origin x destination migrant flows: ``sum_k flows`` with a zero diagonal (migest ``sum_od``)."""
        od = self.od_with_stayers.copy()
        np.fill_diagonal(od, 0.0)
        return od

    @property
    def stock_start_accounted(self) -> np.ndarray:
        """Start stocks as the account uses them: ``A + deaths + emigration_outside``."""
        return self.stock_start_adjusted + self.deaths_by_birthplace + self.emigration_outside

    @property
    def stock_end_accounted(self) -> np.ndarray:
        """End stocks as the account uses them: ``Z + births + immigration_outside``."""
        return self.stock_end_adjusted + self.births_by_birthplace + self.immigration_outside

    def account(self) -> np.ndarray:
        """The full account, shape (n + 2, n + 2, n): origins = regions, ``birth`` (index n),
        ``outside`` (n + 1); destinations = regions, ``death`` (n), ``outside`` (n + 1).

        ``acc[n, j, k]`` = births of k-born in j; ``acc[n+1, j, k]`` = k-born arriving in j from
        outside; ``acc[i, n, k]`` = deaths of k-born in i; ``acc[i, n+1, k]`` = k-born leaving i for
        outside. Summing over destinations gives the start stocks, over origins the end stocks.
        (migest stores births untransposed and swaps the two ``outside`` parts.)
        """
        n = self.stayers.shape[0]
        acc = np.zeros((n + 2, n + 2, n))
        acc[:n, :n, :] = self.flows
        acc[n, :n, :] = self.births_by_birthplace.T
        acc[n + 1, :n, :] = self.immigration_outside.T
        acc[:n, n, :] = self.deaths_by_birthplace.T
        acc[:n, n + 1, :] = self.emigration_outside.T
        return acc


def negative_native_born(s: np.ndarray, name: str, notes: list[str]) -> np.ndarray:
    """Step 1. For each residence j with ``S[j, j] < 0``, column j becomes
    ``max(S, 0)[:, j] * sum(S[:, j]) / sum(max(S, 0)[:, j])``: native-born 0, foreign-born scaled
    down so the population (column total) is kept."""
    off = s.copy()
    np.fill_diagonal(off, 0.0)
    if np.any(off < 0):
        raise MethodInputError(f"{name} has negative foreign-born stocks; only the native-born (diagonal) "
                               "may be negative (more foreign-born than people), fix the table first.")
    bad = np.flatnonzero(np.diag(s) < 0)
    if len(bad) == 0:
        return s
    s = s.copy()
    for j in bad:
        pos = np.maximum(s[:, j], 0.0)
        total = s[:, j].sum()
        if total < 0:
            raise MethodInputError(f"{name}: residence {j} has a negative population; fix the table.")
        s[:, j] = pos * total / pos.sum()
    notes.append(f"{name}: more foreign-born than population in regions {bad.tolist()}; native-born set "
                 "to 0 and foreign-born scaled down to the population")
    return s


def rescale_integer_sum(x: np.ndarray, total: float) -> np.ndarray:
    """``round(x * total / sum(x))`` with the rounding remainder added to the largest element.

    migest's version gives the remainder to a *random* element among the first m (``sample()`` of a
    length-1 vector); here it always goes to ``argmax(|x|)``, so results are reproducible.

    >>> rescale_integer_sum(np.array([10.0, 20.0, 1000.0, 30.0]), 1061.5).tolist()
    [10.0, 20.0, 1001.5, 30.0]
    """
    y = np.round(x * total / x.sum())
    y[int(np.argmax(np.abs(x)))] += total - y.sum()
    return y


def global_balance_before(s0, s1, b, d, notes: list[str]):
    """Step 2 (``match_global="before-demo-adjust"``): rescale the native-born so that
    ``sum(S1) - sum(S0) = sum(B) - sum(D)``, half of the gap ``dd`` on each table (integers)."""
    dd = (b.sum() - d.sum()) - (s1.sum() - s0.sum())
    if dd == 0:
        return s0, s1
    s0, s1 = s0.copy(), s1.copy()
    idx = np.arange(s0.shape[0])
    rem = np.mod(dd, 2)
    if np.round(rem) == 0 and rem != 0:    # migest's "odd" pre-step
        s1[idx, idx] = rescale_integer_sum(np.diag(s1), np.diag(s1).sum() + 1)
        dd = (b.sum() - d.sum()) - (s1.sum() - s0.sum())
    s0[idx, idx] = rescale_integer_sum(np.diag(s0), np.diag(s0).sum() - dd / 2)
    s1[idx, idx] = rescale_integer_sum(np.diag(s1), np.diag(s1).sum() + dd / 2)
    notes.append(f"world stock change differed from births - deaths by {dd:.6g}; native-born rescaled")
    return s0, s1


def global_balance_after(s0, s1):
    """Step 4 (``match_global="after-demo-adjust"``): ``dd = sum(S1) - sum(S0)`` shared
    proportionally: ``diag(S0) += dd/2 * diag(S0)/sum(diag(S0))``, ``diag(S1) -= dd/2 * ...``."""
    dd = s1.sum() - s0.sum()
    s0, s1 = s0.copy(), s1.copy()
    idx = np.arange(s0.shape[0])
    n0, n1 = np.diag(s0).copy(), np.diag(s1).copy()
    s0[idx, idx] = n0 + 0.5 * dd * n0 / n0.sum()
    s1[idx, idx] = n1 - 0.5 * dd * n1 / n1.sum()
    return s0, s1


def vital_matrices(s0, s1, b, d, birth_method, birth_non_negative, death_method, tol, notes):
    """Step 3: births ``Bm[k, j]`` and deaths ``Dm[k, j]`` by birthplace and residence."""
    col1, col0 = s1.sum(axis=0), s0.sum(axis=0)
    it = 0
    if birth_method == "native":
        bm = np.diag(b).astype(float)
        if birth_non_negative:
            many = np.flatnonzero(np.diag(s1) < b)
            if len(many):
                bm[:, many] = s1[:, many] * _ratio(b[many], col1[many])[None, :]
                notes.append(f"more births than native-born at t+1 in regions {many.tolist()}; "
                             "births there split like the end stocks")
    elif birth_method == "proportion":
        bm = s1 * _ratio(b, col1)[None, :]
    else:
        raise MethodInputError(f"birth_method must be 'native' or 'proportion', not {birth_method!r}.")
    if death_method == "proportion":
        dm = s0 * _ratio(d, col0)[None, :]
    elif death_method == "accounting":
        d_pob = s0.sum(axis=1) + bm.sum(axis=1) - s1.sum(axis=1)
        if np.any(d_pob < -tol):
            k = int(np.argmin(d_pob))
            raise MethodInputError(
                "death_method='accounting' implies negative deaths for some birthplaces (first: index "
                f"{k}, {d_pob[k]:.6g}): their stock grew by more than their births. Use "
                "death_method='proportion'.")
        d_pob = np.maximum(d_pob, 0.0)
        check_margins(d_pob, d, tol, "deaths-by-birthplace and deaths-by-residence")
        dm, it, _ = _fit_table(s0, d_pob, d, tol, 10_000)
    else:
        raise MethodInputError(f"death_method must be 'proportion' or 'accounting', not {death_method!r}.")
    return bm, dm, it


def birthplace_totals_step(s0, s1, method, tol, notes=None):
    """Step 5: make each birthplace total equal at t and t+1. Returns ``A, Z, out, in, iterations``.

    ``delta[k] = sum(S0[k, :]) - sum(S1[k, :])``. "rescale": fit ``S0`` to rows ``rowSums - delta/2``
    and its own columns, ``S1`` to ``rowSums + delta/2`` and its own columns. "open": ``out`` = rows of
    ``S1`` scaled to ``max(delta, 0)``, ``in`` = rows of ``S0`` scaled to ``max(-delta, 0)``;
    ``A = S0 - out``, ``Z = S1 - in``. "open-dr": ``out`` from ``S0``, ``in`` from ``S1``.
    """
    r0, r1 = s0.sum(axis=1), s1.sum(axis=1)
    delta = r0 - r1
    zero = np.zeros_like(s0)
    if method == "rescale":
        if np.any(s0 < 0) or np.any(s1 < 0):
            raise MethodInputError("after removing births and deaths some stocks are negative, so the "
                                   "closed system cannot be fitted; check births/deaths against the stocks.")
        t0, t1 = r0 - delta / 2, r1 + delta / 2
        if np.any(t0 < 0) or np.any(t1 < 0):
            raise MethodInputError("the mid-point birthplace totals are negative; check the inputs.")
        check_margins(t0, s0.sum(axis=0), tol + 1e-6,
                      "birthplace and residence (the world totals at t and t+1 differ: use "
                      "match_global='before-demo-adjust' or 'after-demo-adjust')")
        a, ia, ea = _fit_table(s0, t0, s0.sum(axis=0), tol, 10_000)
        z, iz, ez = _fit_table(s1, t1, s1.sum(axis=0), tol, 10_000)
        if not max(ea, ez) <= tol and notes is not None:
            notes.append(f"birthplace totals could only be matched to {max(ea, ez):.6g} persons: the zero "
                         "cells of the stock tables leave no exact solution")
        return a, z, zero, zero.copy(), ia + iz
    if method in ("open", "open-dr"):
        src_out, src_in = (s1, s0) if method == "open" else (s0, s1)
        out = src_out * _ratio(np.maximum(delta, 0.0), src_out.sum(axis=1))[:, None]
        inn = src_in * _ratio(np.maximum(-delta, 0.0), src_in.sum(axis=1))[:, None]
        a, z = s0 - out, s1 - inn
        if (np.any(a < 0) or np.any(z < 0)) and notes is not None:
            notes.append("open system: moves to/from outside exceed some stocks, so some adjusted stocks "
                         "(and flows) are negative; check births/deaths against the stocks")
        return a, z, out, inn, 1
    raise MethodInputError(f"unknown birthplace_totals {method!r}.")
