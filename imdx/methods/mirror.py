"""Harmonising mirror flows: immigration reported by receiving countries against emigration reported
by sending countries (de Beer, Raymer, van der Erf & van Wissen 2010).

For a pair i -> j, the receiving country j reports ``I[i, j]`` (immigrants by previous residence)
and the sending country i reports ``E[i, j]`` (emigrants by next residence). The two rarely agree
(different duration criteria, under-registration of emigration). The method assumes each country's
figures are off by one factor per side: the harmonised flow is ``r[j] * I[i, j]`` and also
``s[i] * E[i, j]``. The factors minimise, over the pairs reported by both sides,

    sum_{i, j} (r[j] * I[i, j] - s[i] * E[i, j])^2

subject to the reference country's factors being 1 (its data define the yardstick; de Beer et al.
used Sweden). The problem is linear least squares in ``(r, s)`` (``scale="linear"``). The harmonised
value of a pair is the mean of the two corrected figures where both exist, otherwise the one that exists.

On real data that objective has a pull towards 0: with only the reference's factors fixed, the residual
of every pair not involving the reference vanishes as its factors shrink, so the fitted factors fall well
below 1 and the harmonised flows below *both* reports (EU-27 2010, Sweden the reference: Spain -> Belgium,
reported 5,835 and 6,067, harmonised 3,723). imdx's default, ``scale="log"``, minimises the same equations
on the log scale, ``sum (log r[j] + log I[i, j] - log s[i] - log E[i, j])^2`` over the pairs both sides
report as positive: relative errors, no pull in either direction (the factors' product with the flows is
what is compared, so scaling all flows leaves the factors unchanged). Both recover known factors exactly
from undistorted data.

Reference: de Beer, J., Raymer, J., van der Erf, R. & van Wissen, L. (2010). Overcoming the problems of
inconsistent international migration data: a new method applied to flows in Europe. *European Journal
of Population* 26(4), 459-481. (Their second step, the duration adjustment, needs extra inputs and is
left to the caller.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imdx.methods import MethodInputError

__all__ = ["MirrorResult", "harmonise_mirror_flows"]


@dataclass(frozen=True)
class MirrorResult:
    """Sender-reported, receiver-reported, corrected and harmonised flows (origin x destination,
    NaN where not reported) and one correction factor per country and side."""

    sender_reported: np.ndarray
    receiver_reported: np.ndarray
    sending_factors: np.ndarray
    receiving_factors: np.ndarray
    harmonised: np.ndarray
    reference: int
    residual: float
    pairs_used: int
    method: str = "de_beer_2010"
    options: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    @property
    def sender_corrected(self) -> np.ndarray:
        return self.sender_reported * self.sending_factors[:, None]

    @property
    def receiver_corrected(self) -> np.ndarray:
        return self.receiver_reported * self.receiving_factors[None, :]

    def side_by_side(self, regions: Sequence[str] | None = None):
        """One row per origin-destination pair with any report: origin, destination, sender- and
        receiver-reported, both corrected values and the harmonised value (a pandas DataFrame)."""
        import pandas as pd

        n = self.harmonised.shape[0]
        names = list(regions) if regions is not None else list(range(n))
        i, j = np.nonzero(~np.isnan(self.harmonised))
        return pd.DataFrame({
            "origin": [names[a] for a in i], "destination": [names[b] for b in j],
            "sender_reported": self.sender_reported[i, j], "receiver_reported": self.receiver_reported[i, j],
            "sender_corrected": self.sender_corrected[i, j],
            "receiver_corrected": self.receiver_corrected[i, j], "harmonised": self.harmonised[i, j]})


def harmonise_mirror_flows(sender_reported, receiver_reported, reference: int,
                           reference_sides: str = "both", scale: str = "log") -> MirrorResult:
    """Estimate de Beer et al. (2010) correction factors and harmonise the flows.

    ``sender_reported[i, j]``: emigration from i to j as reported by i; ``receiver_reported[i, j]``:
    immigration to j from i as reported by j; NaN = not reported. ``reference`` is the index of the
    reference country; ``reference_sides="both"`` fixes its sending and receiving factors at 1,
    ``"receiving"`` only its receiving factor (the minimum for identification). ``scale``: ``"log"``
    (default) or ``"linear"`` (de Beer et al.'s original objective; see the module docstring).

    Example: B under-counts its emigrants by half, everything else is right:

    >>> e = np.array([[np.nan, 100.0], [50.0, np.nan]]); i = np.array([[np.nan, 100.0], [100.0, np.nan]])
    >>> r = harmonise_mirror_flows(e, i, reference=0)
    >>> r.sending_factors.round(6).tolist(), r.harmonised[1, 0].round(6)
    ([1.0, 2.0], np.float64(100.0))
    """
    e = np.asarray(sender_reported, dtype=float)
    im = np.asarray(receiver_reported, dtype=float)
    if e.ndim != 2 or e.shape[0] != e.shape[1] or e.shape != im.shape:
        raise MethodInputError(f"sender_reported {e.shape} and receiver_reported {im.shape} must be the same "
                               "square origin x destination shape.")
    if np.any(e[~np.isnan(e)] < 0) or np.any(im[~np.isnan(im)] < 0):
        raise MethodInputError("reported flows must be non-negative (NaN for not reported).")
    n = e.shape[0]
    if not 0 <= reference < n:
        raise MethodInputError(f"reference must be a country index in 0..{n - 1}.")
    if reference_sides not in ("both", "receiving"):
        raise MethodInputError("reference_sides must be 'both' or 'receiving'.")
    if scale not in ("log", "linear"):
        raise MethodInputError("scale must be 'log' or 'linear'.")
    both = ~np.isnan(e) & ~np.isnan(im)
    if scale == "log":
        both &= (np.nan_to_num(e) > 0) & (np.nan_to_num(im) > 0)
    np.fill_diagonal(both, False)
    oi, dj = np.nonzero(both)
    # unknowns: r[0..n-1] then s[0..n-1]; fixed ones are moved to the right-hand side
    fixed = {reference: 1.0} | ({n + reference: 1.0} if reference_sides == "both" else {})
    rows = len(oi)
    a = np.zeros((rows, 2 * n))
    if scale == "log":  # u[j] - v[i] = log E - log I, with r = exp(u), s = exp(v); fixed factors 1 -> 0
        a[np.arange(rows), dj] = 1.0
        a[np.arange(rows), n + oi] = -1.0
        target = np.log(e[oi, dj]) - np.log(im[oi, dj])
        fixed = {c: 0.0 for c in fixed}
    else:
        a[np.arange(rows), dj] = im[oi, dj]
        a[np.arange(rows), n + oi] = -e[oi, dj]
        target = np.zeros(rows)
    free = [c for c in range(2 * n) if c not in fixed]
    rhs = target - sum(a[:, c] * v for c, v in fixed.items())
    sub = a[:, free]
    used = np.flatnonzero(np.any(sub != 0, axis=0))
    if rows == 0 or len(used) < len(free):
        missing = sorted(free[c] % n for c in set(range(len(free))) - set(used.tolist()))
        raise MethodInputError("some countries have no pair reported by both sides, so their factors "
                               f"cannot be estimated (country indices {missing}); drop them first.")
    sol, *_ = np.linalg.lstsq(sub, rhs, rcond=None)
    x = np.empty(2 * n)
    x[free] = sol
    for c, v in fixed.items():
        x[c] = v
    r, s = (np.exp(x[:n]), np.exp(x[n:])) if scale == "log" else (x[:n], x[n:])
    if np.any(r <= 0) or np.any(s <= 0):
        raise MethodInputError("the estimated correction factors are not all positive: the reported flows "
                               "disagree too much for one factor per country and side; check the data.")
    resid = float(np.sqrt(np.mean((a @ x - target) ** 2))) if rows else 0.0
    ec, ic = e * s[:, None], im * r[None, :]
    harmonised = np.where(np.isnan(ec), ic, np.where(np.isnan(ic), ec, (ec + ic) / 2))
    np.fill_diagonal(harmonised, np.nan)
    return MirrorResult(e, im, s, r, harmonised, reference, resid, rows,
                        options={"reference_sides": reference_sides, "scale": scale})
