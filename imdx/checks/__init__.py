"""Validation rules run after every load. Each rule is a function ``(flow, frame, areas) -> issues``.

Add a rule by writing the function in a module of this package and listing it in ``RULES``.
"""

from __future__ import annotations

from imdx.checks.rules import RULES
from imdx.codes.areas import Areas
from imdx.model import dataflows
from imdx.model.report import Issue


def run(flow_id: str, frame, areas: Areas, *, source: str, flow=None) -> list[Issue]:
    """Every rule on one harmonised table; ``flow`` defaults to imdx's own definition of ``flow_id``."""
    flow = flow or dataflows.get(flow_id)
    issues = []
    for rule in RULES:
        for issue in rule(flow, frame, areas):
            issues.append(Issue(**{**issue.__dict__, "source": source, "dataflow": flow_id}))
    return issues
