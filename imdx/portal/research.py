"""The portal's pages for the research library and the coordination registry (mounted by
:func:`imdx.api.app.create_app` next to the portal's own routes):

* ``/library``: search with facets (a form that works without scripts), ``/library/records/{id}``: a record
  with its provenance, its countries' statistics and exports;
* ``/registry``: organisations, data products and activities; ``/registry/{kind}/{id}``: one entry (an
  organisation's contacts for signed-in users only); ``/registry/gaps``: the gaps matrix, and
  ``/registry/gaps/{country}``: one country's gaps by GCM objective; ``/registry/sign-in``.

Country profiles list the research on their country through :func:`country_research` (the partial
``research/_country_research.html``).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from imdx.cases.errors import AccessDenied
from imdx.errors import ImdxError, QueryError
from imdx.library.index import FACETS
from imdx.library.model import TYPES
from imdx.library.service import Library, ServedLibrary
from imdx.portal.data import Reader

HERE = Path(__file__).parent
ENV = Environment(loader=FileSystemLoader([HERE / "templates"]), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
COOKIE = "imdx_registry_token"
FACET_LABELS = {"year": "Year", "country": "Country", "theme": "Theme", "type": "Type", "language": "Language",
                "commissioner": "Commissioner", "gcm": "GCM objective", "dataflow": "Dataflow"}
PAGE_SIZE = 20


def render(template: str, status: int = 200, **context) -> HTMLResponse:
    from imdx.portal.router import wrap_tables  # wide tables scroll in their own box, as on every portal page

    return HTMLResponse(wrap_tables(ENV.get_template(template).render(**context)), status_code=status,
                        headers=HEADERS)


def country_research(reader: Reader, code: str, limit: int = 10) -> dict:
    """What a country profile shows of the research on its country: how many records, the newest ones. Which
    records are linked to which area is read once per store version for every area (one query, not one a page)."""
    def links():
        return reader.store.library_linked("area", sorted(reader.names())).to_dict("records")
    try:
        ids = [link["record_id"] for link in reader.grouped("library_areas", links, "target").get(code, [])]
        records = sorted(Library(reader.store).records(ids), key=lambda r: (-(r.year or 0), r.title or "")) \
            if ids else []
    except ImdxError:  # a backend without the library's tables
        return {"total": 0, "records": [], "code": code}
    return {"total": len(ids), "code": code,
            "records": [{"id": r.id, "title": r.title, "year": r.year, "type": TYPES.get(r.type, r.type)}
                        for r in records[:limit]]}


def _statistics(store, codes: list[str]) -> list[dict]:
    """The latest figure of a few dataflows for each of a record's countries (what its page shows)."""
    from imdx.query import query

    asks = [("Immigrants", "migrant_stock", "destination", {"origin": "_T", "sex": "_T", "age": "_T"}, "persons"),
            ("Emigrants", "migrant_stock", "origin", {"destination": "001", "sex": "_T", "age": "_T"}, "persons"),
            ("Refugees hosted", "refugees", "asylum", {"origin": "_T", "population_type": "REF"}, "persons"),
            ("Remittances received", "remittances", "area", {"flow": "received"}, "US dollars")]
    areas = store.areas()
    out = []
    for code in codes[:12]:
        if areas is None or areas.kind(code) != "country":
            continue
        rows = []
        for label, flow, dim, fixed, unit in asks:
            try:
                frame = query(store, flow, **{dim: code}, **fixed)
            except (QueryError, ImdxError, KeyError, ValueError):
                continue
            frame = frame.dropna(subset=["value"])
            if len(frame):
                last = frame.sort_values("year").iloc[-1]
                rows.append({"label": label, "year": int(last["year"]), "value": float(last["value"]), "unit": unit,
                             "source": last["source"], "edition": last["edition"],
                             "csv": f"/api/v1/data/{flow}?{urlencode({dim: code, **fixed, 'format': 'csv'})}"})
        out.append({"code": code, "name": areas.name(code), "rows": rows})
    return out


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


ENV.filters["fmt"] = _fmt


