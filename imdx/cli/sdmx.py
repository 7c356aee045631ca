"""``imdx load-sdmx --file F | --url U [--structure S]``: load one SDMX data message into the store.

The lead may attach it as ``imdx load sdmx``; the command itself only parses options and prints.
"""

from __future__ import annotations

import sys

import click

from imdx import limits
from imdx.cli.data import DB_OPTION, LIMIT_OPTION, _console, _print_issues, limit_overrides
from imdx.config import settings


@click.command("load-sdmx")
@click.option("--file", "file", type=click.Path(dir_okay=False), default=None,
              help="An SDMX-ML 2.1 (generic or structure-specific), SDMX-JSON or SDMX-CSV data message.")
@click.option("--url", default=None, help="Download the message from this URL (retried, cached by checksum).")
@click.option("--structure", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A structure message holding the message's DSD (needed for SDMX-CSV without a known layout).")
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="Folder of the publishers' files, for the area table when the store is empty ($IMDX_MIRROR).")
@LIMIT_OPTION
@DB_OPTION
def sdmx_load_cmd(file, url, structure, mirror, limit, db):
    """Load an SDMX data message as a release of source `sdmx` (dataflow sdmx_<agency>_<flow>)."""
    from imdx.sdmx.importer import load_sdmx
    from imdx.store.duckdb_store import DuckDBStore

    cfg = settings(mirror=mirror, db=db, limits=limit_overrides(limit))
    areas = None
    with DuckDBStore(cfg.db) as store, limits.using(cfg.limits):
        if store.areas() is None and cfg.mirror is not None:
            from imdx.codes.build import build_areas

            areas = build_areas(cfg.mirror / "m49")
        outcome = load_sdmx(store, file=file, url=url, structure=structure, areas=areas)
    console = _console()
    console.print(outcome.message)
    if outcome.status == "loaded":
        _print_issues(console, outcome.report.to_frame())
    if outcome.status == "structure-only":
        sys.exit(3)
