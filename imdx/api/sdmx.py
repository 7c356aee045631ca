"""SDMX-REST (2.1 style) endpoints under ``/sdmx``, as a FastAPI router.

Mount with ``app.include_router(sdmx_router(get_store))``; ``get_store()`` returns the Store. The
paths (see docs/sdmx.md for examples):

* ``/sdmx/{dataflow|datastructure|codelist|conceptscheme}[/{agency}[/{id}[/{version}]]]``
  (``?references=none|children|descendants|parents|all|datastructure|codelist|conceptscheme|dataflow``);
* ``/sdmx/data/{flow}[/{key}[/{provider}]]`` with ``startPeriod``, ``endPeriod``,
  ``dimensionAtObservation``, ``detail=full|dataonly`` and (imdx extension) ``edition``; the provider
  is the imdx source (``wpp``, ``undesa_ims``, ``sdmx``, ...).

The response format is chosen by the ``Accept`` header or ``format=`` (which wins). Every error is
the JSON envelope the rest of the API uses (:mod:`imdx.api.errors`):
``{"error": {"status", "type", "message", "parameter"}}``. The messages themselves are made by
:mod:`imdx.sdmx` (format code only).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from imdx.api.errors import STATUS_TYPES, ApiError, response_for
from imdx.api.limits import Busy, ComputeSlots, Limits
from imdx.sdmx import data as sdmx_data
from imdx.sdmx.structure import AGENCY_ID, VERSION, Structures, dim_id, sdmx_id
from imdx.store.base import Store

MAX_KEY_LENGTH = 4000

SS = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
GENERIC = "application/vnd.sdmx.genericdata+xml;version=2.1"
JSON = "application/vnd.sdmx.data+json;version=1.0.0"
CSV1 = "application/vnd.sdmx.data+csv;version=1.0.0"
CSV2 = "application/vnd.sdmx.data+csv;version=2.0.0"
STRUCTURE = "application/vnd.sdmx.structure+xml;version=2.1"

#: format= values (SDMX-REST names and short aliases) → media type
DATA_FORMATS = {"structurespecificdata": SS, "genericdata": GENERIC, "jsondata": JSON, "csvdata": CSV1,
                "csvdata2": CSV2, "structurespecific": SS, "generic": GENERIC, "xml": GENERIC, "json": JSON,
                "csv": CSV1}
STRUCTURE_FORMATS = {"structure": STRUCTURE, "xml": STRUCTURE}
STRUCTURE_RESOURCES = ("dataflow", "datastructure", "codelist", "conceptscheme")
REFERENCES = ("none", "parents", "parentsandsiblings", "children", "descendants", "all", "dataflow",
              "datastructure", "codelist", "conceptscheme")
DEFAULT_LIMITS = Limits()
_PERIOD = re.compile(r"(\d{4})(-(0[1-9]|1[0-2])(-\d{2})?|-Q[1-4]|-S[12]|-W\d{2}|-A1|-M\d{2})?", re.ASCII)


def _refused(status: int, message: str, parameter: str | None = None) -> ApiError:
    """An SDMX request refused: the API's error, its type from the HTTP status."""
    return ApiError(status, STATUS_TYPES.get(status, "bad-request"), message, parameter)


_ENVELOPE = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "status": {"type": "integer"}, "type": {"type": "string"}, "message": {"type": "string"},
    "parameter": {"type": ["string", "null"]}}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": kind, "content": {"application/json": {"schema": _ENVELOPE}}}
    for status, kind in {400: "bad request", 404: "no results", 406: "not acceptable", 413: "too large",
                         501: "not implemented"}.items()}


# -- content negotiation ---------------------------------------------------------------------
def _media_ranges(accept: str) -> list[tuple[str, dict, float]]:
    out = []
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";") if b.strip()]
        if not bits:
            continue
        pairs = (b.partition("=") for b in bits[1:])
        params = {k.strip().lower(): v.strip().strip('"') for k, _, v in pairs}
        try:
            q = float(params.pop("q", 1))
        except ValueError:
            q = 1.0
        out.append((bits[0].lower(), params, q))
    return sorted(out, key=lambda r: -r[2])


