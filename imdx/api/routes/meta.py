"""The catalogue and provenance: ``/api/v1/dataflows``, ``/api/v1/areas``, ``/api/v1/releases``,
``/api/v1/report``, and the index ``/api/v1``."""

from __future__ import annotations

import re

import pandas as pd
from fastapi import FastAPI, Request
from starlette.responses import Response

from imdx.api import params
from imdx.api.encode import csv_bytes, frame_table, json_bytes, records
from imdx.api.errors import ApiError, shown
from imdx.api.openapi import error_responses, format_param, linked, paging_parameters, query_param, text
from imdx.api.responses import Body, respond
from imdx.api.routes.data import _flow
from imdx.api.state import ApiState
from imdx.model.codelists import OBS_STATUS
from imdx.model.dataflows import Dataflow
from imdx.sources.fetch import public_origin

_SEARCH_TEXT = re.compile(r"[\w\s.,'’()&/+-]{1,100}")
_AREA_FIELDS = ["code", "name", "kind", "m49", "iso3", "iso2", "region", "subregion", "intermediate_region",
                "sdg_region", "wb_income", "un_development", "ldc", "lldc", "sids"]


def _json(document) -> Body:
    return Body(json_bytes(document), params.MEDIA_TYPES["json"])


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _plain(frame: pd.DataFrame) -> list[dict]:
    return records(frame_table(frame.astype(object).where(frame.notna(), None)))


# -- dataflows --------------------------------------------------------------------------------
def describe(state: ApiState, store, flow: Dataflow, detail: bool) -> dict:
    rows = state.editions[state.editions["dataflow"] == flow.id]
    dims = []
    for dim in flow.dimensions:
        item: dict[str, object] = {"name": dim.name, "description": dim.description, "codelist": dim.codelist}
        if dim.is_area:
            item["codes_url"] = "/api/v1/areas"
            areas = store.areas()
            if detail and len(rows) and areas is not None:
                item["codes"] = {c: areas.name(c) for c in store.distinct(flow.id, dim.name) if c is not None}
        elif dim.codes() is not None:
            item["codes"] = dim.codes()
        elif len(rows):
            item["codes"] = {c: c for c in store.distinct(flow.id, dim.name) if c is not None}
        dims.append(item)
    year: dict[str, object] = {"name": "year", "codelist": "year",
                               "description": "Calendar year (mid-year or end-year for stocks, as the source says)"}
    if detail and len(rows):
        years = [y for y in store.distinct(flow.id, "year") if y is not None]
        year["range"] = [min(years), max(years)] if years else None
    dims.append(year)
    editions = [{"source": r.source, "edition": r.edition, "published": _day(r.published),
                 "release_id": int(r.release_id),
                 "release": r.key, "n_obs": int(r.n_obs)} for r in rows.itertuples(index=False)]
    return {"id": flow.id, "name": flow.name, "description": flow.description, "unit": flow.unit,
            "dimensions": dims,
            "attributes": {"obs_status": OBS_STATUS, "definition": dict(flow.definitions)},
            "editions": editions, "n_obs": int(rows["n_obs"].sum()),
            "links": {"self": f"/api/v1/dataflows/{flow.id}", "data": f"/api/v1/data/{flow.id}",
                      "diff": f"/api/v1/diff/{flow.id}"}}


def dataflows(state: ApiState, request: Request) -> Body:
    params.check_known(request, [], "/api/v1/dataflows")
    store = state.store
    items = [describe(state, store, store.dataflow(i), detail=False) for i in state.dataflow_ids]
    return _json({"dataflows": items, "total": len(items)})


def dataflow(state: ApiState, request: Request, flow_id: str) -> Body:
    params.check_known(request, [], f"/api/v1/dataflows/{flow_id}")
    store = state.store
    return _json(describe(state, store, _flow(state, store, flow_id), detail=True))


