"""Intervals for flow estimates: perturbation of the inputs within their stated precision.

A method's inputs are uncertain: a bilateral migrant stock estimated from a census is off by a few percent,
one imputed by UN DESA (type of data ``I``) by far more; births and deaths less. :func:`perturbation_interval`
draws ``replicates`` sets of inputs, each foreign-born stock cell multiplied by a log-normal factor of
coefficient of variation ``stock_cv`` (per residence region) and births and deaths by one of ``vital_cv``,
runs the method on each, and takes the percentile interval of every output cell at the ``level`` (default
90 %: the 5th and 95th percentiles of the replicates), extended to include the point estimate where the
estimate falls outside it (a method can be biased under noise: minimum migration turns noise into moves):

    lower = min(f, q_0.05),   upper = max(f, q_0.95).

So every interval contains its point estimate, and it shrinks to the point as the inputs' precision rises
(``cv -> 0``): both are property tests (``tests/methods/test_uncertainty.py``). The native-born (the
diagonal, derived from the population) are held fixed: populations are far more precise than bilateral
stocks. The draws are seeded, so an interval is reproducible, and the same draws (scaled) serve every
precision: comparing two precisions compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imdx.methods import MethodInputError

__all__ = ["InputPrecision", "Interval", "covering_interval", "perturbation_interval"]

LEVEL = 0.90


@dataclass(frozen=True)
class InputPrecision:
    """Coefficients of variation of the inputs: foreign-born stocks (a number, or one per residence region)
    and births and deaths."""

    stock_cv: float | np.ndarray = 0.05
    vital_cv: float = 0.02

    def check(self, n: int) -> np.ndarray:
        cv = np.broadcast_to(np.asarray(self.stock_cv, dtype=float), (n,))
        if np.any(~np.isfinite(cv)) or np.any(cv < 0) or not (np.isfinite(self.vital_cv) and self.vital_cv >= 0):
            raise MethodInputError("precisions (coefficients of variation) must be finite and non-negative.")
        return cv


@dataclass(frozen=True)
class Interval:
    lower: np.ndarray
    upper: np.ndarray
    replicates: int
    level: float


def covering_interval(point: np.ndarray, replicates: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray,
                                                                                               np.ndarray]:
    """The percentile interval of ``replicates`` (first axis) at ``level``, widened to contain ``point``.

    >>> lo, hi = covering_interval(np.array([10.0, 0.0]), np.array([[8.0, 1.0], [12.0, 3.0], [11.0, 2.0]]), 0.5)
    >>> lo.tolist(), hi.tolist()
    ([9.5, 0.0], [11.5, 2.5])
    """
    if not 0 < level < 1:
        raise MethodInputError("level must be between 0 and 1 (e.g. 0.9 for a 90 % interval).")
    q = np.quantile(np.asarray(replicates, float), [0.5 - level / 2, 0.5 + level / 2], axis=0)
    point = np.asarray(point, float)
    return np.minimum(point, q[0]), np.maximum(point, q[1])


def perturbation_interval(method: Callable[..., np.ndarray], stock_start, stock_end, births, deaths,
                          precision: InputPrecision, *, replicates: int = 20, seed: int = 1,
                          level: float = LEVEL, point: np.ndarray | None = None) -> Interval:
    """Run ``method(stock_start, stock_end, births, deaths) -> od`` on ``replicates`` perturbed inputs and
    return the interval of every cell around ``point`` (default: the method on the unperturbed inputs).

    >>> s0 = np.array([[100., 10], [5, 50]]); s1 = np.array([[95., 12], [8, 52]])
    >>> diff = lambda a, b, *_: np.maximum(b - a, 0) * (1 - np.eye(2))
    >>> i = perturbation_interval(diff, s0, s1, None, None, InputPrecision(0.1), replicates=50)
    >>> bool(i.lower[0, 1] < 2 < i.upper[0, 1]), float(i.upper[1, 0] - i.lower[1, 0]) > 0
    (True, True)
    """
    if replicates < 2:
        raise MethodInputError("replicates must be at least 2 to measure a spread.")
    s0, s1 = np.asarray(stock_start, float), np.asarray(stock_end, float)
    n = s0.shape[0]
    cv = precision.check(n)
    if point is None:
        point = method(s0, s1, births, deaths)
    rng = np.random.default_rng(seed)
    off = ~np.eye(n, dtype=bool)
    outputs = []
    for _ in range(replicates):
        z0, z1 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        zb, zd = rng.standard_normal(n), rng.standard_normal(n)
        a = np.where(off, s0 * _factor(z0, cv[None, :]), s0)
        b = np.where(off, s1 * _factor(z1, cv[None, :]), s1)
        bb = None if births is None else np.asarray(births, float) * _factor(zb, precision.vital_cv)
        dd = None if deaths is None else np.asarray(deaths, float) * _factor(zd, precision.vital_cv)
        outputs.append(method(a, b, bb, dd))
    lower, upper = covering_interval(point, np.stack(outputs), level)
    return Interval(lower, upper, replicates, level)


def _factor(z: np.ndarray, cv) -> np.ndarray:
    """Log-normal factors of mean 1 and coefficient of variation ``cv`` from standard normal draws ``z``."""
    sigma = np.sqrt(np.log1p(np.square(cv)))
    return np.exp(sigma * z - sigma ** 2 / 2)
