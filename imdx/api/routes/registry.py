"""The coordination registry over HTTP, under ``/api/v1/registry``.

Reading is open to all (an organisation's contacts only with a valid token). Changing needs a token of the
case database's accounts (``POST /api/v1/cases/token``), a user of the organisation that owns the entry,
and a server started with ``imdx serve --registry-edits`` (otherwise the store is read-only and changes
answer 403 saying so). Each change names the version it was made against (``If-Match: "3"`` or
``"version": 3``); a stale one answers 409. Every change and every refusal is audited.
"""

from __future__ import annotations

import json
import tempfile
import threading
from enum import Enum
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response

from imdx.api import params
from imdx.api.encode import json_bytes
from imdx.api.errors import ApiError, shown
from imdx.api.openapi import error_responses, integer, linked, query_param
from imdx.api.state import ApiState
from imdx.cases.access import PUBLIC
from imdx.cases.errors import AccessDenied, CaseError
from imdx.errors import SourceFileError
from imdx.registry.model import KINDS, RegistryInputError
from imdx.store.documents import VersionConflict

MAX_ENTRY_BYTES = 256 * 2**10
MAX_3W_BYTES = 10 * 2**20
_WRITE = threading.Lock()  # one change at a time per process


def _send(document, status: int = 200) -> Response:
    return Response(json_bytes(document), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _access_error(err: AccessDenied) -> ApiError:
    kinds = {401: "unauthorized", 403: "forbidden", 404: "not-found", 429: "too-many-requests"}
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    if err.status == 429:
        headers = {"Retry-After": str(getattr(err, "retry_after", 1))}
    return ApiError(err.status, kinds.get(err.status, "access-denied"), str(err), None, headers)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not (declared.isascii() and declared.isdigit()) or len(declared) > 15
                                 or int(declared) > limit):
        raise ApiError(413, "too-large", f"the request body may have at most {limit:,} bytes", None)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too-large", f"the request body may have at most {limit:,} bytes", None)
        chunks.append(chunk)
    return b"".join(chunks)


