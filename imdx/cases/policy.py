"""The release policy of a dataset: what protection every release of it must have, whoever asks.

A dataset is one organisation's records. Its data protection officer (DPO) sets its policy
(:func:`set_policy`, audited with the old and the new values); until then the defaults below hold.
A request may ask for *more* protection than the policy (a larger k, less suppression, less
epsilon), never less; the quasi-identifiers are the policy's, and every field that could identify
someone (:data:`KNOWN_QUASI_IDENTIFIERS`) released alongside them is a quasi-identifier too, so no
request can turn one into a plain attribute. :func:`effective_parameters` is the one place where a
request and the policy meet; approval runs it again, so a policy tightened after a request binds it.

=====================  =======================================================================
field                  meaning (default)
=====================  =======================================================================
quasi_identifiers      fields someone may know about a victim (gender, age band, citizenship,
                       country of exploitation, year of registration)
k                      smallest class of quasi-identifiers in a k-anonymised file (11; never
                       below 11)
max_suppression        largest share of records a k-anonymised file may drop (0.05)
epsilon_per_release    largest epsilon one DP or synthetic release may spend (1.0)
epsilon_budget         total epsilon all releases of the dataset may spend (3.0)
delta_budget           total delta (1e-5), for the Gaussian mechanism
=====================  =======================================================================
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace

from imdx.cases.errors import ReleaseError
from imdx.cases.releases.dp import DEFAULT_YEARS, check_tables
from imdx.cases.releases.kanon import (
    DEFAULT_ATTRIBUTES,
    DEFAULT_QUASI_IDENTIFIERS,
    KNOWN_QUASI_IDENTIFIERS,
    NEVER_RELEASED,
)
from imdx.cases.schema import RECORD_FIELDS

K_FLOOR = 11
RELEASABLE = tuple(f for f in RECORD_FIELDS if f not in NEVER_RELEASED)


@dataclass(frozen=True)
class ReleasePolicy:
    quasi_identifiers: tuple[str, ...] = DEFAULT_QUASI_IDENTIFIERS
    k: int = K_FLOOR
    max_suppression: float = 0.05
    epsilon_per_release: float = 1.0
    epsilon_budget: float = 3.0
    delta_budget: float = 1e-5
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        out["quasi_identifiers"] = list(self.quasi_identifiers)
        return out


def _number(value, low: float, high: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


_RULES = {
    "k": (lambda v: isinstance(v, int) and not isinstance(v, bool) and K_FLOOR <= v <= 1000,
          f"a whole number from {K_FLOOR} to 1000"),
    "max_suppression": (lambda v: _number(v, 0, 0.5), "a share between 0 and 0.5"),
    "epsilon_per_release": (lambda v: _number(v, 1e-3, 10), "a number between 0.001 and 10"),
    "epsilon_budget": (lambda v: _number(v, 1e-3, 100), "a number between 0.001 and 100"),
    "delta_budget": (lambda v: _number(v, 0, 1e-3), "a number between 0 and 0.001"),
    "quasi_identifiers": (lambda v: isinstance(v, (list, tuple)) and 0 < len(v) <= len(RELEASABLE)
                          and len(set(v)) == len(v) and all(q in RELEASABLE for q in v),
                          f"a list of distinct fields among {', '.join(RELEASABLE)}"),
}


def validated(changes: dict, current: ReleasePolicy | None = None) -> ReleasePolicy:
    """``current`` (or the default policy) with ``changes`` applied, each checked."""
    if not isinstance(changes, dict):
        raise ReleaseError("a policy is an object of fields: " + ", ".join(_RULES))
    unknown = sorted(set(changes) - set(_RULES))
    if unknown:
        raise ReleaseError(f"unknown policy fields {unknown}; the policy has {', '.join(_RULES)}")
    for name, value in changes.items():
        ok, expected = _RULES[name]
        if not ok(value):
            raise ReleaseError(f"policy field {name} must be {expected}, not {value!r}")
    values = dict(changes)
    if "quasi_identifiers" in values:
        values["quasi_identifiers"] = tuple(values["quasi_identifiers"])
    if "max_suppression" in values:
        values["max_suppression"] = float(values["max_suppression"])
    policy = replace(current or ReleasePolicy(), **values)
    if policy.epsilon_per_release > policy.epsilon_budget:
        raise ReleaseError(f"epsilon_per_release ({policy.epsilon_per_release}) cannot exceed epsilon_budget "
                           f"({policy.epsilon_budget})")
    return policy


def get_policy(store, dataset: str) -> ReleasePolicy:
    """The policy of ``dataset`` (the defaults until its DPO sets one)."""
    rows = store.query("SELECT policy FROM dataset_policies WHERE dataset = ?", [dataset])
    return validated(json.loads(rows[0][0])) if rows else ReleasePolicy()


def set_policy(store, audit, actor: str, dataset: str, changes: dict) -> ReleasePolicy:
    """Apply ``changes`` to the policy of ``dataset``; the audit log keeps the old and the new policy."""
    with store.transaction() as con:
        old = get_policy(store, dataset)
        new = validated(changes, old)
        con.execute("INSERT OR REPLACE INTO dataset_policies VALUES (?, ?, ?, now())",
                    [dataset, json.dumps(new.as_dict()), actor])
        audit.record(actor, "policy:set", dataset, "ok", {"old": old.as_dict(), "new": new.as_dict()})
    return new


# -- requests against the policy ---------------------------------------------------------------------

#: what a requester may ask for, per kind (anything else is refused)
REQUESTABLE = {"k-anonymised": {"k", "attributes", "max_suppression"},
               "dp-aggregates": {"epsilon", "delta", "mechanism", "tables", "years"},
               "synthetic": {"epsilon", "delta", "mechanism", "years"}}

_REQUEST_RULES = {
    "epsilon": (lambda v: _number(v, 1e-6, 100) and v > 0, "a number above 0 (e.g. 0.5)"),
    "delta": (lambda v: _number(v, 0, 1e-3), "a number between 0 and 0.001 (e.g. 1e-6)"),
    "k": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 2 <= v <= 1000, "a whole number"),
    "max_suppression": (lambda v: _number(v, 0, 1), "a share between 0 and 1"),
    "mechanism": (lambda v: v in ("laplace", "gaussian"), "'laplace' or 'gaussian'"),
    "attributes": (lambda v: isinstance(v, list) and len(v) <= len(RECORD_FIELDS)
                   and all(isinstance(x, str) for x in v), "a list of fields"),
    "tables": (lambda v: isinstance(v, list) and 0 < len(v) <= 20 and all(
        isinstance(t, list) and 0 < len(t) <= 3 and all(isinstance(d, str) for d in t) for t in v),
        "a list of up to 20 lists of up to 3 dimensions"),
    "years": (lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(y, int) and not isinstance(y, bool)
                                                                    for y in v) and 1990 <= v[0] <= v[1] <= 2100,
              "[first year, last year]"),
}


def check_request(kind: str, parameters: dict, policy: ReleasePolicy) -> None:
    """Refuse unknown or malformed parameters, and any that would weaken the policy."""
    if not isinstance(parameters, dict):
        raise ReleaseError("parameters must be an object")
    if kind not in REQUESTABLE:
        raise ReleaseError(f"unknown release kind {kind!r}; choose one of {', '.join(REQUESTABLE)}")
    if "quasi_identifiers" in parameters:
        raise ReleaseError("the quasi-identifiers are part of the dataset's release policy, set by its data "
                           "protection officer; a request cannot choose them")
    unknown = sorted(set(parameters) - REQUESTABLE[kind])
    if unknown:
        raise ReleaseError(f"unknown parameters {unknown} for {kind}; allowed: {sorted(REQUESTABLE[kind])}")
    if kind != "k-anonymised" and "epsilon" not in parameters:
        raise ReleaseError(f"a {kind} release needs an epsilon (at most {policy.epsilon_per_release:g} by the "
                           "dataset's policy)")
    for name, value in parameters.items():
        ok, expected = _REQUEST_RULES[name]
        if not ok(value):
            raise ReleaseError(f"parameter {name} must be {expected}, not {value!r}")
    effective_parameters(kind, parameters, policy)


def effective_parameters(kind: str, parameters: dict, policy: ReleasePolicy) -> dict:
    """The parameters a release runs with: the request's, bound by ``policy``. Raises
    :class:`ReleaseError` when the request asks for less protection than the policy gives."""
    if kind == "k-anonymised":
        k = parameters.get("k", policy.k)
        if k < policy.k:
            raise ReleaseError(f"k = {k} is below the dataset's policy (k >= {policy.k}); ask for {policy.k} or more")
        suppression = parameters.get("max_suppression", policy.max_suppression)
        if suppression > policy.max_suppression:
            raise ReleaseError(f"max_suppression {suppression} is above the dataset's policy "
                               f"({policy.max_suppression}); ask for that or less")
        attributes = list(parameters.get("attributes", DEFAULT_ATTRIBUTES))
        barred = sorted({a for a in attributes if a in NEVER_RELEASED or a not in RELEASABLE})
        if barred:
            raise ReleaseError(f"{', '.join(barred)} can never be released: remove them from the attributes")
        qis = list(policy.quasi_identifiers)
        qis += [a for a in attributes if a in KNOWN_QUASI_IDENTIFIERS and a not in qis]
        return {"k": k, "quasi_identifiers": qis, "attributes": [a for a in attributes if a not in qis],
                "max_suppression": suppression}
    if parameters.get("mechanism") == "gaussian" and not parameters.get("delta"):
        raise ReleaseError("the Gaussian mechanism needs a delta above 0 (e.g. 1e-6)")
    if kind == "dp-aggregates" and "tables" in parameters:
        check_tables(parameters["tables"], parameters.get("years", DEFAULT_YEARS))
    epsilon = parameters["epsilon"]
    if epsilon > policy.epsilon_per_release:
        raise ReleaseError(f"epsilon {epsilon:g} is above the dataset's policy ({policy.epsilon_per_release:g} "
                           "per release); ask for that or less")
    return dict(parameters)
