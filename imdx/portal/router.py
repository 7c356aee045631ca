"""The portal's routes: ``portal_router(get_store)`` serves the HTML pages and ``/static``.

Pages are rendered on the server (Jinja2): every table is in the HTML, so a page works without
scripts; charts (Vega-Lite, drawn by ``/static/portal.js``) add to them. Every script, style and
map is served from ``/static`` (no CDN), and a Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import mimetypes
import threading
import time
import weakref
from collections.abc import Callable
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from imdx.errors import ImdxError
from imdx.portal import charts, chord, explore, pages, profile
from imdx.portal.data import Reader, fmt
from imdx.store.base import Store

HERE = Path(__file__).parent
STATIC = HERE / "static"
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "Cache-Control": "public, max-age=60"}
mimetypes.add_type("application/json", ".json")
mimetypes.add_type("text/javascript", ".js")


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.globals["num"] = render_num
    env.globals["embed"] = charts.embed
    env.globals["value_text"] = explore.value_text
    return env


_CHECKS = threading.local()


def render_num(n, tag: str = "td") -> Markup:
    """A number cell: the formatted value, its flags (estimated, footnote mark as published) and, on
    ``?checks=1`` pages, the check that reproduces it from the store (``data-check``, ``data-value``)."""
    parts = [f'<{tag} class="num{" missing" if n.missing else ""}"']
    if getattr(_CHECKS, "on", False):
        parts.append(f' data-check="{escape(n.check_json())}" data-value="{"" if n.missing else repr(n.value)}"')
    parts.append(">")
    parts.append('<span class="v" aria-label="no data">–</span>' if n.missing else f'<span class="v">{n.text()}</span>')
    if n.status == "E":
        parts.append('<abbr class="flag" title="estimated value">e</abbr>')
    if n.note:
        parts.append(f'<sup class="fn" title="Footnote mark as published: {escape(n.note)}">{escape(n.note)}</sup>')
    parts.append(f"</{tag}>")
    return Markup("".join(parts))


ENV = environment()
_readers: weakref.WeakKeyDictionary[Store, Reader] = weakref.WeakKeyDictionary()


def reader_for(store: Store) -> Reader:
    reader = _readers.get(store)
    if reader is None:
        reader = _readers[store] = Reader(store)
    return reader


def warm(reader: Reader) -> None:
    """Build the indexes the country profiles read (a few seconds on the full store), e.g. at start-up;
    then move what is alive (those indexes: many small objects that live as long as the server) out of
    the garbage collector's sight, so that its full passes stay short."""
    for name in ENV.list_templates(extensions=["html"]):
        ENV.get_template(name)
    profile.country_profile(reader, "DEU")
    pages.headlines(reader)
    gc.collect()
    gc.freeze()


def render(name: str, status: int = 200, checks: bool = False, **context) -> HTMLResponse:
    _CHECKS.on = checks
    try:
        html = ENV.get_template(name).render(**context)
    finally:
        _CHECKS.on = False
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def not_found(message: str, q: str = "") -> HTMLResponse:
    return render("error.html", 404, title="Not found", message=message, q=q)


def country_charts(area: dict, p: dict) -> dict:
    name, s = area["name"], p["stock"]
    return {
        "imm": charts.line(f"Immigrants in {name}", s["trend"], {"_T": "Both sexes", "M": "Men", "F": "Women"},
                           unit="persons", description=f"International migrant stock in {name} by year and sex"),
        "origins": charts.bars(f"Top origins, {s['origin_year']}", [
            {**o, "href": f"/corridor/{o['code']}/{area['code']}"} for o in s["top_origins"]], unit="persons",
            description=f"Immigrants in {name} by country of origin", href="href"),
        "emi": charts.line(f"Emigrants from {name}", s["emigrant_trend"], {"value": "Emigrants"}, unit="persons",
                           description=f"Emigrants from {name} by year"),
        "ref": charts.line(f"Refugees and asylum-seekers: {name}", p["refugees"].get("trend", []),
                           {"hosted_REF": "Refugees hosted", "hosted_ASY": "Asylum-seekers hosted",
                            "originating_REF": "Refugees originating", "originating_ASY": "Asylum-seekers originating"},
                           unit="persons", description=f"Refugees and asylum-seekers of {name} by year"),
        "money": charts.line(f"Remittances, FDI and ODA: {name}", p["economy"]["rows"],
                             {"received": "Remittances received", "paid": "Remittances paid",
                              "fdi": "FDI, net inflows", "oda": "ODA received"}, unit="US$ million", scale=1e6,
                             description=f"Remittances, FDI and ODA of {name} by year"),
    }


@functools.lru_cache(maxsize=64)
def _static_file(path: str, mtime_ns: int) -> tuple[bytes, str]:
    body = Path(path).read_bytes()
    return body, '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'


