"""``/api/v1/diff/{dataflow}?from=E1&to=E2``: revisions between two editions (see :mod:`imdx.revisions`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from imdx.api import params
from imdx.api.encode import csv_bytes, frame_table, json_bytes, records
from imdx.api.errors import ApiError
from imdx.api.openapi import error_responses, filters_object, format_param, paging_parameters, query_param
from imdx.api.responses import Body, respond
from imdx.api.routes.data import _check_size, _flow
from imdx.api.routes.filters import dimension_filters
from imdx.api.state import ApiState
from imdx.revisions import diff, summary

CONTROL = ["from", "to", "source", "format", "page", "page_size"]


def compute(state: ApiState, request: Request, flow_id: str) -> Body:
    store = state.store
    flow = _flow(state, store, flow_id)
    params.check_known(request, flow.dimension_names + CONTROL, f"/api/v1/diff/{flow.id}")
    fmt = params.output_format(request, ("json", "csv"))
    page, size = params.paging(request, fmt)
    editions: dict[str, str] = {}
    for which in ("from", "to"):
        given = params.single(request, which)
        if not given:
            known = ", ".join(state.releases_of(flow.id).editions)
            raise ApiError(400, "missing-parameter", f"give the editions to compare as from=...&to=...; the "
                           f"editions of {flow.id} are: {known or 'none (nothing of it is loaded)'}", which)
        editions[which] = given
    filters = dimension_filters(store, flow, request)
    if not filters:  # both editions are read whole: bounded as an unfiltered data query is
        for which in ("from", "to"):
            _check_size(state, flow, editions[which], params.single(request, "source"), None)
    codes = {dim: values for dim, values in filters.items()}
    changes = diff(store, flow.id, editions["from"], editions["to"], source=params.single(request, "source"),
                   **codes)
    counts = summary(changes)
    start, stop, pages = params.page_bounds(len(changes), page, size)
    chunk = frame_table(changes.iloc[start:stop])
    link = params.links(request, page, pages)
    headers = {"X-Total-Count": str(len(changes)), "X-Page": str(page), "X-Pages": str(pages),
               "Link": params.link_header(link)}
    if fmt == "csv":
        name = f"{flow.id}-{editions['from']}-to-{editions['to']}.csv"
        return Body(csv_bytes(chunk), params.MEDIA_TYPES["csv"],
                    {**headers, "Content-Disposition": f'attachment; filename="{name}"'})
    document = {"dataflow": flow.id, "unit": flow.unit, "from": editions["from"], "to": editions["to"],
                "filters": filters, "counts": counts, "total": len(changes), "page": page, "page_size": size,
                "pages": pages, "links": link, "columns": chunk.column_names, "data": records(chunk)}
    return Body(json_bytes(document), params.MEDIA_TYPES["json"], headers)


def register(app: FastAPI, state: ApiState) -> None:
    async def revisions(request: Request, dataflow: str) -> Response:
        return await respond(request, lambda: compute(state, request, dataflow))

    app.add_api_route(
        "/api/v1/diff/{dataflow}", revisions, methods=["GET"], tags=["revisions"], name="diff", operation_id="diff",
        summary="What changed between two editions: values changed (absolute, relative), keys appeared or vanished",
        response_class=Response, responses=error_responses(404),
        openapi_extra={"parameters": [
            query_param("from", "The older edition (see /api/v1/dataflows/{id}).", required=True, example="2019"),
            query_param("to", "The newer edition.", required=True, example="2020"),
            query_param("source", "Only releases of this source (when several publish the dataflow)."),
            filters_object(), format_param(("json", "csv"))] + paging_parameters(state.limits, ("json", "csv"))})