def negotiate(accept: str | None, fmt: str | None, *, structure: bool) -> str:
    formats = STRUCTURE_FORMATS if structure else DATA_FORMATS
    if fmt:
        if fmt.lower() not in formats:
            raise _refused(406, f"format={fmt!r} is not available here; use one of {', '.join(formats)}")
        return formats[fmt.lower()]
    offers = [STRUCTURE] if structure else [GENERIC, SS, JSON, CSV1, CSV2]
    default = offers[0]
    aliases = {"application/xml": default, "text/xml": default, "application/json": None if structure else JSON,
               "text/csv": None if structure else CSV1, "*/*": default, "application/*": default}
    for media, params, q in _media_ranges(accept or "*/*"):
        if q <= 0:
            continue
        alias = aliases.get(media)
        if alias:
            return alias
        for offer in offers:
            base, _, version = offer.partition(";version=")
            if media == base and params.get("version", version) == version:
                return offer
            if media == base and base.endswith("+csv") and params.get("version") is None:
                return CSV1
    raise _refused(406, f"cannot answer in {accept!r}; this resource is available as "
                    f"{', '.join(offers)} (or ask with ?format={'|'.join(formats)})")


# -- data queries ----------------------------------------------------------------------------
def _flow_ref(structures: Structures, flow: str) -> str:
    parts = flow.split(",")
    if len(parts) == 3:
        agency, fid, version = parts
        if agency not in ("all", AGENCY_ID) or version not in ("latest", "all", VERSION):
            raise _refused(404, f"no dataflow {flow!r}: this service publishes agency {AGENCY_ID}, version {VERSION}")
    elif len(parts) == 1:
        fid = parts[0]
    else:
        raise _refused(400, f"dataflow reference {flow!r}: use ID or AGENCY,ID,VERSION (e.g. IMDX,MIGRANT_STOCK,1.0)")
    flow_id = structures.imdx_id(fid)
    if flow_id is None:
        known = ", ".join(sorted(structures.flow_ids))
        raise _refused(404, f"unknown dataflow {fid!r}; known dataflows: {known}")
    return flow_id


def parse_key(structures: Structures, flow_id: str, key: str | None) -> dict[str, list[str]]:
    """``DEU+FRA..F`` → {"destination": ["DEU", "FRA"], "sex": ["F"]} (codes checked against code lists)."""
    flow = structures.flow(flow_id)
    if key is None or key in ("", "all", "ALL"):
        return {}
    if len(key) > MAX_KEY_LENGTH:
        raise _refused(400, f"the key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}. Ask for fewer "
                        "codes per request, or leave a dimension empty to get all its codes.")
    if not re.fullmatch(r"[A-Za-z0-9_@$\-+.]*", key):
        raise _refused(400, f"key {key!r} has characters a key cannot have: a key is dimension codes separated "
                        "by '.', several codes of one dimension joined by '+', an empty position for all codes")
    parts = key.split(".")
    dims = list(flow.dimensions)
    if len(parts) != len(dims):
        example = ".".join(dim_id(d.name) for d in dims)
        raise _refused(400, f"key {key!r} has {len(parts)} position(s) but {sdmx_id(flow_id)} has {len(dims)} "
                        f"dimensions ({example}); give one position per dimension, empty for all codes")
    areas = structures.store.areas()
    filters = {}
    for dim, part in zip(dims, parts):
        if part == "":
            continue
        codes = []
        for code in part.split("+"):
            if code == "":
                raise _refused(400, f"key {key!r}: empty code between '+' at dimension {dim_id(dim.name)}")
            codes.append(_check_code(structures, flow_id, dim, code, areas))
        filters[dim.name] = codes
    return filters