def timed(fn):
    """Add ``Server-Timing: app;dur=<ms>`` (the time the page took on the server) to the response."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        start = time.perf_counter()
        response = fn(*args, **kwargs)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response
    return inner


def portal_router(get_store: Callable[[], Store]) -> APIRouter:
    """The portal's pages over the store that ``get_store()`` returns (mount at the app's root)."""
    router = APIRouter(include_in_schema=False)

    def reader() -> Reader:
        return reader_for(get_store())

    @router.get("/", response_class=HTMLResponse)
    @timed
    def home(indicator: str = "migrant_share", year: str | None = None, checks: str = ""):
        r = reader()
        indicator = indicator if indicator in pages.INDICATORS else "migrant_share"
        ind = pages.INDICATORS[indicator]
        years = pages.map_years(r, indicator)
        chosen = int(year) if year and year.isascii() and year.isdigit() and len(year) <= 4 else \
            (years[-1] if years else None)
        if years and chosen not in years:
            chosen = min(years, key=lambda y: abs(y - chosen))
        values = pages.map_values(r, indicator, chosen) if chosen else []
        map_rows = [{"id": v["id"], "name": v["name"], "value": v["num"].value, "href": f"/country/{v['code']}",
                     "text": f"{v['name']}: {v['num'].text()}"} for v in values if v["id"]]
        spec = charts.world_map(map_rows, title=f"{ind.label}, {chosen}", unit=ind.unit,
                                description=f"World map of {ind.label.lower()} in {chosen}; the table below lists "
                                            "every country's value") if values else None
        lines = [profile.source_line(r, f) for f in ind.flows if r.has(f)]
        return render("home.html", checks=checks == "1", title="International migration data",
                      indicators=pages.INDICATORS,
                      indicator=ind, years=years, year=chosen, values=values, spec=spec, lines=lines,
                      headlines=pages.headlines(r), unmapped=[v for v in values if not v["id"]])

    @router.get("/country/{code}", response_class=HTMLResponse)
    @timed
    def country(code: str, checks: str = ""):
        r = reader()
        area = r.area(code) or r.area(code.upper())
        if area is None:
            found = pages.resolve_area(r, code)
            if found:
                return RedirectResponse(f"/country/{found}", status_code=307)
            return not_found(f"No country or area is called {code!r}.", code)
        data = profile.country_profile(r, area["code"])
        names = r.names()
        region = names.get(area.get("region")) if isinstance(area.get("region"), str) else None
        sub = names.get(area.get("subregion")) if isinstance(area.get("subregion"), str) else None
        from imdx.portal.research import country_research

        return render("country.html", checks=checks == "1", title=area["name"], area=area, region=region,
                      subregion=sub, p=data, research=country_research(r.store, area["code"]),
                      charts=country_charts(area, data),
                      income=names.get(area.get("wb_income")) if isinstance(area.get("wb_income"), str) else None)

    @router.get("/corridor/{origin}/{destination}", response_class=HTMLResponse)
    @timed
    def corridor(origin: str, destination: str, checks: str = ""):
        r = reader()
        o, d = pages.resolve_area(r, origin), pages.resolve_area(r, destination)
        if o is None or d is None:
            bad = origin if o is None else destination
            return not_found(f"No country or area is called {bad!r}.", bad)
        if (o, d) != (origin, destination):
            return RedirectResponse(f"/corridor/{o}/{d}", status_code=307)
        names = r.names()
        c = profile.corridor(r, o, d)
        spec = charts.line(f"{names.get(o, o)} → {names.get(d, d)}", c["stock"],
                           {"_T": "Both sexes", "M": "Men", "F": "Women"}, unit="persons",
                           description="Migrant stock of the corridor by year and sex")
        return render("corridor.html", checks=checks == "1", spec=spec, title=f"{names.get(o, o)} → {names.get(d, d)}",
                      origin=o, destination=d,
                      origin_name=names.get(o, o), destination_name=names.get(d, d), c=c)

    @router.get("/flows", response_class=HTMLResponse)
    @timed
    def flows(year: str | None = None, method: str | None = None, level: str = "region"):
        r = reader()
        level = level if level in ("region", "country") else "region"
        data = pages.flows_page(r, year, method, level)
        svg = chord.svg(data["names"], data["matrix"], title="Estimated flows") if data.get("loaded") else ""
        return render("flows.html", title="Estimated migration flows", f=data, svg=svg)

    @router.get("/explore", response_class=HTMLResponse)
    @timed
    def explore_page(request: Request):
        r = reader()
        state = explore.state_from(r, request.query_params)
        result = explore.run(r, state)
        flow = r.flow(state["flow"]) if state["flow"] in r.servable_ids() else None
        editions = r.editions_of(state["flow"]) if flow else []
        return render("explore.html", 400 if state["error"] else 200, title="Data explorer", s=state, res=result,
                      flow=flow, flows=[r.flow(f) for f in r.servable_ids()], editions=editions,
                      query_string=str(request.url.query))

    @router.get("/explore.xlsx")
    @timed
    def explore_excel(request: Request):
        r = reader()
        state = explore.state_from(r, request.query_params)
        if state["error"]:
            return render("error.html", 400, title="Bad request", message=state["error"], q="")
        try:
            body, name = explore.excel_bytes(r, state)
        except ImdxError as err:
            return render("error.html", 400, title="Bad request", message=str(err), q="")
        return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/sources", response_class=HTMLResponse)
    @timed
    def sources():
        return render("sources.html", title="Sources and data issues", s=pages.sources_page(reader()))

    @router.get("/search", response_class=HTMLResponse)
    @timed
    def search(q: str = ""):
        return render("search.html", title=f"Search: {q}" if q else "Search", res=pages.search(reader(), q), q=q)

    @router.get("/static/{path:path}")
    def static(path: str, request: Request):
        target = (STATIC / path).resolve()
        if STATIC.resolve() not in target.parents or not target.is_file():
            if path.startswith("vendor/"):
                from imdx.portal.assets import missing

                if missing():
                    return Response("the portal's front-end libraries are not built: run "
                                    "`sh imdx/portal/build_assets.sh`", status_code=404, media_type="text/plain")
            return Response("not found", status_code=404, media_type="text/plain")
        body, etag = _static_file(str(target), target.stat().st_mtime_ns)
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        cache = "public, max-age=86400" if path.startswith("vendor/") else "public, max-age=300"
        return Response(body, media_type=media,
                        headers={"Cache-Control": cache, "ETag": etag, "X-Content-Type-Options": "nosniff"})

    return router
