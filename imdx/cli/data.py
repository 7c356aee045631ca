"""``imdx sources``, ``imdx load``, ``imdx query``, ``imdx report``, ``imdx areas``."""

from __future__ import annotations

import sys

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imdx.config import settings
from imdx.errors import QueryError

DB_OPTION = click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                         help="The store (a DuckDB file). Default: $IMDX_DB or ./imdx.duckdb.")
LIMIT_OPTION = click.option(
    "--limit", "limit", multiple=True, metavar="NAME=VALUE",
    help="Raise or lower a limit on what a file may hold, e.g. --limit max_cells=1e8 --limit max_memory=16G "
         "(also $IMDX_MAX_CELLS, ...). Limits: max_file, max_unpacked, max_ratio, max_rows, max_columns, max_cells, "
         "max_text, max_memory.")


def limit_overrides(pairs) -> dict[str, str]:
    """``--limit NAME=VALUE`` options as a mapping for :func:`imdx.config.settings`."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip():
            raise QueryError(f"--limit takes NAME=VALUE, e.g. --limit max_cells=1e8 (got {pair!r})")
        out[name.strip()] = value.strip()
    return out


def _console(err: bool = False) -> Console:
    return Console(stderr=err, highlight=False)


def _open(db, read_only=True):
    from imdx.store.duckdb_store import DuckDBStore

    return DuckDBStore(settings(db=db).db, read_only=read_only)


@click.command("sources")
@DB_OPTION
def sources_cmd(db):
    """Sources, their releases (editions), files and licences, and what is loaded."""
    from imdx.sources import registry

    cfg = settings(db=db)
    loaded = None
    if cfg.db.exists():
        with _open(db) as store:
            loaded = store.releases()
    table = Table("source", "release", "edition", "published", "licence", "files", "loaded", show_lines=True)
    for source in registry().values():
        for spec in source.releases:
            hit = loaded[(loaded.source == spec.source) & (loaded.key == spec.key)] if loaded is not None else []
            state = f"yes ({int(hit.n_obs.fillna(0).iloc[-1]):,} obs)" if len(hit) else "no"
            table.add_row(source.name, spec.title, spec.edition, str(spec.published), spec.licence,
                          "\n".join(f.name for f in spec.files), state)
    _console().print(table)


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
    from imdx.store.duckdb_store import DuckDBStore

    if source == ("sdmx",) or file or url:
        if source != ("sdmx",) or not (file or url):
            raise QueryError("an SDMX message is loaded with `imdx load sdmx --file F` or `imdx load sdmx --url U`")
        from imdx.cli.sdmx import sdmx_load_cmd

        return ctx.invoke(sdmx_load_cmd, file=file, url=url, structure=structure, mirror=mirror, limit=limit, db=db)
    cfg = settings(mirror=mirror, db=db, limits=limit_overrides(limit))
    console = _console()
    with DuckDBStore(cfg.db) as store, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=_console(err=True), transient=False) as bar:
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
    _print_summary(console, summary)
    _print_issues(console, summary.report.to_frame())
    if summary.failed:
        for o in summary.failed:
            click.echo(f"error: {o.source} {o.key}: {o.error}", err=True)
        sys.exit(1)


def _print_summary(console, summary):
    table = Table("source", "release", "edition", "status", "observations", "issues", title="Load summary")
    for o in summary.outcomes:
        table.add_row(o.source, o.key, o.edition, o.status, f"{o.n_obs:,}", str(len(o.report)))
    console.print(table)


def _print_issues(console, issues, limit: int = 40):
    if issues.empty:
        console.print("No data issues.")
        return
    counts = issues.groupby(["severity", "type"]).agg(n=("type", "size"), obs=("n_obs", "sum")).reset_index()
    table = Table("severity", "type", "issues", "observations touched", title="Data issues")
    for r in counts.itertuples(index=False):
        table.add_row(r.severity, r.type, str(r.n), f"{int(r.obs):,}")
    console.print(table)
    rank = issues["severity"].map({"error": 0, "warning": 1, "info": 2})
    shown = issues.assign(_rank=rank).sort_values("_rank", kind="stable").head(limit)
    title = f"First {limit} of {len(issues)} issues (all: imdx report --all)" if len(issues) > limit else "Issues"
    detail = Table("severity", "type", "source", "location", "message", title=title)
    for r in shown.itertuples(index=False):
        file, sheet, column = (_text(v) for v in (r.file, r.sheet, r.column))
        where = ", ".join(x for x in [file, sheet and f"sheet {sheet}",
                                      r.row == r.row and r.row is not None and f"row {int(r.row)}",
                                      column and f"column {column}"] if x)
        detail.add_row(r.severity, r.type, _text(r.source) or "", where, r.message)
    console.print(detail)


def _text(value) -> str | None:
    """A text cell of the issue table, None where it is missing (NaN or None)."""
    return value if isinstance(value, str) and value else None


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

    with _open(db) as store:
        filters = _parse_filters(ctx.args, store.dataflow(dataflow))
        frame = query(store, dataflow, edition=edition, source=source_name, as_of=as_of, **filters)
    _write(frame, fmt, output)


def _parse_filters(args: list[str], flow) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise QueryError(f"unexpected argument {arg!r}: filters are written --DIMENSION VALUE")
        name, _, value = arg[2:].partition("=")
        name = name.replace("-", "_")
        if name not in flow.dimension_names:
            raise QueryError(f"{flow.id} has no dimension {name!r}; its dimensions are "
                             f"{', '.join(flow.dimension_names)}")
        if not value:
            if i + 1 >= len(args):
                raise QueryError(f"--{name} needs a value")
            value, i = args[i + 1], i + 1
        filters.setdefault(name, []).append(value)
        i += 1
    return filters


def _write(frame, fmt, output):
    if fmt == "parquet":
        if not output:
            raise QueryError("--format parquet needs --output FILE")
        frame.to_parquet(output, index=False)
        return
    if fmt == "csv":
        from imdx.exports import safe_frame

        text = safe_frame(frame).to_csv(index=False)
    elif fmt == "json":
        text = frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=1)
    else:
        shown = frame.drop(columns=[c for c in frame.columns if c.startswith("cell_")] + ["release_id"])
        shown["value"] = shown["value"].map(lambda v: "" if pd.isna(v) else f"{v:,.12g}")
        text = shown.to_string(index=False, max_rows=200) if len(frame) else "No observations match."
        text += f"\n({len(frame):,} observations)\n"
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


@click.command("report")
@click.option("--source", default=None, help="Only issues of this source.")
@click.option("--area", default=None, help="Only issues about this area code.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--all", "show_all", is_flag=True, help="List every issue, not only the first 40.")
@DB_OPTION
def report_cmd(source, area, fmt, show_all, db):
    """The data-issue report of everything loaded."""
    with _open(db) as store:
        issues = store.issues(source=source, area=area)
    if fmt == "table":
        _print_issues(_console(), issues, limit=len(issues) if show_all else 40)
    else:
        _write(issues, fmt, None)


@click.command("areas")
@click.argument("text")
@DB_OPTION
def areas_cmd(text, db):
    """Find areas by code or by any source's name for them."""
    with _open(db) as store:
        areas = store.areas()
    if areas is None:
        raise QueryError("the store is empty: run `imdx load` first")
    hits = areas.search(text)
    click.echo(hits[["code", "name", "kind", "m49", "iso3", "iso2"]].to_string(index=False) if len(hits)
               else f"No area matches {text!r}.")
