"""Azose & Raftery (2019): pseudo-Bayes flows between all pairs of countries.

Azose, J. J. & Raftery, A. E. (2019). Estimation of emigration, return migration, and transit migration
between all pairs of countries. *PNAS* 116(1), 116-122. doi:10.1073/pnas.1722334116.

**What the paper does (as published).** Flows are estimated from two bilateral stock tables with births and
deaths (the closed demographic account of Abel & Sander 2014). The minimum-migration estimate (every person
who can be a stayer is one; :func:`imdx.methods.flows_from_stocks.demographic_accounting`, migest
``ffs_demo()``) has many structural zeros: nobody returns, nobody moves on. The paper *smooths* it towards a
simpler estimate with fewer structural zeros, the independence estimate (where someone lives at the end of the
period does not depend on where they lived at its start, given their birthplace; migest
``ffs_demo(stayer_assumption = FALSE)``), with a pseudo-Bayes estimator (Bishop, Fienberg & Holland 1975,
ch. 12): per birthplace ``k``, ``f_k = (x_k + K_k lambda_k) / (N_k + K_k) * N_k``, ``x`` the minimum-migration
table, ``lambda`` the independence proportions, ``N_k`` the people born in ``k``. Published results:
between 67 and 87 million migrants per five-year period 1990-2015, 1.13-1.29 % of the world population,
against 34-46 million by minimum migration; about a quarter of moves are returns.

**How imdx chooses K, and where this differs.** The textbook data-driven ``K = (N^2 - sum x^2) / sum (x -
N lambda)^2`` treats the table as a multinomial sample of ``N`` persons; on country tables (hundreds of
millions of stayers) it gives weights ``N / (N + K)`` above 0.99, i.e. the minimum-migration estimate again
(:func:`bfh_weights`; imdx's earlier ``pseudo_bayesian`` did exactly that). The paper's totals need a much
larger ``K``: it tuned the smoothing against IMEM's European flows, which are not available here (and the
paper's full text was not reachable from imdx's build environment: only its abstract, significance statement
and published figures were). imdx therefore uses ``K_k = N_k * a / (1 - a)``, one *prior weight* ``a`` for
every birthplace (``f = (1 - a) x + a * independence``; margins are kept exactly, every flow is
non-negative), and chooses ``a`` without the paper's totals: :data:`PRIOR_WEIGHT` = 0.10 is the weight that
minimises the mean absolute log error of the cells against the known flows of imdx's synthetic cases
(:mod:`imdx.methods.synthetic`; 0.11, 0.10 and 0.10 for three seeds), the error scale the paper reports
("within a factor of three"). The paper's published totals are then an out-of-sample check
(``tests/methods/test_azose_raftery.py``, docs/methods.md).

**Its own interval.** The paper's uncertainty lies mostly in how much to smooth. :data:`PRIOR_WEIGHT_RANGE`
(0.065-0.135) is the range of weights whose world totals on UN DESA 2020 stocks and WPP 2024 fall inside the
paper's published band (1.13-1.29 %) over 1990-2015; every cell is linear in ``a``, so the flows at the two
ends bound the point estimate cell by cell (:func:`azose_raftery` returns them in ``options``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from imdx.methods import MethodInputError
from imdx.methods.accounts import FlowEstimate
from imdx.methods.flows_from_stocks import pseudo_bayesian

__all__ = ["PRIOR_WEIGHT", "PRIOR_WEIGHT_RANGE", "PUBLISHED", "azose_raftery", "bfh_weights"]

PRIOR_WEIGHT = 0.10
PRIOR_WEIGHT_RANGE = (0.065, 0.135)
#: what the paper publishes about its global totals per five-year period, 1990-1995 ... 2010-2015
PUBLISHED = {"periods": ((1990, 1995), (1995, 2000), (2000, 2005), (2005, 2010), (2010, 2015)),
             "share_of_world_population": (0.0113, 0.0129), "migrants_millions": (67.0, 87.0),
             "minimum_migration_millions": (34.0, 46.0)}


def azose_raftery(stock_start, stock_end, births=None, deaths=None, *, prior_weight: float = PRIOR_WEIGHT,
                  bounds: tuple[float, float] | None = PRIOR_WEIGHT_RANGE, **options) -> FlowEstimate:
    """Pseudo-Bayes flows: ``(1 - prior_weight) * minimum migration + prior_weight * independence``, per
    birthplace, from the same closed demographic account (``options`` as for
    :func:`~imdx.methods.flows_from_stocks.demographic_accounting`).

    ``bounds``: two prior weights whose OD tables are returned in ``options["od_lower"]`` and
    ``options["od_upper"]`` (the smoothing's own interval; None: not computed).

    >>> s0 = np.array([[100., 10], [5, 50]]); s1 = np.array([[95., 12], [8, 52]])
    >>> r = azose_raftery(s0, s1, births=[5, 3], deaths=[4, 2], prior_weight=0.1)
    >>> r.od.round(2).tolist(), r.options["prior_weight"]
    ([[0.0, 5.87], [2.87, 0.0]], 0.1)
    >>> bool(np.all(r.options["od_lower"] <= r.od) and np.all(r.od <= r.options["od_upper"]))
    True
    """
    if not 0.0 <= prior_weight <= 1.0:
        raise MethodInputError("prior_weight must be between 0 and 1 (0: minimum migration; 1: independence).")
    if bounds is not None and not (0.0 <= bounds[0] <= prior_weight <= bounds[1] <= 1.0):
        raise MethodInputError(f"bounds {bounds} must enclose prior_weight {prior_weight} within [0, 1].")
    est = pseudo_bayesian(stock_start, stock_end, births, deaths, weight=1.0 - prior_weight, **options)
    opts = {k: v for k, v in est.options.items() if k not in ("weights", "weight")}
    opts.update(prior_weight=prior_weight, K="N_k * prior_weight / (1 - prior_weight)")
    if bounds is not None:
        low_high = [pseudo_bayesian(stock_start, stock_end, births, deaths, weight=1.0 - b, **options).od
                    for b in bounds]
        opts.update(prior_weight_range=tuple(bounds), od_lower=np.minimum(*low_high), od_upper=np.maximum(*low_high))
    return replace(est, method="azose_raftery", options=opts)


def bfh_weights(stock_start, stock_end, births=None, deaths=None, **options) -> np.ndarray:
    """The textbook data-driven pseudo-Bayes weight ``N / (N + K)`` of each birthplace (weight on the
    minimum-migration table). On country tables they are above 0.99: see the module docstring.

    >>> s0 = np.array([[1e8, 2e5], [1e5, 5e7]]); s1 = np.array([[1.01e8, 2.5e5], [1.5e5, 5.05e7]])
    >>> bool(bfh_weights(s0, s1, [2e6, 1e6], [1e6, 5e5]).min() > 0.9999)
    True
    """
    return pseudo_bayesian(stock_start, stock_end, births, deaths, **options).options["weights"]
