"""``imdx library``: the research library from the command line (add, search, show, export, imports)."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from imdx.cli.common import DB_OPTION, console, open_store, print_issues
from imdx.cli.group import ImdxGroup
from imdx.config import settings
from imdx.errors import ConfigError

FACET_OPTIONS = ("country", "year", "theme", "type", "language", "commissioner", "gcm", "dataflow")


def _facet_options(fn):
    for name in reversed(FACET_OPTIONS):
        fn = click.option(f"--{name}", multiple=True, help=f"Only records with this {name} (repeat for any of "
                          "several)." + (" A name in any spelling, ISO3 or M49 code." if name == "country" else "")
                          + (" A year or a range 2010:2020." if name == "year" else ""))(fn)
    return fn


def _filters(kwargs) -> dict[str, list[str]]:
    return {k: list(kwargs[k]) for k in FACET_OPTIONS if kwargs.get(k)}


@click.group("library", cls=ImdxGroup)
def library():
    """The research library: import research (CSL-JSON, BibTeX, RIS, IOM's evaluation listing, PDF, HTML,
    DOCX), search it, show and export records."""


@library.command("add")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "fmt", type=click.Choice(["csl-json", "bibtex", "ris", "iom-evaluations", "document",
                                                    "glossary"]),
              default=None, help="The files' format (default: from the extension and content).")
@click.option("--from-mirror", is_flag=True, help="Import IOM's evaluation listing and the migration glossary "
              "from $IMDX_MIRROR/research_library.")
@DB_OPTION
def add_cmd(files, fmt, from_mirror, db):
    """Import FILES into the library; each file all or nothing. Prints what was added or merged and the issues."""
    from imdx.library.service import Library

    if not files and not from_mirror:
        raise click.UsageError("give files to import, or --from-mirror")
    out = console()
    with open_store(db, read_only=False) as store:
        lib = Library(store)
        results = []
        if from_mirror:
            mirror = settings().mirror
            if mirror is None:
                raise ConfigError("--from-mirror needs IMDX_MIRROR set to the folder of published files")
            results += lib.add_from_mirror(mirror)
        results += [lib.add(path, fmt) for path in files]
    table = Table("file", "format", "status", "read", "new", "merged", "issues", title="Library imports")
    for r in results:
        table.add_row(r.file, r.format, r.status, str(r.n_read), str(r.n_new), str(r.n_merged), str(len(r.report)))
    out.print(table)
    for r in results:
        if len(r.report):
            print_issues(out, r.report.to_frame(), limit=20)


@library.command("search")
@click.argument("query", nargs=-1)
@_facet_options
@click.option("--sort", type=click.Choice(["relevance", "year", "-year"]), default="relevance")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@DB_OPTION
def search_cmd(query, sort, limit, page, fmt, db, **kwargs):
    """Search the library: words (each must match; near spellings too), "phrases", prefix*, -exclusions.
    Glossary terms find each other ("irregular migration" finds "undocumented").

    \b
    imdx library search trafficking --country Nigeria
    imdx library search '"labour migration"' --year 2015:2024 --sort year
    """
    from imdx.library.service import Library

    with open_store(db) as store:
        result = Library(store).search(" ".join(query), _filters(kwargs), page=page, size=limit, sort=sort)
    if fmt == "json":
        click.echo(json.dumps({"q": result.q, "total": result.total, "relaxed": result.relaxed,
                               "expansions": result.expansions, "hits": [h.display for h in result.hits],
                               "facets": result.facets}, ensure_ascii=False, indent=1))
        return
    out = console()
    table = Table("id", "year", "title", "countries", title=f"{result.total:,} records" +
                  (" (no record has every word: records with any are shown)" if result.relaxed else ""))
    for h in result.hits:
        d = h.display
        table.add_row(d["id"], str(d.get("year") or ""), d.get("title") or "", ", ".join(d.get("countries", [])[:6]))
    out.print(table)
    for e in result.expansions:
        out.print(f"[dim]glossary: “{e['matched']}” also found as: {', '.join(e['alternatives'][:6])}[/dim]")
    for facet in ("year", "country", "theme", "language"):
        values = result.facets.get(facet, [])[:8]
        if values:
            out.print(f"[dim]{facet}: " + ", ".join(f"{v} ({n})" for v, n in values) + "[/dim]")


@library.command("show")
@click.argument("record_id")
@click.option("--format", "fmt", type=click.Choice(["text", "csl-json", "bibtex", "json"]), default="text")
@DB_OPTION
def show_cmd(record_id, fmt, db):
    """One record: its metadata, links (countries, GCM objectives, dataflows) and provenance."""
    from imdx.library.service import Library

    with open_store(db) as store:
        lib = Library(store)
        full = lib.record(record_id)
        if full is None:
            click.echo(f"error: no record {record_id!r}; `imdx library search` finds records", err=True)
            sys.exit(2)
        if fmt in ("csl-json", "bibtex"):
            click.echo(lib.export([full.record], fmt)[0])
            return
    rec = full.record
    if fmt == "json":
        click.echo(json.dumps(rec.to_body() | {"sources": [s.__dict__ for s in full.sources]}, ensure_ascii=False,
                              indent=1, default=str))
        return
    rows = [("title", rec.title), ("authors", rec.author_text), ("year", rec.year), ("type", rec.type),
            ("languages", ", ".join(rec.languages)), ("DOI", rec.doi), ("URL", rec.url),
            ("commissioners", ", ".join(rec.commissioners)), ("donors", ", ".join(rec.donors)),
            ("themes", "; ".join(rec.themes)), ("countries", ", ".join(rec.countries)),
            ("as written", ", ".join(rec.country_names)), ("GCM objectives", ", ".join(rec.gcm)),
            ("dataflows", ", ".join(rec.dataflows)), ("abstract", (rec.abstract or "")[:600])]
    table = Table("field", "value", title=rec.id, show_header=False)
    for k, v in rows:
        if v:
            table.add_row(k, str(v))
    for s in full.sources:
        table.add_row("source", f"{s.source} {s.source_key} ({s.file or ''} {s.location or ''}, import {s.import_id}, "
                                f"sha256 {(s.sha256 or '')[:12]})")
    console().print(table)


@library.command("export")
@click.argument("query", nargs=-1)
@_facet_options
@click.option("--format", "fmt", type=click.Choice(["csl-json", "bibtex"]), default="csl-json", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@DB_OPTION
def export_cmd(query, fmt, output, db, **kwargs):
    """Export the records a search finds (every record without a query) as CSL-JSON or BibTeX."""
    from imdx.library.service import Library

    with open_store(db) as store:
        lib = Library(store)
        filters = _filters(kwargs)
        if query or filters:
            ids, page = [], 1
            while True:
                result = lib.search(" ".join(query), filters, page=page, size=100)
                ids += [h.id for h in result.hits]
                if len(ids) >= result.total or not result.hits or page * 100 >= 10_000:
                    break
                page += 1
            records = lib.records(ids)
        else:
            from imdx.library.model import Record

            records = [Record.from_body(r.body) for r in store.library_records()]
        text, _ = lib.export(records, fmt)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"{len(records):,} records written to {output}", err=True)
    else:
        click.echo(text)


@library.command("imports")
@DB_OPTION
def imports_cmd(db):
    """Every library import (file, checksum, counts) and the issues they reported."""
    with open_store(db) as store:
        imports, issues = store.library_imports(), store.library_issues()
    out = console()
    if imports.empty:
        out.print("The library is empty: `imdx library add FILE` or `imdx library add --from-mirror`.")
        return
    table = Table("id", "format", "file", "imported", "by", "read", "new", "merged", "sha256")
    for r in imports.itertuples(index=False):
        table.add_row(str(r.import_id), r.format, r.file or "", str(r.imported_at)[:19], r.actor, str(r.n_read),
                      str(r.n_new), str(r.n_merged), (r.sha256 or "")[:12])
    out.print(table)
    if len(issues):
        print_issues(out, issues)
