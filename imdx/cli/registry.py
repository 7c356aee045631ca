"""``imdx registry``: who does what where, from the command line.

Reading needs nothing. Changing the registry either signs in with ``--user`` (the case database's accounts,
password from ``IMDX_CASES_PASSWORD`` or a prompt; the same rules as the API), or, without ``--user``, acts as
the operator of the store file (whoever can write the file may change anything in it), recorded in the audit
log as ``cli:<login name>``.
"""

from __future__ import annotations

import json
import os
import sys

import click
from rich.table import Table

from imdx.cli.common import DB_OPTION, console, open_store, print_issues
from imdx.cli.group import ImdxGroup
from imdx.config import settings
from imdx.errors import ConfigError


def _principal(user: str | None):
    from imdx.library.ingest import _actor
    from imdx.registry.access import operator

    if not user:
        return operator(_actor())
    from imdx.cases.service import CaseService

    service = CaseService.from_env()
    try:
        password = os.environ.get("IMDX_CASES_PASSWORD") or click.prompt("password", hide_input=True)
        return service.principal(service.login(user, password).access_token)
    finally:
        service.close()


USER_OPTION = click.option("--user", envvar="IMDX_CASES_USER", default=None,
                           help="Sign in as this user of the case database (default: the store's operator).")


@click.group("registry", cls=ImdxGroup)
def registry():
    """The coordination registry: organisations, data products, activities, events, the GCM and SRF
    frameworks, 3W spreadsheets and the gaps matrix."""


@registry.command("seed")
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="The folder of published files ($IMDX_MIRROR).")
@DB_OPTION
def seed_cmd(mirror, db):
    """Load the GCM objectives, the SRF and their mappings, a data product per source (with its releases), and
    IOM's evaluated projects as activities (import the evaluations first: `imdx library add --from-mirror`)."""
    from imdx.library.ingest import _actor
    from imdx.registry.seed import seed_all

    folder = settings(mirror=mirror).mirror
    if folder is None:
        raise ConfigError("set IMDX_MIRROR (or --mirror) to the folder that holds coordination_registry_seed")
    with open_store(db, read_only=False) as store:
        result = seed_all(store, folder, actor=_actor())
    table = Table("entries", "count", title="Registry seed")
    for key in ("gcm_objectives", "srf_nodes", "organisations", "data_products", "activities"):
        table.add_row(key.replace("_", " "), f"{result[key]:,}")
    out = console()
    out.print(table)
    if len(result["report"]):
        print_issues(out, result["report"].to_frame())
    if result["activities"] == 0:
        click.echo("no activities: import IOM's evaluations first (`imdx library add --from-mirror`), then seed "
                   "again", err=True)


@registry.command("list")
@click.argument("kind", type=click.Choice(["organisation", "data_product", "activity", "event", "gcm_objective",
                                           "srf_node", "three_w_table"]))