def research_router(state, cases=None) -> APIRouter:
    """The library's and the registry's pages over the app's state (its store and response settings)."""
    from imdx.registry.access import resolver
    from imdx.registry.gaps import matrix
    from imdx.registry.service import Registry

    router = APIRouter(include_in_schema=False)
    who, login = resolver(cases)
    served = ServedLibrary(state.store)

    def signed_in(request: Request):
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 512:
            return None
        try:
            principal = who(token, request.client.host if request.client else "")
        except (AccessDenied, ImdxError):
            return None
        return principal if principal.is_authenticated else None

    # -- library -------------------------------------------------------------------------------------
    @router.get("/library", response_class=HTMLResponse)
    async def search_page(request: Request):
        q = request.query_params.get("q", "")
        filters = {f: [v for v in request.query_params.getlist(f) if v.strip()] for f in FACETS}
        year_from, year_to = request.query_params.get("from", ""), request.query_params.get("to", "")
        if year_from or year_to:
            filters["year"] = [f"{year_from or '1900'}:{year_to or '2100'}"]
        filters = {k: v for k, v in filters.items() if v}
        sort = request.query_params.get("sort", "relevance")
        page = request.query_params.get("page", "1")
        page = int(page) if page.isascii() and page.isdigit() and len(page) <= 3 and 0 < int(page) <= 500 else 1

        def work():
            store = state.store
            lib = served.get()
            try:
                result = lib.search(q, filters, page=page, size=PAGE_SIZE,
                                    sort=sort if sort in ("relevance", "year", "-year") else "relevance")
                error = None
            except QueryError as err:
                result, error = None, str(err)
            areas = store.areas()
            names = {} if areas is None else areas.frame["name"].to_dict()
            gcm = {e.entry_id: e.body.get("title") for e in store.registry_entries("gcm_objective")}
            return result, error, names, gcm

        result, error, names, gcm = await state.slots.run(work)
        labels = {"country": names, "type": TYPES, "gcm": {k: f"{k}. {v}" for k, v in gcm.items()}}
        base = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        pages = max(1, -(-result.total // PAGE_SIZE)) if result else 1
        return render("research/library.html", 400 if error else 200, title="Research library", q=q, error=error,
                      result=result, filters=filters, labels=labels, facet_labels=FACET_LABELS, sort=sort, page=page,
                      pages=pages, year_from=year_from, year_to=year_to, names=names,
                      page_url=lambda p: "/library?" + urlencode(base + [("page", str(p))]),
                      export_url=lambda fmt: "/api/v1/library/export?" + urlencode(
                          [(k, v) for k, v in base if k in ("q", *FACETS)] + [("format", fmt)]))

    @router.get("/library/records/{record_id}", response_class=HTMLResponse)
    async def record_page(record_id: str):
        def work():
            store = state.store
            full = served.get().record(record_id)
            if full is None:
                return None
            gcm = {e.entry_id: e.body.get("title") for e in store.registry_entries("gcm_objective")}
            areas = store.areas()
            activities = store.registry_entries("activity", rel="record", target=record_id)
            return full, gcm, _statistics(store, full.record.countries), \
                {c: areas.name(c) if areas is not None else c for c in full.record.countries}, activities

        found = await state.slots.run(work)
        if found is None:
            return render("research/message.html", 404, title="Not found",
                          message=f"No record is called {record_id!r}.", link=("/library", "Search the library"))
        full, gcm, stats, names, activities = found
        return render("research/record.html", title=full.record.title or full.record.id, full=full, r=full.record,
                      gcm=gcm, stats=stats, names=names, types=TYPES, activities=activities)

    # -- registry ------------------------------------------------------------------------------------
    @router.get("/registry", response_class=HTMLResponse)
    async def registry_page(request: Request):
        kind = request.query_params.get("kind", "organisation")
        if kind not in ("organisation", "data_product", "activity", "event", "three_w_table"):
            kind = "organisation"

        def work():
            store = state.store
            reg = Registry(store)
            counts = {k: len(store.registry_entries(k)) for k in ("organisation", "data_product", "activity",
                                                                  "event", "gcm_objective", "srf_node")}
            return counts, reg.entries(kind)[:2000]

        counts, entries = await state.slots.run(work)
        return render("research/registry.html", title="Who does what: the coordination registry", counts=counts,
                      kind=kind, entries=entries, user=signed_in(request))

    @router.get("/registry/gaps", response_class=HTMLResponse)
    async def gaps_page(request: Request):
        raw = [v for item in request.query_params.getlist("country") for v in item.split(",") if v.strip()][:24]

        def work():
            store = state.store
            areas = store.areas()
            codes, unknown = [], []
            for value in raw:
                code = areas.resolve(value).code if areas is not None and len(value) < 200 else None
                (codes.append(code) if code else unknown.append(value))
            if not raw:  # the countries with most activities in the registry
                counts: dict[str, int] = {}
                for a in store.registry_entries("activity"):
                    for c in a.body.get("countries", []):
                        if areas is not None and areas.kind(c) == "country":
                            counts[c] = counts.get(c, 0) + 1
                codes = sorted(counts, key=lambda c: (-counts[c], c))[:8]
            codes = list(dict.fromkeys(codes))
            cells = matrix(store, codes)
            titles = {e.entry_id: e.body.get("title") for e in store.registry_entries("gcm_objective")}
            names = {c: areas.name(c) for c in codes} if areas is not None else {}
            return codes, unknown, cells, titles, names

        codes, unknown, cells, titles, names = await state.slots.run(work)
        grid = {(c.gcm, c.country): c for c in cells}
        return render("research/gaps.html", 400 if unknown else 200, title="Gaps: who collects which data, where",
                      codes=codes, unknown=unknown, grid=grid, titles=titles, names=names,
                      chosen=", ".join(raw) if raw else ", ".join(names.get(c, c) for c in codes))

    @router.get("/registry/gaps/{country}", response_class=HTMLResponse)
    async def country_gaps(country: str):
        def work():
            store = state.store
            areas = store.areas()
            code = areas.resolve(country).code if areas is not None and len(country) < 200 else None
            if code is None:
                return None
            titles = {e.entry_id: e.body.get("title") for e in store.registry_entries("gcm_objective")}
            return code, areas.name(code), matrix(store, [code], activity_limit=10), titles

        found = await state.slots.run(work)
        if found is None:
            return render("research/message.html", 404, title="Not found",
                          message=f"No country or area is called {country!r}.",
                          link=("/registry/gaps", "The gaps matrix"))
        code, name, cells, titles = found
        return render("research/country_gaps.html", title=f"Gaps: {name}", code=code, name=name, cells=cells,
                      titles=titles)

    @router.get("/registry/sign-in", response_class=HTMLResponse)
    async def sign_in_page(request: Request):
        return render("research/sign_in.html", title="Sign in", user=signed_in(request), error=None,
                      available=login is not None)

    @router.post("/registry/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request):
        body = await request.body()
        form = parse_qs(body[:4096].decode("utf-8", errors="replace"))
        username, password = (form.get("username") or [""])[0][:64], (form.get("password") or [""])[0][:1024]
        if login is None:
            return render("research/sign_in.html", 404, title="Sign in", user=None, available=False,
                          error="Sign-in is not configured on this server.")
        try:
            token = await state.slots.run(login, username, password,
                                            request.client.host if request.client else "")
        except AccessDenied as err:
            return render("research/sign_in.html", 401, title="Sign in", user=None, available=True, error=str(err))
        response = RedirectResponse("/registry", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            max_age=3600, path="/")
        return response

    @router.post("/registry/sign-out")
    async def sign_out():
        response = RedirectResponse("/registry", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/registry/{kind}/{entry_id}", response_class=HTMLResponse)
    async def entry_page(request: Request, kind: str, entry_id: str):
        user = signed_in(request)

        def work():
            store = state.store
            reg = Registry(store)
            entry = reg.entry(kind, entry_id, signed_in=user is not None)
            if entry is None:
                return None
            related = {}
            if kind == "organisation":
                related["activities"] = reg.entries("activity", rel="organisation", target=entry_id)[:200]
                related["data products"] = reg.entries("data_product", rel="organisation", target=entry_id)
                related["events"] = reg.entries("event", rel="organisation", target=entry_id)
            elif kind == "gcm_objective":
                related["activities"] = reg.entries("activity", rel="gcm", target=entry_id)[:200]
            areas = store.areas()
            names = areas.frame["name"].to_dict() if areas is not None else {}
            orgs = {e.entry_id: e.body.get("name") for e in store.registry_entries("organisation")}
            return entry, related, names, orgs

        found = await state.slots.run(work)
        if found is None:
            return render("research/message.html", 404, title="Not found",
                          message=f"The registry has no {kind} {entry_id!r}.", link=("/registry", "The registry"))
        entry, related, names, orgs = found
        return render("research/entry.html", title=entry.get("title") or entry.get("name") or entry_id, e=entry,
                      kind=kind, related=related, names=names, orgs=orgs, user=user,
                      raw=json.dumps({k: v for k, v in entry.items() if k not in ("contacts",)}, ensure_ascii=False,
                                     indent=1, default=str))

    return router