def _check_code(structures, flow_id, dim, code, areas) -> str:
    if dim.is_area:
        match = areas.resolve(code, ("code", "iso3", "m49", "iso2")) if areas is not None else None
        if match is None or match.code is None:
            raise _refused(404, f"{code!r} is not a code of CL_AREA (dimension {dim_id(dim.name)}); use imdx area "
                            "codes: ISO 3166 alpha-3 for countries (DEU), M49 for regions (001 World); "
                            "GET /sdmx/codelist/IMDX/CL_AREA lists them")
        return match.code
    allowed = dim.codes()
    if allowed is None:
        allowed = {str(c): c for c in structures.store.distinct(flow_id, dim.name)}
    if code not in allowed:
        alt = "_T" if code.upper() in ("T", "TOTAL") and "_T" in allowed else None
        if alt:
            return alt
        shown = ", ".join(list(allowed)[:30])
        raise _refused(404, f"{code!r} is not a code of dimension {dim_id(dim.name)} in {sdmx_id(flow_id)}; "
                        f"its codes: {shown}")
    return code


def parse_period(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    match = _PERIOD.fullmatch(value.strip())
    if not match:
        raise _refused(400, f"{name}={value!r} is not an SDMX time period; use e.g. 2015, 2015-06, 2015-Q2 "
                        "or 2015-06-30")
    return int(match.group(1))


def _provider(structures: Structures, provider: str | None) -> str | None:
    if provider is None or provider in ("all", "ALL"):
        return None
    name = provider.split(",")[-1]
    sources = set(structures.store.releases()["source"])
    if name not in sources:
        raise _refused(404, f"unknown data provider {provider!r}; the providers are the imdx sources loaded: "
                        f"{', '.join(sorted(sources))}")
    return name


def data_response(store: Store, flow: str, key: str | None, provider: str | None, params: dict,
                  accept: str | None, limits: Limits = DEFAULT_LIMITS) -> Response:
    structures = Structures(store)
    media = negotiate(accept, params.get("format"), structure=False)
    flow_id = _flow_ref(structures, flow)
    filters = parse_key(structures, flow_id, key)
    start = parse_period(params.get("startPeriod"), "startPeriod")
    end = parse_period(params.get("endPeriod"), "endPeriod")
    if start is not None and end is not None and start > end:
        raise _refused(400, f"startPeriod {params['startPeriod']} is after endPeriod {params['endPeriod']}")
    if flow_id not in store.servable_dataflows():  # e.g. a dataflow defined after this store was made
        raise _refused(404, f"no observations of {sdmx_id(flow_id)} are stored yet; load its source first")
    if start is not None or end is not None:
        years = store.distinct(flow_id, "year")
        filters["year"] = [y for y in years if (start is None or y >= start) and (end is None or y <= end)]
        if not filters["year"]:
            raise _refused(404, f"no observations of {sdmx_id(flow_id)} between {start or 'the start'} and "
                            f"{end or 'the end'}")
    at_obs = params.get("dimensionAtObservation") or "TIME_PERIOD"
    dims = [dim_id(d) for d in structures.flow(flow_id).dimension_names]
    if at_obs not in dims + ["AllDimensions"]:
        upper = at_obs.upper()
        if upper in dims:
            at_obs = upper
        elif upper == "ALLDIMENSIONS":
            at_obs = "AllDimensions"
        else:
            raise _refused(400, f"dimensionAtObservation={at_obs!r}: use TIME_PERIOD, AllDimensions or one of "
                            f"{', '.join(dims)}")
    detail = params.get("detail") or "full"
    if detail not in ("full", "dataonly"):
        raise _refused(501, f"detail={detail!r} is not implemented; use detail=full or detail=dataonly")
    source = _provider(structures, provider)
    table = store.select(flow_id, filters, edition=params.get("edition"), source=source)
    if table.num_rows == 0:
        raise _refused(404, f"no observations of {sdmx_id(flow_id)} match key {key or 'all'!r}"
                        + (f" and provider {provider!r}" if provider else "")
                        + (f" in edition {params['edition']!r}" if params.get("edition") else ""))
    if table.num_rows > limits.max_sdmx_observations:
        raise _refused(413, f"the query matches {table.num_rows:,} observations; the limit per response is "
                        f"{limits.max_sdmx_observations:,}. Narrow the key (e.g. one area) or the period (startPeriod, "
                        "endPeriod)")
    obs = sdmx_data.observations(structures, flow_id, table, at_obs)
    if detail == "dataonly":
        for col in obs.attributes:
            obs.frame[col] = None
    if media in (SS, GENERIC):
        body = sdmx_data.to_xml(structures, obs, structure_specific=media == SS)
    elif media == JSON:
        body = sdmx_data.to_json(structures, obs)
    else:
        body = sdmx_data.to_csv(structures, obs, version="2.0.0" if media == CSV2 else "1.0.0")
    return Response(body, media_type=media)


# -- structure queries -----------------------------------------------------------------------
def _select(items: dict, id: str, what: str) -> list:
    if id in ("all", "ALL"):
        return list(items.values())
    hit = [v for k, v in items.items() if k.upper() == id.upper()]
    if not hit:
        raise _refused(404, f"no {what} {id!r}; known: {', '.join(sorted(items))}")
    return hit


def structure_response(store: Store, resource: str, agency: str, id: str, version: str, references: str,
                       detail: str, accept: str | None, fmt: str | None) -> Response:
    from sdmx.message import StructureMessage

    media = negotiate(accept, fmt, structure=True)
    if resource not in STRUCTURE_RESOURCES:
        raise _refused(501, f"structure resource {resource!r} is not implemented; available: "
                        f"{', '.join(STRUCTURE_RESOURCES)}")
    if agency not in ("all", "ALL", AGENCY_ID):
        raise _refused(404, f"no structures of agency {agency!r}: this service's agency is {AGENCY_ID}")
    if version not in ("latest", "all", VERSION, "~", "*"):
        raise _refused(404, f"no version {version!r}: every structure here is version {VERSION}")
    if references not in REFERENCES:
        raise _refused(400, f"references={references!r}: use one of {', '.join(REFERENCES)}")
    if detail not in ("full", "referencepartial"):
        raise _refused(501, f"detail={detail!r} is not implemented; use detail=full")
    st = Structures(store)
    flows = {sdmx_id(f): f for f in store.dataflow_ids()}
    found: dict[str, list] = {"dataflow": [], "datastructure": [], "codelist": [], "conceptscheme": []}
    if resource == "dataflow":
        found["dataflow"] = [st.dataflow(f) for f in (flows.values() if id.lower() == "all"
                                                      else [_flow_ref(st, id)])]
    elif resource == "datastructure":
        dsds = {f"DSD_{k}": v for k, v in flows.items()}
        found["datastructure"] = [st.dsd(f) for f in _select(dsds, id, "data structure")]
    elif resource == "codelist":
        found["codelist"] = _select({c.id: c for c in st.codelists()}, id, "code list")
    else:
        found["conceptscheme"] = _select({"CS_IMDX": st.concept_scheme}, id, "concept scheme")
    _add_references(st, flows, resource, references, found)
    msg = StructureMessage(header=sdmx_data._header(f"IMDX_{resource.upper()}_{id.upper()}"))
    for kind in ("dataflow", "datastructure", "codelist", "conceptscheme"):
        for obj in {o.id: o for o in found[kind]}.values():
            msg.add(obj)
    import sdmx

    return Response(sdmx.to_xml(msg, pretty_print=True), media_type=media)


def _add_references(st: Structures, flows: dict, resource: str, references: str, found: dict) -> None:
    """Add the structures ``references`` asks for: children (a dataflow's DSD; a DSD's code lists and
    concept scheme), descendants (all the way down), parents (what uses the structure), all, or
    one type of structure (``datastructure``, ``codelist``, ``conceptscheme``, ``dataflow``)."""
    if references == "none":
        return
    typed = references in ("dataflow", "datastructure", "codelist", "conceptscheme")
    down = references in ("children", "descendants", "all") or typed
    deep = references in ("descendants", "all") or typed or resource == "datastructure"
    up = references in ("parents", "parentsandsiblings", "all") or typed
    if down:
        if resource == "dataflow":
            found["datastructure"] += [f.structure for f in found["dataflow"]]
        if deep and resource in ("dataflow", "datastructure"):
            for dsd in found["datastructure"]:
                found["codelist"] += st.flow_codelists(flows[dsd.id.removeprefix("DSD_")])
            if found["datastructure"]:
                found["conceptscheme"].append(st.concept_scheme)
    if up:
        if resource in ("codelist", "conceptscheme"):
            ids = {c.id for c in found["codelist"]}
            for flow_id in flows.values():
                if resource == "conceptscheme" or ids & {c.id for c in st.flow_codelists(flow_id)}:
                    found["datastructure"].append(st.dsd(flow_id))
        if resource == "datastructure" or references in ("parentsandsiblings", "all", "dataflow"):
            dsd_ids = {d.id for d in found["datastructure"]}
            found["dataflow"] += [st.dataflow(f) for k, f in flows.items() if f"DSD_{k}" in dsd_ids]
    if typed:
        for kind in found:
            if kind not in (references, resource):
                found[kind] = []


def sdmx_router(get_store: Callable[[], Store], limits: Limits = DEFAULT_LIMITS,
                slots: ComputeSlots | None = None) -> APIRouter:
    """The ``/sdmx`` routes over the store that ``get_store()`` returns, within ``limits``, each answer computed in
    ``slots`` (the app's compute slots: 503 ``busy`` when none was free in time)."""
    router = APIRouter(prefix="/sdmx", tags=["SDMX"])
    slots = slots or ComputeSlots(limits)

    def guarded(request: Request, fn):
        """The answer, or the envelope of the error: here, so that the router keeps its envelope when it
        is mounted on an app without imdx's handlers."""
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 -- every error is answered in the envelope (bugs are logged)
            return response_for(request, err)

    async def computed(request: Request, fn):
        try:
            return await slots.run(guarded, request, fn)
        except Busy as busy:
            return response_for(request, busy)

    data_responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {m: {} for m in DATA_FORMATS.values()}, "description": "SDMX data"}, **ERRORS}

    @router.get("/data/{flow}", summary="SDMX data of a dataflow (all keys)", response_class=Response,
                responses=data_responses)
    @router.get("/data/{flow}/{key}", summary="SDMX data of a dataflow for a key", response_class=Response,
                responses=data_responses)
    @router.get("/data/{flow}/{key}/{provider}", summary="SDMX data of a dataflow for a key and a provider",
                response_class=Response, responses=data_responses)
    async def data(request: Request, flow: str, key: str | None = None, provider: str | None = None,
             startPeriod: str | None = None, endPeriod: str | None = None,
             dimensionAtObservation: str | None = None, detail: str | None = None,
             edition: str | None = None, format: str | None = None):
        params = {"startPeriod": startPeriod, "endPeriod": endPeriod, "format": format, "detail": detail,
                  "dimensionAtObservation": dimensionAtObservation, "edition": edition}
        return await computed(request, lambda: data_response(get_store(), flow, key, provider, params,
                                                             request.headers.get("accept"), limits))

    def structure_route(resource: str):
        async def handler(request: Request, agency: str = "all", id: str = "all", version: str = "latest",
                          references: str = "none", detail: str = "full", format: str | None = None):
            return await computed(request, lambda: structure_response(get_store(), resource, agency, id, version,
                                                                      references, detail,
                                                                      request.headers.get("accept"), format))

        handler.__name__ = f"{resource}_structure"
        return handler

    for resource in STRUCTURE_RESOURCES:
        handler = structure_route(resource)
        for path in ("", "/{agency}", "/{agency}/{id}", "/{agency}/{id}/{version}"):
            router.add_api_route(f"/{resource}{path}", handler, methods=["GET"], response_class=Response,
                                 summary=f"SDMX {resource} structures", name=f"sdmx_{resource}{path.count('/')}",
                                 responses={200: {"content": {STRUCTURE: {}}, "description": "SDMX structures"},
                                            **ERRORS})
    return router
