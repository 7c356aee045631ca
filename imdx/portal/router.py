"""The portal's routes: ``portal_router(get_store)`` serves the HTML pages and ``/static``.

Pages are rendered on the server (Jinja2): every table is in the HTML, so a page works without
scripts; charts (Vega-Lite, drawn by ``/static/portal.js``) add to them. Every script, style and
map is served from ``/static`` (no CDN), and a Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import inspect
import json
import mimetypes
import re
import threading
import time
import weakref
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from imdx.api.limits import ComputeSlots, Limits
from imdx.api.responses import Body, cache_key
from imdx.errors import ImdxError
from imdx.model.notes import marks as footnote_marks
from imdx.portal import charts, chord, explain, explore, flows, grapher, home, pages, profile
from imdx.portal.data import Reader, fmt
from imdx.store.base import Store

if TYPE_CHECKING:
    from imdx.api.state import ApiState

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
    env.filters["num"] = render_num  # a filter: called directly by the compiled template (a global is not)
    env.globals["footnotes"] = render_footnotes
    env.globals["embed"] = charts.embed
    env.globals["value_text"] = explore.value_text
    return env


_CHECKS = threading.local()  # what the page being rendered needs: checks on?, the footnotes it cites


def _note_id(release_id: int | None, mark: str) -> str:
    return f"fn-{release_id or 0}-{'star' if mark == '*' else mark}"


def render_num(n, tag: str = "td") -> Markup:
    """A number cell: the formatted value, its flags (estimated; footnote marks as published, each a link to
    its text in the page's notes) and, on ``?checks=1`` pages, the check that reproduces it from the store
    (``data-check``, ``data-value``)."""
    missing = n.missing
    parts = [f'<{tag} class="num missing"' if missing else f'<{tag} class="num"']
    if n.check and getattr(_CHECKS, "on", False):  # (a number folded from many has no check of its own)
        parts.append(f' data-check="{escape(n.check_json())}" data-value="{"" if missing else repr(n.value)}"')
    parts.append('><span class="v" aria-label="no data">–</span>' if missing
                 else f'><span class="v">{n.text()}</span>')
    if n.status == "E":
        parts.append('<abbr class="flag" title="estimated value">e</abbr>')
    if n.note:
        cited = getattr(_CHECKS, "notes", None)
        tokens = []
        for token in n.note.split():
            mark = footnote_marks(token)
            if mark and cited is not None:
                cited.setdefault((n.release_id, mark[0]), None)
                tokens.append(f'<a href="#{_note_id(n.release_id, mark[0])}" aria-label="note {escape(token)}">'
                              f'{escape(token)}</a>')
            else:
                tokens.append(escape(token))
        parts.append(f'<sup class="fn">{" ".join(tokens)}</sup>')
    parts.append(f"</{tag}>")
    return Markup("".join(parts))


def render_footnotes() -> Markup:
    """The notes the page's numbers cited, each with its text as the release publishes it (or why there is none)."""
    cited, reader = getattr(_CHECKS, "notes", None), getattr(_CHECKS, "reader", None)
    if not cited or reader is None:
        return Markup("")
    texts, titles, kept = reader.footnotes()
    items = []
    for release_id, mark in sorted(cited, key=lambda k: (k[0] or 0, k[1] != "*", int(k[1]) if k[1].isdigit() else 0,
                                                         k[1])):
        text = texts.get((release_id, mark))
        if text is None:
            text = ("the release gives this mark, but the file imdx read holds no notes that explain it"
                    if release_id not in kept else "the release's notes do not explain this mark")
        source = titles.get(release_id, "the release")
        items.append(f'<li id="{_note_id(release_id, mark)}"><span class="mark">{escape(mark)}</span> {escape(text)} '
                     f'<span class="kind">({escape(source)})</span></li>')
    return Markup('<section class="footnotes" aria-labelledby="footnotes-h"><h2 id="footnotes-h">Notes</h2>'
                  f'<ul>{"".join(items)}</ul></section>')


ENV = environment()
_readers: weakref.WeakKeyDictionary[Store, Reader] = weakref.WeakKeyDictionary()


def reader_for(store: Store) -> Reader:
    reader = _readers.get(store)
    if reader is None:
        reader = _readers[store] = Reader(store)
    return reader


def warm(reader: Reader) -> None:
    """Build the indexes the pages read (tens of seconds on the full store with estimates), e.g. at start-up:
    the UN DESA editions, the map, the flows' regional sums and matrices; then move what is alive (those
    indexes: many small objects that live as long as the server) out of the garbage collector's sight, so
    that its full passes stay short."""
    for name in ENV.list_templates(extensions=["html"]):
        ENV.get_template(name)
    profile.country_profile(reader, "DEU")
    home.headlines(reader)
    home.map_page(reader, None, None)
    if reader.has(flows.REGIONAL):  # every sex and period: the flows pages then never wait for the store
        for sex in {e.sex for e in flows.catalogue(reader)}:
            flows.cubes(reader, sex)
    gc.collect()
    gc.freeze()


_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL)
_CAPTION = re.compile(r"<caption\b[^>]*>(.*?)</caption>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
#: a box a template already put its table in (the research pages' ``div.table-wrap.scroll``): not wrapped twice
_BOXED = re.compile(r'<div class="(?:[^"]*\s)?table-wrap(?:\s[^"]*)?"[^>]*>\s*$')


def wrap_tables(html: str) -> str:
    """Put every table in a box that scrolls sideways when the table is wider than the screen (the page
    itself never does), focusable and named after the table's caption so that a keyboard can scroll it; a
    table its template already put in such a box is left as it is (a box inside a box would scroll instead
    of the one the keyboard reaches)."""
    def wrap(match: re.Match) -> str:
        if _BOXED.search(match.string, max(0, match.start() - 400), match.start()):
            return match.group(0)
        caption = _CAPTION.search(match.group(0))
        label = " ".join(_TAG.sub("", caption.group(1)).split()) if caption else "Table"
        return f'<div class="table-wrap" role="region" tabindex="0" aria-label="{label}">{match.group(0)}</div>'
    return _TABLE.sub(wrap, html)


def render(name: str, status: int = 200, checks: bool = False, reader: Reader | None = None,
           **context) -> HTMLResponse:
    """A page; ``reader`` gives the texts of the footnote marks its numbers cite."""
    _CHECKS.on, _CHECKS.notes, _CHECKS.reader = checks, {}, reader
    try:
        html = wrap_tables(ENV.get_template(name).render(**context))
    finally:
        _CHECKS.on, _CHECKS.notes, _CHECKS.reader = False, None, None
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


def portal_router(get_store: Callable[[], Store], state: ApiState | None = None) -> APIRouter:
    """The portal's pages over the store that ``get_store()`` returns (mount at the app's root); with the app's
    ``state``, each page is computed in its compute slots (:class:`~imdx.api.limits.ComputeSlots`: 503 ``busy``,
    the portal's error page, when none was free in time) and the pages that only the store decides (a country, a
    corridor, the map, the flows, the sources) are kept, rendered, in its answer cache (bounded by ``--cache-mb``,
    emptied when a release is committed), from which the same address is answered again without computing."""
    router = APIRouter(include_in_schema=False)
    slots = state.slots if state is not None else ComputeSlots(Limits())

    def reader() -> Reader:
        return reader_for(get_store())

    def page(fn=None, *, kept: bool = False):
        """The route ``fn`` (a plain function) as the app calls it: in a compute slot, timed; ``kept``: its 200
        answers cached (see above)."""
        def wrap(fn):
            timed_fn = timed(fn)

            @functools.wraps(fn)
            async def inner(request: Request, *args, **kwargs):
                if "request" in own:
                    kwargs["request"] = request
                if not kept or state is None:
                    return await slots.run(timed_fn, *args, **kwargs)
                key = cache_key(state.current(), request.scope)
                response = await slots.run(timed_fn, *args, **kwargs)
                if (response.status_code == 200 and isinstance(response, HTMLResponse)
                        and reader().version == key[0]):  # rendered from the version the key names
                    body = Body(bytes(response.body), "text/html; charset=utf-8", dict(HEADERS))
                    state.responses.put(key, body, body.size)
                return response

            own = inspect.signature(fn).parameters
            params = [p for p in own.values() if p.name != "request"]
            inner.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
                [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
                + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params])
            return inner
        return wrap(fn) if fn is not None else wrap

    @router.get("/", response_class=HTMLResponse)
    @page(kept=True)
    def home_page(indicator: str = "", year: str | None = None, checks: str = ""):
        r = reader()
        page = home.map_page(r, indicator, year)
        return render("home.html", checks=checks == "1", reader=r, title="International migration data", m=page,
                      spec=home.map_spec(page) if page["rows"] else None, headlines=home.headlines(r),
                      about=explain.indicator(page["indicator"].id) if page["indicator"] else None)

    @router.get("/country/{code}", response_class=HTMLResponse)
    @page(kept=True)
    def country(code: str, checks: str = "", q: str = "", edition: str = ""):
        r = reader()
        area = r.area(code) or r.area(code.upper())
        if area is None:
            found = pages.resolve_area(r, code)
            if found:
                return RedirectResponse(f"/country/{found}", status_code=307)
            return not_found(f"No country or area is called {code!r}.", code)
        data = profile.country_profile(r, area["code"], edition.strip()[:40] or None)
        names = r.names()
        region = names.get(area.get("region")) if isinstance(area.get("region"), str) else None
        sub = names.get(area.get("subregion")) if isinstance(area.get("subregion"), str) else None
        from imdx.portal.research import country_research

        return render("country.html", checks=checks == "1", reader=r, title=area["name"], area=area, region=region,
                      subregion=sub, p=data, searched=q.strip()[:200],
                      research=country_research(r, area["code"]),
                      charts=country_charts(area, data),
                      income=names.get(area.get("wb_income")) if isinstance(area.get("wb_income"), str) else None)

    @router.get("/corridor/{origin}/{destination}", response_class=HTMLResponse)
    @page(kept=True)
    def corridor(origin: str, destination: str, checks: str = "", edition: str = ""):
        r = reader()
        o, d = pages.resolve_area(r, origin), pages.resolve_area(r, destination)
        if o is None or d is None:
            bad = origin if o is None else destination
            return not_found(f"No country or area is called {bad!r}.", bad)
        if (o, d) != (origin, destination):
            return RedirectResponse(f"/corridor/{o}/{d}", status_code=307)
        names = r.names()
        c = profile.corridor(r, o, d, edition.strip()[:40] or None)
        spec = charts.line(f"{names.get(o, o)} → {names.get(d, d)}", c["stock"],
                           {"_T": "Both sexes", "M": "Men", "F": "Women"}, unit="persons",
                           description="Migrant stock of the corridor by year and sex")
        return render("corridor.html", checks=checks == "1", reader=r, spec=spec,
                      title=f"{names.get(o, o)} → {names.get(d, d)}", origin=o, destination=d,
                      origin_name=names.get(o, o), destination_name=names.get(d, d), c=c)

    @router.get("/flows", response_class=HTMLResponse)
    @page(kept=True)
    def flows_page(year: str | None = None, method: str | None = None, sex: str | None = None,
                   level: str | None = None, incomplete: str = "", checks: str = ""):
        data = flows.flows_page(reader(), year=year, method=method, sex=sex, level=level, incomplete=incomplete == "1")
        svg = chord.svg(data["names"], data["matrix"], title="Estimated flows") if data.get("matrix") else ""
        return render("flows.html", checks=checks == "1", title="Estimated migration flows", f=data, svg=svg,
                      palette=chord.PALETTE)

    @router.get("/chart", response_class=HTMLResponse)
    @page
    def chart_page(request: Request, checks: str = "", embed: str = ""):
        r = reader()
        try:
            st = grapher.state_from(r, request.query_params)
        except grapher.ChartError as err:
            return render("error.html", 404, title="No chart", message=str(err), q="")
        c = grapher.page(r, st)
        if embed == "1":  # for an iframe on another site: no site header, and any site may frame it
            response = render("chart_embed.html", checks=checks == "1", reader=r, s=st, c=c, query=grapher.query)
            response.headers["Content-Security-Policy"] = CSP.replace("frame-ancestors 'self'", "frame-ancestors *")
            return response
        return render("chart.html", 400 if st["problems"] else 200, checks=checks == "1", reader=r,
                      title=st["indicator"].label, s=st, c=c, tabs=grapher.TABS, query=grapher.query,
                      base_url=str(request.base_url))

    @router.get("/chart.{kind}")
    @page
    def chart_file(request: Request, kind: str):
        r = reader()
        if kind not in ("csv", "json", "svg", "png"):
            return not_found(f"no chart file of type {kind!r}: csv, json, svg or png")
        try:
            st = grapher.state_from(r, request.query_params)
            if st["problems"]:
                raise grapher.ChartError("; ".join(st["problems"]))
            name = f"{st['indicator'].id}-{'-'.join(st['areas']) or 'none'}-{st['from']}-{st['to']}"
            if kind == "csv":
                return Response(grapher.csv_text(r, st), media_type="text/csv; charset=utf-8",
                                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
            if kind == "json":
                return Response(json.dumps(grapher.metadata(r, st, str(request.base_url)), indent=1, default=str),
                                media_type="application/json",
                                headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
            body = grapher.image(r, st, kind)
        except grapher.ChartError as err:
            return render("error.html", 400, title="Bad request", message=str(err), q="")
        media = "image/svg+xml" if kind == "svg" else "image/png"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"',
                                                          "Cache-Control": "public, max-age=300"})

    @router.get("/explore", response_class=HTMLResponse)
    @page
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
    @page
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
    @page(kept=True)
    def sources():
        return render("sources.html", title="Sources and data issues", s=pages.sources_page(reader()))

    @router.get("/search", response_class=HTMLResponse)
    @page
    def search(q: str = "", all: str = ""):
        """Search; a text that names one area exactly goes straight to its page (``all=1``: list the results)."""
        res = pages.search(reader(), q)
        if res["exact"] and all != "1" and not res["corridors"]:
            return RedirectResponse(f"/country/{res['exact']}?{urlencode({'q': res['q']})}", status_code=303)
        return render("search.html", title=f"Search: {q}" if q else "Search", res=res, q=q)

    @router.get("/static/{path:path}")
    async def static(path: str, request: Request):  # files read once and kept: on the event loop
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
