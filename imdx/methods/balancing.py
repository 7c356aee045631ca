"""Global balancing: net migration of all countries of the world must sum to zero.

Estimates made country by country rarely do, so the gap is shared out. Two rules:

* ``"split"`` (default): immigration and emigration meet half-way. With ``P`` the sum of positive
  net migration and ``N`` the sum of the absolute negatives, positives are multiplied by
  ``(P + N) / (2 P)`` and negatives by ``(P + N) / (2 N)``. Signs never change; the relative pattern
  among receiving (and among sending) countries is kept.
* ``"weights"``: the excess ``E = sum(net)`` is removed in proportion to weights ``w`` (for example
  population, or gross migration): ``net - E * w / sum(w)``.

Reference: Azose & Raftery (2015) *Demography* 52(5) (the zero global net migration constraint);
Abel (2018) *Int. Migration Review* 52(3) (balancing before estimating flows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imdx.methods import MethodInputError

__all__ = ["BalancedNetMigration", "balance_net_migration"]


@dataclass(frozen=True)
class BalancedNetMigration:
    """``balanced`` sums to zero; ``adjustment = balanced - original``; ``excess`` is ``sum(original)``."""

    original: np.ndarray
    balanced: np.ndarray
    excess: float
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    @property
    def adjustment(self) -> np.ndarray:
        return self.balanced - self.original


def balance_net_migration(net, method: str = "split", weights=None) -> BalancedNetMigration:
    """Adjust net migration by country so that it sums to zero over the world.

    >>> r = balance_net_migration([300.0, 100.0, -200.0])
    >>> r.balanced.tolist(), r.excess
    ([225.0, 75.0, -300.0], 200.0)
    >>> balance_net_migration([300.0, 100.0, -200.0], "weights", weights=[1, 1, 2]).balanced.tolist()
    [250.0, 50.0, -300.0]
    """
    x = np.asarray(net, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise MethodInputError("net must be a 1-D array of finite numbers (one per country).")
    excess = float(x.sum())
    if method == "split":
        p, n = x[x > 0].sum(), -x[x < 0].sum()
        if excess != 0 and (p == 0 or n == 0):
            raise MethodInputError("all net migration has one sign, so the 'split' rule cannot balance it; "
                                   "use method='weights'.")
        target = (p + n) / 2
        out = np.where(x > 0, x * (target / p if p else 1.0), x * (target / n if n else 1.0))
    elif method == "weights":
        if weights is None:
            raise MethodInputError("method='weights' needs weights (e.g. population by country).")
        w = np.asarray(weights, dtype=float)
        if w.shape != x.shape or np.any(w < 0) or w.sum() <= 0:
            raise MethodInputError("weights must be non-negative, one per country, and not all zero.")
        out = x - excess * w / w.sum()
    else:
        raise MethodInputError(f"method must be 'split' or 'weights', not {method!r}.")
    return BalancedNetMigration(x, out, excess, method, {"weights": "given" if weights is not None else None})
