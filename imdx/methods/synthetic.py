"""Synthetic stock tables for tests and benchmarks, generated the way the migest oracle README (section 2)
describes its n = 50 / n = 200 cases, with a seeded numpy generator (so the numbers are not R's, but
the structure is: same sizes, shares, sparsity and simulated five-year process).

The generator draws 6 "continents" and 2-D coordinates; log-normal populations (median 4 M, clipped
to 5 000-1.4 bn); foreign-born shares Beta(1.1, 12) with 4 % of regions at 35-85 % (Gulf-like);
bilateral foreign-born by a gravity pattern with log-normal noise, cells < 10 set to 0; diagonal =
population - foreign-born. A true five-year process follows: deaths by residence (crude death rate
5-13 per 1000 a year), moves between residences by birthplace (natives 0.3-3 %, foreign-born 5-25 %
per five years, distance decay, diaspora pull and a x10 return bonus), births added to the natives
(crude birth rate 8-40 per 1000 a year). The end table gets 5 % log-normal noise and is rounded; then
the native-born of the largest region is shifted so that world stock change = births - deaths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticCase", "synthetic_case"]


@dataclass(frozen=True)
class SyntheticCase:
    stock_start: np.ndarray   # birthplace x residence
    stock_end: np.ndarray     # balanced: sum(end) - sum(start) == sum(births) - sum(deaths)
    births: np.ndarray
    deaths: np.ndarray
    distance: np.ndarray
    true_od: np.ndarray       # simulated origin x destination moves (diagonal 0)
    seed: int


def synthetic_case(n: int = 200, seed: int = 200200) -> SyntheticCase:
    """A synthetic n-region case (default: the benchmark's n = 200).

    >>> c = synthetic_case(20, seed=1)
    >>> c.stock_start.shape, bool(c.stock_end.sum() - c.stock_start.sum() == c.births.sum() - c.deaths.sum())
    ((20, 20), True)
    """
    rng = np.random.default_rng(seed)
    continent = rng.integers(0, 6, n)
    centres = rng.uniform(0, 10, (6, 2))
    xy = centres[continent] + rng.normal(0, 1.0, (n, 2))
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    pop = np.clip(np.exp(rng.normal(np.log(4e6), 1.6, n)), 5e3, 1.4e9)
    share = rng.beta(1.1, 12, n)
    gulf = rng.random(n) < 0.04
    share[gulf] = rng.uniform(0.35, 0.85, gulf.sum())
    fb = pop * share
    same = (continent[:, None] == continent[None, :]) * 1.5 + 1.0
    grav = pop[:, None] ** 0.8 * same / (dist + 0.5) ** 1.5 * np.exp(rng.normal(0, 1.0, (n, n)))
    np.fill_diagonal(grav, 0.0)
    s0 = grav / grav.sum(axis=0, keepdims=True) * fb[None, :]
    s0 = np.round(s0)
    s0[s0 < 10] = 0
    np.fill_diagonal(s0, 0.0)
    np.fill_diagonal(s0, np.round(pop) - s0.sum(axis=0))
    # five-year process
    cdr = rng.uniform(0.005, 0.013, n) * 5
    deaths_cells = s0 * cdr[None, :]
    alive = s0 - deaths_cells
    move_native = rng.uniform(0.003, 0.03, n)
    move_fb = rng.uniform(0.05, 0.25, n)
    pull = 1.0 / (dist + 0.5) ** 1.2
    np.fill_diagonal(pull, 0.0)
    flows = np.zeros((n, n, n))           # f[i, j, k]
    for k in range(n):
        rate = np.where(np.arange(n) == k, move_native, move_fb)        # by residence i
        leave = alive[k, :] * rate
        attract = pull * (alive[k, :][None, :] + 1.0)                   # diaspora pull
        attract[:, k] *= 10.0                                           # return bonus
        np.fill_diagonal(attract, 0.0)
        attract /= attract.sum(axis=1, keepdims=True)
        flows[:, :, k] = leave[:, None] * attract
        flows[np.arange(n), np.arange(n), k] = alive[k, :] - leave
    survivors_end = flows.sum(axis=0).T                                 # k x j
    cbr = rng.uniform(0.008, 0.04, n) * 5
    births = np.round(pop * cbr)
    s1 = survivors_end.copy()
    s1[np.arange(n), np.arange(n)] += births
    s1 = np.round(s1 * np.exp(rng.normal(0, 0.05, (n, n))))
    s1[s0 + s1 == 0] = 0
    deaths = np.round(deaths_cells.sum(axis=0))
    gap = (births.sum() - deaths.sum()) - (s1.sum() - s0.sum())
    big = int(np.argmax(pop))
    s1[big, big] += gap
    od = flows.sum(axis=2)
    np.fill_diagonal(od, 0.0)
    return SyntheticCase(s0, s1, births, deaths, dist, od, seed)
