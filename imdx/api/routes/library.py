"""The research library over HTTP: ``/api/v1/library`` (search with facets), ``/api/v1/library/records/{id}``
(a record, its provenance and links to the statistics of its countries), ``/api/v1/library/export`` (CSL-JSON,
BibTeX) and ``/api/v1/library/areas/{code}`` (the research on a country).

Searches run at most ``MAX_CONCURRENT_SEARCHES`` at a time per process; past that a request waits briefly, then
gets 429 with ``Retry-After``, so a flood of searches cannot take the server's memory or CPU.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request
from starlette.responses import Response

from imdx.api import params
from imdx.api.encode import json_bytes
from imdx.api.errors import ApiError, shown
from imdx.api.openapi import error_responses, integer, linked, query_param
from imdx.api.responses import Body, respond
from imdx.api.state import ApiState
from imdx.library.index import FACETS
from imdx.library.search import SORTS
from imdx.library.service import ServedLibrary

MAX_CONCURRENT_SEARCHES = 8
MAX_EXPORT = 1000
#: the last page of a search (its results can be paged through their first 10,000)
MAX_PAGE = 10_000
_SEARCH_PARAMS = ["q", *FACETS, "sort", "page", "page_size"]


class Searches:
    """A bound on concurrent searches (see the module docstring)."""

    def __init__(self, limit: int = MAX_CONCURRENT_SEARCHES):
        self.slots = threading.BoundedSemaphore(limit)

    def __enter__(self):
        if not self.slots.acquire(timeout=2.0):
            raise ApiError(429, "too-many-requests", "the server is answering as many searches as it can; retry "
                           "in a second", None, {"Retry-After": "1"})
        return self

    def __exit__(self, *exc):
        self.slots.release()


def _filters(request: Request) -> dict[str, list[str]]:
    out = {}
    for facet in FACETS:
        values = params.codes(request, facet) if request.query_params.getlist(facet) else None
        if values:
            out[facet] = values
    return out


def _json(document) -> Body:
    return Body(json_bytes(document), params.MEDIA_TYPES["json"])


def search(shared: ServedLibrary, searches: Searches, request: Request) -> Body:
    params.check_known(request, _SEARCH_PARAMS, "/api/v1/library")
    lib = shared.get()
    page = params.positive_int(request, "page", 1, MAX_PAGE)
    size = params.positive_int(request, "page_size", 20, lib.limits.max_page_size, kind="page-size-too-large",
                               too_large=f"page_size is more than the {lib.limits.max_page_size} records a page "
                                         "may hold")
    q = params.single(request, "q") or ""
    sort = params.single(request, "sort") or "relevance"
    with searches:
        result = lib.search(q, _filters(request), page=page, size=size, sort=sort)
    pages = max(1, -(-result.total // size))
    return _json({"q": q, "filters": _filters(request), "sort": sort, "total": result.total, "page": page,
                  "page_size": size, "pages": pages, "relaxed": result.relaxed, "expansions": result.expansions,
                  "links": params.links(request, page, pages),
                  "hits": [h.display | {"score": round(h.score, 4), "links": {
                      "self": f"/api/v1/library/records/{h.id}", "page": f"/library/records/{h.id}"}}
                      for h in result.hits],
                  "facets": {f: [{"value": v, "count": n} for v, n in values] for f, values in result.facets.items()}})


def record(shared: ServedLibrary, request: Request, record_id: str) -> Body:
    params.check_known(request, ["format"], "/api/v1/library/records/{id}")
    fmt = params.single(request, "format") or "json"
    if fmt not in ("json", "csl-json", "bibtex"):
        raise ApiError(400, "unknown-format", f"format={shown(fmt, 40)!r}: use json, csl-json or bibtex", "format")
    lib = shared.get()
    full = lib.record(record_id)
    if full is None:
        raise ApiError(404, "unknown-record", f"no library record {shown(record_id, 80)!r}; /api/v1/library?q= "
                       "searches",
                       "id")
    if fmt != "json":
        text, media = lib.export([full.record], fmt)
        return Body(text.encode(), media)
    areas = lib.store.areas()
    rec = full.record
    names = {} if areas is None else {c: areas.name(c) for c in rec.countries}
    body = rec.to_body()
    body.pop("text", None)
    return _json(body | {
        "text_length": len(rec.text or ""),
        "countries": [{"code": c, "name": names.get(c),
                       "statistics": {"profile": f"/country/{c}",
                                      "migrant_stock": f"/api/v1/data/migrant_stock?destination={c}&origin=_T",
                                      "emigrants": f"/api/v1/data/migrant_stock?origin={c}&destination=001"}}
                      for c in rec.countries],
        "dataflows": [{"id": d, "data": f"/api/v1/dataflows/{d}"} for d in rec.dataflows],
        "gcm": [{"objective": g, "registry": f"/api/v1/registry/entries/gcm_objective/{g}"} for g in rec.gcm],
        "provenance": [{"source": s.source, "key": s.source_key, "file": s.file, "sha256": s.sha256,
                        "location": s.location, "import_id": s.import_id} for s in full.sources],
        "export": {"csl-json": f"/api/v1/library/records/{rec.id}?format=csl-json",
                   "bibtex": f"/api/v1/library/records/{rec.id}?format=bibtex"}})


def export(shared: ServedLibrary, searches: Searches, request: Request) -> Body:
    params.check_known(request, ["q", *FACETS, "format"], "/api/v1/library/export")
    fmt = params.single(request, "format") or "csl-json"
    if fmt not in ("csl-json", "bibtex"):
        raise ApiError(400, "unknown-format", f"format={shown(fmt, 40)!r}: use csl-json or bibtex", "format")
    lib = shared.get()
    ids: list[str] = []
    with searches:
        page = 1
        while len(ids) < MAX_EXPORT:
            result = lib.search(params.single(request, "q") or "", _filters(request), page=page, size=100)
            ids += [h.id for h in result.hits]
            if not result.hits or len(ids) >= result.total:
                break
            page += 1
        text, media = lib.export(lib.records(ids[:MAX_EXPORT]), fmt)
    name = "library.bib" if fmt == "bibtex" else "library.json"
    return Body(text.encode(), media, {"Content-Disposition": f'attachment; filename="{name}"',
                                       "X-Total-Count": str(len(ids[:MAX_EXPORT]))})


def area(shared: ServedLibrary, request: Request, code: str) -> Body:
    params.check_known(request, [], "/api/v1/library/areas/{code}")
    lib = shared.get()
    areas = lib.store.areas()
    found = areas.resolve(code).code if areas is not None and len(code) <= 200 else None
    if areas is None or found is None:
        raise ApiError(404, "unknown-code", f"{shown(code, 80)!r} is not a known area; /api/v1/areas?q= searches",
                       "code")
    total, records = lib.about_area(found, limit=100)
    return _json({"area": found, "name": areas.name(found), "total": total,
                  "records": [{"id": r.id, "title": r.title, "year": r.year, "type": r.type,
                               "self": f"/api/v1/library/records/{r.id}"} for r in records]})


def register(app: FastAPI, state: ApiState) -> None:
    searches, shared = Searches(), ServedLibrary(state.store)
    facet_params = [query_param(f, f"Only records with this {f} (repeat, or separate with commas, for any of several)"
                                + ("; a name in any spelling, ISO3 or M49 code" if f == "country" else "")
                                + ("; a year or a range 2010:2020" if f == "year" else "")) for f in FACETS]

    async def search_route(request: Request) -> Response:
        return await respond(request, lambda: search(shared, searches, request))

    async def record_route(request: Request, id: str) -> Response:
        return await respond(request, lambda: record(shared, request, id))

    async def export_route(request: Request) -> Response:
        return await respond(request, lambda: export(shared, searches, request))

    async def area_route(request: Request, code: str) -> Response:
        return await respond(request, lambda: area(shared, request, code))

    app.add_api_route("/api/v1/library", search_route, methods=["GET"], tags=["library"], response_class=Response,
                      summary="Search the research library: ranked, with facets, glossary expansion and typo tolerance",
                      openapi_extra={"parameters": [
                          query_param("q", 'Words (each must match), "phrases", prefix*, -exclusions.',
                                      example="irregular migration"), *facet_params,
                          query_param("sort", "relevance (default), year (newest first) or -year.",
                                      {"type": "string", "enum": list(SORTS)}),
                          query_param("page", "Page, from 1 (the first 10,000 results can be paged through).",
                                      integer(1, MAX_PAGE, 1)),
                          query_param("page_size", "Records per page (at most 100).", integer(1, 100, 20))]},
                      responses={**linked("The records found", record=(
                          "library_record", {"id": "$response.body#/hits/0/id"})), **error_responses(429)})
    app.add_api_route("/api/v1/library/records/{id}", record_route, methods=["GET"], tags=["library"],
                      operation_id="library_record",
                      response_class=Response, summary="One record with its provenance and links to the data",
                      responses=error_responses(404), openapi_extra={"parameters": [query_param(
                          "format", "json (default), csl-json or bibtex.",
                          {"type": "string", "enum": ["json", "csl-json", "bibtex"]})]})
    app.add_api_route("/api/v1/library/export", export_route, methods=["GET"], tags=["library"],
                      response_class=Response, summary=f"The records a search finds (at most {MAX_EXPORT}) as "
                      "CSL-JSON or BibTeX", responses=error_responses(429), openapi_extra={"parameters": [
                          query_param("q", "As for /api/v1/library."), *facet_params,
                          query_param("format", "csl-json (default) or bibtex.",
                                      {"type": "string", "enum": ["csl-json", "bibtex"]})]})
    app.add_api_route("/api/v1/library/areas/{code}", area_route, methods=["GET"], tags=["library"],
                      operation_id="library_area",
                      response_class=Response, summary="The research on a country or area (newest first)",
                      responses=error_responses(404))
