"""Validation rules run after every load. Each rule is a function ``(flow, frame, areas, context) -> issues``.

Add a rule by writing the function in a module of this package and listing it in ``RULES``. The
context carries what the rules must not hard-code: the source's :class:`Tolerance` for the dataflow.
"""

from __future__ import annotations

from imdx.checks.rules import RULES, Context
from imdx.checks.tolerance import ROUNDED, Tolerance
from imdx.codes.areas import Areas
from imdx.model import dataflows
from imdx.model.report import Issue


def run(flow_id: str, frame, areas: Areas, *, source: str, flow=None,
        tolerance: Tolerance | None = None) -> list[Issue]:
    """Every rule on one harmonised table; ``flow`` defaults to imdx's own definition of ``flow_id``,
    ``tolerance`` to what the source declares for the dataflow (:func:`declared_tolerance`)."""
    flow = flow or dataflows.get(flow_id)
    context = Context(source, tolerance or declared_tolerance(source, flow_id))
    issues = []
    for rule in RULES:
        for issue in rule(flow, frame, areas, context):
            issues.append(Issue(**{**issue.__dict__, "source": source, "dataflow": flow_id}))
    return issues


def declared_tolerance(source: str, flow_id: str) -> Tolerance:
    """The tolerance the source declares for the dataflow (:attr:`imdx.sources.base.Source.tolerance`);
    rounded figures for a source imdx does not know (an SDMX message, a test)."""
    from imdx.sources import registry

    known = registry().get(source)
    return known.tolerance_for(flow_id) if known is not None else ROUNDED
