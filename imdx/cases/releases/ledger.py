"""The privacy-budget ledger: each dataset has a total epsilon; every DP release spends part of it.

Privacy losses add up across releases (basic sequential composition, the worst case the CTDC
codebook describes: "the worst-case privacy loss across a series of releases is simply the sum of
the individual privacy budgets"). :func:`charge` refuses, before anything is published, any
release that would take the dataset's cumulative epsilon (or delta) past its budget. The check and
the charge happen in one transaction under the store's lock, so two approvals cannot both slip
under the limit.

Datasets overlap: ``all`` holds every organisation's records. A person of organisation X is
exposed by releases on ``all`` *and* on ``X``, so the loss counted for X is ``spent(all) +
spent(X)``, and a release on ``all`` must fit the budget of the most exposed organisation.
"""

from __future__ import annotations

import math

from imdx.cases.db import CaseStore
from imdx.cases.errors import BudgetExceeded

DELTA_BUDGET = 1e-5
ALL = "all"


def _sums(rows) -> dict[str, tuple[float, float]]:
    by: dict[str, tuple[list, list]] = {}
    for dataset, eps, delta in rows:
        by.setdefault(dataset, ([], []))
        by[dataset][0].append(eps)
        by[dataset][1].append(delta)
    return {d: (math.fsum(e), math.fsum(x)) for d, (e, x) in by.items()}


def exposure(sums: dict[str, tuple[float, float]], dataset: str) -> tuple[float, float]:
    """The loss already spent on the people of ``dataset``: what was spent on ``all`` plus, for one
    organisation, what was spent on it alone; for ``all``, the worst organisation."""
    spent_all = sums.get(ALL, (0.0, 0.0))
    if dataset == ALL:
        parts = [v for d, v in sums.items() if d != ALL] or [(0.0, 0.0)]
        worst_eps = max(p[0] for p in parts)
        worst_delta = max(p[1] for p in parts)
        return math.fsum([spent_all[0], worst_eps]), math.fsum([spent_all[1], worst_delta])
    own = sums.get(dataset, (0.0, 0.0))
    return math.fsum([spent_all[0], own[0]]), math.fsum([spent_all[1], own[1]])


def spent(store: CaseStore, dataset: str) -> tuple[float, float]:
    """``(epsilon, delta)`` already spent on the people of ``dataset`` (see :func:`exposure`)."""
    return exposure(_sums(store.query("SELECT dataset, epsilon, delta FROM budget_ledger")), dataset)


def check(store: CaseStore, dataset: str, epsilon: float, delta: float, budget: float,
          delta_budget: float = DELTA_BUDGET) -> None:
    """Raise :class:`BudgetExceeded` now if spending ``epsilon`` would pass the budget (no charge)."""
    eps_spent, delta_spent = spent(store, dataset)
    if math.fsum([eps_spent, epsilon]) > budget or math.fsum([delta_spent, delta]) > delta_budget:
        raise BudgetExceeded(_refusal(dataset, budget - eps_spent, budget, epsilon, delta))


def _refusal(dataset: str, left: float, budget: float, epsilon: float, delta: float) -> str:
    return (f"dataset {dataset!r} has epsilon {max(left, 0):.4g} left of {budget:g}; this release asks "
            f"for {epsilon:.4g} (delta {delta:.2g}). Ask for less epsilon, or the data protection officer "
            "may decide a new budget (IMDX_CASES_EPSILON_BUDGET) for new data.")


def charge(store: CaseStore, dataset: str, release_id: str, epsilon: float, delta: float, budget: float,
           delta_budget: float = DELTA_BUDGET) -> float:
    """Record the spending of ``epsilon`` (and ``delta``) by ``release_id``; return what remains."""
    if not (epsilon > 0 and math.isfinite(epsilon)) or not (delta >= 0 and math.isfinite(delta)):
        raise BudgetExceeded("a release must spend a positive, finite epsilon and a non-negative delta")
    with store.transaction() as con:
        sums = _sums(con.execute("SELECT dataset, epsilon, delta FROM budget_ledger").fetchall())
        eps_spent, delta_spent = exposure(sums, dataset)
        eps_total, delta_total = math.fsum([eps_spent, epsilon]), math.fsum([delta_spent, delta])
        if eps_total > budget or delta_total > delta_budget:
            raise BudgetExceeded(_refusal(dataset, budget - eps_spent, budget, epsilon, delta))
        con.execute("INSERT INTO budget_ledger VALUES (?, ?, ?, ?, now())", [dataset, release_id, epsilon, delta])
    return budget - eps_total
