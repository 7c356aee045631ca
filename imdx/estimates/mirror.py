"""The de Beer et al. (2010) mirror method on the stored Eurostat receiving side.

**What is missing.** Harmonising mirror flows needs both sides of each pair: immigration reported by
the receiving country (Eurostat ``migr_imm5prv``, loaded as ``immigration_flows``) *and* emigration
reported by the sending country (Eurostat ``migr_emi3nxt``, emigration by country of next usual
residence). The mirror holds only a derived copy of the receiving side (``eurostat/PROVENANCE.md``):
no emigration table of any agency. So no real pair can be harmonised yet.

What can be done honestly with the real data, and is done here (:func:`coverage_check`): take the
real receiving-side table of one year (pairs among countries that report that year), construct a
sending side from it with *known* correction factors (and optional noise), and check that
:func:`imdx.methods.mirror.harmonise_mirror_flows` recovers the factors on the real pattern of
reported pairs and values. This tests identification on the real coverage (which countries have
enough pairs), not the data: the figures are not harmonised flows. When ``migr_emi3nxt`` (or another
sending-side table) is loaded as a dataflow, :func:`harmonise` runs the method on the real pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imdx.methods.mirror import MirrorResult, harmonise_mirror_flows
from imdx.store.base import Store

REFERENCE = "SWE"  # de Beer et al. (2010) used Sweden


def receiving_side(store: Store, year: int) -> tuple[tuple[str, ...], np.ndarray]:
    """``I[i, j]``: immigrants to j from i reported by j in ``year`` (countries that report that year;
    NaN where not reported; ``_O`` left out)."""
    frame = store.select("immigration_flows", {"year": [year]}).to_pandas()
    frame = frame[(frame["origin"] != "_O") & (frame["destination"] != "_O")]
    reporters = sorted(set(frame["destination"]))
    frame = frame[frame["origin"].isin(reporters)]
    table = (frame.pivot_table(index="origin", columns="destination", values="value", aggfunc="sum")
             .reindex(index=reporters, columns=reporters))
    return tuple(reporters), table.to_numpy(float, copy=True)


@dataclass(frozen=True)
class CoverageCheck:
    year: int
    countries: tuple[str, ...]
    pairs: int
    true_receiving: np.ndarray
    true_sending: np.ndarray
    result: MirrorResult
    noise: float

    @property
    def max_factor_error(self) -> float:
        """Largest relative error of the recovered factors (both sides)."""
        r = np.abs(self.result.receiving_factors / self.true_receiving - 1)
        s = np.abs(self.result.sending_factors / self.true_sending - 1)
        return float(max(r.max(), s.max()))


def coverage_check(store: Store, year: int, *, noise: float = 0.0, seed: int = 1,
                   reference: str = REFERENCE) -> CoverageCheck:
    """Recover known factors from a sending side constructed from the real receiving side of ``year``.

    True flows ``T = I / r`` (``r[j]`` drawn log-uniform in [0.5, 2], the reference's 1); the
    constructed sender reports ``E[i, j] = s'[i] T[i, j]`` with ``s = 1 / s'`` drawn the same way,
    times log-normal noise of sd ``noise``. Countries without a pair reported both ways are dropped.
    """
    rng = np.random.default_rng(seed)
    countries, im = receiving_side(store, year)
    n = len(countries)
    if reference not in countries:
        raise ValueError(f"{reference} does not report immigration by previous residence in {year}")
    ref = countries.index(reference)
    both = ~np.isnan(im) & ~np.isnan(im.T) & (im > 0) & (im.T > 0)
    keep = both.any(axis=0) | both.any(axis=1)
    keep[ref] = True
    idx = np.flatnonzero(keep)
    im = im[np.ix_(idx, idx)]
    countries = tuple(countries[i] for i in idx)
    n, ref = len(countries), countries.index(reference)
    r_true = np.exp(rng.uniform(np.log(0.5), np.log(2), n))
    s_true = np.exp(rng.uniform(np.log(0.5), np.log(2), n))
    r_true[ref] = s_true[ref] = 1.0
    flows = im * r_true[None, :]                      # harmonised = r[j] I[i, j]
    em = flows / s_true[:, None]                       # sender reports E with s[i] E = flows
    if noise:
        em = em * np.exp(rng.normal(0, noise, em.shape))
    em[im == 0] = np.nan
    result = harmonise_mirror_flows(em, im, reference=ref)
    pairs = int((~np.isnan(em) & ~np.isnan(im)).sum())
    return CoverageCheck(year, countries, pairs, r_true, s_true, result, noise)


def harmonise(store: Store, year: int, sending_dataflow: str = "emigration_flows",
              reference: str = REFERENCE) -> MirrorResult:
    """Harmonise real pairs once a sending-side dataflow (emigration by next residence: ``origin`` the
    reporting country, ``destination`` the next residence) is stored. Today there is none."""
    if sending_dataflow not in store.dataflow_ids():
        from imdx.errors import ImdxError

        raise ImdxError(f"no sending-side data: the store has no {sending_dataflow!r} dataflow (Eurostat "
                        "migr_emi3nxt, emigration by next residence, is not in the mirror). Load one first; "
                        "until then only the receiving side (immigration_flows) exists.")
    countries, im = receiving_side(store, year)
    em_frame = store.select(sending_dataflow, {"year": [year]}).to_pandas()
    em = (em_frame.pivot_table(index="origin", columns="destination", values="value", aggfunc="sum")
          .reindex(index=list(countries), columns=list(countries)).to_numpy(float, copy=True))
    return harmonise_mirror_flows(em, im, reference=countries.index(reference))


def coverage_table(store: Store) -> pd.DataFrame:
    """Per year: reporting countries and pairs with a report in both directions (receiving side)."""
    frame = store.select("immigration_flows", {}).to_pandas()
    frame = frame[(frame["origin"] != "_O") & (frame["destination"] != "_O")]
    rows = []
    for year, g in frame.groupby("year"):
        reporters = set(g["destination"])
        pairs = set(zip(g["origin"], g["destination"]))
        mutual = sum(1 for o, d in pairs if (d, o) in pairs)
        rows.append({"year": int(year), "reporters": len(reporters), "pairs": len(pairs),
                     "pairs_reported_both_ways": mutual})
    return pd.DataFrame(rows)
