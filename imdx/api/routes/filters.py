"""Dimension filters from query parameters, resolved by :mod:`imdx.query` one parameter at a time
(so that an error names the parameter), plus the ``edition`` and ``source`` checks."""

from __future__ import annotations

import re

from starlette.requests import Request

from imdx.api.errors import ApiError, from_query_error, shown
from imdx.api.params import codes, single
from imdx.api.state import FlowReleases
from imdx.errors import QueryError
from imdx.model.dataflows import Dataflow
from imdx.revisions import resolve
from imdx.store.base import Store

_YEAR_PART = re.compile(r"[0-9]{1,4}(:[0-9]{1,4})?", re.ASCII)
#: the years a filter may name (a period is cut to them)
FIRST_YEAR, LAST_YEAR = 1000, 2999


def dimension_filters(store: Store, flow: Dataflow, request: Request) -> dict[str, list]:
    resolved: dict[str, list] = {}
    for dim in flow.dimension_names:
        parts = codes(request, dim)
        if parts is None:
            continue
        if dim == "year":
            parts = [_period(part) for part in parts]
        try:
            resolved.update(resolve(store, flow.id, {dim: parts}))
        except QueryError as err:
            raise from_query_error(err, dim) from None
    return resolved


def _period(part: str) -> str:
    """A year or a period, checked (ASCII digits, first year first) and cut to FIRST_YEAR–LAST_YEAR."""
    if not _YEAR_PART.fullmatch(part):
        raise ApiError(400, "malformed-value", f"year={shown(part, 40)!r} is not a year or period: use 2020, "
                       "2010:2020 (first year first) or 2015,2020", "year")
    low, _, high = part.partition(":")
    first, last = int(low), int(high or low)
    if first > last:
        raise ApiError(400, "malformed-value", f"year={part!r} is not a year or period: use 2020, 2010:2020 (first "
                       "year first) or 2015,2020", "year")
    first, last = max(first, FIRST_YEAR), min(last, LAST_YEAR)
    return f"{first}:{last}" if first <= last else str(first if first > LAST_YEAR else last)


def edition_and_source(request: Request, flow: Dataflow, held: FlowReleases) -> tuple[str | None, str | None]:
    """The ``edition`` and ``source`` parameters, each checked against what is stored for the dataflow."""
    source = single(request, "source")
    if source is not None and source not in held.by_source:
        known = ", ".join(held.sources) or "none (nothing of it is loaded)"
        raise ApiError(400, "unknown-code", f"source={shown(source, 60)!r} has no releases of {flow.id}; sources with "
                       f"releases of it: {known}", "source")
    editions = held.editions if source is None else [e for e in held.editions if e in held.by_source[source]]
    edition = single(request, "edition")
    if edition is not None and edition not in editions:
        known = ", ".join(editions) or "none (nothing of it is loaded)"
        raise ApiError(400, "unknown-edition", f"edition={shown(edition, 60)!r} is not an edition of {flow.id}; its "
                       f"editions are: {known} (leave edition out for the latest values)", "edition")
    return edition, source
