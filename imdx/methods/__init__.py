"""Estimation methods: pure functions on numpy arrays returning small frozen result objects.

One module per family:

* :mod:`imdx.methods.ipf` -- iterative proportional fitting (2-way, 3-way, quasi-independent) and
  conditional maximisation;
* :mod:`imdx.methods.flows_from_stocks` -- stock differencing, migration rates, demographic
  accounting (closed and open);
* :mod:`imdx.methods.azose_raftery` -- the pseudo-Bayesian estimate (Azose & Raftery 2019) and the split
  of flows into emigration, return and transit;
* :mod:`imdx.methods.interpolation` -- stocks at mid-year reference dates, global net-migration
  balancing;
* :mod:`imdx.methods.mirror` -- harmonising sending- and receiving-side reported flows;
* :mod:`imdx.methods.remittances` -- growth, volatility, shares, bilateral allocation;
* :mod:`imdx.methods.indices` -- intensity, emigration rates, net migration.

Functions never read the store or the network and never mutate their arguments. Every result object
carries ``method``, ``options`` and an ``inputs`` field (provenance of the inputs: release ids,
left empty by the pure functions and filled by the caller that read the store).
"""

from __future__ import annotations

from imdx.errors import ImdxError

__all__ = ["MethodInputError"]


class MethodInputError(ImdxError, ValueError):
    """The numbers given to a method cannot be used as they are (wrong shape, negative counts,
    margins whose totals disagree). The message says which argument and how to fix it."""

