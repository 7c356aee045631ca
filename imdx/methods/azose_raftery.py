"""Azose & Raftery (2019): pseudo-Bayes flows between all pairs of countries, and their decomposition into
emigration, return and transit.

Azose, J. J. & Raftery, A. E. (2019). Estimation of emigration, return migration, and transit migration
between all pairs of countries. *PNAS* 116(1), 116-122. doi:10.1073/pnas.1722334116.

**What is documented, and where** (the paper's Methods and SI were not reachable from imdx's build
environment; docs/methods.md lists every source):

* the estimator *smooths* the minimum-migration estimate (Abel & Sander 2014: every person who can be a
  stayer is one; :func:`imdx.methods.flows_from_stocks.demographic_accounting`, migest ``ffs_demo()``) *towards
  a simpler estimate with fewer structural zeros*, with a pseudo-Bayes estimator (abstract; the author's
  UW seminar abstract);
* that simpler estimate is the independence fit of the same account (where someone lives at the end of the
  period does not depend on where they lived at its start, given their birthplace): migest documents
  ``ffs_demo(stayer_assumption = FALSE)`` as "the independent model as used as part of Azose and Raftery";
* the pseudo-Bayes estimator of a table ``x`` of ``N`` counts towards prior proportions ``lambda``
  (Bishop, Fienberg & Holland 1975, ch. 12) is ``N (x + K lambda) / (N + K)``, with the textbook data-driven
  ``K = (N^2 - sum x^2) / sum (x - N lambda)^2``;
* the amount of smoothing was *calibrated against a relatively reliable model of migration among 31 European
  countries* (IMEM; UW press release, Dec. 2018), which imdx does not hold;
* published: 1.13-1.29 % of the world population per five-year period 1990-2015 (abstract), 67-87 million
  migrants against 34-46 million by minimum migration (press release), "roughly one of four migration events
  is a return to an individual's country of birth" (abstract). :data:`PUBLISHED` keeps them with their source.

**imdx's estimator.** Per birthplace ``k``, ``x_k`` the minimum-migration table and ``e_k = N_k lambda_k`` the
independence table (stayers included, both from the same adjusted stocks ``A``, ``Z``): ``f_k = (1 - a) x_k +
a e_k``, i.e. the pseudo-Bayes estimator with ``K_k = N_k a / (1 - a)``, one prior weight ``a`` for every
birthplace. Both ingredients have the margins ``A`` and ``Z``, so ``f`` keeps them exactly and every flow is
non-negative. The textbook ``K`` gives weights ``N / (N + K)`` above 0.99 on country tables (hundreds of
millions of stayers), i.e. minimum migration again (:func:`bfh_weights`), so it cannot be what produced the
paper's totals, which are 1.5-2 times the minimum-migration ones. Without IMEM, ``a`` is set on imdx's
synthetic cases with known flows: :data:`PRIOR_WEIGHT` = 0.10 minimises the mean absolute log error of the
cells (0.11, 0.10, 0.10 for three seeds; the paper reports accuracy "within a factor of three"). The paper's
figures are then an out-of-sample check: on UN DESA 2020 stocks and WPP 2024 the world totals are 1.14-1.31 %
of the world population, 23-29 % of moves are returns, and most EU-27 pairs are within a factor of three of
the flows the countries report (tests/estimates/test_azose_raftery_validation.py); against Abel & Cohen's
published pseudo-Bayesian flows (checked by hand, docs/methods.md) the world totals are within 2-6 %.

**Its own interval.** Most of the paper's uncertainty lies in how much to smooth. :data:`PRIOR_WEIGHT_RANGE`
(0.065-0.135) is the range of weights whose world totals on those inputs stay inside the published band over
1990-2015; every cell is linear in ``a``, so the flows at the two ends bound the estimate cell by cell
(returned in ``options["od_lower"]``, ``options["od_upper"]``, from the same two ingredients: no refit).

**Emigration, return, transit.** :func:`flow_types` splits any by-birthplace flow estimate as the paper does:
a move from ``i`` to ``j`` is *outward* (emigration) when the mover was born in ``i``, a *return* when born in
``j``, and *transit* otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imdx.methods import MethodInputError
from imdx.methods.accounts import Allocation, FlowEstimate
from imdx.methods.flows_from_stocks import _independence, _minimum_migration, _prepare
from imdx.methods.ipf import _ratio

__all__ = ["PRIOR_WEIGHT", "PRIOR_WEIGHT_RANGE", "PUBLISHED", "azose_raftery", "bfh_weights", "flow_types"]

PRIOR_WEIGHT = 0.10
PRIOR_WEIGHT_RANGE = (0.065, 0.135)
#: what the paper and its press release publish about the global totals, per five-year period 1990-1995 ...
#: 2010-2015, with where each figure is printed
PUBLISHED: dict[str, Any] = {
    "periods": ((1990, 1995), (1995, 2000), (2000, 2005), (2005, 2010), (2010, 2015)),
    "share_of_world_population": (0.0113, 0.0129),   # abstract: "oscillated between 1.13 and 1.29%"
    "migrants_millions": (67.0, 87.0),                # UW press release: "between 67 million and 87 million"
    "minimum_migration_millions": (34.0, 46.0),       # UW press release: "just 34 to 46 million"
    "return_share": 0.25,                             # abstract: "roughly one of four migration events"
    "sources": {
        "abstract": "Azose & Raftery (2019) PNAS 116(1):116-122, abstract and significance statement "
                    "(pubmed 30584106)",
        "press release": "University of Washington news release, Dec. 2018, 'New global migration estimates "
                         "show rates steady since 1990, high return migration' (reprinted by sciencecodex.com; "
                         "homelandsecuritynewswire.com, 31 Dec 2018)"},
}

_OPTIONS = {"match_global": "before-demo-adjust", "birthplace_totals": "rescale", "birth_method": "native",
            "birth_non_negative": True, "death_method": "proportion", "allow_missing_vitals": False, "tol": 1e-6}


def azose_raftery(stock_start, stock_end, births=None, deaths=None, *, prior_weight: float = PRIOR_WEIGHT,
                  bounds: tuple[float, float] | None = PRIOR_WEIGHT_RANGE, **options) -> FlowEstimate:
    """Pseudo-Bayes flows: ``(1 - prior_weight) * minimum migration + prior_weight * independence`` per
    birthplace, from one closed demographic account (``options`` as for
    :func:`~imdx.methods.flows_from_stocks.demographic_accounting`: ``match_global``, ``birthplace_totals``,
    ``birth_method``, ``birth_non_negative``, ``death_method``, ``allow_missing_vitals``, ``tol``).

    ``bounds``: two prior weights whose OD tables are returned in ``options["od_lower"]`` and
    ``options["od_upper"]`` (the smoothing's own interval; None: not computed). The OD table, margins and
    bounds cost O(n^3) flops and O(n^2) memory; the n x n x n array is built only when ``flows`` is read.

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
    a, z, bm, dm, out, inn, notes, opts, it = _prepare(stock_start, stock_end, births, deaths,
                                                       **_options(options))
    low, high = _minimum_migration(a, z), _independence(a, z, None, opts["tol"], 1)
    opts.update(prior_weight=prior_weight, K="N_k * prior_weight / (1 - prior_weight)")
    if bounds is not None:
        ends = [(1.0 - b) * low.od_full + b * high.od_full for b in bounds]
        for od in ends:
            np.fill_diagonal(od, 0.0)
        opts.update(prior_weight_range=tuple(bounds), od_lower=np.minimum(*ends), od_upper=np.maximum(*ends))
    return FlowEstimate.build(_blend(low, high, prior_weight), a, z, bm, dm, out, inn, "azose_raftery", opts, it,
                              opts["tol"], notes)


def _options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise MethodInputError(f"unknown option(s) {unknown}; the demographic account takes {sorted(_OPTIONS)}.")
    return {**_OPTIONS, **options}


def _blend(low: Allocation, high: Allocation, a: float) -> Allocation:
    """``(1 - a) low + a high`` on the O(n^2) summaries; the n^3 array only if asked for."""

    def make_flows() -> np.ndarray:
        f = low.make_flows()
        f *= 1.0 - a
        f += a * high.make_flows()
        return f

    def mix(x, y):
        return (1.0 - a) * x + a * y

    return Allocation(make_flows, mix(low.od_full, high.od_full), mix(low.stayers, high.stayers),
                      mix(low.rows, high.rows), mix(low.cols, high.cols), low.iterations + high.iterations)


def bfh_weights(stock_start, stock_end, births=None, deaths=None, **options) -> np.ndarray:
    """The textbook data-driven pseudo-Bayes weight ``N_k / (N_k + K_k)`` of each birthplace on the
    minimum-migration table, ``K_k = (N_k^2 - sum x_k^2) / sum (x_k - e_k)^2`` (Bishop, Fienberg & Holland
    1975, 12.2). On country tables they are above 0.99: the reason imdx does not use it (module docstring).

    >>> s0 = np.array([[1e8, 2e5], [1e5, 5e7]]); s1 = np.array([[1.01e8, 2.5e5], [1.5e5, 5.05e7]])
    >>> bool(bfh_weights(s0, s1, [2e6, 1e6], [1e6, 5e5]).min() > 0.9999)
    True
    """
    a, z, *_ = _prepare(stock_start, stock_end, births, deaths, **_options(options))
    x, e = _minimum_migration(a, z).make_flows(), _independence(a, z, None, 1e-6, 1).make_flows()
    n_k = x.sum(axis=(0, 1))
    ss = np.einsum("ijk,ijk->k", x, x)
    dd = np.maximum(np.einsum("ijk,ijk->k", x - e, x - e), 0.0)
    k = _ratio(n_k ** 2 - ss, dd)
    return np.where(dd > 1e-12 * np.maximum(ss, 1.0), _ratio(n_k, n_k + k), 1.0)


def flow_types(estimate: FlowEstimate) -> dict[str, np.ndarray]:
    """Origin x destination flows split by who moves (diagonals 0): ``outward`` (born in the origin:
    emigration), ``return`` (born in the destination) and ``transit`` (born elsewhere); they add up to
    ``estimate.od``. Reads the n x n x n ``flows`` array (built once).

    >>> s0 = np.array([[100., 10, 5], [5, 50, 4], [2, 3, 80]]); s1 = np.array([[95., 12, 8], [8, 52, 2], [4, 1, 82]])
    >>> r = azose_raftery(s0, s1, births=[5, 3, 4], deaths=[4, 2, 3], bounds=None)
    >>> {k: round(float(v.sum()), 2) for k, v in flow_types(r).items()}, round(float(r.od.sum()), 2)
    ({'outward': 10.09, 'return': 2.44, 'transit': 3.56}, 16.09)
    """
    f = estimate.flows
    n = f.shape[0]
    idx = np.arange(n)
    outward = f[idx, :, idx].copy()   # [i, j] = f[i, j, i]
    back = f[:, idx, idx].copy()      # [i, j] = f[i, j, j]
    np.fill_diagonal(outward, 0.0)
    np.fill_diagonal(back, 0.0)
    return {"outward": outward, "return": back, "transit": estimate.od - outward - back}