class RegistryRoutes:
    def __init__(self, state: ApiState, who, login, editable: bool):
        self.state, self.who, self.login, self.editable = state, who, login, editable

    def principal(self, request: Request):
        header = request.headers.get("authorization")
        if header is None:
            return PUBLIC
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 512:
            raise ApiError(401, "unauthorized", "send the token as 'Authorization: Bearer <token>'", None,
                           {"WWW-Authenticate": "Bearer"})
        try:
            return self.who(token.strip(), request.client.host if request.client else "")
        except AccessDenied as err:
            raise _access_error(err) from None

    def _registry(self, store):
        from imdx.registry.service import Registry

        return Registry(store)

    def _area(self, store, value: str, name: str) -> str:
        areas = store.areas()
        code = areas.resolve(value).code if areas is not None and len(value) <= 200 else None
        if code is None:
            raise ApiError(400, "unknown-code", f"{name}={shown(value, 60)!r} is not a known country or area (ISO3, "
                           "M49 or a name; /api/v1/areas?q= searches)", name)
        return code

    # -- reading ---------------------------------------------------------------------------------
    def index(self, request: Request) -> dict:
        params.check_known(request, [], "/api/v1/registry")
        store = self.state.store
        counts = {kind: len(store.registry_entries(kind)) for kind in KINDS}
        return {"counts": counts, "editable": self.editable,
                "routes": {"entries": "/api/v1/registry/entries?kind=&country=&gcm=&organisation=",
                           "entry": "/api/v1/registry/entries/{kind}/{id}",
                           "gaps": "/api/v1/registry/gaps?country=&gcm=", "3w": "/api/v1/registry/3w?table=",
                           "token": "POST /api/v1/cases/token", "audit": "/api/v1/registry/audit"}}

    def entries(self, request: Request) -> dict:
        params.check_known(request, ["kind", "country", "gcm", "organisation", "page", "page_size"],
                           "/api/v1/registry/entries")
        signed_in = self.principal(request).is_authenticated
        page, size = params.paging(request, "json")
        kind = params.single(request, "kind")
        if kind is not None and kind not in KINDS:
            raise ApiError(400, "unknown-code", f"kind={shown(kind, 40)!r}: use one of {', '.join(KINDS)}", "kind")
        store = self.state.store
        rel, target = None, None
        country = params.single(request, "country")
        if country:
            rel, target = "area", self._area(store, country, "country")
        elif params.single(request, "gcm"):
            rel, target = "gcm", params.single(request, "gcm")
        elif params.single(request, "organisation"):
            rel, target = "organisation", params.single(request, "organisation")
        items = self._registry(store).entries(kind, signed_in=signed_in, rel=rel, target=target)
        start, stop, pages = params.page_bounds(len(items), page, size)
        return {"total": len(items), "page": page, "page_size": size, "pages": pages,
                "links": params.links(request, page, pages), "entries": items[start:stop]}

    def entry(self, request: Request, kind: str, entry_id: str) -> dict:
        params.check_known(request, [], "/api/v1/registry/entries/{kind}/{id}")
        signed_in = self.principal(request).is_authenticated
        store = self.state.store
        found = self._registry(store).entry(kind, entry_id, signed_in=signed_in)
        links = store.registry_entries(kind, entry_ids=[entry_id])[0].links if found else []
        if found is None:
            raise ApiError(404, "unknown-entry", f"no {shown(kind, 40)} {shown(entry_id, 80)!r} in the registry; "
                           "/api/v1/registry/entries?kind= lists them", "id")
        return found | {"links": [{"rel": r, "target": t} for r, t in links]}

    def gaps(self, request: Request) -> dict:
        from imdx.registry.gaps import matrix

        params.check_known(request, ["country", "gcm"], "/api/v1/registry/gaps")
        raw = params.codes(request, "country") or []
        objectives = params.codes(request, "gcm") or []
        if not raw:
            raise ApiError(400, "missing-parameter", "give one or more countries: country=KEN,UGA (at most 60)",
                           "country")
        if len(raw) > 60:
            raise ApiError(400, "too-many-values", f"{len(raw)} countries; at most 60 per request", "country")
        bad = [g for g in objectives if g not in {str(i) for i in range(1, 24)}]
        if bad:
            raise ApiError(400, "unknown-code", f"gcm={shown(bad[0], 40)!r}: GCM objectives are 1 to 23", "gcm")
        store = self.state.store
        codes = list(dict.fromkeys(self._area(store, c, "country") for c in raw))
        cells = matrix(store, codes, objectives or None)
        titles = {e.entry_id: e.body.get("title") for e in store.registry_entries("gcm_objective")}
        detail = len(codes) * len(objectives or range(23)) <= 200
        return {"countries": codes, "objectives": [{"number": g, "title": titles.get(g)}
                                                   for g in (objectives or [str(i) for i in range(1, 24)])],
                "cells": [c.detail() if detail else c.summary() for c in cells]}

    def audit(self, request: Request) -> dict:
        params.check_known(request, ["kind", "id", "limit"], "/api/v1/registry/audit")
        if not self.principal(request).is_authenticated:
            raise ApiError(401, "unauthorized", "the audit log is shown to signed-in users only", None,
                           {"WWW-Authenticate": "Bearer"})
        limit = params.positive_int(request, "limit", 100, 10_000)
        store = self.state.store
        log = store.registry_audit(params.single(request, "kind"), params.single(request, "id"), limit)
        rows = log.astype(object).where(log.notna(), None).to_dict("records")
        for row in rows:
            for key in ("before_body", "after_body", "detail"):
                row[key] = json.loads(row[key]) if row.get(key) else None
            row["logged_at"] = str(row["logged_at"])
        return {"entries": rows}

    # -- writing ---------------------------------------------------------------------------------
    def _writable(self):
        if not self.editable:
            raise ApiError(403, "read-only", "this server serves the registry read-only; start it with "
                           "`imdx serve --registry-edits` to accept changes", None)

    def _version(self, request: Request, body: dict) -> int | None:
        raw = request.headers.get("if-match") or body.pop("version", None)
        if raw is None:
            return None
        text = str(raw).strip().strip('"')
        if not (text.isascii() and text.isdigit() and len(text) <= 12):
            raise ApiError(400, "malformed-value", "the version (If-Match or \"version\") must be a whole number",
                           "version")
        return int(text)

    def _change(self, fn):
        try:
            with _WRITE:
                return fn(self.state.store)
        except AccessDenied as err:
            raise _access_error(err) from None
        except RegistryInputError as err:
            raise ApiError(400, "invalid-entry", str(err), err.field) from None
        except VersionConflict as err:
            raise ApiError(409, "version-conflict", str(err), "version") from None

    async def put(self, request: Request, kind: str, entry_id: str) -> Response:
        self._writable()
        principal = self.principal(request)
        raw = await _body(request, MAX_ENTRY_BYTES)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "malformed-body", "the body must be a JSON object", None) from None
        if not isinstance(body, dict):
            raise ApiError(400, "malformed-body", "the body must be a JSON object", None)
        version = self._version(request, body)
        saved = await self.state.slots.run(
            self._change, lambda store: self._registry(store).save(principal, kind, entry_id, body, version))
        return _send(saved, 200 if version is not None else 201)

    async def delete(self, request: Request, kind: str, entry_id: str) -> Response:
        self._writable()
        principal = self.principal(request)
        version = self._version(request, {"version": request.query_params.get("version")}
                                if request.query_params.get("version") else {})
        if version is None:
            raise ApiError(400, "missing-parameter", "say which version you delete: If-Match: \"N\" or ?version=N",
                           "version")
        await self.state.slots.run(self._change,
                                lambda store: self._registry(store).delete(principal, kind, entry_id, version))
        return Response(status_code=204)

    async def import_3w(self, request: Request) -> Response:
        from imdx.registry.hxl import ThreeWImportError
        from imdx.registry.threew import import_3w

        self._writable()
        principal = self.principal(request)
        name = request.query_params.get("name") or "3w.csv"
        if not name.endswith(".csv") or "/" in name or "\\" in name or len(name) > 100:
            raise ApiError(400, "malformed-value", "name must be a file name ending in .csv", "name")
        data = await _body(request, MAX_3W_BYTES)

        def work(store):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / name
                path.write_bytes(data)
                return import_3w(store, path, principal, owner=request.query_params.get("organisation"))

        try:
            result = await self.state.slots.run(self._change, work)
        except ThreeWImportError as err:
            return Response(json_bytes({"error": {"status": 422, "type": "invalid-3w", "message": str(err),
                                                  "parameter": None},
                                        "issues": err.report.to_frame().astype(object).to_dict("records")}),
                            status_code=422, media_type="application/json", headers={"Cache-Control": "no-store"})
        except (SourceFileError, CaseError) as err:
            if isinstance(err, AccessDenied):
                raise _access_error(err) from None
            raise ApiError(400, "invalid-3w", str(err), None) from None
        return _send({"table": result.table, "rows": result.rows, "activities": result.activities,
                      "organisations": result.organisations,
                      "issues": result.report.to_frame().astype(object).to_dict("records")}, 201)

    def export_3w(self, request: Request) -> Response:
        from imdx.registry.threew import export_3w

        params.check_known(request, ["table"], "/api/v1/registry/3w")
        store = self.state.store
        try:
            text = export_3w(store, params.single(request, "table"))
        except RegistryInputError as err:
            raise ApiError(404, "unknown-table", str(err), "table") from None
        return Response(text.encode(), media_type="text/csv; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="3w.csv"'})


def register(app: FastAPI, state: ApiState, cases=None, *, editable: bool = False) -> None:
    """Mount the registry's routes; ``cases``: the case database's service, whose tokens sign users in."""
    from imdx.registry.access import resolver

    who, login = resolver(cases)
    routes = RegistryRoutes(state, who, login, editable)

    async def index(request: Request) -> Response:
        return _send(await state.slots.run(routes.index, request))

    async def entries(request: Request) -> Response:
        return _send(await state.slots.run(routes.entries, request))

    async def entry(request: Request, kind: str, id: str) -> Response:
        return _send(await state.slots.run(routes.entry, request, kind, id))

    async def gaps(request: Request) -> Response:
        return _send(await state.slots.run(routes.gaps, request))

    async def audit(request: Request) -> Response:
        return _send(await state.slots.run(routes.audit, request))

    async def export(request: Request) -> Response:
        return await state.slots.run(routes.export_3w, request)

    tags: list[str | Enum] = ["registry"]
    limits = state.limits
    kinds = {"type": "string", "enum": list(KINDS)}
    paging = [query_param("page", "Page, from 1.", integer(1, limits.max_page, 1)),
              query_param("page_size", "Entries per page.", integer(1, limits.max_page_size_json, 1000))]
    version = [{"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 20},
                "description": 'The version the change was made against, e.g. "3" (or "version" in the body).'}]
    app.add_api_route("/api/v1/registry", index, methods=["GET"], tags=tags, response_class=Response,
                      summary="The registry's kinds of entries, their counts and routes", responses=error_responses())
    app.add_api_route("/api/v1/registry/entries", entries, methods=["GET"], tags=tags, response_class=Response,
                      summary="Registry entries by kind, country, GCM objective or organisation",
                      responses={**linked("The entries", entry=("registry_entry", {
                          "kind": "$response.body#/entries/0/kind", "id": "$response.body#/entries/0/id"})),
                          **error_responses(401, 404)}, openapi_extra={"parameters": [
                          query_param("kind", "organisation, data_product, activity, event, gcm_objective, srf_node, "
                                      "three_w_table or glossary_term.", kinds),
                          query_param("country", "Entries about this country (any name, ISO3 or M49)."),
                          query_param("gcm", "Entries about this GCM objective (1-23)."),
                          query_param("organisation", "Entries of this organisation id."), *paging]})
    app.add_api_route("/api/v1/registry/entries/{kind}/{id}", entry, methods=["GET"], tags=tags,
                      operation_id="registry_entry",
                      response_class=Response, summary="One entry (contacts only for signed-in users)",
                      responses=error_responses(401, 404))

    async def put(request: Request, kind: str, id: str) -> Response:
        return await routes.put(request, kind, id)

    async def delete(request: Request, kind: str, id: str) -> Response:
        return await routes.delete(request, kind, id)

    app.add_api_route("/api/v1/registry/entries/{kind}/{id}", put, methods=["PUT"], tags=tags,
                      response_class=Response, summary="Create or change an entry (signed-in users of its "
                      "organisation; If-Match: the version read)", responses=error_responses(401, 403, 409, 413),
                      openapi_extra={"parameters": version, "requestBody": {"required": True, "content": {
                          "application/json": {"schema": {"type": "object"}}}}})
    app.add_api_route("/api/v1/registry/entries/{kind}/{id}", delete, methods=["DELETE"], tags=tags,
                      response_class=Response, summary="Delete an entry (If-Match or ?version=)",
                      responses=error_responses(401, 403, 404, 409), openapi_extra={"parameters": version + [
                          query_param("version", "The version deleted (or If-Match).", integer(0, 10**12))]})
    app.add_api_route("/api/v1/registry/gaps", gaps, methods=["GET"], tags=tags, response_class=Response,
                      summary="The gaps matrix: per GCM objective and country, dataflows present and missing, who "
                      "collects them, who works on it", responses=error_responses(), openapi_extra={"parameters": [
                          query_param("country", "Countries (any name or code), repeated or comma-separated; at "
                                      "most 60.", required=True),
                          query_param("gcm", "GCM objectives (1-23); default all.")]})
    app.add_api_route("/api/v1/registry/3w", export, methods=["GET"], tags=tags, response_class=Response,
                      summary="Activities as a 3W CSV with HXL hashtags (a table as imported, or all)",
                      responses=error_responses(404),
                      openapi_extra={"parameters": [query_param("table", "A 3W table id, as imported.")]})
    app.add_api_route("/api/v1/registry/3w", routes.import_3w, methods=["POST"], tags=tags, response_class=Response,
                      summary="Import a 3W CSV (the request body) as activities; all or nothing",
                      responses=error_responses(401, 403, 413, 422), openapi_extra={
                          "parameters": [query_param("name", "The file's name, ending in .csv.", example="3w.csv"),
                                         query_param("organisation", "The organisation that owns the activities.")],
                          "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
    app.add_api_route("/api/v1/registry/audit", audit, methods=["GET"], tags=tags, response_class=Response,
                      summary="The registry's audit log (signed-in users)", responses=error_responses(401),
                      openapi_extra={"parameters": [query_param("kind", "Only changes of this kind of entry.", kinds),
                                                    query_param("id", "Only changes of this entry."),
                                                    query_param("limit", "The most recent N changes.",
                                                                integer(1, 10_000, 100))]})