# -- areas ------------------------------------------------------------------------------------
def areas(state: ApiState, request: Request) -> Body:
    params.check_known(request, ["q", "kind", "format", "page", "page_size"], "/api/v1/areas")
    fmt = params.output_format(request, ("json", "csv"))
    page, size = params.paging(request, fmt)
    table = state.store.areas()
    if table is None:
        raise ApiError(404, "empty-store", "the store holds no areas yet: load it with `imdx load`", None)
    q = params.single(request, "q") or None  # an empty q lists every area
    if q is not None and not _SEARCH_TEXT.fullmatch(q):
        raise ApiError(400, "malformed-value", "q must be 1 to 100 letters, digits, spaces or . , ' ( ) & / + - "
                       "(part of a name or code, e.g. q=korea or q=DEU)", "q")
    kind = params.single(request, "kind")
    if kind is not None and kind not in ("country", "aggregate", "residual"):
        raise ApiError(400, "unknown-code", f"kind={shown(kind, 40)!r} is not a kind of area; use country, "
                       "aggregate or residual", "kind")
    frame = (table.search(q, limit=10**9) if q else table.frame).reset_index(drop=True)
    if kind:
        frame = frame[frame["kind"] == kind]
    if q:  # exact code, ISO3, M49 or name matches first
        exact = table.resolve(q).code
        frame = frame.assign(_rank=(frame["code"] != exact).astype(int)).sort_values(["_rank", "code"])
    frame = frame.reindex(columns=_AREA_FIELDS).reset_index(drop=True)
    start, stop, pages = params.page_bounds(len(frame), page, size)
    chunk = frame.iloc[start:stop]
    if fmt == "csv":
        return Body(csv_bytes(frame_table(chunk.astype("string"))), params.MEDIA_TYPES["csv"])
    return _json({"q": q, "kind": kind, "total": len(frame), "page": page, "page_size": size, "pages": pages,
                  "links": params.links(request, page, pages), "data": _plain(chunk)})


# -- releases ---------------------------------------------------------------------------------
def releases(state: ApiState, request: Request) -> Body:
    params.check_known(request, ["source", "dataflow"], "/api/v1/releases")
    source, flow_id = params.single(request, "source"), params.single(request, "dataflow")
    store = state.store
    rel = store.releases()
    files = store.release_files()
    if source is not None and source not in set(rel["source"]):
        raise ApiError(400, "unknown-code", f"source={shown(source, 60)!r} has no releases in this store; sources: "
                       f"{', '.join(dict.fromkeys(rel['source']))}", "source")
    if flow_id is not None and flow_id not in state.dataflow_ids:
        raise ApiError(400, "unknown-dataflow", f"dataflow={shown(flow_id, 60)!r} is not a dataflow; see "
                       "/api/v1/dataflows", "dataflow")
    items = []
    for r in rel.itertuples(index=False):
        flows = state.editions[state.editions["release_id"] == r.release_id]
        if (source and r.source != source) or (flow_id and flow_id not in set(flows["dataflow"])):
            continue
        mine = files[files["release_id"] == r.release_id].drop(columns=["release_id"])
        mine = mine.assign(retrieved_from=[public_origin(v) for v in mine["retrieved_from"]])
        items.append({"release_id": int(r.release_id), "source": r.source, "key": r.key, "title": r.title,
                      "edition": r.edition, "published": _day(r.published), "loaded_at": r.loaded_at,
                      "licence": r.licence,
                      "dataflows": [{"id": f.dataflow, "n_obs": int(f.n_obs)} for f in flows.itertuples()],
                      "n_obs": int(flows["n_obs"].sum()), "files": _plain(mine)})
    return _json({"releases": items, "total": len(items)})


# -- report -----------------------------------------------------------------------------------
def report(state: ApiState, request: Request) -> Body:
    params.check_known(request, ["source", "area", "severity", "type", "format", "page", "page_size"],
                       "/api/v1/report")
    fmt = params.output_format(request, ("json", "csv"))
    page, size = params.paging(request, fmt)
    store = state.store
    everything = store.issues()
    source, area = params.single(request, "source"), params.single(request, "area")
    severity, kind = params.single(request, "severity"), params.single(request, "type")
    known_sources = set(state.editions["source"]) | set(everything["source"].dropna())
    if source is not None and source not in known_sources:
        raise ApiError(400, "unknown-code", f"source={shown(source, 60)!r} is not a source in this store; sources: "
                       f"{', '.join(sorted(known_sources))}", "source")
    if area is not None:
        areas = state.store.areas()
        code = areas.resolve(area).code if areas is not None and len(area) <= 200 else None
        if code is None and area not in set(everything["area"].dropna()):
            raise ApiError(400, "unknown-code", f"area={shown(area, 60)!r} is neither a known area (ISO3, M49 code or "
                           "name; /api/v1/areas?q= searches) nor a name the report mentions", "area")
        area = code or area
    if severity is not None and severity not in ("error", "warning", "info"):
        raise ApiError(400, "unknown-code", f"severity={shown(severity, 40)!r}: use error, warning or info", "severity")
    if kind is not None and kind not in set(everything["type"]):
        raise ApiError(400, "unknown-code", f"type={shown(kind, 60)!r} is not an issue type in the report; types: "
                       f"{', '.join(sorted(set(everything['type'])))}", "type")
    frame = everything
    for col, value in (("source", source), ("area", area), ("severity", severity), ("type", kind)):
        if value is not None:
            frame = frame[frame[col] == value]
    frame = frame.reset_index(drop=True)
    start, stop, pages = params.page_bounds(len(frame), page, size)
    chunk = frame.iloc[start:stop]
    if fmt == "csv":
        return Body(csv_bytes(frame_table(chunk)), params.MEDIA_TYPES["csv"])
    counts = frame.groupby(["severity", "type"]).size().reset_index(name="issues") if len(frame) else frame[[]]
    return _json({"filters": {"source": source, "area": area, "severity": severity, "type": kind},
                  "total": len(frame), "counts": _plain(counts) if len(frame) else [],
                  "page": page, "page_size": size, "pages": pages, "links": params.links(request, page, pages),
                  "data": _plain(chunk)})


