"""``imdx serve``: the REST API over a store, with uvicorn."""

from __future__ import annotations

import os

import click

from imdx.cli.common import DB_OPTION
from imdx.config import settings
from imdx.errors import StoreError

#: the environment variables through which ``imdx serve`` hands its settings to each worker process
DB_ENV, CACHE_ENV, CURRENT_ENV, EDITS_ENV = ("IMDX_API_DB", "IMDX_API_CACHE_MB", "IMDX_API_CURRENT_MB",
                                             "IMDX_API_REGISTRY_EDITS")


def app_from_env(cases=None):
    """The app factory uvicorn's worker processes call (``imdx.cli.serve:app_from_env``); ``cases``: the case
    database's service, served by a single worker. The bounds of requests are the ``IMDX_HTTP_*`` variables'."""
    from imdx.api import create_app
    from imdx.api.limits import limits

    return create_app(os.environ[DB_ENV], cache_mb=int(os.environ.get(CACHE_ENV, "256")),
                      current_mb=int(os.environ.get(CURRENT_ENV, "512")), cases=cases,
                      registry_edits=os.environ.get(EDITS_ENV) == "1", limits=limits())


def _has_data(target) -> bool:
    from imdx.store import connect, exists

    if not exists(target):
        return False
    with connect(target, read_only=True) as store:
        return bool(len(store.releases()))


@click.command("serve")
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each with its own read-only connection to the store).")
@click.option("--cache-mb", default=256, show_default=True, type=click.IntRange(0),
              help="Memory per worker for answers already computed (dropped when a release is committed "
                   "meanwhile); 0 turns the cache off.")
@click.option("--current-mb", default=512, show_default=True, type=click.IntRange(0),
              help="Memory per worker for a copy of the current values of the dataflows asked for, read from the "
                   "store on first need, from which filtered reads are answered without a query (a dataflow that "
                   "does not fit in what is left is queried); 0: every read queries the store.")
@click.option("--registry-edits", is_flag=True,
              help="Let signed-in users change the coordination registry through the API (opens the store for "
                   "writing: one worker, and no `imdx load` into a DuckDB store while it is served).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve_cmd(db, host, port, workers, cache_mb, current_mb, registry_edits, log_level):
    """Serve the store over HTTP (read-only, unless --registry-edits): the web portal at /, the REST API under
    /api/v1 (OpenAPI at /api/v1/openapi.json) and SDMX under /sdmx. An empty store is loaded first (from
    $IMDX_MIRROR when set). With a case database configured (IMDX_CASES_CONFIG or IMDX_CASES_DB), also the case API
    under /api/v1/cases."""
    import uvicorn

    from imdx.cases.serving import case_service
    from imdx.store import display, is_url

    cfg = settings(db=db)
    path = cfg.db if is_url(cfg.db) else cfg.db.resolve()
    if registry_edits and workers > 1:
        raise click.UsageError("--registry-edits needs --workers 1 (one process writes the store)")
    cases, cases_note = case_service(workers)  # refused here, before any loading, when it cannot be served
    click.echo(cases_note, err=True)
    if not _has_data(path):
        click.echo(f"the store {display(path)} is empty: loading every source first", err=True)
        ctx = click.get_current_context()
        from imdx.cli import main

        try:
            ctx.invoke(main.get_command(ctx, "load"), source=(), mirror=None, file=None, url=None, structure=None,
                       db=str(path))
        except SystemExit as stop:  # a source could not be loaded: serve what did load, if anything
            if not _has_data(path):
                raise StoreError(f"nothing could be loaded into {display(path)}; see the errors above") from None
            click.echo(f"some sources could not be loaded (exit {stop.code}); serving the others", err=True)
    os.environ[DB_ENV], os.environ[CACHE_ENV], os.environ[CURRENT_ENV] = str(path), str(cache_mb), str(current_mb)
    os.environ[EDITS_ENV] = "1" if registry_edits else "0"
    # one worker: open the store here, so that a store that cannot be opened fails with a clear message;
    # several: each worker process opens its own read-only connection through the factory
    app = app_from_env(cases) if workers == 1 else "imdx.cli.serve:app_from_env"
    click.echo(f"imdx on http://{host}:{port}/ (portal), /api/v1 and /sdmx (store {display(path)}, {workers} "
               "worker(s)); "
               "Ctrl+C stops it",
               err=True)
    uvicorn.run(app, factory=workers > 1, host=host, port=port, workers=workers, log_level=log_level,
                access_log=False, proxy_headers=False)
