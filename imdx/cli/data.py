"""``imdx sources``, ``imdx load`` (and ``imdx load sdmx``), ``imdx query``, ``imdx report``, ``imdx areas``."""

from __future__ import annotations

import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imdx import limits
from imdx.cli.common import (
    DB_OPTION,
    LIMIT_OPTION,
    console,
    limit_overrides,
    open_store,
    parse_filters,
    print_issues,
    write,
)
from imdx.config import settings
from imdx.errors import StoreError
from imdx.store import connect, exists


@click.command("sources")
@DB_OPTION
def sources_cmd(db):
    """Sources, their releases (editions), files and licences, and what is loaded."""
    from imdx.sources import registry

    cfg = settings(db=db)
    loaded = None
    if exists(cfg.db):
        with open_store(db) as store:
            loaded = store.releases()
    table = Table("source", "release", "edition", "published", "licence", "files", "loaded", show_lines=True)
    for source in registry().values():
        for spec in source.releases:
            hit = loaded[(loaded.source == spec.source) & (loaded.key == spec.key)] if loaded is not None else []
            state = f"yes ({int(hit.n_obs.fillna(0).iloc[-1]):,} obs)" if len(hit) else "no"
            table.add_row(source.name, spec.title, spec.edition, str(spec.published), spec.licence,
                          "\n".join(f.name for f in spec.files), state)
    console().print(table)


@click.command("load")
@click.argument("source", nargs=-1)
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="Read the publishers' files from this folder ($IMDX_MIRROR) instead of downloading them.")
@click.option("--file", "file", type=click.Path(dir_okay=False), default=None,
              help="With `imdx load sdmx`: an SDMX-ML 2.1, SDMX-JSON or SDMX-CSV data message.")
@click.option("--url", default=None, help="With `imdx load sdmx`: download the message from this URL.")
@click.option("--structure", type=click.Path(dir_okay=False, exists=True), default=None,
              help="With `imdx load sdmx`: a structure message holding the message's DSD.")
@LIMIT_OPTION
@DB_OPTION
@click.pass_context
def load_cmd(ctx, source, mirror, file, url, structure, limit, db):
    """Load sources (all by default) into the store, then print a summary and the issue report.

    Each release is loaded whole or not at all; loading the same files again changes nothing.
    `imdx load sdmx --file F` (or --url U) loads any SDMX data message as a release of its own.
    """
    from imdx.load import load

    if source == ("sdmx",) or file or url:
        if source != ("sdmx",) or not (file or url):
            raise click.UsageError("an SDMX message is loaded with `imdx load sdmx --file F` or "
                                   "`imdx load sdmx --url U`")
        return _load_sdmx_message(file=file, url=url, structure=structure, mirror=mirror, limit=limit, db=db)
    cfg = settings(mirror=mirror, db=db, limits=limit_overrides(limit))
    out = console()
    with connect(cfg.db) as store, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console(err=True), transient=False) as bar:
        from imdx.sources import registry

        known = registry()
        names = list(source) or list(known)
        total = len(known["m49"].releases) + sum(len(known[n].releases) for n in names if n in known and n != "m49")
        task = bar.add_task("loading", total=total)

        def progress(event, spec):
            if event in ("fetch", "start"):
                bar.update(task, description=f"{'fetching ' if event == 'fetch' else ''}{spec.source}: {spec.key}")
            else:
                bar.advance(task)

        summary = load(store, cfg, list(source) or None, progress=progress)
    _print_summary(out, summary)
    print_issues(out, summary.report.to_frame())
    if summary.failed:
        for o in summary.failed:
            click.echo(f"error: {o.source} {o.key}: {o.error}", err=True)
        sys.exit(1)


def _load_sdmx_message(*, file, url, structure, mirror, limit, db) -> None:
    """``imdx load sdmx``: an SDMX data message as a release of source `sdmx` (dataflow
    sdmx_<agency>_<flow>, :mod:`imdx.sources.sdmx`); exit code 3 for a structure message (nothing to load)."""
    from imdx.sources.sdmx import load_sdmx

    cfg = settings(mirror=mirror, db=db, limits=limit_overrides(limit))
    areas = None
    with connect(cfg.db) as store, limits.using(cfg.limits):
        if store.areas() is None and cfg.mirror is not None:
            from imdx.codes.build import build_areas

            areas = build_areas(cfg.mirror / "m49")
        outcome = load_sdmx(store, file=file, url=url, structure=structure, areas=areas)
    out = console()
    out.print(outcome.message)
    if outcome.status == "loaded":
        print_issues(out, outcome.report.to_frame())
    if outcome.status == "structure-only":
        sys.exit(3)


def _print_summary(out, summary):
    table = Table("source", "release", "edition", "status", "observations", "issues", title="Load summary")
    for o in summary.outcomes:
        table.add_row(o.source, o.key, o.edition, o.status, f"{o.n_obs:,}", str(len(o.report)))
    out.print(table)


@click.command("query", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dataflow")
@click.option("--edition", default=None, help="An edition label (see `imdx sources`); default: the latest.")
@click.option("--source", "source_name", default=None, help="Only observations from this source.")
@click.option("--as-of", default=None, help="The data as published on this date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@DB_OPTION
@click.pass_context
def query_cmd(ctx, dataflow, edition, source_name, as_of, fmt, output, db):
    """Observations of DATAFLOW, filtered by its dimensions: --DIMENSION VALUE ...

    \b
    imdx query migrant_stock --destination DEU --year 2020 --format csv
    imdx query remittances --area India --flow received --year 2015:2023
    """
    from imdx.query import query

    with open_store(db) as store:
        filters = parse_filters(ctx.args, store.dataflow(dataflow))
        frame = query(store, dataflow, edition=edition, source=source_name, as_of=as_of, **filters)
    write(frame, fmt, output)


@click.command("report")
@click.option("--source", default=None, help="Only issues of this source.")
@click.option("--area", default=None, help="Only issues about this area code.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--all", "show_all", is_flag=True, help="List every issue, not only the first 40.")
@DB_OPTION
def report_cmd(source, area, fmt, show_all, db):
    """The data-issue report of everything loaded."""
    with open_store(db) as store:
        issues = store.issues(source=source, area=area)
    if fmt == "table":
        print_issues(console(), issues, limit=len(issues) if show_all else 40)
    else:
        write(issues, fmt, None)


@click.command("areas")
@click.argument("text")
@DB_OPTION
def areas_cmd(text, db):
    """Find areas by code or by any source's name for them."""
    with open_store(db) as store:
        areas = store.areas()
    if areas is None:
        raise StoreError(f"{store.describe()} is empty: run `imdx load` first")
    hits = areas.search(text)
    click.echo(hits[["code", "name", "kind", "m49", "iso3", "iso2"]].to_string(index=False) if len(hits)
               else f"No area matches {text!r}.")
