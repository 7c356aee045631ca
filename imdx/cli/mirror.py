"""``imdx mirror DIR [SOURCE ...]``: fill a folder with the publishers' files, in the layout
``IMDX_MIRROR`` reads (``DIR/<source>/<published name>``)."""

from __future__ import annotations

import sys

import click

from imdx.cli.common import console
from imdx.config import settings


@click.command("mirror")
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("source", nargs=-1)
@click.option("--fallback", type=click.Path(file_okay=False), default=None,
              help="A folder to copy a file from when its publisher cannot be reached ($IMDX_FALLBACK_MIRROR).")
@click.option("--retries", type=int, default=3, show_default=True, help="Retries per file on transient failures.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Read timeout per request, seconds.")
def mirror_cmd(directory, source, fallback, retries, timeout):
    """Download every file of SOURCE (all sources by default) from its publisher into DIRECTORY.

    Each download is retried with backoff, checked against its length and kept in the cache by
    checksum; a file whose bytes differ from the checksum imdx knows is said so. Exit status 1 when
    a file could be had neither from its publisher nor from the fallback folder.
    """
    from pathlib import Path

    from rich.table import Table

    from imdx.errors import ImdxError
    from imdx.sources import registry
    from imdx.sources.fetch import Policy, mirror_release

    known = registry()
    names = list(source) or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ImdxError(f"unknown source(s) {', '.join(unknown)}; known sources: {', '.join(known)}")
    cfg = settings()
    policy = Policy(retries=retries, read_timeout=timeout)
    table = Table("source", "file", "status", "from", title=f"Mirror {directory}")
    failed = 0
    for name in names:
        for spec in known[name].releases:
            for file, status, detail in mirror_release(spec, Path(directory), cache=cfg.cache, policy=policy,
                                                       fallback=Path(fallback) if fallback else None):
                failed += status == "failed"
                table.add_row(name, file, status, detail)
    console().print(table)
    if failed:
        click.echo(f"error: {failed} file(s) could not be fetched; see the table above", err=True)
        sys.exit(1)
