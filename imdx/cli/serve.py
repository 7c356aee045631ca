"""``imdx serve``: the REST API over a store, with uvicorn."""

from __future__ import annotations

import inspect
import os
import socket
import sys

import click

from imdx.cli.common import DB_OPTION
from imdx.config import settings
from imdx.errors import StoreError

#: the environment variables through which ``imdx serve`` hands its settings to each worker process
DB_ENV, CACHE_ENV, CURRENT_ENV, EDITS_ENV = ("IMDX_API_DB", "IMDX_API_CACHE_MB", "IMDX_API_CURRENT_MB",
                                             "IMDX_API_REGISTRY_EDITS")


#: uvicorn's event loop and HTTP parser. Python's own loop, not uvloop: a busy uvloop loop accepts one new connection
#: per turn, and when 500 clients connected at once to a saturated server the last ones waited 15 s for their first
#: answer (none waited more than 0.8 s with Python's loop, which accepts every waiting connection each turn); it
#: costs about 0.025 ms more CPU per request. httptools (C) parses HTTP.
SERVER = {"loop": "asyncio", "http": "httptools"}


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
    # Linux spreads connections over the sockets sharing a port; elsewhere one socket is shared
    own_sockets = workers > 1 and port and sys.platform.startswith("linux")
    if own_sockets:  # taken by another program: say so here, not in each worker
        try:
            _listening(host, port, 0, share=False).close()
        except OSError as err:
            raise click.UsageError(f"cannot listen on {host}:{port}: {err.strerror}; choose another --port") from None
    click.echo(f"imdx on http://{host}:{port}/ (portal), /api/v1 and /sdmx (store {display(path)}, {workers} "
               "worker(s)); "
               "Ctrl+C stops it",
               err=True)
    if own_sockets:
        _serve_workers(host, port, workers, log_level)
    else:
        uvicorn.run(app, factory=workers > 1, host=host, port=port, workers=workers, log_level=log_level,
                    access_log=False, proxy_headers=False, **SERVER)


class OwnSocket:
    """What uvicorn's supervisor hands each worker process in place of the socket it would share: unpickled in the
    worker, a listening socket of its own on the same port (``SO_REUSEPORT``), so that the kernel spreads new
    connections evenly over the workers. A shared socket is accepted from by whichever worker wakes first: under a
    crowd one worker held 124 connections and the other 76, and the first had the longer waits."""

    def __init__(self, host: str, port: int, backlog: int):
        self.host, self.port, self.backlog = host, port, backlog

    def __reduce__(self):
        return _listening, (self.host, self.port, self.backlog)

    def close(self) -> None:  # the supervisor's socket: nothing to close
        pass


def _listening(host: str, port: int, backlog: int, share: bool = True) -> socket.socket:
    """A socket on ``host:port``: listening, shared with the other workers (``share``); or bound only (a check
    that no other program, another ``imdx serve`` included, listens there)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if share:
        sock.listen(backlog)
    return sock


def _serve_workers(host: str, port: int, workers: int, log_level: str) -> None:
    """uvicorn's supervisor (restarts, signals) over ``workers`` processes, each with a socket of its own."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("imdx.cli.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                            log_level=log_level, access_log=False, proxy_headers=False, **SERVER)
    extra = {}
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn: also what each worker runs
        extra["target"] = uvicorn.Server(config).run
    Multiprocess(config, sockets=[OwnSocket(host, port, config.backlog)], **extra).run()
