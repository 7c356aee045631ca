"""The app factory: ``create_app(db)`` serves one store: the REST API under ``/api/v1``, SDMX under ``/sdmx``,
the portal at ``/`` and, when given, the case database under ``/api/v1/cases``."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from imdx.api import errors
from imdx.api.fastpath import CachedResponses
from imdx.api.guard import Guard
from imdx.api.limits import Limits
from imdx.api.routes import census, data, diff, library, meta, registry
from imdx.api.state import ApiState
from imdx.errors import StoreError
from imdx.store import connect
from imdx.store.base import Store

EXPOSED_HEADERS = ["ETag", "Link", "X-Total-Count", "X-Page", "X-Page-Size", "X-Pages", "Content-Disposition"]


def create_app(db: str | Path | Store, *, cache_mb: int = 256, current_mb: int = 512, sdmx: bool = True,
               portal: bool = True, freshness: float = 1.0, cases=None, registry_edits: bool = False,
               limits: Limits | None = None) -> FastAPI:
    """A FastAPI app over the store ``db`` (a DuckDB file or a PostgreSQL URL, opened read-only, or for
    writing when ``registry_edits``; or an open :class:`Store`, which the app closes when it stops), keeping
    up to ``cache_mb`` MiB of encoded answers and twice that of query results in memory (0: none; every
    request is queried and encoded) and up to ``current_mb`` MiB of the current values of the dataflows asked
    for (:meth:`~imdx.store.base.Store.keep_current`: a filtered read of them without a query; 0: none); a
    write committed while it serves (a release, a library import, a
    registry change) is answered within ``freshness`` seconds. ``sdmx=True`` also mounts the SDMX-REST routes
    of :mod:`imdx.api.sdmx` under ``/sdmx``, ``portal=True`` the web portal at ``/`` (with the library's and
    the registry's pages); ``cases`` (an :class:`imdx.cases.service.CaseService`) mounts the case database
    under ``/api/v1/cases`` (its accounts also sign in to change the registry); ``registry_edits=True`` lets
    signed-in users change the registry (the store must be writable). ``limits`` bound every request
    (:class:`~imdx.api.limits.Limits`; the defaults when None): past one, the answer is a 4xx in the envelope
    under ``/api`` and ``/sdmx``, and the portal's own error page elsewhere; HEAD is answered wherever GET is."""
    limits = limits or Limits()
    store = db if isinstance(db, Store) else connect(db, read_only=not registry_edits)
    if registry_edits and store.is_read_only():
        where = store.describe()
        store.close()
        raise StoreError(f"registry edits need {where} open for writing: open it with "
                         "imdx.store.connect(target, read_only=False)")
    store.keep_current(current_mb * 2**20)
    state = ApiState(store, response_cache_bytes=cache_mb * 2**20, table_cache_bytes=2 * cache_mb * 2**20,
                     freshness=freshness, limits=limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from starlette.concurrency import run_in_threadpool

        # the current values read before the first request, not by it (a crowd would wait for them)
        await run_in_threadpool(lambda: store.keep_current(current_mb * 2**20, now=True))
        if portal:
            from imdx.portal.router import reader_for, warm

            await run_in_threadpool(warm, reader_for(state.store))  # the portal's indexes, built at start
        gc.collect()
        gc.freeze()  # what startup built (areas, routes) lives as long as the process: keep it out of GC passes
        yield
        state.close()

    app = FastAPI(title="imdx API", version="1",
                  description="International migration statistics of many agencies, harmonised: observations, "
                              "dataflows, areas, releases (provenance), the data-issue report and revisions. "
                              "Every error is `{\"error\": {\"status\", \"type\", \"message\", \"parameter\"}}`.",
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.imdx = state
    if portal:
        from imdx.portal.errors import error_page

        errors.install(app, html=error_page)
    else:
        errors.install(app)
    meta.register(app, state)
    data.register(app, state)
    diff.register(app, state)
    census.register(app, state)
    library.register(app, state)
    registry.register(app, state, cases, editable=registry_edits)
    if cases is not None:
        from imdx.cases.routes import cases_router

        app.include_router(cases_router(cases))
    if sdmx:
        from imdx.api.sdmx import sdmx_router

        app.include_router(sdmx_router(lambda: state.store, limits, state.slots))
    if portal:
        from imdx.portal import portal_router

        app.include_router(portal_router(lambda: state.store, state))
        from imdx.portal.research import research_router

        app.include_router(research_router(state, cases))
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["If-None-Match"],
                       expose_headers=EXPOSED_HEADERS, max_age=86400)
    app.add_middleware(CachedResponses, state=state, expose_headers=EXPOSED_HEADERS)
    app.add_middleware(Guard, limits=limits)  # outermost: HEAD, and the bounds of every request
    return app
