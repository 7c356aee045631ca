"""The privacy-budget ledger: each dataset has a total epsilon; every DP release spends part of it.

Privacy losses add up across releases (basic sequential composition, the worst case the CTDC
codebook describes: "the worst-case privacy loss across a series of releases is simply the sum of
the individual privacy budgets"). :func:`charge` refuses, before anything is published, any
release that would take the dataset's cumulative epsilon (or delta) past its budget. The check and
the charge happen in one transaction under the store's lock, so two approvals cannot both slip
under the limit.

A dataset is one organisation's records, and its budget is in its release policy
(:mod:`imdx.cases.policy`), set by its DPO; the caller passes it in. Databases written before
organisations were kept apart (schema 1) may hold releases of a dataset ``all`` of every
organisation's records: a person of organisation X was exposed by those *and* by releases of X, so
the loss counted for X is ``spent(all) + spent(X)``.
"""

from __future__ import annotations

import math

from imdx.cases.db import CaseStore
from imdx.cases.errors import BudgetExceeded

DELTA_BUDGET = 1e-5
ALL = "all"


def _losses(rows) -> dict[str, tuple[list[float], list[float]]]:
    """Each dataset's individual (epsilon, delta) spendings."""
    by: dict[str, tuple[list[float], list[float]]] = {}
    for dataset, eps, delta in rows:
        by.setdefault(dataset, ([], []))
        by[dataset][0].append(eps)
        by[dataset][1].append(delta)
    return by


def _exposed(losses: dict[str, tuple[list[float], list[float]]], dataset: str) -> tuple[list[float], list[float]]:
    """The losses already spent on the people of ``dataset``: what was spent on ``all`` plus, for one
    organisation, what was spent on it alone; for ``all``, the worst organisation. Kept one by one, so
    that a total is rounded once (``math.fsum`` of them all), never a rounded sum plus one more."""
    on_all = losses.get(ALL, ([], []))
    if dataset == ALL:
        parts = [v for d, v in losses.items() if d != ALL] or [([], [])]
        return (on_all[0] + max((p[0] for p in parts), key=math.fsum),
                on_all[1] + max((p[1] for p in parts), key=math.fsum))
    own = losses.get(dataset, ([], []))
    return on_all[0] + own[0], on_all[1] + own[1]


def exposure(losses: dict[str, tuple[list[float], list[float]]], dataset: str) -> tuple[float, float]:
    """``(epsilon, delta)`` spent on the people of ``dataset`` (see :func:`_exposed`)."""
    eps, delta = _exposed(losses, dataset)
    return math.fsum(eps), math.fsum(delta)


def spent(store: CaseStore, dataset: str) -> tuple[float, float]:
    """``(epsilon, delta)`` already spent on the people of ``dataset`` (see :func:`exposure`)."""
    return exposure(_losses(store.query("SELECT dataset, epsilon, delta FROM budget_ledger")), dataset)


def _totals(losses, dataset: str, epsilon: float, delta: float) -> tuple[float, float]:
    eps, deltas = _exposed(losses, dataset)
    return math.fsum([*eps, epsilon]), math.fsum([*deltas, delta])


def check(store: CaseStore, dataset: str, epsilon: float, delta: float, budget: float,
          delta_budget: float = DELTA_BUDGET) -> None:
    """Raise :class:`BudgetExceeded` now if spending ``epsilon`` would pass the budget (no charge)."""
    losses = _losses(store.query("SELECT dataset, epsilon, delta FROM budget_ledger"))
    eps_total, delta_total = _totals(losses, dataset, epsilon, delta)
    if eps_total > budget or delta_total > delta_budget:
        raise BudgetExceeded(_refusal(dataset, budget - exposure(losses, dataset)[0], budget, epsilon, delta))


def _refusal(dataset: str, left: float, budget: float, epsilon: float, delta: float) -> str:
    return (f"dataset {dataset!r} has epsilon {max(left, 0):.4g} left of {budget:g}; this release asks "
            f"for {epsilon:.4g} (delta {delta:.2g}). Ask for less epsilon; only the dataset's data protection "
            "officer can change its budget, in its release policy (audited).")


def charge(store: CaseStore, dataset: str, release_id: str, epsilon: float, delta: float, budget: float,
           delta_budget: float = DELTA_BUDGET) -> float:
    """Record the spending of ``epsilon`` (and ``delta``) by ``release_id``; return what remains."""
    if not (epsilon > 0 and math.isfinite(epsilon)) or not (delta >= 0 and math.isfinite(delta)):
        raise BudgetExceeded("a release must spend a positive, finite epsilon and a non-negative delta")
    with store.transaction() as con:
        losses = _losses(con.execute("SELECT dataset, epsilon, delta FROM budget_ledger").fetchall())
        eps_total, delta_total = _totals(losses, dataset, epsilon, delta)
        if eps_total > budget or delta_total > delta_budget:
            raise BudgetExceeded(_refusal(dataset, budget - exposure(losses, dataset)[0], budget, epsilon, delta))
        con.execute("INSERT INTO budget_ledger VALUES (?, ?, ?, ?, now())", [dataset, release_id, epsilon, delta])
    return budget - eps_total
