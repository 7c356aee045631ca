"""``/api/v1/data/{dataflow}``: observations as JSON, CSV or Parquet, filtered, paged, cacheable.

Rows come in the store's stable order (the dataflow's dimensions, then the source), so page *n*
of a query is always the same rows. A page past the last one is a 404 ``page-out-of-range``
error; the first page of a query that matches nothing is an empty page (``total`` 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import pyarrow as pa
from fastapi import FastAPI, Request
from starlette.responses import Response

from imdx.api import params
from imdx.api.encode import csv_bytes, json_bytes, parquet_bytes, records
from imdx.api.errors import ApiError, from_query_error, shown
from imdx.api.openapi import common_parameters, dimension_parameters, error_responses, filters_object
from imdx.api.responses import Body, respond
from imdx.api.routes.filters import dimension_filters, edition_and_source
from imdx.api.state import ApiState
from imdx.errors import QueryError
from imdx.model.dataflows import Dataflow

CONTROL = ["edition", "as_of", "source", "format", "page", "page_size"]


def _flow(state: ApiState, store, flow_id: str) -> Dataflow:
    if flow_id not in state.dataflow_ids:
        raise ApiError(404, "unknown-dataflow", f"unknown dataflow {shown(flow_id, 80)!r}; known dataflows: "
                       f"{', '.join(state.dataflow_ids)} (see /api/v1/dataflows)", "dataflow")
    try:
        return store.dataflow(flow_id)
    except QueryError as err:
        raise from_query_error(err, "dataflow") from None


def _check_size(state: ApiState, flow: Dataflow, edition, source, as_of) -> None:
    """Refuse (413) an unfiltered query of a dataflow whose releases hold too many observations."""
    stored = sum(n for s, e, published, n in state.releases_of(flow.id).releases
                 if (edition is None or e == edition) and (source is None or s == source)
                 and (as_of is None or published <= as_of))
    limit = state.limits.max_unfiltered_rows
    if stored > limit:
        dims = ", ".join(d.name for d in flow.dimensions)
        raise ApiError(413, "too-large", f"{flow.id} holds {stored:,} observations, more than the "
                       f"{limit:,} one query may cover without a filter; filter it by year or by "
                       f"one of its dimensions ({dims}), e.g. year=2020", None)


def _table(state: ApiState, store, flow: Dataflow, filters, edition, source, as_of):
    key = (state.version, flow.id, tuple(sorted((k, tuple(v)) for k, v in filters.items())), edition, source, as_of)
    table = state.tables.get(key)
    if table is None:
        table = store.select(flow.id, filters, edition=edition, source=source, as_of=as_of)
        state.tables.put(key, table, table.nbytes + 1024)
    return table


@dataclass
class DataQuery:
    """A request for observations, checked and resolved (codes as stored), not yet answered."""

    request: Request
    flow: Dataflow
    fmt: str
    page: int
    size: int
    filters: dict[str, list]
    edition: str | None
    source: str | None
    as_of: date | None


def parse(state: ApiState, request: Request, flow_id: str) -> DataQuery:
    """The request checked (an :class:`ApiError` for anything wrong in it) and its filters resolved."""
    store = state.store
    flow = _flow(state, store, flow_id)
    params.check_known(request, flow.dimension_names + CONTROL, f"/api/v1/data/{flow.id}")
    fmt = params.output_format(request)
    page, size = params.paging(request, fmt)
    edition, source = edition_and_source(request, flow, state.releases_of(flow.id))
    as_of = params.iso_date(request, "as_of")
    filters = dimension_filters(store, flow, request)
    if not filters:
        _check_size(state, flow, edition, source, as_of)
    return DataQuery(request, flow, fmt, page, size, filters, edition, source, as_of)


def compute(state: ApiState, request: Request, flow_id: str) -> Body:
    return answer(state, parse(state, request, flow_id))


def current(state: ApiState, query: DataQuery, read: bool = True):
    """The query's rows chosen from the store's copy of current values in memory
    (:meth:`~imdx.store.base.Store.current`; ``read=False``: only from a copy already in memory), or None when it
    must query them (an edition, a date, no copy)."""
    if query.edition is not None or query.as_of is not None:
        return None
    return state.store.current(query.flow.id, query.filters, source=query.source, read=read)


def answer(state: ApiState, query: DataQuery, rows=None) -> Body:
    """The body of a checked request: its page of the query's rows, as JSON, CSV or Parquet; ``rows``: its
    :func:`current` rows when they were already chosen."""
    request, flow, fmt, page, size = query.request, query.flow, query.fmt, query.page, query.size
    filters, edition, source = query.filters, query.edition, query.source
    as_of = query.as_of
    if rows is None:
        rows = current(state, query)
    if rows is None:  # queried (and the result kept, for its other pages)
        table = _table(state, state.store, flow, filters, edition, source, as_of)
        total = table.num_rows
    else:  # chosen from memory again for another page: cheaper than keeping it
        total = rows.total
    start, stop, pages = params.page_bounds(total, page, size)

    def chunk() -> pa.Table:
        return table.slice(start, stop - start) if rows is None else rows.table(start, stop)

    link = params.links(request, page, pages)
    paging = {"X-Total-Count": str(total), "X-Page": str(page), "X-Page-Size": str(size),
              "X-Pages": str(pages), "Link": params.link_header(link)}
    if fmt == "json":
        data: list[dict] | orjson.Fragment
        if rows is None:
            page_rows = chunk()
            columns, data = page_rows.column_names, records(page_rows)
        else:  # the same bytes as records() of the decoded rows, encoded from the copy
            columns, data = rows.columns, orjson.Fragment(rows.json(start, stop))
        document = {"dataflow": flow.id, "name": flow.name, "unit": flow.unit,
                    "query": {"filters": filters, "edition": edition, "source": source,
                              "as_of": as_of.isoformat() if as_of else None},
                    "total": total, "page": page, "page_size": size, "pages": pages, "links": link,
                    "columns": columns, "data": data}
        return Body(json_bytes(document), params.MEDIA_TYPES["json"], paging)
    name = f"{flow.id}{'-' + edition if edition else ''}{'-p' + str(page) if pages > 1 else ''}.{fmt}"
    headers = {**paging, "Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Body(csv_bytes(chunk()), params.MEDIA_TYPES["csv"], headers)
    meta = {"imdx:dataflow": flow.id, "imdx:unit": flow.unit, "imdx:total": str(total)}
    return Body(parquet_bytes(chunk(), meta), params.MEDIA_TYPES["parquet"], headers)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Observations, one per row, in a stable order. JSON: a document with `data` (rows), "
                         "`total`, `page`, `pages` and `links`; CSV and Parquet: the rows, with the paging in the "
                         "headers `X-Total-Count`, `X-Page`, `X-Pages` and `Link`.",
          "content": {"application/json": {"schema": {
              "type": "object", "required": ["dataflow", "total", "page", "pages", "columns", "data"],
              "properties": {"dataflow": {"type": "string"}, "total": {"type": "integer"},
                             "page": {"type": "integer"}, "pages": {"type": "integer"},
                             "columns": {"type": "array", "items": {"type": "string"}},
                             "data": {"type": "array", "items": {"type": "object"}}}}},
                      "text/csv": {}, "application/vnd.apache.parquet": {}}},
    304: {"description": "Not modified (the If-None-Match ETag still holds)"},
    **error_responses(404, 413)}


def register(app: FastAPI, state: ApiState) -> None:
    def endpoint_for(flow_id: str):
        async def endpoint(request: Request) -> Response:
            return await respond(request, lambda: compute(state, request, flow_id))
        return endpoint

    for flow_id in state.dataflow_ids:
        flow = state.store.dataflow(flow_id)
        held = state.releases_of(flow_id)
        app.add_api_route(f"/api/v1/data/{flow_id}", endpoint_for(flow_id), methods=["GET"], tags=["data"],
                          name=f"data_{flow_id}", summary=f"{flow.name} ({flow.unit})",
                          description=f"{flow.description}\n\nDimensions: {', '.join(flow.dimension_names)}.",
                          response_class=Response, responses=_RESPONSES,
                          openapi_extra={"parameters": dimension_parameters(flow, state.limits) + common_parameters(
                              state.limits, held.editions, held.sources)})

    async def any_dataflow(request: Request, dataflow: str) -> Response:
        return await respond(request, lambda: compute(state, request, dataflow))

    app.add_api_route("/api/v1/data/{dataflow}", any_dataflow, methods=["GET"], tags=["data"], name="data",
                      operation_id="data",
                      summary="Observations of any dataflow (the routes above document each one's filters)",
                      response_class=Response, responses=_RESPONSES,
                      openapi_extra={"parameters": [filters_object()] + common_parameters(state.limits)})