@click.option("--country", default=None, help="Only entries about this country (any name or code).")
@click.option("--gcm", default=None, help="Only entries about this GCM objective (1-23).")
@click.option("--organisation", default=None, help="Only entries of this organisation id.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@DB_OPTION
def list_cmd(kind, country, gcm, organisation, fmt, db):
    """Entries of one KIND."""
    from imdx.registry.service import Registry

    with open_store(db) as store:
        rel, target = None, None
        if country:
            areas = store.areas()
            code = areas.resolve(country).code if areas is not None else None
            if code is None:
                raise click.BadParameter(f"{country!r} is not a known country or area", param_hint="--country")
            rel, target = "area", code
        elif gcm:
            rel, target = "gcm", gcm
        elif organisation:
            rel, target = "organisation", organisation
        entries = Registry(store).entries(kind, rel=rel, target=target)
    if fmt == "json":
        click.echo(json.dumps(entries, ensure_ascii=False, indent=1, default=str))
        return
    table = Table("id", "title", "owner", "countries / links", title=f"{len(entries):,} {kind} entries")
    for e in entries[:500]:
        title = e.get("title") or e.get("name") or e.get("term") or ""
        where = ", ".join(e.get("countries", [])[:8]) or e.get("country") or e.get("level") or ""
        table.add_row(e["id"], title[:90], e.get("owner") or "", where)
    console().print(table)


@registry.command("show")
@click.argument("kind")
@click.argument("entry_id")
@USER_OPTION
@DB_OPTION
def show_cmd(kind, entry_id, user, db):
    """One entry as JSON (an organisation's contacts only with --user)."""
    from imdx.registry.service import Registry

    signed_in = bool(user) and _principal(user).is_authenticated
    with open_store(db) as store:
        entry = Registry(store).entry(kind, entry_id, signed_in=signed_in)
    if entry is None:
        click.echo(f"error: no {kind} {entry_id!r}; `imdx registry list {kind}` lists them", err=True)
        sys.exit(2)
    click.echo(json.dumps(entry, ensure_ascii=False, indent=1, default=str))


@registry.command("put")
@click.argument("kind", type=click.Choice(["organisation", "data_product", "activity", "event"]))
@click.argument("entry_id")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--version", type=int, default=None, help="The version the change was made against (to change an "
              "existing entry).")
@USER_OPTION
@DB_OPTION
def put_cmd(kind, entry_id, file, version, user, db):
    """Create or change an entry from a JSON FILE ('-' for standard input); audited."""
    from imdx.registry.service import Registry

    try:
        body = json.load(file)
    except ValueError as err:
        raise click.BadParameter(f"not JSON: {err}", param_hint="FILE") from None
    principal = _principal(user)
    with open_store(db, read_only=False) as store:
        saved = Registry(store).save(principal, kind, entry_id, body, version)
    click.echo(f"{kind} {entry_id} saved (version {saved['version']})")


@registry.command("delete")
@click.argument("kind", type=click.Choice(["organisation", "data_product", "activity", "event"]))
@click.argument("entry_id")
@click.option("--version", type=int, required=True, help="The version read (a changed entry is not deleted).")
@USER_OPTION
@DB_OPTION
def delete_cmd(kind, entry_id, version, user, db):
    """Delete an entry; audited."""
    from imdx.registry.service import Registry

    principal = _principal(user)
    with open_store(db, read_only=False) as store:
        Registry(store).delete(principal, kind, entry_id, version)
    click.echo(f"{kind} {entry_id} deleted")


@registry.command("import-3w")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--organisation", default=None, help="The organisation the activities belong to (default: the "
              "signed-in user's).")
@USER_OPTION
@DB_OPTION
def import_3w_cmd(file, organisation, user, db):
    """Import a 3W spreadsheet (CSV with HXL hashtags) as activities; all or nothing."""
    from imdx.registry.hxl import ThreeWImportError
    from imdx.registry.threew import import_3w

    principal = _principal(user)
    out = console()
    with open_store(db, read_only=False) as store:
        try:
            result = import_3w(store, file, principal, owner=organisation)
        except ThreeWImportError as err:
            print_issues(out, err.report.to_frame())
            raise
    out.print(f"table {result.table}: {result.rows} rows, {result.activities} activities, "
                  f"{result.organisations} new organisations")
    if len(result.report):
        print_issues(out, result.report.to_frame())


@registry.command("export-3w")
@click.option("--table", default=None, help="A 3W table as imported (`imdx registry list three_w_table`); "
              "default: every activity in the standard 3W columns.")
@click.option("--output", type=click.Path(dir_okay=False), default=None)
@DB_OPTION
def export_3w_cmd(table, output, db):
    """Export activities as a 3W CSV with HXL hashtags."""
    from imdx.registry.threew import export_3w

    with open_store(db) as store:
        text = export_3w(store, table)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


@registry.command("gaps")
@click.argument("countries", nargs=-1, required=True)
@click.option("--gcm", multiple=True, help="Only these GCM objectives (1-23).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@DB_OPTION
def gaps_cmd(countries, gcm, fmt, db):
    """The gaps matrix for COUNTRIES: per GCM objective, the dataflows present and missing, who works on it."""
    from imdx.registry.gaps import matrix

    with open_store(db) as store:
        areas = store.areas()
        codes = []
        for c in countries:
            code = areas.resolve(c).code if areas is not None else None
            if code is None:
                raise click.BadParameter(f"{c!r} is not a known country or area", param_hint="COUNTRIES")
            codes.append(code)
        cells = matrix(store, codes, list(gcm) or None)
    if fmt == "json":
        click.echo(json.dumps([c.detail() for c in cells], ensure_ascii=False, indent=1))
        return
    table = Table("GCM", *codes, title="Gaps: dataflows present/needed, activities")
    for g in dict.fromkeys(c.gcm for c in cells):
        row = [g]
        for code in codes:
            cell = next(c for c in cells if c.gcm == g and c.country == code)
            need = len(cell.present) + len(cell.missing)
            row.append("no dataflow" if not cell.measured else
                       f"{len(cell.present)}/{need} {cell.status}, {len(cell.activities)} act.")
        table.add_row(*row)
    console().print(table)


@registry.command("audit")
@click.option("--kind", default=None)
@click.option("--id", "entry_id", default=None)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50)
@DB_OPTION
def audit_cmd(kind, entry_id, limit, db):
    """The registry's audit log, newest first: every change and every refused change."""
    with open_store(db) as store:
        log = store.registry_audit(kind, entry_id, limit)
    table = Table("seq", "when", "who", "organisation", "action", "kind", "id", "outcome")
    for r in log.itertuples(index=False):
        table.add_row(str(r.seq), str(r.logged_at)[:19], r.actor, r.organisation or "", r.action, r.kind or "",
                      r.entry_id or "", r.outcome)
    console().print(table)