def index(state: ApiState, request: Request) -> Body:
    params.check_known(request, [], "/api/v1")
    return _json({"name": "imdx API", "version": "v1", "openapi": "/api/v1/openapi.json",
                  "routes": {"dataflows": "/api/v1/dataflows", "dataflow": "/api/v1/dataflows/{id}",
                             "data": "/api/v1/data/{dataflow}", "diff": "/api/v1/diff/{dataflow}?from=&to=",
                             "areas": "/api/v1/areas?q=", "releases": "/api/v1/releases",
                             "report": "/api/v1/report?source=&area="},
                  "dataflows": state.dataflow_ids})


def register(app: FastAPI, state: ApiState) -> None:
    def add(path, fn, summary, parameters=(), tags=("catalogue",), with_id=False, errors=(404,), links=None,
            operation_id=None):
        async def with_id_endpoint(request: Request, id: str) -> Response:
            return await respond(request, lambda: fn(state, request, id))

        async def plain_endpoint(request: Request) -> Response:
            return await respond(request, lambda: fn(state, request))

        endpoint = with_id_endpoint if with_id else plain_endpoint
        app.add_api_route(path, endpoint, methods=["GET"], summary=summary, tags=list(tags), name=fn.__name__,
                          response_class=Response, responses={**(links or {}), **error_responses(*errors)},
                          operation_id=operation_id,
                          openapi_extra={"parameters": list(parameters)} if parameters else None)

    add("/api/v1", index, "Index of the API's routes and dataflows", errors=())
    add("/api/v1/dataflows", dataflows, "Every dataflow: dimensions, code lists, unit, definitions, editions",
        errors=(), links=linked("The dataflows", dataflow=("dataflow", {"id": "$response.body#/dataflows/0/id"}),
                                data=("data", {"dataflow": "$response.body#/dataflows/0/id"})))
    add("/api/v1/dataflows/{id}", dataflow, "One dataflow, with the codes present in each dimension",
        with_id=True, operation_id="dataflow", links=linked(
            "The dataflow", diff=("diff", {"dataflow": "$response.body#/id",
                                          "from": "$response.body#/editions/0/edition",
                                          "to": "$response.body#/editions/1/edition"}),
            data=("data", {"dataflow": "$response.body#/id", "edition": "$response.body#/editions/0/edition"})))
    limits = state.limits
    add("/api/v1/areas", areas, "Countries, areas and aggregates; search by any name or code", [
        query_param("q", "Part of a name (any source's spelling) or code (ISO3, ISO2, M49): 1 to 100 letters, "
                    "digits, spaces or . , ' ( ) & / + -.", text(100), example="korea"),
        query_param("kind", "country, aggregate or residual.", {"type": "string",
                                                                "enum": ["country", "aggregate", "residual"]}),
        format_param(("json", "csv"))] + paging_parameters(limits, ("json", "csv")),
        links=linked("The areas found", research=("library_area", {"code": "$response.body#/data/0/code"}),
                     report=("report", {"area": "$response.body#/data/0/code"})))
    add("/api/v1/releases", releases, "Provenance: every release with its files, checksums, URLs and licence", [
        query_param("source", "Only releases of this source."),
        query_param("dataflow", "Only releases holding this dataflow.")], tags=("provenance",), errors=())
    add("/api/v1/report", report, "The data-issue report, filterable by source and area", [
        query_param("source", "Only issues of this source."),
        query_param("area", "Only issues about this area (code, ISO3, M49 or name; or a name the report cites)."),
        query_param("severity", "error, warning or info.", {"type": "string", "enum": ["error", "warning", "info"]}),
        query_param("type", "An issue type, e.g. unmapped-area."),
        format_param(("json", "csv"))] + paging_parameters(limits, ("json", "csv")), tags=("provenance",),
        operation_id="report")
