"""Iterative proportional fitting (IPF) and conditional maximisation (CM).

All fits here find the table closest to a *seed* ``m`` (in the Kullback-Leibler sense) whose margins
equal given targets; the fitted table has the log-linear form

* 2-way: ``y[i, j] = a[i] * b[j] * m[i, j]``   (``ipf2``, ``cm2``, ``fit_table``)
* 3-way, margins orig x pob and dest x pob: ``y[i, j, k] = a[i, k] * b[j, k] * m[i, j, k]``
  (``ipf3``; Abel 2013) -- each birthplace ``k`` is an independent 2-way fit, which is how we run it:
  the factors ``a`` and ``b`` are updated with matrix products and the n x n x n array is only built
  once at the end;
* quasi-independent 3-way (``ipf3_qi``): as ``ipf3`` with the ``i == j`` cells fixed (stayers).

Inconsistent margins (totals that differ by more than the tolerance) raise
:class:`~imdx.methods.MethodInputError`; unlike ``mipfp::Ipfp`` we never rescale counts to
proportions. Negative seeds or targets raise the same error.

References: Deming & Stephan (1940); Bishop, Fienberg & Holland (1975) *Discrete Multivariate
Analysis*, ch. 3; Willekens (1999) *Math. Pop. Studies* 7(3); Raymer, Abel & Smith (2007) *JRSS A*
170(4); Abel (2013) *Demographic Research* 28(18).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imdx.methods import MethodInputError

__all__ = ["FitResult", "check_margins", "cm2", "cm3", "fit_table", "ipf2", "ipf3", "ipf3_qi"]


@dataclass(frozen=True)
class FitResult:
    """A fitted table and how it was obtained.

    ``iterations`` follows migest's count (one iteration = one sweep over all margins);
    ``margin_error`` is the largest absolute difference between a margin of ``fitted`` and its
    target, measured on the returned table; ``parameters`` holds the fitted factors where useful.
    """

    fitted: np.ndarray
    method: str
    options: dict[str, Any]
    iterations: int
    margin_error: float
    converged: bool
    tolerance: float
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()


def _nonneg(name: str, x, ndim: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if ndim is not None and a.ndim != ndim:
        raise MethodInputError(f"{name} must be a {ndim}-dimensional array, got shape {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise MethodInputError(f"{name} contains NaN or infinite values; replace missing values first.")
    if np.any(a < 0):
        where = np.argwhere(a < 0)[0].tolist() if a.ndim else []
        raise MethodInputError(
            f"{name} has negative values (first at index {where}); IPF needs non-negative counts.")
    return a


def check_margins(row_tot: np.ndarray, col_tot: np.ndarray, tol: float, what: str = "row and column") -> None:
    """Raise :class:`MethodInputError` unless ``sum(row_tot)`` and ``sum(col_tot)`` agree.

    Agreement means ``|sum(row) - sum(col)| <= tol + 1e-9 * max(sum)`` (along the last axis when the
    inputs are 2-D, i.e. per birthplace). We refuse instead of turning counts into proportions.

    >>> check_margins(np.array([10.0, 20]), np.array([15.0, 15]), tol=1e-6)   # fine: both sum to 30
    >>> check_margins(np.array([10.0, 20]), np.array([15.0, 25]), tol=1e-6)
    Traceback (most recent call last):
    imdx.methods.MethodInputError: The row and column targets do not have the same total (difference 10)...
    """
    sr, sc = np.sum(row_tot, axis=0), np.sum(col_tot, axis=0)
    gap = np.abs(sr - sc)
    allowed = tol + 1e-9 * np.maximum(np.abs(sr), np.abs(sc))
    if np.any(gap > allowed):
        worst = int(np.argmax(gap - allowed)) if np.ndim(gap) else 0
        raise MethodInputError(
            f"The {what} targets do not have the same total (difference {float(np.max(gap)):.6g}"
            + (f", first at slice {worst}" if np.ndim(gap) else "")
            + "). Fix the margins so their totals agree (e.g. rescale one of them) before fitting; "
            "imdx does not silently switch to proportions.")


def _ratio(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``target / current`` with 0/0 and x/0 set to 0 (as in migest)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f = target / current
    f[~np.isfinite(f)] = 0.0
    return f


def ipf2(row_tot=None, col_tot=None, seed=1.0, tol: float = 1e-5, maxit: int = 500) -> FitResult:
    """2-way IPF (Deming-Stephan), as migest ``ipf2``.

    Fits ``y[i, j] = a[i] b[j] m[i, j]`` with ``sum_j y = row_tot`` and ``sum_i y = col_tot``. Each
    iteration scales columns, then rows; it stops when ``max |target - margin|`` (margins measured
    just before their own scaling) is ``<= tol`` or after ``maxit`` iterations. Either margin may be
    ``None`` (one-margin fit).

    Differs from migest: totals are checked both ways (migest checks only ``row - col > tol``), and
    negative inputs raise :class:`MethodInputError`.

    Example (Willekens 1999):

    >>> r = ipf2([18, 20], [16, 22], seed=[[5, 2], [1, 7]])
    >>> r.fitted.round(2).tolist(), r.iterations
    ([[13.25, 4.75], [2.75, 17.25]], 12)
    """
    if row_tot is None and col_tot is None:
        raise MethodInputError("ipf2 needs at least one of row_tot and col_tot.")
    r = None if row_tot is None else _nonneg("row_tot", row_tot, 1)
    c = None if col_tot is None else _nonneg("col_tot", col_tot, 1)
    shape = (len(r) if r is not None else np.shape(seed)[0], len(c) if c is not None else np.shape(seed)[1])
    m = _nonneg("seed", np.broadcast_to(np.asarray(seed, float), shape).copy(), 2)
    if r is not None and c is not None:
        check_margins(r, c, tol)
    mu, it, d_max = m.copy(), 0, 2 * tol
    while it == 0 or (d_max > tol and it < maxit):
        d = []
        if c is not None:
            cm = mu.sum(axis=0)
            mu *= _ratio(c, cm)[None, :]
            d.append(np.abs(c - cm))
        if r is not None:
            rm = mu.sum(axis=1)
            mu *= _ratio(r, rm)[:, None]
            d.append(np.abs(r - rm))
        it += 1
        d_max = float(max(x.max(initial=0.0) for x in d))
    err = _margin_error2(mu, r, c)
    return FitResult(mu, "ipf2", {"tol": tol, "maxit": maxit}, it, err, d_max <= tol, tol)


def _margin_error2(mu, r, c) -> float:
    e = 0.0
    if r is not None:
        e = max(e, float(np.max(np.abs(mu.sum(axis=1) - r), initial=0.0)))
    if c is not None:
        e = max(e, float(np.max(np.abs(mu.sum(axis=0) - c), initial=0.0)))
    return e


def cm2(row_tot, col_tot, seed=1.0, tol: float = 1e-6, maxit: int = 500) -> FitResult:
    """Conditional maximisation (Willekens 1999), as migest ``cm2``.

    Same model as :func:`ipf2`, parametrised ``y = alpha[i] beta[j] m[i, j]``. Start
    ``alpha = beta = 1``; each sweep sets ``alpha[i] = row_tot[i] / sum_j beta[j] m[i, j]`` then
    ``beta[j] = col_tot[j] / sum_i alpha[i] m[i, j]`` (the order of migest 2.0.5); stop when the largest change of any
    parameter
    is ``<= tol`` (at most ``maxit - 1`` sweeps, as in migest). ``parameters`` holds ``alpha``,
    ``beta``; ``iterations`` the number of sweeps (migest does not report it).

    >>> r = cm2([18, 20], [16, 22], seed=[[5, 2], [1, 7]])
    >>> r.fitted.round(2).tolist()
    [[13.25, 4.75], [2.75, 17.25]]
    """
    r, c = _nonneg("row_tot", row_tot, 1), _nonneg("col_tot", col_tot, 1)
    m = _nonneg("seed", np.broadcast_to(np.asarray(seed, float), (len(r), len(c))).copy(), 2)
    check_margins(r, c, tol)
    return _cm(r, c, m, m, tol, maxit, "cm2")


def cm3(row_tot, col_tot, seed, tol: float = 1e-5, maxit: int = 500) -> FitResult:
    """Conditional maximisation for an orig x dest x type table with known orig and dest totals
    (Abel 2005; Raymer, Abel & Smith 2007), as migest ``cm3``.

    ``y[i, j, k] = alpha[i] beta[j] m[i, j, k]``; the updates use ``M = sum_k m`` (only the i and j
    margins are constrained). migest recomputes the whole array for every parameter update (8.7 s at
    n = 50); here a sweep is two matrix-vector products.

    >>> m = np.stack([np.ones((2, 2)), 3 * np.ones((2, 2))], axis=2)   # type b is 3x as likely
    >>> r = cm3([10, 30], [20, 20], m)
    >>> r.fitted[:, :, 1].round(2).tolist()
    [[3.75, 3.75], [11.25, 11.25]]
    """
    r, c = _nonneg("row_tot", row_tot, 1), _nonneg("col_tot", col_tot, 1)
    m = _nonneg("seed", seed, 3)
    check_margins(r, c, tol)
    return _cm(r, c, m.sum(axis=2), m, tol, maxit, "cm3")


def _cm(r, c, m2, m, tol, maxit, name) -> FitResult:
    alpha, beta = np.ones(len(r)), np.ones(len(c))
    it, d_max = 1, 2 * tol
    while d_max > tol and it < maxit:
        beta_old, alpha_old = beta, alpha
        alpha = r / (m2 @ beta)
        beta = c / (alpha @ m2)
        it += 1
        d_max = float(max(np.max(np.abs(alpha - alpha_old)), np.max(np.abs(beta - beta_old))))
    ab = np.outer(alpha, beta)
    fitted = ab * m if m.ndim == 2 else ab[:, :, None] * m
    f2 = fitted if fitted.ndim == 2 else fitted.sum(axis=2)
    return FitResult(fitted, name, {"tol": tol, "maxit": maxit}, it - 1, _margin_error2(f2, r, c),
                     d_max <= tol, tol, {"alpha": alpha, "beta": beta})


# --- 3-way fits: one independent 2-way fit per birthplace, vectorised over birthplaces ------------

def _seed3(seed, n: int) -> np.ndarray:
    if seed is None:
        return np.ones((n, n))
    m = _nonneg("seed", seed)
    if m.ndim == 2 and m.shape == (n, n):
        return m
    if m.ndim == 3 and m.shape == (n, n, n):
        return m
    raise MethodInputError(f"seed must be an n x n matrix (used for every birthplace) or an n x n x n "
                           f"array; got shape {m.shape} for n = {n}.")


def _ik_margin(m, b):   # sum_j m[i, j, k] b[j, k]
    return m @ b if m.ndim == 2 else np.einsum("ijk,jk->ik", m, b)


def _jk_margin(m, a):   # sum_i m[i, j, k] a[i, k]
    return m.T @ a if m.ndim == 2 else np.einsum("ijk,ik->jk", m, a)


def _ipf3_factors(m, row_ik, col_jk, tol, maxit):
    """migest ``ipf3`` iterations on the factors ``a[i, k]``, ``b[j, k]`` of
    ``y[i, j, k] = a b m``: identical iterates, no n^3 work per iteration when ``m`` is 2-D."""
    n = row_ik.shape[0]
    a, b = np.ones((n, row_ik.shape[1])), np.ones((n, row_ik.shape[1]))
    it, d_max = 0, 2 * tol
    while d_max > tol and it < maxit:
        ik = a * _ik_margin(m, b)
        a = a * _ratio(row_ik, ik)
        jk = b * _jk_margin(m, a)
        b = b * _ratio(col_jk, jk)
        it += 1
        d_max = float(max(np.max(np.abs(row_ik - ik)), np.max(np.abs(col_jk - jk))))
    return a, b, it, d_max


def _expand(m, a, b) -> np.ndarray:
    """y[i, j, k] = a[i, k] * b[j, k] * m[i, j(, k)]"""
    y = a[:, None, :] * b[None, :, :]
    y *= m[:, :, None] if m.ndim == 2 else m
    return y


def ipf3(row_tot, col_tot, seed=None, tol: float = 1e-5, maxit: int = 500) -> FitResult:
    """3-way IPF of an orig x dest x pob array to its orig x pob and pob x dest margins (Abel 2013),
    as migest ``ipf3``.

    ``row_tot[i, k]`` = people born in k living in i at t (pass ``S0.T``); ``col_tot[k, j]`` = born in
    k living in j at t+1 (pass ``S1``). Model ``y[i, j, k] = a[i, k] b[j, k] m[i, j, k]``; a 2-D seed
    is used for every birthplace; default seed 1 (independence: ``y = row[i,k] col[k,j] / N_k``).
    Iterations and the stopping rule are migest's (max absolute pre-scaling margin gap ``<= tol``).
    Structural zeros: put 0 in the seed.

    >>> s0 = np.array([[100., 10], [5, 50]]); s1 = np.array([[90., 20], [10, 45]])
    >>> r = ipf3(s0.T, s1)
    >>> bool(np.allclose(r.fitted.sum(axis=1), s0.T)), r.iterations
    (True, 2)
    """
    row_ik, col_kj = _nonneg("row_tot", row_tot, 2), _nonneg("col_tot", col_tot, 2)
    n = row_ik.shape[0]
    if row_ik.shape != (n, n) or col_kj.shape != (n, n):
        raise MethodInputError("row_tot and col_tot must be square n x n matrices "
                               f"(got {row_ik.shape} and {col_kj.shape}).")
    check_margins(row_ik, col_kj.T, tol, "orig x pob and dest x pob (per birthplace)")
    m = _seed3(seed, n)
    a, b, it, d_max = _ipf3_factors(m, row_ik, col_kj.T, tol, maxit)
    y = _expand(m, a, b)
    err = max(float(np.max(np.abs(y.sum(axis=1) - row_ik))), float(np.max(np.abs(y.sum(axis=0) - col_kj.T))))
    return FitResult(y, "ipf3", {"tol": tol, "maxit": maxit, "seed": "given" if seed is not None else "uniform"},
                     it, err, d_max <= tol, tol, {"a": a, "b": b})


def ipf3_qi(row_tot, col_tot, diag_count=None, seed=None, tol: float = 1e-5, maxit: int = 500) -> FitResult:
    """Quasi-independent 3-way IPF (Abel 2013), as ``migest:::ipf3_qi(speed = TRUE)``.

    The ``i == j`` cells (stayers) are fixed at ``diag_count[i, k]`` (default
    ``min(row_tot[i, k], col_tot[k, i])``: as many stayers as possible), removed from both margins,
    and the rest is fitted by :func:`ipf3` with a seed whose ``i == j`` cells are 0; the stayers are
    then put back. With the default ``diag_count`` this is the closed-form minimum-migration
    estimate of :func:`imdx.methods.flows_from_stocks.demographic_accounting`.

    >>> s0 = np.array([[100., 10], [5, 50]]); s1 = np.array([[95., 15], [8, 47]])   # closed pair
    >>> r = ipf3_qi(s0.T, s1)
    >>> r.fitted[:, :, 0].round(2).tolist()    # born in region 0: 5 moved from 0 to 1
    [[95.0, 5.0], [0.0, 10.0]]
    """
    row_ik, col_kj = _nonneg("row_tot", row_tot, 2), _nonneg("col_tot", col_tot, 2)
    n = row_ik.shape[0]
    col_jk = col_kj.T
    check_margins(row_ik, col_jk, tol, "orig x pob and dest x pob (per birthplace)")
    d = np.minimum(row_ik, col_jk) if diag_count is None else _nonneg("diag_count", diag_count, 2)
    if d.shape != (n, n):
        raise MethodInputError(f"diag_count must be n x n (region x birthplace), got {d.shape}.")
    r0, c0 = row_ik - d, col_jk - d
    if np.any(r0 < -tol) or np.any(c0 < -tol):
        raise MethodInputError("diag_count exceeds a margin: stayers cannot outnumber the people in a region.")
    m = _seed3(seed, n)
    m = m * (1.0 - np.eye(n)) if m.ndim == 2 else m * (1.0 - np.eye(n))[:, :, None]
    a, b, it, d_max = _ipf3_factors(m, np.maximum(r0, 0), np.maximum(c0, 0), tol, maxit)
    y = _expand(m, a, b)
    idx = np.arange(n)
    y[idx, idx, :] = d
    err = max(float(np.max(np.abs(y.sum(axis=1) - row_ik))), float(np.max(np.abs(y.sum(axis=0) - col_jk))))
    return FitResult(y, "ipf3_qi", {"tol": tol, "maxit": maxit}, it, err, d_max <= tol, tol,
                     {"a": a, "b": b, "diag_count": d})


# --- fast, tight 2-way fit used inside the demographic accounts ----------------------------------

def fit_table(seed, row_tot, col_tot, tol: float = 1e-6, maxit: int = 10_000) -> FitResult:
    """Fit ``y = a[i] b[j] m[i, j]`` to both margins to an absolute margin error ``<= tol``.

    Same estimate as :func:`ipf2` but solved fast and tightly: a few Sinkhorn (IPF) sweeps on the
    factors, then Newton's method on the convex dual ``F(u, v) = sum m e^{u_i + v_j} - r.u - c.v``
    (u = log a, v = log b), whose gradient is the margin gap. Rows/columns with a zero target are set
    to zero. Where Newton cannot proceed (a pattern of zeros that makes the fit reachable only in the
    limit) it falls back to plain IPF up to ``maxit`` sweeps. ``iterations`` counts sweeps + Newton
    steps.

    >>> r = fit_table(np.array([[5.0, 2], [1, 7]]), [18, 20], [16, 22], tol=1e-10)
    >>> r.fitted.round(2).tolist(), r.margin_error <= 1e-10
    ([[13.25, 4.75], [2.75, 17.25]], True)
    """
    m = _nonneg("seed", seed, 2)
    r, c = _nonneg("row_tot", row_tot, 1), _nonneg("col_tot", col_tot, 1)
    check_margins(r, c, tol)
    y, it, err = _fit_table(m, r, c, tol, maxit)
    return FitResult(y, "fit_table", {"tol": tol, "maxit": maxit}, it, err, err <= tol, tol)


def _fit_table(m, r, c, tol, maxit):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _fit_table_inner(m, r, c, tol, maxit)


def _fit_table_inner(m, r, c, tol, maxit):
    out = np.zeros_like(m)
    ri, ci = np.flatnonzero(r > 0), np.flatnonzero(c > 0)
    if len(ri) == 0 or len(ci) == 0:
        return out, 0, _margin_error2(out, r, c)
    ms, rs, cs = m[np.ix_(ri, ci)], r[ri], c[ci]
    cs = cs * (rs.sum() / cs.sum())        # totals agree within tol; make them agree exactly
    a, b = np.ones(len(ri)), np.ones(len(ci))
    it = 0

    def err_of(a, b):
        x = a[:, None] * ms * b[None, :]
        return max(np.max(np.abs(x.sum(1) - rs)), np.max(np.abs(x.sum(0) - cs)))

    for _ in range(20):
        b = _ratio(cs, ms.T @ a)
        a = _ratio(rs, ms @ b)
        it += 1
    e = err_of(a, b)
    if e > tol and np.all(a > 0) and np.all(b > 0):
        with np.errstate(over="ignore", invalid="ignore"):
            a2, b2, k, e2 = _newton(ms, rs, cs, a, b, tol)
        it += k
        if np.isfinite(e2) and e2 < e:      # keep the IPF state if Newton did not help
            a, b, e = a2, b2, e2
    while not e <= tol and it < maxit:
        for _ in range(50):
            b = _ratio(cs, ms.T @ a)
            a = _ratio(rs, ms @ b)
        it += 50
        e = err_of(a, b)
    out[np.ix_(ri, ci)] = np.nan_to_num(a[:, None] * ms * b[None, :], posinf=0.0)
    return out, it, _margin_error2(out, r, c)


def _newton(m, r, c, a, b, tol, maxsteps: int = 60):
    u, v = np.log(a), np.log(b)

    def state(u, v):
        x = m * np.exp(u[:, None] + v[None, :])
        return x, x.sum() - r @ u - c @ v if np.all(np.isfinite(x)) else np.inf

    x, f = state(u, v)
    steps = 0
    for steps in range(1, maxsteps + 1):  # noqa: B007 -- steps is read after the loop
        R, C = x.sum(1), x.sum(0)
        gu, gv = R - r, C - c
        if max(np.max(np.abs(gu)), np.max(np.abs(gv))) <= tol:
            break
        if np.any(R <= 0) or np.any(C <= 0):
            break
        xr = x / R[:, None]
        S = np.diag(C) - x.T @ xr
        rhs = -gv + xr.T @ gu
        try:
            dv = np.zeros_like(v)
            dv[:-1] = np.linalg.solve(S[:-1, :-1], rhs[:-1])
        except np.linalg.LinAlgError:
            break
        du = (-gu - x @ dv) / R
        t = 1.0
        for _ in range(30):
            x2, f2 = state(u + t * du, v + t * dv)
            if np.isfinite(f2) and f2 <= f + 1e-12 * abs(f):
                break
            t /= 2
        else:
            break
        u, v, x, f = u + t * du, v + t * dv, x2, f2
    a, b = np.exp(u), np.exp(v)
    x = a[:, None] * m * b[None, :]
    e = max(np.max(np.abs(x.sum(1) - r)), np.max(np.abs(x.sum(0) - c)))
    return a, b, steps, e
