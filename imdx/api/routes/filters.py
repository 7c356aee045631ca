"""Dimension filters from query parameters, resolved by :mod:`imdx.query` one parameter at a time
(so that an error names the parameter), plus the ``edition`` and ``source`` checks."""

from __future__ import annotations

import re

from starlette.requests import Request

from imdx.api.errors import ApiError, from_query_error
from imdx.api.params import single
from imdx.errors import QueryError
from imdx.model.dataflows import Dataflow
from imdx.revisions import resolve
from imdx.store.base import Store

_YEAR_PART = re.compile(r"\d{1,4}(:\d{1,4})?")


def dimension_filters(store: Store, flow: Dataflow, request: Request) -> dict[str, list]:
    resolved: dict[str, list] = {}
    for dim in flow.dimension_names:
        raw = request.query_params.getlist(dim)
        if not raw:
            continue
        parts = [p.strip() for item in raw for p in item.split(",") if p.strip()]
        if not parts:
            raise ApiError(400, "malformed-value", f"{dim}= is empty: give one or more codes, e.g. "
                           f"{dim}={'2020' if dim == 'year' else 'X,Y'}, or leave {dim} out for all", dim)
        if dim == "year":
            for part in parts:
                if not _YEAR_PART.fullmatch(part) or (":" in part and
                                                      int(part.split(":")[0]) > int(part.split(":")[1])):
                    raise ApiError(400, "malformed-value", f"year={part!r} is not a year or period: use 2020, "
                                   "2010:2020 (first year first) or 2015,2020", "year")
        try:
            resolved.update(resolve(store, flow.id, {dim: parts}))
        except QueryError as err:
            raise from_query_error(err, dim) from None
    return resolved


def edition_and_source(request: Request, flow: Dataflow, present) -> tuple[str | None, str | None]:
    """The ``edition`` and ``source`` parameters, each checked against what is stored for the dataflow."""
    rows = present[present["dataflow"] == flow.id]
    source = single(request, "source")
    if source is not None and source not in set(rows["source"]):
        known = ", ".join(dict.fromkeys(rows["source"])) or "none (nothing of it is loaded)"
        raise ApiError(400, "unknown-code", f"source={source!r} has no releases of {flow.id}; sources with "
                       f"releases of it: {known}", "source")
    if source is not None:
        rows = rows[rows["source"] == source]
    edition = single(request, "edition")
    if edition is not None and edition not in set(rows["edition"]):
        known = ", ".join(dict.fromkeys(rows["edition"])) or "none (nothing of it is loaded)"
        raise ApiError(400, "unknown-edition", f"edition={edition!r} is not an edition of {flow.id}; its editions "
                       f"are: {known} (leave edition out for the latest values)", "edition")
    return edition, source
