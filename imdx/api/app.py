"""The app factory: ``create_app(db_path)`` serves one store read-only under ``/api/v1``."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from imdx.api import errors
from imdx.api.fastpath import CachedResponses
from imdx.api.routes import data, diff, library, meta, registry
from imdx.api.state import ApiState

EXPOSED_HEADERS = ["ETag", "Link", "X-Total-Count", "X-Page", "X-Page-Size", "X-Pages", "Content-Disposition"]


def create_app(db_path: str | Path, *, cache_mb: int = 256, sdmx: bool = True, portal: bool = True,
               cases=None, registry_edits: bool = False) -> FastAPI:
    """A FastAPI app over the store at ``db_path`` (opened read-only: one connection per process,
    one cursor per request), keeping up to ``cache_mb`` MiB of encoded answers and twice that of query
    results in memory (0: none; every request is queried and encoded). ``sdmx=True`` also mounts the
    SDMX-REST routes of :mod:`imdx.sdmx.routes` under ``/sdmx``, ``portal=True`` the web portal at ``/``;
    ``cases`` (an :class:`imdx.cases.service.CaseService`) mounts the case database under ``/api/v1/cases``
    (its accounts also sign in to change the registry); ``registry_edits=True`` opens the store for writing
    so that signed-in users can change the registry."""
    state = ApiState(db_path, response_cache_bytes=cache_mb * 2**20, table_cache_bytes=2 * cache_mb * 2**20,
                     writable=registry_edits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if portal:
            from starlette.concurrency import run_in_threadpool

            from imdx.portal.data import warm
            from imdx.portal.router import reader_for

            await run_in_threadpool(warm, reader_for(state.store))  # the portal's indexes, built once
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
    errors.install(app)
    meta.register(app, state)
    data.register(app, state)
    diff.register(app, state)
    library.register(app, state)
    registry.register(app, state, cases, editable=registry_edits)
    if cases is not None:
        from imdx.cases.routes import cases_router

        app.include_router(cases_router(cases))
    if sdmx:
        from imdx.sdmx.routes import sdmx_router

        app.include_router(sdmx_router(state.cursor_store))
    if portal:
        from imdx.portal import portal_router

        app.include_router(portal_router(lambda: state.store))
        from imdx.portal.research import research_router

        app.include_router(research_router(state, cases))
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["If-None-Match"],
                       expose_headers=EXPOSED_HEADERS, max_age=86400)
    app.add_middleware(CachedResponses, cache=state.responses, expose_headers=EXPOSED_HEADERS)
    return app
